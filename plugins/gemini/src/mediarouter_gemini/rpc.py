"""Where Google's answers differ from the shared status table: its error envelope, google.rpc status
names, and how a finished operation that carries no video ends.

The HTTP status → error table itself is the core's (`mediarouter.http.statuses`); `RULES` only
refines it. Google sends a status two ways:

- an HTTP error body `{"error": {"code": <HTTP status>, "message", "status": "<NAME>", "details"}}`;
- the `error` of a finished operation, a google.rpc.Status `{"code": <google.rpc.Code number>, "message"}`.

What the status name adds to the HTTP code (everything else is the shared table):

| HTTP | status / detail | class |
|---|---|---|
| 400 | ErrorInfo.reason API_KEY_INVALID / API_KEY_EXPIRED | AuthenticationFailed (a bad key is a 400 here) |
| 400 | INVALID_ARGUMENT, message "payload size" | PayloadTooLarge |
| 400 | FAILED_PRECONDITION, message about billing | InsufficientCredits |
| 429 | RESOURCE_EXHAUSTED with RetryInfo.retryDelay | RateLimited, `retry_after` = the delay |
| 429 | RESOURCE_EXHAUSTED, no delay, zero quota (`limit: 0`) or depleted prepayment | InsufficientCredits |

Inside a finished operation: CANCELLED is `cancelled`, DEADLINE_EXCEEDED is `expired` (Google gave up
on the job: the router stops rather than paying for a second one while the first may be billed),
every other status is `failed` (no video; the router may try the next candidate), as is a result
whose samples were all removed by the safety filters (Google does not bill those). A finished operation
that says neither (no error, no readable video, no filter count or reason: a sample without a URI or
bytes, an empty or missing response) is `ProtocolError`, not `failed`: the job may be done and billed,
and failing over would pay a second backend for the same video.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mediarouter import (
    AuthenticationFailed,
    InsufficientCredits,
    JobState,
    MediaRouterError,
    PayloadTooLarge,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
)
from mediarouter.http import ServerMessage, StatusRules, default_server_message

from .wire import GenerateVideoResponse, Operation, RpcStatus, parse_error_body

__all__ = [
    "KEY_HINT",
    "RPC_CODES",
    "RULES",
    "Ending",
    "operation_ending",
    "refine",
    "retry_delay",
    "server_message",
    "status_name",
]

KEY_HINT = "set GEMINI_API_KEY (or GOOGLE_API_KEY); keys are at https://aistudio.google.com/apikey"

#: google.rpc.Code: number → name (googleapis google/rpc/code.proto).
RPC_CODES: dict[int, str] = {
    0: "OK",
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}

_MESSAGE_SERVER_CHARS = 300
_BILLING = re.compile(r"\b(billing|prepay\w*)\b", re.IGNORECASE)
#: Google's ordinary 429 text says "check your plan and billing details" too: only prepayment means money here.
_PREPAID = re.compile(r"\bprepay\w*", re.IGNORECASE)
_ZERO_QUOTA = re.compile(r"\blimit:\s*0\b")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_PAYLOAD = re.compile(r"payload size|request entity too large", re.IGNORECASE)
_BAD_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})


def status_name(code: int | None = None, status: str | None = None) -> str | None:
    """The google.rpc.Code name from an explicit name (preferred) or a google.rpc.Code number."""
    if status:
        return status.strip().upper()
    if code is not None:
        return RPC_CODES.get(code)
    return None


def _detail_types(status: RpcStatus) -> dict[str, dict[str, Any]]:
    """`details` by short type name (`ErrorInfo`, `RetryInfo`, `QuotaFailure`, …)."""
    found: dict[str, dict[str, Any]] = {}
    for detail in status.details or []:
        kind = str(detail.get("@type", "")).rsplit(".", 1)[-1]
        if kind and kind not in found:
            found[kind] = detail
    return found


def retry_delay(status: RpcStatus | None) -> float | None:
    """Seconds from google.rpc.RetryInfo `retryDelay` ("12s", "1.5s", or `{seconds, nanos}`)."""
    if status is None:
        return None
    info = _detail_types(status).get("RetryInfo")
    delay = info.get("retryDelay") if info else None
    if isinstance(delay, str) and (match := _DURATION.match(delay)):
        return float(match.group(1))
    if isinstance(delay, dict):
        try:
            seconds = float(delay.get("seconds", 0)) + float(delay.get("nanos", 0)) / 1e9
        except (TypeError, ValueError):
            return None
        return seconds if seconds >= 0 else None
    return None


def server_message(body: bytes) -> ServerMessage:
    """Google's `{"error": {code, message, status, details}}` envelope, else the common shapes.

    `metadata` holds only what `refine` reads (the status name, the ErrorInfo reason, the retry
    delay), never Google's raw `details`, so nothing unexpected lands in an error's details.
    """
    envelope = parse_error_body(body)
    if envelope is None or envelope.error is None:
        return default_server_message(body)
    status = envelope.error
    name = status_name(None, status.status)
    metadata: dict[str, Any] = {}
    if name:
        metadata["rpc_status"] = name
    reason = _detail_types(status).get("ErrorInfo", {}).get("reason")
    if isinstance(reason, str) and reason:
        metadata["reason"] = reason
    delay = retry_delay(status)
    if delay is not None:
        metadata["retry_delay"] = delay
    message = status.message if status.message and status.message.strip() else name
    return ServerMessage(message=message, metadata=metadata or None, code=name, structured=True)


_HINTS: dict[type[MediaRouterError], str] = {
    AuthenticationFailed: f"the key is missing, invalid or expired: {KEY_HINT}",
    InsufficientCredits: "Veo is paid-only: enable billing for the key's project in Google AI Studio; "
    "waiting will not help",
    PayloadTooLarge: "the request body is too large: send smaller input images",
}


def _reclassed(error: MediaRouterError, cls: type[MediaRouterError]) -> MediaRouterError:
    return cls(
        error.message,
        provider=error.provider,
        model=error.model,
        status_code=error.status_code,
        job_id=error.job_id,
        server_message=error.server_message,
        hint=_HINTS.get(cls, error.hint),
        details=error.details,
    )


def refine(error: MediaRouterError, said: ServerMessage, phase: str) -> MediaRouterError:
    """Apply what the google.rpc status name and details say beyond the HTTP code."""
    meta: Mapping[str, Any] = said.metadata or {}
    name = meta.get("rpc_status")
    reason = meta.get("reason")
    delay = meta.get("retry_delay")
    if name:
        error.details["rpc_status"] = name
    if reason:
        error.details["reason"] = reason
    error.details.pop("metadata", None)  # the same facts, already above
    message = said.message or ""
    code = error.status_code
    if isinstance(delay, float) and isinstance(error, RateLimited | ProviderUnavailable):
        error.retry_after = delay
    if reason in _BAD_KEY_REASONS and code in (400, 401, 403):
        return _reclassed(error, AuthenticationFailed)
    if code == 400 and name == "INVALID_ARGUMENT" and _PAYLOAD.search(message):
        return _reclassed(error, PayloadTooLarge)
    if code == 400 and name == "FAILED_PRECONDITION" and _BILLING.search(message):
        return _reclassed(error, InsufficientCredits)
    if (
        code == 429
        and name == "RESOURCE_EXHAUSTED"
        and error.retry_after is None
        and (_ZERO_QUOTA.search(message) or _PREPAID.search(message))
    ):
        return _reclassed(error, InsufficientCredits)  # a zero quota (no paid tier): waiting will not help
    return error


RULES = StatusRules(
    label="Gemini",
    key_hint=KEY_HINT,
    server_message=server_message,
    refine=refine,
    hints={
        (400, "submit"): "check the request against the model's capabilities (`mediarouter models`)",
        403: "the key's project lacks access to this model (Veo needs the paid tier), or the request was refused",
        (404, "submit"): "unknown model: run `mediarouter models`",
        (404, "poll"): "unknown or expired operation (Google keeps operations and videos for 2 days)",
        (404, "download"): "the video is gone (Google keeps generated videos for 2 days)",
        413: "the request body is too large: send smaller input images",
        429: "wait and retry; Gemini limits requests per project and model",
    },
)


@dataclass(frozen=True)
class Ending:
    """How a finished operation without a video ended: the job state, the words for it, and the facts."""

    state: JobState
    raw_status: str
    error: str
    details: dict[str, Any] = field(default_factory=dict)


def _shown(text: str) -> str:
    return text if len(text) <= _MESSAGE_SERVER_CHARS else text[: _MESSAGE_SERVER_CHARS - 1] + "…"


def _status_ending(status: RpcStatus) -> Ending:
    name = status_name(status.code, status.status) or "UNKNOWN"
    words = name if status.code is None else f"{name} (code {status.code})"
    if status.message:
        words += f": {_shown(status.message)}"
    details: dict[str, Any] = {"rpc_code": status.code, "rpc_status": name}
    reason = _detail_types(status).get("ErrorInfo", {}).get("reason")
    if reason:
        details["reason"] = reason
    if name == "CANCELLED":
        state = JobState.CANCELLED
    elif name == "DEADLINE_EXCEEDED":
        state = JobState.EXPIRED
    else:
        state = JobState.FAILED
    return Ending(state=state, raw_status=name, error=words, details=details)


def _filtered_ending(response: GenerateVideoResponse) -> Ending:
    reasons = list(response.rai_media_filtered_reasons)
    count = response.rai_media_filtered_count
    if reasons:
        words = f"blocked by safety filters (not billed): {'; '.join(reasons)}"
    else:
        words = f"{count} video(s) removed by safety filters (no reason given; not billed)"
    details = {"rai_media_filtered_reasons": reasons, "rai_media_filtered_count": count}
    return Ending(state=JobState.FAILED, raw_status="filtered", error=words, details=details)


def _unreadable(operation: Operation) -> str | None:
    """What makes a finished operation without an error unreadable, or None when it holds a video or was filtered."""
    response = operation.video_response
    if operation.videos():  # a URI or inline bytes: either way a paid video, never "finished without one"
        return None
    if response is not None and response.unreadable_samples:
        return (
            f"{response.unreadable_samples} sample(s) with no readable video (no video.uri, no inline bytes in "
            "encodedVideo, video or bytesBase64Encoded)"
        )
    if response is not None and response.filtered:
        return None
    if operation.response is None:
        return "neither an error nor a response"
    if response is None:
        return "a response without generateVideoResponse or generatedSamples"
    return "a response with no sample, no error and no safety-filter count or reason"


def operation_ending(operation: Operation, **context: Any) -> Ending | None:
    """None while the operation runs or when it holds videos; else how it ended (error or filtered).

    A finished operation that cannot be read as any of these raises `ProtocolError` (with `context`: provider,
    model, job_id): the job may be done and billed, so it must stop the call, never fail over.
    """
    if not operation.done:
        return None
    if operation.error is not None:
        return _status_ending(operation.error)
    problem = _unreadable(operation)
    if problem is not None:
        raise ProtocolError(
            f"Gemini's operation is done but its answer cannot be read as a video: {problem}",
            hint="the job may have finished and been billed: nothing was retried elsewhere; check the operation "
            "with `mediarouter jobs resume` before submitting again",
            **context,
        )
    response = operation.video_response
    if response is None or operation.videos():
        return None
    return _filtered_ending(response)
