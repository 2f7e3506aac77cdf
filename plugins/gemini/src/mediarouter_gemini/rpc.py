"""Map google.rpc statuses onto mediarouter's error taxonomy: HTTP errors, failed operations, safety filtering.

The class decides what the engine and the router do next (retry a poll, fail over, stop),
so the mapping is one table here. Google sends the same status two ways:

- an HTTP error body `{"error": {"code": <HTTP status>, "message", "status": "<NAME>", "details"}}`;
- the `error` of a finished operation, a google.rpc.Status `{"code": <google.rpc.Code number>, "message", "details"}`
  (a number, no name).

| google.rpc status | HTTP | class |
|---|---|---|
| INVALID_ARGUMENT, OUT_OF_RANGE | 400 | InvalidRequest (PayloadTooLarge: "payload size"; API_KEY_INVALID: auth) |
| FAILED_PRECONDITION | 400 | InvalidRequest; InsufficientCredits when the message is about billing |
| UNAUTHENTICATED | 401 | AuthenticationFailed |
| PERMISSION_DENIED | 403 | PermissionDenied |
| NOT_FOUND | 404 | NotFound |
| ALREADY_EXISTS, ABORTED | 409 | Conflict |
| RESOURCE_EXHAUSTED | 429 | RateLimited; InsufficientCredits when the quota is zero or billing, with no retry delay |
| UNIMPLEMENTED | 501 | InvalidRequest |
| UNAVAILABLE, INTERNAL, UNKNOWN, DATA_LOSS, DEADLINE_EXCEEDED | 5xx | ProviderUnavailable |
| CANCELLED | 499 | ProviderUnavailable for an HTTP call (the *request* was cut); JobCancelled inside an operation |

Inside a finished operation every status except CANCELLED is `JobFailed` carrying the code,
the status name and Google's message: the job ended and was not billed as a video, so the
router may try the next candidate. Messages never carry the API key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from mediarouter import (
    AuthenticationFailed,
    Conflict,
    InsufficientCredits,
    InvalidRequest,
    JobCancelled,
    JobFailed,
    MediaRouterError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
)

from . import PROVIDER_NAME
from .wire import GenerateVideoResponse, Operation, RpcStatus, parse_error_body, snippet

__all__ = [
    "Phase",
    "KEY_HINT",
    "RPC_CODES",
    "status_name",
    "retry_delay",
    "error_from_http",
    "error_from_operation",
    "filtered_failure",
]

Phase = Literal["submit", "poll", "download"]

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

#: The status an HTTP code stands for when the body names none (a proxy page, an empty body).
_HTTP_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_CLASSES: dict[str, type[MediaRouterError]] = {
    "INVALID_ARGUMENT": InvalidRequest,
    "OUT_OF_RANGE": InvalidRequest,
    "FAILED_PRECONDITION": InvalidRequest,
    "UNIMPLEMENTED": InvalidRequest,
    "UNAUTHENTICATED": AuthenticationFailed,
    "PERMISSION_DENIED": PermissionDenied,
    "NOT_FOUND": NotFound,
    "ALREADY_EXISTS": Conflict,
    "ABORTED": Conflict,
    "RESOURCE_EXHAUSTED": RateLimited,
    "UNAVAILABLE": ProviderUnavailable,
    "INTERNAL": ProviderUnavailable,
    "UNKNOWN": ProviderUnavailable,
    "DATA_LOSS": ProviderUnavailable,
    "DEADLINE_EXCEEDED": ProviderUnavailable,
    "CANCELLED": ProviderUnavailable,
}

_PHASE_TEXT = {"submit": "submit", "poll": "operation poll", "download": "download"}
_SERVER_MESSAGE_CHARS = 2000
_MESSAGE_SERVER_CHARS = 300
_BILLING = re.compile(r"\b(billing|prepay\w*|credits?|payment)\b", re.IGNORECASE)
_ZERO_QUOTA = re.compile(r"\blimit:\s*0\b")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_PAYLOAD = re.compile(r"payload size|request entity too large|too large", re.IGNORECASE)


def status_name(code: int | None = None, status: str | None = None) -> str | None:
    """The google.rpc.Code name from an explicit name (preferred) or a google.rpc.Code number."""
    if status:
        return status.strip().upper()
    if code is not None:
        return RPC_CODES.get(code)
    return None


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _detail_types(status: RpcStatus) -> dict[str, dict[str, Any]]:
    """`details` by short type name (`ErrorInfo`, `RetryInfo`, `QuotaFailure`, …)."""
    found: dict[str, dict[str, Any]] = {}
    for detail in status.details or []:
        kind = str(detail.get("@type", "")).rsplit(".", 1)[-1]
        if kind and kind not in found:
            found[kind] = detail
    return found


def retry_delay(status: RpcStatus | None, headers: Mapping[str, str] | None = None) -> float | None:
    """Seconds to wait: google.rpc.RetryInfo `retryDelay` ("12s", "1.5s"), else a `Retry-After: <seconds>` header."""
    if status is not None:
        info = _detail_types(status).get("RetryInfo")
        delay = info.get("retryDelay") if info else None
        if isinstance(delay, str) and (match := _DURATION.match(delay)):
            return float(match.group(1))
        if isinstance(delay, dict):  # the proto JSON form {"seconds": .., "nanos": ..}
            try:
                return float(delay.get("seconds", 0)) + float(delay.get("nanos", 0)) / 1e9
            except (TypeError, ValueError):
                pass
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                seconds = float(value.strip())
            except ValueError:
                return None
            return seconds if 0 <= seconds < float("inf") else None
    return None


def _classify(name: str | None, status: RpcStatus, message: str, retry_after: float | None) -> type[MediaRouterError]:
    """The error class for a status name, refined by what Google's message and details say."""
    details = _detail_types(status)
    reason = str(details.get("ErrorInfo", {}).get("reason", ""))
    if reason in {"API_KEY_INVALID", "API_KEY_EXPIRED"}:
        return AuthenticationFailed  # Google answers a bad key with 400 INVALID_ARGUMENT
    if name == "INVALID_ARGUMENT" and _PAYLOAD.search(message):
        return PayloadTooLarge
    if name == "FAILED_PRECONDITION" and _BILLING.search(message):
        return InsufficientCredits
    no_access = _ZERO_QUOTA.search(message) or _BILLING.search(message)
    if name == "RESOURCE_EXHAUSTED" and retry_after is None and no_access:
        return InsufficientCredits  # a zero quota (no paid tier) or a billing block: waiting will not help
    return _CLASSES.get(name or "", ProviderUnavailable)


def _hint(cls: type[MediaRouterError], phase: Phase) -> str | None:
    if cls is AuthenticationFailed:
        return f"the key is missing, invalid or expired: {KEY_HINT}"
    if cls is PermissionDenied:
        return "the key's project lacks access to this model (Veo needs the paid tier), or the request was refused"
    if cls is InsufficientCredits:
        return "Veo is paid-only: enable billing for the key's project in Google AI Studio; waiting will not help"
    if cls is RateLimited:
        return "wait and retry; Gemini limits requests per project and model"
    if cls is NotFound:
        return "unknown model: run `mediarouter models`" if phase == "submit" else "unknown or expired operation"
    if cls is PayloadTooLarge:
        return "the request body is too large: send smaller input images"
    if cls is ProviderUnavailable:
        if phase == "submit":
            return "the job may have been created anyway (submits are not idempotent); check before submitting again"
        return "Gemini is having trouble; retry later"
    if cls is InvalidRequest and phase == "submit":
        return "check the request against the model's capabilities (`mediarouter models`)"
    return None


def error_from_http(
    status_code: int,
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    model: str | None = None,
    job_id: str | None = None,
    phase: Phase,
    secrets: Iterable[str] = (),
) -> MediaRouterError:
    """The core error for a non-2xx answer, from the google.rpc status in its body (or the HTTP code)."""
    secrets = tuple(secrets)
    envelope = parse_error_body(body)
    status = envelope.error if envelope is not None and envelope.error is not None else RpcStatus()
    server_message: str | None
    if status.message:
        server_message = _redact(status.message, secrets)[:_SERVER_MESSAGE_CHARS]
    else:
        server_message = _redact(snippet(body), secrets) or None
    name = status_name(None, status.status) or _HTTP_STATUS.get(status_code)
    if name is None:
        name = "INVALID_ARGUMENT" if 400 <= status_code < 500 else "UNAVAILABLE" if status_code >= 500 else None
    retry_after = retry_delay(status, headers)
    message_text = server_message or ""
    what = _PHASE_TEXT.get(phase, phase)
    message = f"Gemini {what} failed: HTTP {status_code}{' ' + name if name else ''}"
    if server_message:
        shown = server_message if len(server_message) <= _MESSAGE_SERVER_CHARS else server_message[:299] + "…"
        message += f": {shown}"
    details: dict[str, Any] = {"phase": phase, "rpc_status": name}
    reason = _detail_types(status).get("ErrorInfo", {}).get("reason")
    if reason:
        details["reason"] = reason
    context: dict[str, Any] = {
        "provider": PROVIDER_NAME,
        "model": model,
        "status_code": status_code,
        "job_id": job_id,
        "server_message": server_message,
        "details": details,
    }
    if name is None:
        return ProtocolError(f"Gemini {what} got an unexpected HTTP {status_code}", **context)
    cls = _classify(name, status, message_text, retry_after)
    hint = _hint(cls, phase)
    if cls is RateLimited:
        return RateLimited(message, hint=hint, retry_after=retry_after, **context)
    if cls is ProviderUnavailable:
        return ProviderUnavailable(message, sent=True, hint=hint, retry_after=retry_after, **context)
    return cls(message, hint=hint, **context)


def error_from_operation(operation: Operation, *, model: str | None = None) -> JobFailed | JobCancelled:
    """The terminal error of a finished operation that carries `error`.

    CANCELLED is JobCancelled; every other status is JobFailed with the google.rpc code, its
    name and Google's message in `details`, so a caller can tell a refused prompt from an outage.
    """
    status = operation.error or RpcStatus()
    name = status_name(status.code, status.status) or "UNKNOWN"
    server_message = status.message or None
    message = f"Gemini video generation failed: {name}"
    if status.code is not None:
        message += f" (code {status.code})"
    if server_message:
        shown = server_message if len(server_message) <= _MESSAGE_SERVER_CHARS else server_message[:299] + "…"
        message += f": {shown}"
    details: dict[str, Any] = {"rpc_code": status.code, "rpc_status": name}
    reason = _detail_types(status).get("ErrorInfo", {}).get("reason")
    if reason:
        details["reason"] = reason
    context: dict[str, Any] = {
        "provider": PROVIDER_NAME,
        "model": model,
        "job_id": operation.name,
        "server_message": server_message,
        "details": details,
    }
    if name == "CANCELLED":
        return JobCancelled(message.replace("failed", "was cancelled", 1), **context)
    hint = None
    if name in {"INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE"}:
        hint = "Google refused the request; change the prompt or inputs"
    elif name in {"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "UNKNOWN"}:
        hint = "a failure on Google's side; trying again may work"
    return JobFailed(message, hint=hint, **context)


def filtered_failure(
    response: GenerateVideoResponse | None, *, model: str | None = None, job_id: str | None = None
) -> JobFailed:
    """A finished operation that returned no sample: JobFailed carrying the safety filter's reasons.

    Google documents that a generation blocked by its filters is not charged.
    """
    reasons = list(response.rai_media_filtered_reasons) if response is not None else []
    count = response.rai_media_filtered_count if response is not None else None
    if reasons:
        message = f"Gemini returned no video: blocked by safety filters: {'; '.join(reasons)}"
    elif count:
        message = f"Gemini returned no video: {count} video(s) removed by safety filters (no reason given)"
    else:
        message = "Gemini finished the operation without a video and without a reason"
    return JobFailed(
        message,
        provider=PROVIDER_NAME,
        model=model,
        job_id=job_id,
        server_message="; ".join(reasons) or None,
        hint="rephrase the prompt or change the input images; filtered generations are not billed"
        if reasons or count
        else None,
        details={"rai_media_filtered_reasons": reasons, "rai_media_filtered_count": count},
    )
