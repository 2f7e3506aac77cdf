"""The default HTTP status → core error mapping that every provider shares.

A plugin refines it only where its API differs (a hint, a class for one status, how its
error body carries the message) by passing `StatusRules`; the table itself lives here once.
The class an error gets decides what the engine and router do next (retry a poll, fail over,
stop), so the rules are data, not scattered `if`s.

| status | error | retried (polls/downloads) | submit outcome |
|---|---|---|---|
| 400, 416, 422, other 4xx | InvalidRequest | no | refused |
| 401 / 403 | AuthenticationFailed / PermissionDenied | no | refused |
| 402 | InsufficientCredits | no | refused |
| 404 | NotFound | no | refused |
| 409 | Conflict | yes (download) | refused |
| 410 | OutputGone | no | refused |
| 413 | PayloadTooLarge | no | refused |
| 429 | RateLimited (+ Retry-After) | yes | refused |
| 408, 499, 5xx, 524, 529 | ProviderUnavailable (+ Retry-After) | yes | unknown |
| 1xx, 3xx | ProtocolError | no | unknown |
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from ..errors import (
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
from ..redact import redact_text
from .retry_after import parse_retry_after

__all__ = [
    "DEFAULT_CLASSES",
    "PHASE_TEXT",
    "ServerMessage",
    "StatusRules",
    "UNAVAILABLE_STATUSES",
    "default_server_message",
    "error_for_status",
    "reason_phrase",
]

#: Statuses that mean "the backend cannot serve right now" although they are not 5xx.
UNAVAILABLE_STATUSES = frozenset({408, 499, 524, 529})

DEFAULT_CLASSES: Mapping[int, type[MediaRouterError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    402: InsufficientCredits,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    410: OutputGone,
    413: PayloadTooLarge,
    416: InvalidRequest,
    422: InvalidRequest,
    429: RateLimited,
}

#: What each phase is called in a message.
PHASE_TEXT: Mapping[str, str] = {
    "submit": "submit",
    "poll": "status poll",
    "result": "result fetch",
    "download": "download",
    "models": "model listing",
    "cancel": "cancel",
}

_EXTRA_PHRASES = {499: "Client Closed Request", 524: "Edge Network Timeout", 529: "Provider Overloaded"}

_DEFAULT_HINTS: Mapping[int, str] = {
    402: "add credits with the provider; waiting will not help",
    403: "the key lacks permission, or a guardrail or moderation blocked the request",
    410: "the output is no longer available; generate the video again",
    413: "the request body is over the provider's limit: use https:// URLs instead of data: URLs",
    416: "the resume offset is past the end of the output; download it again from the start",
    429: "wait and retry",
}

_SERVER_MESSAGE_CHARS = 2000
_MESSAGE_SERVER_CHARS = 300
_SNIPPET_CHARS = 200
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class ServerMessage:
    """What an error body said: the message, provider metadata, and the body's own error code."""

    message: str | None = None
    metadata: Mapping[str, Any] | None = None
    code: Any = None
    #: Whether the body was a structured error this provider speaks (not an HTML page from a proxy).
    structured: bool = False


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SNIPPET_CHARS else flat[: _SNIPPET_CHARS - 1] + "…"


def _text_of(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value:  # FastAPI/pydantic style: [{"loc": [...], "msg": "..."}]
        parts = []
        for item in value:
            if isinstance(item, Mapping):
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc if p != "body") if isinstance(loc, list) else None
                msg = item.get("msg") or item.get("message")
                if msg:
                    parts.append(f"{where}: {msg}" if where else str(msg))
            elif isinstance(item, str):
                parts.append(item)
        return "; ".join(parts) or None
    return None


def default_server_message(body: bytes) -> ServerMessage:
    """The message in the error shapes most HTTP APIs use; a snippet of anything else.

    `{"error": {"message", "code", "metadata"}}` (OpenRouter, Google), `{"error": "text"}`,
    `{"message": ...}`, `{"detail": "text" | [{loc, msg}]}` (FastAPI, fal), an HTML page's title.
    """
    if not body.strip():
        return ServerMessage()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping):
            message = _text_of(error.get("message")) or _text_of(error.get("status"))
            metadata = error.get("metadata")
            return ServerMessage(
                message=message,
                metadata=metadata if isinstance(metadata, Mapping) else None,
                code=error.get("code"),
                structured=True,
            )
        for key in ("error", "message", "detail", "error_description"):
            text = _text_of(data.get(key))
            if text:
                return ServerMessage(message=text, structured=True)
        return ServerMessage(message=_snippet(body[:8192].decode("utf-8", "replace")), structured=True)
    if data is not None:
        return ServerMessage(message=_snippet(body[:8192].decode("utf-8", "replace")))
    head = body[:8192]
    if b"<" in head and b">" in head:  # an HTML page from a proxy or CDN: its title says the most
        title = _TITLE.search(head)
        text = title.group(1).decode("utf-8", "replace") if title else _TAG.sub(" ", head.decode("utf-8", "replace"))
        return ServerMessage(message=_snippet(text) or None)
    return ServerMessage(message=_snippet(head.decode("utf-8", "replace")) or None)


@dataclass(frozen=True)
class StatusRules:
    """How one provider's HTTP answers become errors: the shared table plus its refinements."""

    #: Shown in messages: "OpenRouter submit failed: HTTP 402 …".
    label: str
    #: Status → error class, over `DEFAULT_CLASSES`.
    classes: Mapping[int, type[MediaRouterError]] = field(default_factory=dict)
    #: Hints by status, or by (status, phase) for a phase-specific one; over the shared hints.
    hints: Mapping[int | tuple[int, str], str] = field(default_factory=dict)
    #: Hint for 401 (how to set the key).
    key_hint: str | None = None
    #: Reads this provider's error body; the default understands the common shapes.
    server_message: Callable[[bytes], ServerMessage] = default_server_message
    #: A final look at the error (add details from metadata, e.g. moderation reasons).
    refine: Callable[[MediaRouterError, ServerMessage, str], MediaRouterError] | None = None

    def hint_for(self, status_code: int, phase: str) -> str | None:
        hint = self.hints.get((status_code, phase)) or self.hints.get(status_code)
        if hint is not None:
            return hint
        if status_code == 401:
            return f"the key is missing, invalid or disabled: {self.key_hint}" if self.key_hint else None
        if status_code >= 500 or status_code in UNAVAILABLE_STATUSES:
            if phase == "submit":
                return (
                    f"the job may have been created anyway (submits are not idempotent); "
                    f"check your {self.label} dashboard before submitting again"
                )
            return None if status_code == 499 else f"{self.label} is having trouble; retry later"
        return _DEFAULT_HINTS.get(status_code)


def reason_phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return _EXTRA_PHRASES.get(status_code, "")


def error_for_status(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    rules: StatusRules,
    phase: str,
    provider: str,
    model: str | None = None,
    job_id: str | None = None,
    secrets: Iterable[str] = (),
    now: float | None = None,
) -> MediaRouterError:
    """The core error for a non-2xx answer, with the server's own words (redacted) in the message."""
    parsed = rules.server_message(body)
    server_message = redact_text(parsed.message, secrets)[:_SERVER_MESSAGE_CHARS] if parsed.message else None
    reason = reason_phrase(status_code)
    message = f"{rules.label} {PHASE_TEXT.get(phase, phase)} failed: HTTP {status_code}{' ' + reason if reason else ''}"
    if server_message:
        shown = server_message
        if len(shown) > _MESSAGE_SERVER_CHARS:
            shown = shown[: _MESSAGE_SERVER_CHARS - 1] + "…"
        message += f": {shown}"
    details: dict[str, Any] = {"phase": phase, "structured_body": parsed.structured}
    if parsed.code is not None:
        details["error_code"] = parsed.code
    if parsed.metadata:
        details["metadata"] = dict(parsed.metadata)
    context: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "status_code": status_code,
        "job_id": job_id,
        "server_message": server_message,
        "details": details,
        "hint": rules.hint_for(status_code, phase),
    }
    error: MediaRouterError
    if status_code >= 500 or status_code in UNAVAILABLE_STATUSES:
        error = ProviderUnavailable(message, sent=True, retry_after=parse_retry_after(headers, now=now), **context)
    elif 400 <= status_code < 500:
        cls = rules.classes.get(status_code) or DEFAULT_CLASSES.get(status_code, InvalidRequest)
        retry_after = parse_retry_after(headers, now=now) if status_code == 429 else None
        error = cls(message, retry_after=retry_after, **context)
    else:
        error = ProtocolError(
            f"{rules.label} {PHASE_TEXT.get(phase, phase)} got an unexpected HTTP {status_code}", **context
        )
    return rules.refine(error, parsed, phase) if rules.refine is not None else error
