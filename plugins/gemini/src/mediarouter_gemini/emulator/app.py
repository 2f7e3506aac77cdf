"""The Gemini API's Veo routes as a Starlette ASGI app, on the shared emulator parts.

- `POST /v1beta/models/{model}:predictLongRunning` → an operation `{"name": "models/{model}/operations/{id}"}`;
- `GET /v1beta/models/{model}/operations/{id}` → the operation: `done` absent while it runs, then
  `response.generateVideoResponse.generatedSamples[].video.uri`, or `error`, or a safety-filtered result;
  with `EmulatorConfig(inline_video=True)` the sample holds the video's bytes as base64 instead of a URI;
- `GET /v1beta/files/{file}:download?alt=media` (key required) → 302 to the foreign file host, which
  serves the MP4 without a key (as a signed storage URL would);
- `GET /_emulator/requests` → the journal (never a key: only whether one was sent, `keyed`).

Choices where Google is silent: a missing key is 403 PERMISSION_DENIED and a wrong one 400
INVALID_ARGUMENT with ErrorInfo API_KEY_INVALID (Google's usual answers); injections fire after the
key check and before validation; an injected HTTP error on a poll does not advance the operation.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mediarouter.emulation import ApiError, Injector, Job, JobMachine, Journal, NetworkFault
from mediarouter.emulation.asgi import answer_injection, journal_status, ranged_response, read_json
from mediarouter.emulation.mp4 import make_mp4
from mediarouter.emulation.transport import EmulatorTransport

from .config import INLINE_FIELDS, EmulatorConfig, GeminiInjection
from .validation import GoogleError, Submission, validate_predict

__all__ = ["EmulatorState", "GeminiJob", "create_app", "emulator_transport"]

log = logging.getLogger(__name__)

PREFIX = "/v1beta"
MAX_BODY_BYTES = 64 * 1024 * 1024
_RPC_CODES = {"INTERNAL": 13, "CANCELLED": 1, "DEADLINE_EXCEEDED": 4}


@dataclass(kw_only=True)
class GeminiJob(Job):
    submission: Submission
    file_id: str


class EmulatorState:
    """Operations, injections and the journal of one emulator."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.injector: Injector[GeminiInjection] = Injector(config.injections)
        self.machine: JobMachine[GeminiJob] = JobMachine(
            config.schedule(), injector=self.injector, now=config.clock or time.time
        )
        self.journal = Journal()
        self.files: dict[str, GeminiJob] = {}
        self._ids = itertools.count(1)
        self._key_digest = hashlib.sha256(config.api_key.encode()).hexdigest() if config.api_key else None

    def check_key(self, key: str | None) -> None:
        if not key:
            raise GoogleError(403)
        if self._key_digest is not None and hashlib.sha256(key.encode()).hexdigest() != self._key_digest:
            raise GoogleError(400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID")

    def create(self, submission: Submission) -> GeminiJob:
        n = next(self._ids)
        suffix = hashlib.sha256(f"{n}:{self.machine.now()}".encode()).hexdigest()[:10]
        job = GeminiJob(
            id=f"models/{submission.model}/operations/op{n}{suffix}",
            created_at=self.machine.now(),
            model=submission.model,
            submission=submission,
            file_id=f"vid{n}{suffix}",
        )
        self.files[job.file_id] = job
        return self.machine.add(job)

    def video(self, job: GeminiJob) -> bytes:
        s = job.submission
        return make_mp4(float(s.duration), s.aspect_ratio, None, with_audio=s.audio, seed=s.seed, label=job.id)


def _state(request: Request) -> EmulatorState:
    return cast(EmulatorState, request.app.state.emulator)


def error_response(error: ApiError, state: EmulatorState) -> JSONResponse:
    """Google's error envelope; a 429 carries RetryInfo like the live API."""
    rpc_status = error.rpc_status if isinstance(error, GoogleError) else GoogleError(error.status).rpc_status
    body: dict[str, Any] = {"code": error.status, "message": error.message, "status": rpc_status}
    details: list[dict[str, Any]] = []
    if isinstance(error, GoogleError) and error.reason:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": error.reason, "domain": "googleapis.com"}
        )
    if error.status == 429:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{state.config.retry_delay}s"}
        )
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=error.status)


@dataclass
class _Trace:
    phase: str | None = None
    model: str | None = None
    job_id: str | None = None


Handler = Callable[[Request, EmulatorState, _Trace], Awaitable[Response]]


def _journaled(phase: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state = _state(request)
        trace = _Trace(phase=phase)
        try:
            response = await handler(request, state, trace)
        except ApiError as exc:
            response = error_response(exc, state)
        except NetworkFault:
            _record(request, state, trace, None)
            raise
        except Exception:
            log.exception("gemini emulator crashed on %s %s", request.method, request.url.path)
            response = error_response(GoogleError(500), state)
        _record(request, state, trace, journal_status(response))
        return response

    return endpoint


def _record(request: Request, state: EmulatorState, trace: _Trace, status: int | None) -> None:
    state.journal.record(
        request.method,
        request.url.path,
        status,
        phase=trace.phase,
        headers=request.headers,
        host=request.headers.get("host", ""),
        model=trace.model,
        job_id=trace.job_id,
        keyed="x-goog-api-key" in request.headers,
    )


async def _inject(request: Request, state: EmulatorState, phase: str, model: str | None) -> Response | None:
    return await answer_injection(request, state.injector.take(phase, model), error=GoogleError)


def _api_base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


async def submit(request: Request, state: EmulatorState, trace: _Trace) -> Response:
    target = request.path_params["target"]
    model, sep, method = target.partition(":")
    if not sep or method != "predictLongRunning":
        raise GoogleError(404, f"Method {method or target!r} not found on models/{model}")
    trace.model = model
    state.check_key(request.headers.get("x-goog-api-key"))
    body = await read_json(request, max_bytes=MAX_BODY_BYTES, error=GoogleError)
    injected = await _inject(request, state, "submit", model)
    if injected is not None:
        return injected
    job = state.create(validate_predict(model, body))
    trace.job_id = job.id
    return JSONResponse({"name": job.id})


def _inline_video(state: EmulatorState, job: GeminiJob) -> dict[str, Any]:
    """The sample's `video` with the MP4 itself as base64, in the configured spelling."""
    field = state.config.inline_field
    video: dict[str, Any] = {field: base64.b64encode(state.video(job)).decode("ascii")}
    mime_field = INLINE_FIELDS[field]
    if mime_field is not None:
        video[mime_field] = "video/mp4"
    return video


async def _operation(request: Request, state: EmulatorState, job: GeminiJob) -> dict[str, Any]:
    wire: dict[str, Any] = {"name": job.id}
    if not job.terminal:
        return wire
    wire["done"] = True
    if job.status == "completed":
        if state.config.inline_video:
            video = await run_in_threadpool(_inline_video, state, job)
        else:
            video = {"uri": f"{_api_base(request)}/files/{job.file_id}:download?alt=media"}
        wire["response"] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
            "generateVideoResponse": {"generatedSamples": [{"video": video}]},
        }
    elif job.status == "failed" and state.config.failed_as == "filtered":
        wire["response"] = {
            "generateVideoResponse": {
                "raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": ["Emulated safety filter: the prompt was blocked."],
            }
        }
    else:
        name = {"failed": "INTERNAL", "cancelled": "CANCELLED", "expired": "DEADLINE_EXCEEDED"}[job.status]
        wire["error"] = {"code": _RPC_CODES[name], "message": job.error or name}
    return wire


async def poll(request: Request, state: EmulatorState, trace: _Trace) -> Response:
    name = "models/" + request.path_params["rest"]
    trace.job_id = name
    state.check_key(request.headers.get("x-goog-api-key"))
    job = state.machine.get(name)
    if job is None:
        raise GoogleError(404, f"Operation {name} not found.")
    trace.model = job.model
    injected = await _inject(request, state, "poll", job.model)
    if injected is not None:
        return injected
    state.machine.poll(job)
    return JSONResponse(await _operation(request, state, job))


def _file(state: EmulatorState, file_id: str) -> GeminiJob:
    job = state.files.get(file_id)
    if job is None or job.status != "completed":
        raise GoogleError(404, f"File {file_id} not found.")
    return job


async def _serve(request: Request, state: EmulatorState, trace: _Trace, job: GeminiJob) -> Response:
    trace.model, trace.job_id = job.model, job.id
    injected = await _inject(request, state, "download", job.model)
    if injected is not None:
        return injected
    data = await run_in_threadpool(state.video, job)
    return ranged_response(
        data,
        request.headers.get("range"),
        media_type="video/mp4",
        render_error=lambda exc: error_response(exc, state),
        error=GoogleError,
    )


async def download(request: Request, state: EmulatorState, trace: _Trace) -> Response:
    target = request.path_params["target"]
    file_id, sep, method = target.partition(":")
    if not sep or method != "download":
        raise GoogleError(404, f"Method {method or target!r} not found on files/{file_id}")
    state.check_key(request.headers.get("x-goog-api-key"))
    job = _file(state, file_id)
    host = state.config.foreign_host
    if host is None:
        return await _serve(request, state, trace, job)
    trace.model, trace.job_id = job.model, job.id
    return RedirectResponse(f"https://{host}/files/{file_id}?signature=emulated", status_code=302)


async def foreign_file(request: Request, state: EmulatorState, trace: _Trace) -> Response:
    """The foreign file host: knows nothing of API keys, serves anyone with the link."""
    if request.headers.get("host", "").lower() != (state.config.foreign_host or "").lower():
        raise GoogleError(404, "Requested entity was not found.")
    return await _serve(request, state, trace, _file(state, request.path_params["file_id"]))


async def journal(request: Request) -> Response:
    state = _state(request)
    if request.method == "DELETE":
        state.journal.clear()
        return Response(status_code=204)
    return JSONResponse({"requests": state.journal.entries})


async def _http_exception(request: Request, exc: Exception) -> Response:
    state = _state(request)
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    _record(request, state, _Trace(), status)
    return error_response(GoogleError(status), state)


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A fresh emulator; its state is `app.state.emulator` (an EmulatorState)."""
    state = EmulatorState(config or EmulatorConfig())
    routes = [
        Route(f"{PREFIX}/models/{{target}}", _journaled("submit", submit), methods=["POST"]),
        Route(f"{PREFIX}/models/{{rest:path}}", _journaled("poll", poll), methods=["GET"]),
        Route(f"{PREFIX}/files/{{target}}", _journaled("download", download), methods=["GET"]),
        Route("/files/{file_id}", _journaled("download", foreign_file), methods=["GET"]),
        Route("/_emulator/requests", journal, methods=["GET", "DELETE"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_exception})
    app.state.emulator = state
    return app


def emulator_transport(config: EmulatorConfig | None = None) -> EmulatorTransport:
    """An httpx transport serving a new emulator in-process; use with `base_url=EMULATOR_BASE_URL`."""
    return EmulatorTransport(create_app(config))
