"""A minimal wire format for testing the kit itself (not a real API)."""

from __future__ import annotations

import httpx
from mediarouter_contracts import HttpError, Phase, ResponseContext, WireAdapter, json_response

BASE = "https://api.kit.test/v1"


class KitAdapter(WireAdapter):
    """POST /v1/jobs, GET /v1/jobs/{id}, GET /v1/jobs/{id}/out/{n}, GET /v1/models."""

    def phase_of(self, request: httpx.Request) -> Phase | None:
        parts = request.url.path.split("/")[2:]
        if parts == ["jobs"] and request.method == "POST":
            return "submit"
        if request.method != "GET":
            return None
        if parts == ["models"]:
            return "models"
        if len(parts) == 2 and parts[0] == "jobs":
            return "poll"
        if len(parts) == 4 and parts[2] == "out":
            return "download"
        return None

    def output_index(self, request: httpx.Request) -> int:
        return int(request.url.path.rsplit("/", 1)[-1])

    def submit_response(self, ctx: ResponseContext) -> httpx.Response:
        return json_response(202, {"id": ctx.job_id, "state": ctx.status})

    def poll_response(self, ctx: ResponseContext) -> httpx.Response:
        body: dict[str, object] = {"id": ctx.job_id, "state": ctx.status}
        if ctx.error_message:
            body["error"] = ctx.error_message
        if ctx.status == "completed":
            body["cost"] = ctx.cost
            body["files"] = [
                {"url": link.url or f"{ctx.base_url}/jobs/{ctx.job_id}/out/{link.index}", "signed": link.signed}
                for link in ctx.links
            ]
        return json_response(200, body)

    def download_response(self, ctx: ResponseContext) -> httpx.Response:
        return httpx.Response(200, content=ctx.body, headers={"content-type": "video/mp4"})

    def models_response(self, ctx: ResponseContext) -> httpx.Response:
        return json_response(200, {"models": [{"id": ctx.model_id, "durations": ctx.capabilities.durations}]})

    def error_response(self, ctx: ResponseContext, error: HttpError) -> httpx.Response:
        headers = {"retry-after": str(error.retry_after)} if error.retry_after is not None else None
        return json_response(error.status, {"message": error.message}, headers=headers)
