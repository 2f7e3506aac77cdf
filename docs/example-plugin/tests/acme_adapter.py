"""The Acme Video API's wire format, for the mediarouter contract kit.

The kit decides what the backend does; this class only says what that looks like on Acme's
wire: which URL is which phase, and the bodies of a job, a listing, a video and an error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from mediarouter_contracts import HttpError, Phase, ResponseContext, WireAdapter, json_response

#: The kit's neutral job states → Acme's words.
STATES = {
    "pending": "queued",
    "in_progress": "running",
    "completed": "succeeded",
    "failed": "failed",
    "cancelled": "canceled",
    "expired": "expired",
}


class AcmeWireAdapter(WireAdapter):
    def __init__(self, base_url: str) -> None:
        self.base_path = httpx.URL(base_url).path.rstrip("/")

    def _segments(self, request: httpx.Request) -> list[str]:
        path = request.url.path
        if not path.startswith(self.base_path + "/"):
            return []
        return path[len(self.base_path) + 1 :].split("/")

    def phase_of(self, request: httpx.Request) -> Phase | None:
        parts = self._segments(request)
        if request.method == "POST" and parts == ["generations"]:
            return "submit"
        if request.method != "GET":
            return None
        if parts == ["models"]:
            return "models"
        if len(parts) == 2 and parts[0] == "generations":
            return "poll"
        if len(parts) == 4 and parts[0] == "generations" and parts[2] == "videos":
            return "download"
        return None

    def output_index(self, request: httpx.Request) -> int:
        last = self._segments(request)[-1]
        return int(last) if last.isdigit() else -1

    def _generation(self, ctx: ResponseContext) -> dict[str, Any]:
        return {"id": ctx.job_id, "state": STATES[ctx.status]}

    def submit_response(self, ctx: ResponseContext) -> httpx.Response:
        return json_response(201, {"generation": self._generation(ctx)})

    def poll_response(self, ctx: ResponseContext) -> httpx.Response:
        generation = self._generation(ctx)
        if ctx.error_message is not None:
            generation["failure_reason"] = ctx.error_message
        if ctx.status == "completed":
            own = f"{ctx.base_url}/generations/{quote(ctx.job_id, safe='')}/videos"
            generation["result"] = {
                "videos": [
                    {
                        "url": link.url or f"{own}/{link.index}",
                        "requires_key": not link.signed,
                        "expires_at": int(link.expires_at) if link.expires_at else None,
                    }
                    for link in ctx.links
                ],
                "charged_usd": str(ctx.cost) if ctx.cost is not None else None,
            }
        return json_response(200, {"generation": generation})

    def download_response(self, ctx: ResponseContext) -> httpx.Response:
        return httpx.Response(200, content=ctx.body, headers={"content-type": "video/mp4"})

    def models_response(self, ctx: ResponseContext) -> httpx.Response:
        caps = ctx.capabilities
        model = {
            "name": ctx.model_id,
            "lengths": list(caps.durations) if caps.durations is not None else None,
            "resolutions": list(caps.resolutions) if caps.resolutions is not None else None,
            "aspects": list(caps.aspect_ratios) if caps.aspect_ratios is not None else None,
            "audio": caps.audio,
            "seed": caps.seed,
            "frames": list(caps.frame_images) if caps.frame_images is not None else None,
            "usd_per_second": str(caps.price_per_second) if caps.price_per_second is not None else None,
        }
        return json_response(200, {"models": [model]})

    def error_response(self, ctx: ResponseContext, error: HttpError) -> httpx.Response:
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
        return json_response(error.status, {"type": f"http_{error.status}", "detail": error.message}, headers=headers)
