"""Where fal's answers differ from the shared status table: its hints, its two error body shapes,
its 422 validation answers, its cancel answers, and which result errors mean "the job ended".

The table itself is the core's (`mediarouter.http.statuses`). fal's bodies are either model
errors `{"detail": [{loc, msg, type, …}]}` or request errors `{"detail": "…", "error_type": "…"}`
(docs/providers/fal.md, "HTTP errors"); cancel answers are `{"status": "ALREADY_COMPLETED"}` and
the like. The parser keeps `error_type` as the error code and the raw body in the metadata, so
the provider can tell a failed request from a queue that is having trouble.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mediarouter import Conflict, InvalidRequest, JobState, MediaRouterError, NotFound
from mediarouter.http import ServerMessage, StatusRules, default_server_message

from . import PROVIDER_NAME
from .inputs import validation_error
from .wire import parse_error_body

__all__ = [
    "CANCEL_ANSWERS",
    "KEY_HINT",
    "RULES",
    "ResultFailure",
    "ended_by_result_error",
    "fal_error_type",
    "is_cancellation",
]

KEY_HINT = "set FAL_KEY (or pass api_key=...); keys are at https://fal.ai/dashboard/keys"
BILLING = "https://fal.ai/dashboard/billing"

#: What `PUT …/cancel` may answer in `status` (docs: OK, CANCELLATION_REQUESTED, ALREADY_COMPLETED, NOT_FOUND).
CANCEL_ANSWERS = ("OK", "CANCELLATION_REQUESTED", "ALREADY_COMPLETED", "NOT_FOUND")
#: Request error types that mean the request was cancelled rather than failed.
_CANCELLED_TYPES = frozenset({"client_cancelled", "cancelled", "request_cancelled"})


def is_cancellation(error_type: str | None) -> bool:
    """`client_cancelled` (fal's request-error table) and any other type that says "cancel"."""
    return bool(error_type) and (error_type in _CANCELLED_TYPES or "cancel" in str(error_type).lower())


def _server_message(body: bytes) -> ServerMessage:
    """fal's two error shapes and its cancel answers; anything else through the common parser."""
    parsed = parse_error_body(body)
    if parsed is not None and (parsed.detail is not None or parsed.error_type is not None):
        metadata: dict[str, Any] = {}
        if parsed.error_type:
            metadata["error_type"] = parsed.error_type
        if parsed.details:
            metadata["detail"] = [d.model_dump(mode="json", exclude_none=True) for d in parsed.details]
        return ServerMessage(
            message=parsed.message or parsed.error_type,
            metadata=metadata or None,
            code=parsed.error_type,
            structured=True,
        )
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("status"), str) and data["status"] in CANCEL_ANSWERS:
        return ServerMessage(message=data["status"], code=data["status"], structured=True)
    return default_server_message(body)


def _refine(error: MediaRouterError, said: ServerMessage, phase: str) -> MediaRouterError:
    """422-style `detail` lists name the request field; cancel answers get their own words."""
    detail = (said.metadata or {}).get("detail")
    if isinstance(error, InvalidRequest) and detail:
        refined = validation_error(
            json.dumps({"detail": detail}).encode(),
            model=error.model,
            status_code=error.status_code,
            job_id=error.job_id,
        )
        refined.details = {**error.details, **refined.details, "validation": True}
        return refined
    if phase == "cancel" and said.code == "ALREADY_COMPLETED":
        return already_completed(error.model, error.job_id, status_code=error.status_code)
    if phase == "cancel" and said.code == "NOT_FOUND" and not isinstance(error, NotFound):
        return NotFound(
            "fal cancel failed: no such request (NOT_FOUND)",
            provider=PROVIDER_NAME,
            model=error.model,
            job_id=error.job_id,
            status_code=error.status_code,
            hint="the request id is unknown to fal, or it was created with another key",
        )
    return error


def already_completed(model: str | None, job_id: str | None, *, status_code: int | None = None) -> Conflict:
    """Cancel came too late: the request finished (and is billed if it produced a video)."""
    return Conflict(
        "fal cannot cancel the request: it has already completed (ALREADY_COMPLETED)",
        provider=PROVIDER_NAME,
        model=model,
        job_id=job_id,
        status_code=status_code,
        server_message="ALREADY_COMPLETED",
        hint=f"`mediarouter jobs resume {job_id}` downloads its output" if job_id else None,
        details={"phase": "cancel", "cancel_status": "ALREADY_COMPLETED"},
    )


RULES = StatusRules(
    label="fal",
    key_hint=KEY_HINT,
    server_message=_server_message,
    refine=_refine,
    hints={
        402: f"add credits at {BILLING}; waiting will not help",
        403: f"the key lacks permission for this (fal key scopes), or the account is locked for a low balance: "
        f"{BILLING}",
        (404, "submit"): "unknown fal model id: check it on https://fal.ai/models (`mediarouter models fal` lists "
        "the built-in catalog)",
        404: "unknown fal request id (or one created with another key)",
        (422, "submit"): "check the request against the model's inputs (`mediarouter models fal`)",
        413: "the request body is over fal's limit: upload the media to fal's CDN (fal_client.upload_file) or any "
        "https:// host and pass its URL instead of a data: URL",
        429: "fal's queue for this app is full or the key is rate-limited; wait and retry",
    },
)


@dataclass(frozen=True)
class ResultFailure:
    """How a failed result fetch ends the job: the state, the words, and what else is worth keeping."""

    state: JobState
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


def fal_error_type(error: MediaRouterError) -> str | None:
    """The `error_type` fal put in an error body (kept by the parser as the error code)."""
    code = error.details.get("error_code")
    return code if isinstance(code, str) and code else None


def ended_by_result_error(error: MediaRouterError) -> ResultFailure | None:
    """Whether an error answer to the result fetch of a COMPLETED request is the request's own end.

    fal's result endpoint "returns the same error" the model returned, so once the status said
    COMPLETED: a validation answer (`detail` list) or a fal request error (`error_type`) is the
    job failing (or being cancelled), and 404/410 mean fal no longer holds the result (it keeps
    results an hour, six minutes when large). Anything else (a proxy's 502, 429) is the queue
    having trouble: the caller raises it and the engine retries the poll.
    """
    extra: dict[str, Any] = {"result_status_code": error.status_code}
    if error.details.get("validation"):
        extra.update({k: error.details[k] for k in ("field", "errors") if k in error.details})
        return ResultFailure(JobState.FAILED, error.message, extra)
    error_type = fal_error_type(error)
    if error_type is not None and error.status_code != 429:
        extra["error_type"] = error_type
        words = error.server_message or error_type
        if is_cancellation(error_type):
            return ResultFailure(JobState.CANCELLED, f"{words} ({error_type})", extra)
        return ResultFailure(JobState.FAILED, f"{words} ({error_type})", extra)
    if error.status_code in (404, 410) and error.details.get("structured_body", True):
        # An unreadable 404/410 (a proxy's page, a cut body) is not yet fal's word: the poll is retried.
        words = error.server_message or "the result is gone"
        return ResultFailure(
            JobState.EXPIRED,
            f"fal no longer holds the result ({words}); it keeps results for 1 hour (6 minutes when 10 KB or larger)",
            extra,
        )
    return None
