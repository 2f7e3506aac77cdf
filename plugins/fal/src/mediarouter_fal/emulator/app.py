"""fal's queue API as a Starlette ASGI app, with fal's CDN on a second, "foreign" origin.

Routes (docs/providers/fal.md): `POST /{model id}`, `GET /{owner}/{app}/requests/{id}/status`,
`GET /{owner}/{app}/requests/{id}` (the result), `PUT /{owner}/{app}/requests/{id}/cancel`, and on
`CDN_ORIGIN` `GET /files/{id}/output.mp4` (no key needed, like fal.media). `GET /_emulator/requests`
is the journal; `GET /.well-known/jwks.json` the public key its webhook calls are signed with
(`callbacks`: a request submitted with `?fal_webhook=URL` calls URL back when it ends). Status,
result and cancel answer only under the model's *app* id, so a client that builds them from the
full sub-path model id gets 404, as it would from fal.

Choices where fal's docs are silent (each marked UNCONFIRMED there): a submit answers 200; a failed
request is COMPLETED with `error`/`error_type` and its result answers 500 `runner_server_error`; a
cancelled one answers 499 `client_cancelled`; an expired one (job outcome `expired`) answers 404 on
the result; a result asked for before completion answers 400. Injections fire after the key check
and before validation; an injected error on `status` does not move the request along.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mediarouter.emulation import ApiError, Injector, Job, JobMachine, Journal, NetworkFault
from mediarouter.emulation.asgi import answer_injection, journal_status, ranged_response, read_json
from mediarouter.emulation.mp4 import DEFAULT_CACHE, VideoCache, make_mp4
from mediarouter.emulation.transport import EmulatorTransport

from ..catalog import catalog_entry
from ..urls import app_id
from .callbacks import FalWebhookCaller
from .config import EmulatorConfig, FalInjection
from .validation import Submission, check_input

__all__ = ["FalApiError", "FalEmulator", "FalJob", "create_app", "emulator_transport"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
JOB_ERRORS = {
    "failed": "Emulated failure: the runner raised an error while generating",
    "cancelled": "Emulated cancellation: the request was cancelled",
    "expired": "Emulated expiry: the result is no longer kept",
}


class FalApiError(ApiError):
    messages: ClassVar[dict[int, str]] = {
        401: "Invalid or missing credentials",
        404: "Not found",
        429: "Too many requests in the queue",
        500: "Internal server error",
        503: "Service temporarily unavailable",
    }


@dataclass(kw_only=True)
class FalJob(Job):
    """One emulated request: its input, what was wrong with it (late validation), its video once rendered."""

    body: dict[str, Any] = field(default_factory=dict)
    submission: Submission | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    cancel_requested: bool = False
    video: bytes | None = None
    webhook_url: str | None = None


class FalEmulator:
    """The state behind the app: requests, injections, the journal, the rendered videos."""

    def __init__(self, config: EmulatorConfig | None = None, *, cache: VideoCache | None = DEFAULT_CACHE) -> None:
        self.config = config or EmulatorConfig()
        self.injector: Injector[FalInjection] = Injector(self.config.injections)
        self.machine: JobMachine[FalJob] = JobMachine(
            self.config.schedule(),
            injector=self.injector,
            outcome_phase="status",
            errors=JOB_ERRORS,
            on_finish=self._finished,
            now=self.config.clock,
        )
        #: The webhook calls of requests submitted with `fal_webhook` (`webhooks.calls` journals them).
        self.webhooks = FalWebhookCaller(
            self.config, injector=self.injector, payload=self._webhook_payload, now=self.machine.now, finish=self._end
        )
        self.journal = Journal()
        self.cache = cache
        key = self.config.api_key
        self._key_digest = hashlib.sha256(key.encode()).digest() if key else None
        cdn = urlsplit(self.config.cdn_origin)
        self.cdn_host = (cdn.hostname or "").lower()

    def key_verdict(self, header: str | None) -> str:
        """ "ok", "missing" or "invalid" for an Authorization header (only a digest of the key is kept)."""
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "key" or not token.strip():
            return "missing" if not header else "invalid"
        if self._key_digest is None:
            return "ok"
        given = hashlib.sha256(token.strip().encode()).digest()
        return "ok" if hmac.compare_digest(given, self._key_digest) else "invalid"

    def _finished(self, job: FalJob) -> None:
        if job.webhook_url is not None:
            self.webhooks.finished(job)

    def _end(self, job: FalJob) -> None:
        """End a request by itself (``callback_after``): completed, or as a ``status`` job outcome says."""
        forced = self.injector.take("status", job.model, job=True)
        self.machine.finish(job, forced.job_outcome if forced is not None else None)

    async def _webhook_payload(self, job: FalJob) -> tuple[str, Any, str | None]:
        """What the webhook of an ended request reports: OK with the result, or ERROR with fal's error body."""
        if job.status == "failed":
            return "ERROR", {"detail": job.error, "error_type": "runner_server_error"}, "Invalid status code: 500"
        if job.status == "cancelled":
            return "ERROR", {"detail": job.error, "error_type": "client_cancelled"}, "Invalid status code: 499"
        if job.status == "expired":
            return "ERROR", {"detail": job.error}, "Invalid status code: 404"
        if job.problems or job.submission is None:
            return "ERROR", {"detail": job.problems}, "Invalid status code: 422"
        return "OK", await _result_body(self, job, job.submission), None

    def queue_position(self, job: FalJob) -> int:
        """Requests ahead of this one: earlier ones still queued, plus the looks it has left in the queue."""
        ahead = sum(
            1 for other in self.machine.jobs.values() if other.status == "pending" and other.created_at < job.created_at
        )
        return ahead + max(0, self.config.polls_before_in_progress - job.polls)


@dataclass
class _Trace:
    phase: str | None = None
    model: str | None = None
    request_id: str | None = None


def _state(request: Request) -> FalEmulator:
    emulator: FalEmulator = request.app.state.emulator
    return emulator


def _error_response(exc: ApiError) -> Response:
    body = exc.body if exc.body is not None else {"detail": exc.message}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers or None)


def _base(request: Request, state: FalEmulator) -> str:
    return (state.config.answer_origin or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")


def _urls(request: Request, state: FalEmulator, job: FalJob) -> dict[str, str]:
    root = f"{_base(request, state)}/{app_id(str(job.model))}/requests/{job.id}"
    return {"response_url": root, "status_url": f"{root}/status", "cancel_url": f"{root}/cancel"}


async def _inject(request: Request, state: FalEmulator, phase: str, model: str | None) -> Response | None:
    return await answer_injection(request, state.injector.take(phase, model), error=FalApiError)


def _require_key(request: Request, state: FalEmulator) -> None:
    verdict = state.key_verdict(request.headers.get("authorization"))
    if verdict != "ok":
        raise FalApiError(401, "Missing credentials" if verdict == "missing" else "Invalid key")


def _find(state: FalEmulator, app: str, request_id: str) -> FalJob:
    job = state.machine.get(request_id)
    if job is None or app_id(str(job.model)) != app:
        raise FalApiError(404, f"Request {request_id!r} not found for app {app!r}")
    return job


# -- the queue operations -------------------------------------------------------------------------


async def submit(request: Request, state: FalEmulator, trace: _Trace, model: str) -> Response:
    trace.phase, trace.model = "submit", model
    _require_key(request, state)
    entry = catalog_entry(model)
    if entry is None:
        raise FalApiError(404, f"Application {model!r} not found (the emulator serves the built-in catalog only)")
    faulty = await _inject(request, state, "submit", model)
    if faulty is not None:
        return faulty
    body = await read_json(request, max_bytes=MAX_BODY_BYTES, error=FalApiError)
    submission, problems = check_input(entry, body)
    if problems and state.config.validate_on == "submit":
        raise FalApiError(422, body={"detail": problems})
    job = state.machine.add(
        FalJob(
            id=str(uuid.uuid4()),
            created_at=state.machine.now(),
            model=model,
            body=body if isinstance(body, dict) else {},
            submission=submission,
            problems=problems,
        )
    )
    job.extra["webhook"] = "fal_webhook" in request.query_params
    webhook = request.query_params.get("fal_webhook")
    if webhook:
        job.webhook_url = webhook
        state.webhooks.submitted(job)
    trace.request_id = job.id
    return JSONResponse({"status": "IN_QUEUE", "request_id": job.id, **_urls(request, state, job)})


def _logs(job: FalJob) -> list[dict[str, Any]]:
    stamp = datetime.now(UTC).isoformat()
    count = max(0, job.polls - 1)
    return [
        {"message": f"emulated runner: step {i + 1}", "level": "INFO", "source": "user", "timestamp": stamp}
        for i in range(min(count, 5))
    ]


async def status(request: Request, state: FalEmulator, trace: _Trace, app: str, request_id: str) -> Response:
    trace.phase, trace.request_id = "status", request_id
    _require_key(request, state)
    job = _find(state, app, request_id)
    trace.model = job.model
    faulty = await _inject(request, state, "status", job.model)
    if faulty is not None:
        return faulty
    if job.cancel_requested and not job.terminal:
        state.machine.cancel(job)
    state.machine.poll(job)
    body: dict[str, Any] = {**_urls(request, state, job)}
    with_logs = request.query_params.get("logs") in ("1", "true")
    if job.status == "pending":
        body.update(status="IN_QUEUE", queue_position=state.queue_position(job))
        return JSONResponse(body, status_code=202)
    if with_logs:
        body["logs"] = _logs(job)
    if job.status == "in_progress":
        body["status"] = "IN_PROGRESS"
        return JSONResponse(body, status_code=202)
    body.update(status="COMPLETED", metrics={"inference_time": round(0.5 + job.polls * 0.25, 2)})
    if job.status == "failed":
        body.update(error=job.error, error_type="runner_server_error")
    elif job.status == "cancelled":
        body.update(error=job.error, error_type="client_cancelled")
    return JSONResponse(body)


async def result(request: Request, state: FalEmulator, trace: _Trace, app: str, request_id: str) -> Response:
    trace.phase, trace.request_id = "result", request_id
    _require_key(request, state)
    job = _find(state, app, request_id)
    trace.model = job.model
    faulty = await _inject(request, state, "result", job.model)
    if faulty is not None:
        return faulty
    if not job.terminal:
        raise FalApiError(400, "Request is still in progress")
    if job.status == "failed":
        raise FalApiError(500, body={"detail": job.error, "error_type": "runner_server_error"})
    if job.status == "cancelled":
        raise FalApiError(499, body={"detail": job.error, "error_type": "client_cancelled"})
    if job.status == "expired":
        raise FalApiError(404, "Request result not found: results are kept for 1 hour")
    if job.problems or job.submission is None:
        raise FalApiError(422, body={"detail": job.problems})
    return JSONResponse(await _result_body(state, job, job.submission))


async def _result_body(state: FalEmulator, job: FalJob, submission: Submission) -> dict[str, Any]:
    """A completed request's result (rendering its video once): what the result route and the webhook carry."""
    video = await _video(state, job, submission)
    file = {
        "url": f"{state.config.cdn_origin.rstrip('/')}/files/{job.id}/output.mp4",
        "content_type": "video/mp4",
        "file_name": "output.mp4",
        "file_size": len(video),
    }
    answer: dict[str, Any] = {"video": file}
    if submission.seed is not None:
        answer["seed"] = submission.seed
    return answer


async def _video(state: FalEmulator, job: FalJob, submission: Submission) -> bytes:
    if job.video is None:
        job.video = await run_in_threadpool(
            make_mp4,
            submission.duration_s,
            submission.aspect_ratio,
            None,
            with_audio=submission.with_audio,
            seed=submission.seed,
            label=f"fal:{job.id}",
            cache=state.cache,
        )
    return job.video


async def cancel(request: Request, state: FalEmulator, trace: _Trace, app: str, request_id: str) -> Response:
    trace.phase, trace.request_id = "cancel", request_id
    _require_key(request, state)
    job = state.machine.get(request_id)
    if job is None or app_id(str(job.model)) != app:
        return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
    trace.model = job.model
    faulty = await _inject(request, state, "cancel", job.model)
    if faulty is not None:
        return faulty
    if job.terminal:
        return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
    if job.status == "pending":
        state.machine.cancel(job)  # queued requests are removed at once
    else:
        job.cancel_requested = True  # a running one gets the signal and stops at its next look
    return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)


async def download(request: Request, state: FalEmulator, trace: _Trace, request_id: str) -> Response:
    trace.phase, trace.request_id = "download", request_id
    job = state.machine.get(request_id)
    trace.model = job.model if job is not None else None
    faulty = await _inject(request, state, "download", trace.model)
    if faulty is not None:
        return faulty
    if job is None or job.video is None:
        raise FalApiError(404, "File not found")
    return ranged_response(
        job.video, request.headers.get("range"), media_type="video/mp4", render_error=_error_response
    )


# -- routing and the journal ------------------------------------------------------------------------

Handler = Callable[[], Awaitable[Response]]


def _route(request: Request, state: FalEmulator, trace: _Trace) -> Handler | None:
    """Which operation a request is, by host, method and path (fal's ids have any number of segments)."""
    segments = [s for s in request.url.path.split("/") if s]
    if (request.url.hostname or "").lower() == state.cdn_host:
        if request.method == "GET" and len(segments) == 3 and segments[0] == "files":
            return lambda: download(request, state, trace, segments[1])
        return None
    if "requests" in segments[2:]:
        at = segments.index("requests", 2)
        app, tail = "/".join(segments[:at]), segments[at + 1 :]
        if request.method == "GET" and len(tail) == 1:
            return lambda: result(request, state, trace, app, tail[0])
        if request.method == "GET" and len(tail) == 2 and tail[1] == "status":
            return lambda: status(request, state, trace, app, tail[0])
        if request.method == "PUT" and len(tail) == 2 and tail[1] == "cancel":
            return lambda: cancel(request, state, trace, app, tail[0])
        return None
    if request.method == "POST" and len(segments) >= 2:
        return lambda: submit(request, state, trace, "/".join(segments))
    return None


async def dispatch(request: Request) -> Response:
    state = _state(request)
    trace = _Trace()
    response: Response | None = None
    try:
        handler = _route(request, state, trace)
        response = await handler() if handler is not None else _error_response(FalApiError(404, "No such route"))
    except ApiError as exc:
        response = _error_response(exc)
    except NetworkFault:
        raise
    except Exception:
        log.exception("fal emulator crashed on %s %s", request.method, request.url.path)
        response = _error_response(FalApiError(500))
    finally:
        state.journal.record(
            request.method,
            request.url.path,
            journal_status(response) if response is not None else None,
            phase=trace.phase,
            host=request.url.netloc,
            model=trace.model,
            request_id=trace.request_id,
            authorized="authorization" in request.headers,
            range=request.headers.get("range"),
        )
    return response


async def journal(request: Request) -> Response:
    return JSONResponse({"requests": _state(request).journal.entries})


async def jwks(request: Request) -> Response:
    """The emulator's webhook key set (fal's is at https://rest.fal.ai/.well-known/jwks.json); no key needed."""
    return JSONResponse(_state(request).webhooks.jwks())


def create_app(config: EmulatorConfig | None = None, *, cache: VideoCache | None = DEFAULT_CACHE) -> Starlette:
    """The ASGI app; `app.state.emulator` is its `FalEmulator`."""
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    app = Starlette(
        routes=[
            Route("/_emulator/requests", journal, methods=["GET"]),
            Route("/.well-known/jwks.json", jwks, methods=["GET"]),
            Route("/{path:path}", dispatch, methods=methods),
        ]
    )
    app.state.emulator = FalEmulator(config, cache=cache)
    return app


def emulator_transport(config: EmulatorConfig | None = None) -> EmulatorTransport:
    """An in-process httpx transport to a fresh emulator (`.emulator` is its state)."""
    return EmulatorTransport(create_app(config))
