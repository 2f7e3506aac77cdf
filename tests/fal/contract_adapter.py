"""fal's queue wire format for the contract kit: the kit decides what happens, this says how it looks.

The kit knows four phases (submit, poll, download, models); fal has no model listing, and one
*poll* of fal is two requests once the request is done: the status (`…/requests/{id}/status`)
and then the result (`…/requests/{id}`), fetched in the same `poll()` call because fal keeps
results only briefly. So both are routed to the kit's `poll` phase; the status says the state,
the result carries the video URL (or the request's error). How fal spells each state
(docs/providers/fal.md): failed and cancelled are COMPLETED with `error`/`error_type`
(`client_cancelled` for a cancel); expired is COMPLETED whose result answers 410 (gone).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import httpx
from mediarouter_contracts import HttpError, Phase, ResponseContext, WireAdapter, json_response
from mediarouter_fal.urls import app_id

_ERROR_TYPES = {"failed": "runner_server_error", "cancelled": "client_cancelled"}
_RESULT_ERRORS = {"failed": 500, "cancelled": 499, "expired": 410}


class FalWireAdapter(WireAdapter):
    """`POST /{model id}`, `GET /{app}/requests/{id}/status`, `GET /{app}/requests/{id}`, files under `/files/`."""

    def __init__(self, base_url: str, model_id: str) -> None:
        self.base_path = httpx.URL(base_url).path.rstrip("/")
        self.model_id = model_id
        self.app = app_id(model_id)

    def _segments(self, request: httpx.Request) -> list[str] | None:
        path = request.url.path
        if not path.startswith(self.base_path + "/"):
            return None
        return [unquote(p) for p in path[len(self.base_path) + 1 :].split("/")]

    def phase_of(self, request: httpx.Request) -> Phase | None:
        segments = self._segments(request)
        if segments is None:
            return None
        if request.method == "POST":
            return "submit" if "/".join(segments) == self.model_id else None
        if request.method != "GET":
            return None  # PUT …/cancel: the kit has no cancel phase
        if len(segments) == 3 and segments[0] == "files":
            return "download"
        app_len = len(self.app.split("/"))
        if "/".join(segments[:app_len]) != self.app or segments[app_len : app_len + 1] != ["requests"]:
            return None  # e.g. status asked under the full sub-path model id: fal would not know it
        tail = segments[app_len + 1 :]
        if len(tail) == 1 or (len(tail) == 2 and tail[1] == "status"):
            return "poll"
        return None

    def output_index(self, request: httpx.Request) -> int:
        segments = self._segments(request) or []
        try:
            return int(segments[-1])
        except (ValueError, IndexError):
            return -1

    # -- answers ----------------------------------------------------------------------------

    def _root(self, ctx: ResponseContext) -> str:
        return f"{ctx.base_url}/{self.app}/requests/{quote(ctx.job_id, safe='')}"

    def _urls(self, ctx: ResponseContext) -> dict[str, str]:
        root = self._root(ctx)
        return {"response_url": root, "status_url": f"{root}/status", "cancel_url": f"{root}/cancel"}

    def submit_response(self, ctx: ResponseContext) -> httpx.Response:
        return json_response(200, {"status": "IN_QUEUE", "request_id": ctx.job_id, **self._urls(ctx)})

    def poll_response(self, ctx: ResponseContext) -> httpx.Response:
        if ctx.request.url.path.endswith("/status"):
            return self._status(ctx)
        return self._result(ctx)

    def _status(self, ctx: ResponseContext) -> httpx.Response:
        body: dict[str, Any] = self._urls(ctx)
        if ctx.status == "pending":
            return json_response(202, {**body, "status": "IN_QUEUE", "queue_position": 3})
        if ctx.status == "in_progress":
            return json_response(202, {**body, "status": "IN_PROGRESS", "logs": [{"message": "step 1"}]})
        body.update(status="COMPLETED", metrics={"inference_time": 12.5})
        if ctx.status in _ERROR_TYPES:
            body["error_type"] = _ERROR_TYPES[ctx.status]
            if ctx.error_message is not None:
                body["error"] = ctx.error_message
        return json_response(200, body)

    def _result(self, ctx: ResponseContext) -> httpx.Response:
        if ctx.status in _RESULT_ERRORS:
            error: dict[str, Any] = {"detail": ctx.error_message or "the request ended"}
            if ctx.status in _ERROR_TYPES:
                error["error_type"] = _ERROR_TYPES[ctx.status]
            return json_response(_RESULT_ERRORS[ctx.status], error)
        if ctx.status != "completed":
            return json_response(400, {"detail": "Request is still in progress"})
        files = [
            {
                "url": link.url or f"{ctx.base_url}/files/{quote(ctx.job_id, safe='')}/{link.index}",
                "content_type": "video/mp4",
                "file_name": f"output-{link.index}.mp4",
            }
            for link in ctx.links
        ]
        # One file is fal's `video`; several go in a `videos` list (as fal apps return lists of files).
        return json_response(200, {"video": files[0]} if len(files) == 1 else {"videos": files})

    def download_response(self, ctx: ResponseContext) -> httpx.Response:
        return httpx.Response(200, content=ctx.body, headers={"content-type": "video/mp4"})

    def models_response(self, ctx: ResponseContext) -> httpx.Response:
        return json_response(404, {"detail": "fal has no model listing"})

    def error_response(self, ctx: ResponseContext, error: HttpError) -> httpx.Response:
        # A plain `detail` (no `error_type`): the queue or a proxy in trouble, not the request's own failure.
        headers = {"retry-after": str(error.retry_after)} if error.retry_after is not None else None
        return json_response(error.status, {"detail": error.message}, headers=headers)
