"""The OpenRouter-compatible video API as a Starlette ASGI app.

Routes follow the live API under ``/api/v1`` (submit, poll, download, list models, and chat
completions with a video: ``emulator/chat.py``), so a client
built from the official SDK works unchanged. ``/_emulator/*`` is emulator-only: the request
journal and the credential-free "signed" download URLs.

Choices where the API is silent:

- a download of a job that is not completed answers 409 (not ready); of a ``failed`` or
  ``cancelled`` job also 409 (it will never have output); of an ``expired`` job 410 Gone;
- injections fire after the auth check and before request validation, so ``submit:402`` answers
  402 even for a body that would have been refused with 400;
- a poll answered by an injected HTTP error does not count towards the job's progression;
- ``content`` injections also apply to signed-URL downloads (both are "the download");
- a wrong or expired signed-URL token answers 403, as object stores do.

JSON bodies, byte ranges and the in-process transport are the shared ones from
:mod:`mediarouter.emulation`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mediarouter.emulation.asgi import ranged_response, read_json
from mediarouter.emulation.transport import EmulatorTransport as _SharedTransport

from .chat import chat_completions, list_chat_models
from .config import EmulatorConfig
from .state import ApiError, EmulatedJob, EmulatorState, JournalEntry, message_for, validate_submission

__all__ = ["EmulatorTransport", "create_app", "emulator_transport"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
#: The live API rejects bodies over 50 MiB from Content-Length, before reading them.
MAX_BODY_BYTES = 50 * 1024 * 1024


@dataclass
class _Trace:
    """What a handler learned about the request, for its journal entry."""

    phase: str | None = None
    model: str | None = None
    job_id: str | None = None


Handler = Callable[[Request, EmulatorState, _Trace], Awaitable[Response]]


def _state(request: Request) -> EmulatorState:
    return cast(EmulatorState, request.app.state.emulator)


def error_response(status: int, message: str | None, state: EmulatorState) -> JSONResponse:
    """An error in OpenRouter's body shape; 429 and 503 carry Retry-After like the live API may."""
    headers = {"Retry-After": str(state.config.retry_after)} if status in (429, 503) else None
    body = {
        "error": {"code": status, "message": message or message_for(status), "metadata": None},
        "openrouter_metadata": None,
        "user_id": None,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _journal(request: Request, state: EmulatorState, trace: _Trace, status: int) -> None:
    entry: JournalEntry = {
        "method": request.method,
        "path": request.url.path,
        "status": status,
        "phase": trace.phase,
        "host": request.headers.get("host", ""),
        "model": trace.model,
        "job_id": trace.job_id,
        "authorized": "authorization" in request.headers,
        "range": request.headers.get("range"),
    }
    state.record(entry)


def _journaled(phase: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Turn ApiError into OpenRouter error bodies and journal every answer, even crashes."""

    async def endpoint(request: Request) -> Response:
        state = _state(request)
        trace = _Trace(phase=phase)
        try:
            response = await handler(request, state, trace)
        except ApiError as exc:
            response = error_response(exc.status, exc.message, state)
        except Exception:
            log.exception("emulator handler crashed on %s %s", request.method, request.url.path)
            response = error_response(500, None, state)
        _journal(request, state, trace, response.status_code)
        return response

    return endpoint


def _require_auth(request: Request, state: EmulatorState) -> None:
    verdict = state.check_bearer(request.headers.get("authorization"))
    if verdict == "missing":
        raise ApiError(401, "No auth credentials found")
    if verdict == "invalid":
        raise ApiError(401, "Invalid API key")


def _inject(state: EmulatorState, phase: str, model: str | None) -> None:
    injection = state.take_injection(phase, model)
    if injection is not None and injection.status_code is not None:
        raise ApiError(injection.status_code)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _polling_url(request: Request, state: EmulatorState, job_id: str) -> str:
    path = f"{API_PREFIX}/videos/{job_id}"
    if state.config.absolute_polling_url:
        return _base(request) + path
    root_path: str = request.scope.get("root_path", "")
    return root_path + path


def _foreign_origin(state: EmulatorState) -> str | None:
    host = state.config.foreign_download_host
    if not host:
        return None
    return host.rstrip("/") if "://" in host else f"http://{host.rstrip('/')}"


def _job_wire(request: Request, state: EmulatorState, job: EmulatedJob) -> dict[str, Any]:
    base = _base(request)
    content_origin = _foreign_origin(state) or base

    def content_url(index: int) -> str:
        return f"{content_origin}{API_PREFIX}/videos/{job.id}/content?index={index}"

    def signed_url(index: int) -> str:
        return f"{base}/_emulator/signed/{job.id}/{index}?token={job.signed_token}"

    return job.to_wire(_polling_url(request, state, job.id), content_url, signed_url)


def _find_job(state: EmulatorState, job_id: str) -> EmulatedJob:
    job = state.jobs.get(job_id)
    if job is None:
        raise ApiError(404, f"Video generation job {job_id!r} not found")
    return job


# -- the four API operations ------------------------------------------------------------------


async def _read_json(request: Request) -> Any:
    return await read_json(request, max_bytes=MAX_BODY_BYTES, error=ApiError)


async def submit(request: Request, state: EmulatorState, trace: _Trace) -> Response:
    _require_auth(request, state)
    body = await _read_json(request)
    model = body.get("model") if isinstance(body, dict) else None
    trace.model = model if isinstance(model, str) else None
    _inject(state, "submit", trace.model)
    submission = validate_submission(body, state.models)
    previous = body.get("previous_job_id")
    if previous is not None:
        earlier = _find_job(state, str(previous))
        if earlier.model != submission.model:
            raise ApiError(400, f"previous_job_id {previous!r} ran on {earlier.model}, not {submission.model}")
        if earlier.status != "completed":
            raise ApiError(409, f"previous_job_id {previous!r} is {earlier.status}; only completed jobs continue")
    callback = body.get("callback_url")
    job = state.create_job(
        submission, callback_url=callback if isinstance(callback, str) else None, origin=_base(request)
    )
    trace.job_id = job.id
    payload = {"id": job.id, "polling_url": _polling_url(request, state, job.id), "status": job.status}
    return JSONResponse(payload, status_code=202)


async def poll(request: Request, state: EmulatorState, trace: _Trace) -> Response:
    trace.job_id = request.path_params["job_id"]
    _require_auth(request, state)
    job = _find_job(state, trace.job_id)
    trace.model = job.model
    _inject(state, "poll", job.model)
    state.advance(job)
    return JSONResponse(_job_wire(request, state, job))


def _parse_index(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    try:
        index = int(raw)
    except ValueError:
        raise ApiError(400, f"index must be a non-negative integer, got {raw!r}") from None
    if index < 0:
        raise ApiError(400, f"index must be a non-negative integer, got {raw!r}")
    return index


async def _serve_output(request: Request, state: EmulatorState, job: EmulatedJob, index: int) -> Response:
    _inject(state, "content", job.model)
    if job.status == "expired":
        raise ApiError(410, f"The output of video generation job {job.id} has expired and is no longer available")
    if job.status in ("failed", "cancelled"):
        raise ApiError(409, f"Video generation job {job.id} is {job.status} and has no output")
    if job.status != "completed":
        raise ApiError(409, f"Video generation job {job.id} is not completed yet (status: {job.status}); poll first")
    if index >= job.outputs:
        raise ApiError(400, f"index {index} is out of range: job {job.id} has {job.outputs} output(s)")
    data = await run_in_threadpool(state.video, job, index)
    return ranged_response(
        data,
        request.headers.get("range"),
        media_type="video/mp4",
        render_error=lambda exc: error_response(exc.status, exc.message, state),
        error=ApiError,
    )


def _is_foreign(request: Request, state: EmulatorState) -> bool:
    origin = _foreign_origin(state)
    return origin is not None and request.headers.get("host", "").lower() == urlsplit(origin).netloc.lower()


async def content(request: Request, state: EmulatorState, trace: _Trace) -> Response:
    trace.job_id = request.path_params["job_id"]
    # The foreign origin stands for a CDN that knows nothing of API keys: it serves without auth.
    if not _is_foreign(request, state):
        _require_auth(request, state)
    job = _find_job(state, trace.job_id)
    trace.model = job.model
    index = _parse_index(request.query_params.get("index"))
    return await _serve_output(request, state, job, index)


async def signed_content(request: Request, state: EmulatorState, trace: _Trace) -> Response:
    trace.job_id = request.path_params["job_id"]
    job = _find_job(state, trace.job_id)
    trace.model = job.model
    refusal = state.check_signed(job, request.query_params.get("token"))
    if refusal is not None:
        raise ApiError(403, refusal)
    index = _parse_index(request.path_params["index"])
    return await _serve_output(request, state, job, index)


async def list_models(request: Request, state: EmulatorState, trace: _Trace) -> Response:
    _inject(state, "models", None)
    return JSONResponse({"data": state.list_models()})


# -- emulator-only endpoints (not journaled) ----------------------------------------------------


async def journal(request: Request) -> Response:
    state = _state(request)
    if request.method == "DELETE":
        state.clear_journal()
        return Response(status_code=204)
    return JSONResponse({"requests": list(state.requests)})


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Unknown routes and wrong methods still answer in OpenRouter's error shape, and are journaled."""
    state = _state(request)
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    response = error_response(status, None, state)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)  # e.g. Allow on 405
    _journal(request, state, _Trace(), status)
    return response


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A fresh emulator; its state is ``app.state.emulator`` (an EmulatorState)."""
    state = EmulatorState(config or EmulatorConfig())
    routes = [
        Route(f"{API_PREFIX}/videos", _journaled("submit", submit), methods=["POST"]),
        Route(f"{API_PREFIX}/videos/models", _journaled("models", list_models), methods=["GET"]),
        Route(f"{API_PREFIX}/videos/{{job_id}}", _journaled("poll", poll), methods=["GET"]),
        Route(f"{API_PREFIX}/videos/{{job_id}}/content", _journaled("content", content), methods=["GET"]),
        Route("/_emulator/signed/{job_id}/{index}", _journaled("content", signed_content), methods=["GET"]),
        Route(f"{API_PREFIX}/chat/completions", _journaled("chat", chat_completions), methods=["POST"]),
        Route(f"{API_PREFIX}/models", _journaled("models", list_chat_models), methods=["GET"]),
        Route("/_emulator/requests", journal, methods=["GET", "DELETE"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_exception})
    app.state.emulator = state
    return app


class EmulatorTransport(_SharedTransport):
    """An in-process transport to a fresh emulator, with its state at hand as ``.emulator``."""

    def __init__(self, app: Starlette) -> None:
        super().__init__(app)
        self.emulator: EmulatorState = app.state.emulator


def emulator_transport(config: EmulatorConfig | None = None) -> EmulatorTransport:
    """An httpx transport serving a new emulator in-process; use with ``base_url=EMULATOR_BASE_URL``."""
    return EmulatorTransport(create_app(config))
