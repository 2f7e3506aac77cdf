"""The Gemini API's wire format for the contract kit: the kit decides what happens, this says how it looks.

A job is a google.longrunning Operation. The kit's job id is used as the operation name itself
(Google's names are opaque resource paths; `operations/<id>`-style single names are common), so
the provider's job id is the kit's. Routes under the base URL:

- `POST models/{model}:predictLongRunning` → submit;
- `GET files/{job}-v{index}:download` → download (the `video.uri` the adapter hands out);
- any other `GET` → a poll of the operation of that name.

States: running is an operation without `done`; completed carries `generatedSamples[].video.uri`;
failed is `error` INTERNAL, cancelled is CANCELLED, expired is DEADLINE_EXCEEDED (google.rpc codes
13, 1, 4). Gemini has no model listing with capabilities, so the contract declares no models phase.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import httpx
from mediarouter_contracts import HttpError, Phase, ResponseContext, WireAdapter, json_response

_RPC = {"failed": (13, "INTERNAL"), "cancelled": (1, "CANCELLED"), "expired": (4, "DEADLINE_EXCEEDED")}
_HTTP_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "FAILED_PRECONDITION",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    410: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class GeminiWireAdapter(WireAdapter):
    """`:predictLongRunning`, `GET {operation name}`, `GET files/{id}:download`."""

    def __init__(self, base_url: str) -> None:
        self.base_path = httpx.URL(base_url).path.rstrip("/")

    def _tail(self, request: httpx.Request) -> list[str] | None:
        path = request.url.path
        if not path.startswith(self.base_path + "/"):
            return None
        return [unquote(p) for p in path[len(self.base_path) + 1 :].split("/")]

    def phase_of(self, request: httpx.Request) -> Phase | None:
        segments = self._tail(request)
        if segments is None:
            return None
        if request.method == "POST":
            is_submit = len(segments) == 2 and segments[0] == "models" and segments[1].endswith(":predictLongRunning")
            return "submit" if is_submit else None
        if request.method != "GET":
            return None
        if len(segments) == 2 and segments[0] == "files" and segments[1].endswith(":download"):
            return "download"
        return "poll"

    def output_index(self, request: httpx.Request) -> int:
        segments = self._tail(request) or []
        stem = segments[-1].removesuffix(":download") if segments else ""
        _, _, index = stem.rpartition("-v")
        return int(index) if index.isdigit() else -1

    # -- answers ----------------------------------------------------------------------------

    def submit_response(self, ctx: ResponseContext) -> httpx.Response:
        return json_response(200, {"name": ctx.job_id})

    def poll_response(self, ctx: ResponseContext) -> httpx.Response:
        body: dict[str, Any] = {"name": ctx.job_id, "metadata": {}}
        if ctx.status in _RPC:
            code, _ = _RPC[ctx.status]
            error: dict[str, Any] = {"code": code}
            if ctx.error_message is not None:
                error["message"] = ctx.error_message
            body.update(done=True, error=error)
        elif ctx.status == "completed":
            own = f"{ctx.base_url}/files/{quote(ctx.job_id, safe='')}"
            uris = [link.url or f"{own}-v{link.index}:download?alt=media" for link in ctx.links]
            body.update(
                done=True,
                response={
                    "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
                    "generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}} for uri in uris]},
                },
            )
        return json_response(200, body)

    def download_response(self, ctx: ResponseContext) -> httpx.Response:
        return httpx.Response(200, content=ctx.body, headers={"content-type": "video/mp4"})

    def models_response(self, ctx: ResponseContext) -> httpx.Response:
        return json_response(200, {"models": []})  # never asked: the contract declares no models phase

    def error_response(self, ctx: ResponseContext, error: HttpError) -> httpx.Response:
        status = _HTTP_STATUS.get(error.status, "UNKNOWN")
        envelope: dict[str, Any] = {"code": error.status, "message": error.message, "status": status}
        headers = None
        if error.retry_after is not None:
            headers = {"retry-after": str(error.retry_after)}
            retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{error.retry_after}s"}
            envelope["details"] = [retry]
        return json_response(error.status, {"error": envelope}, headers=headers)
