"""Map OpenRouter's HTTP statuses and network failures onto the core error taxonomy.

The class decides what the engine and router do next (retry a poll, fail over, stop), so
the mapping is one table here rather than scattered `if`s. Messages carry the server's own
words, so a one-line CLI print says what OpenRouter said; they never carry the API key or a
URL's path and query (signed URLs are secrets).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any, Literal

import httpx

from mediarouter import (
    AuthenticationFailed,
    Conflict,
    InsufficientCredits,
    InvalidRequest,
    MediaRouterError,
    NotFound,
    OutputGone,
    PayloadTooLarge,
    PermissionDenied,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
)

from .wire import parse_error_body, snippet

__all__ = ["Phase", "KEY_HINT", "error_from_response", "error_from_transport", "parse_retry_after", "redact"]

Phase = Literal["submit", "poll", "download", "models"]

KEY_HINT = "set OPENROUTER_API_KEY (or pass api_key=...); keys are at https://openrouter.ai/settings/keys"

#: What each phase is called in a message.
_PHASE_TEXT: dict[str, str] = {
    "submit": "submit",
    "poll": "status poll",
    "download": "download",
    "models": "model listing",
}

#: Statuses that mean "the backend cannot serve right now" although they are not 5xx.
_UNAVAILABLE = frozenset({408, 524, 529})

_SERVER_MESSAGE_CHARS = 2000
_MESSAGE_SERVER_CHARS = 300
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^\s/?#@\"'<>]*@)?([^\s/?#\"'<>]+)[^\s\"'<>]*")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Cut URLs down to their origin (a signed URL's query is a credential) and blank out secrets."""
    text = _URL.sub(r"\1\2", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait, from `retry-after-ms`, `Retry-After: <seconds>` or `Retry-After: <HTTP-date>`.

    `retry-after-ms` wins because it is the more precise of the two (the SDK reads it first).
    Garbage and negative values are ignored rather than trusted.
    """
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        try:
            value = float(millis)
        except ValueError:
            value = -1.0
        if value >= 0 and value == value and value != float("inf"):
            return value / 1000.0
    text = _header(headers, "retry-after")
    if text is None:
        return None
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP-date is GMT by definition
            return None
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        return None
    return seconds


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if isinstance(headers, httpx.Headers):
        value: str | None = headers.get(name)
        return value
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _server_message(body: bytes, secrets: Iterable[str]) -> tuple[str | None, dict[str, Any] | None, Any]:
    """(message, error.metadata, error.code) from an error body; a snippet when it is not the JSON envelope."""
    envelope = parse_error_body(body)
    if envelope is not None:
        detail = envelope.error
        if detail is not None and detail.message:
            return redact(detail.message, secrets)[:_SERVER_MESSAGE_CHARS], detail.metadata, detail.code
        extra = envelope.model_extra or {}
        for key in ("message", "detail"):
            value = extra.get(key)
            if isinstance(value, str) and value:
                return redact(value, secrets)[:_SERVER_MESSAGE_CHARS], None, None
    if not body.strip():
        return None, None, None
    text = body[:8192].decode("utf-8", errors="replace")
    if "<" in text and ">" in text:  # an HTML page from a proxy or CDN: its title says the most
        title = _TITLE.search(text)
        text = title.group(1) if title else _TAG.sub(" ", text)
    shown = snippet(text.encode())
    return (redact(shown, secrets) or None), None, None


def _reasons(metadata: Mapping[str, Any] | None) -> list[str]:
    if not metadata:
        return []
    reasons = metadata.get("reasons")
    if isinstance(reasons, str):
        return [reasons]
    if isinstance(reasons, list):
        return [str(r) for r in reasons if r is not None]
    return []


def error_from_response(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str = "openrouter",
    model: str | None = None,
    job_id: str | None = None,
    phase: Phase,
    secrets: Iterable[str] = (),
    now: float | None = None,
) -> MediaRouterError:
    """The core error for a non-2xx answer (see the module docstring for the table)."""
    secrets = tuple(secrets)
    server_message, metadata, code = _server_message(body, secrets)
    try:
        reason = HTTPStatus(status_code).phrase
    except ValueError:
        reason = {499: "Client Closed Request", 524: "Edge Network Timeout", 529: "Provider Overloaded"}.get(
            status_code, ""
        )
    what = _PHASE_TEXT.get(phase, phase)
    message = f"OpenRouter {what} failed: HTTP {status_code}{' ' + reason if reason else ''}"
    if server_message:
        shown = server_message
        if len(shown) > _MESSAGE_SERVER_CHARS:
            shown = shown[: _MESSAGE_SERVER_CHARS - 1] + "…"
        message += f": {shown}"

    details: dict[str, Any] = {"phase": phase}
    if code is not None:
        details["error_code"] = code
    if metadata:
        details["metadata"] = metadata
    context: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "status_code": status_code,
        "job_id": job_id,
        "server_message": server_message,
        "details": details,
    }

    if 400 <= status_code < 500 and status_code not in _UNAVAILABLE and status_code != 499:
        return _client_error(status_code, headers, message, phase, metadata, context, now)
    if status_code >= 500 or status_code in _UNAVAILABLE or status_code == 499:
        hint = None
        if phase == "submit":
            hint = (
                "the job may have been created anyway (submits are not idempotent); "
                "check your OpenRouter activity before submitting again"
            )
        elif status_code != 499:
            hint = "OpenRouter or the upstream provider is having trouble; retry later"
        return ProviderUnavailable(
            message, sent=True, hint=hint, retry_after=parse_retry_after(headers, now=now), **context
        )
    return ProtocolError(f"OpenRouter {what} got an unexpected HTTP {status_code}", **context)


def _client_error(
    status_code: int,
    headers: Mapping[str, str],
    message: str,
    phase: Phase,
    metadata: Mapping[str, Any] | None,
    context: dict[str, Any],
    now: float | None,
) -> MediaRouterError:
    if status_code == 401:
        return AuthenticationFailed(message, hint=f"the key is missing, invalid or disabled: {KEY_HINT}", **context)
    if status_code == 402:
        return InsufficientCredits(
            message,
            hint="add credits at https://openrouter.ai/settings/credits (or raise the key's limit); "
            "waiting will not help",
            **context,
        )
    if status_code == 403:
        reasons = _reasons(metadata)
        if reasons:
            message += f" (reasons: {'; '.join(reasons)})"
            context["details"]["reasons"] = reasons
        return PermissionDenied(
            message,
            hint="the key lacks permission, or a guardrail or moderation blocked the request",
            **context,
        )
    if status_code == 404:
        hint = (
            "unknown model id: run `mediarouter models` to list them"
            if phase == "submit"
            else "unknown job id (or a job created with another key)"
        )
        return NotFound(message, hint=hint, **context)
    if status_code == 409:
        hint = (
            "previous_job_id must name a completed job"
            if phase == "submit"
            else "the output is not ready yet; poll until the job is completed"
        )
        return Conflict(message, hint=hint, **context)
    if status_code == 410:
        return OutputGone(message, hint="the output is no longer available; generate the video again", **context)
    if status_code == 413:
        return PayloadTooLarge(
            message,
            hint="the request body is over OpenRouter's 50 MiB limit: use https:// URLs instead of data: URLs "
            "for frame images and references",
            **context,
        )
    if status_code == 429:
        return RateLimited(
            message,
            hint="wait and retry; OpenRouter limits requests per key",
            retry_after=parse_retry_after(headers, now=now),
            **context,
        )
    invalid_hint: str | None = None
    if status_code == 400 and phase == "submit":
        invalid_hint = "check the request against the model's capabilities (`mediarouter models`)"
    elif status_code == 416:
        invalid_hint = "the resume offset is past the end of the output; download it again from the start"
    return InvalidRequest(message, hint=invalid_hint, **context)


def error_from_transport(
    exc: httpx.HTTPError,
    *,
    provider: str = "openrouter",
    model: str | None = None,
    job_id: str | None = None,
    phase: Phase,
    secrets: Iterable[str] = (),
) -> ProviderUnavailable:
    """A network failure. `sent=False` only when the request provably never left (no connection was made)."""
    sent = not isinstance(
        exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.UnsupportedProtocol
    )
    where = "OpenRouter"
    try:
        url = exc.request.url
        where = f"{url.scheme}://{url.netloc.decode('ascii', errors='replace')}"
    except RuntimeError:  # the exception carries no request
        pass
    detail = redact(str(exc), secrets).strip()
    kind = type(exc).__name__
    what = _PHASE_TEXT.get(phase, phase)
    if not sent:
        message = f"OpenRouter {what} failed: could not connect to {where} ({kind}{': ' + detail if detail else ''})"
        hint = "nothing was sent; check the network and OPENROUTER_BASE_URL"
    else:
        message = f"OpenRouter {what} failed: {kind} talking to {where}{': ' + detail if detail else ''}"
        hint = (
            "the request may have reached OpenRouter, so a job may exist; check before submitting again"
            if phase == "submit"
            else "a network problem; retrying is safe"
        )
    return ProviderUnavailable(
        message,
        sent=sent,
        provider=provider,
        model=model,
        job_id=job_id,
        hint=hint,
        details={"phase": phase, "exception": kind},
    )
