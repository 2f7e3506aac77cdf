"""Starlette helpers every emulated HTTP API needs: JSON bodies, byte ranges, injected network outcomes.

Imports starlette: load it only when an emulator app is built (the ``emulator`` extra).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .errors import ApiError, ConnectionDropped, NoAnswer
from .injection import DROP, GARBAGE, SLOW, TIMEOUT, Injection
from .transport import IN_PROCESS

__all__ = [
    "GARBAGE_BODY",
    "DroppedResponse",
    "WithheldResponse",
    "answer_injection",
    "byte_range",
    "journal_status",
    "ranged_response",
    "read_json",
]

#: What a ``garbage`` injection answers with 200: claims to be JSON, decodes as nothing.
GARBAGE_BODY = b'\x00\xff{"id": \x9c<html>not json'


async def read_json(request: Request, *, max_bytes: int, error: type[ApiError] = ApiError) -> Any:
    """The JSON body, or ``error(413)`` past ``max_bytes`` (by Content-Length first) or ``error(400)``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise error(413)
    raw = await request.body()
    if len(raw) > max_bytes:
        raise error(413)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise error(400, "Invalid JSON in request body") from None


def byte_range(header: str | None, size: int, *, error: type[ApiError] = ApiError) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a single ``bytes=`` range; None serves the whole body.

    A multi-range or malformed header gets the whole body, as many servers do; a range that
    starts past the end raises ``error(416)``.
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first_text, sep, last_text = header[len("bytes=") :].strip().partition("-")
    if not sep or not (first_text.isdigit() or last_text.isdigit()):
        return None
    if not first_text:
        suffix = int(last_text)
        if suffix == 0:
            raise error(416, "Range Not Satisfiable")
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text.isdigit() else size - 1
    if first >= size or last < first:
        raise error(416, "Range Not Satisfiable")
    return first, min(last, size - 1)


def ranged_response(
    data: bytes,
    range_header: str | None,
    *,
    media_type: str,
    render_error: Callable[[ApiError], Response],
    error: type[ApiError] = ApiError,
) -> Response:
    """200 with ``Accept-Ranges``, 206 with ``Content-Range`` for a range, 416 with ``bytes */size``."""
    size = len(data)
    headers = {"Accept-Ranges": "bytes"}
    try:
        span = byte_range(range_header, size, error=error)
    except ApiError as exc:
        response = render_error(exc)
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    if span is None:
        return Response(data, media_type=media_type, headers=headers)
    first, last = span
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return Response(data[first : last + 1], status_code=206, media_type=media_type, headers=headers)


class WithheldResponse(Response):
    """Never answers: holds the request open until the client gives up and disconnects (served ``timeout``)."""

    journal_status: int | None = None

    def __init__(self) -> None:
        super().__init__(status_code=504)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass


class DroppedResponse(Response):
    """Starts an answer and closes the connection before its body (served ``drop``; ASGI cannot drop sooner)."""

    journal_status: int | None = None

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
        # Returning without the body makes the server close the connection mid-answer.


def journal_status(response: Response) -> int | None:
    """The status to journal: None for an answer that never came."""
    status: int | None = getattr(response, "journal_status", response.status_code)
    return status


async def answer_injection(
    request: Request,
    injection: Injection | None,
    *,
    error: type[ApiError] = ApiError,
    slow_seconds: float = 2.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Response | None:
    """Carry out a request injection: raise ``error(status)``, or answer/withhold for network outcomes.

    Returns a response to send instead of the normal one, or None to carry on (no injection, or
    ``slow`` after its delay). In-process, ``timeout`` and ``drop`` raise NoAnswer and
    ConnectionDropped for the transport to turn into httpx errors.
    """
    if injection is None:
        return None
    if injection.status_code is not None:
        raise error(injection.status_code)
    outcome = injection.network_outcome
    in_process = bool(request.scope.get(IN_PROCESS))
    if outcome == TIMEOUT:
        if in_process:
            raise NoAnswer(injection.spec())
        return WithheldResponse()
    if outcome == DROP:
        if in_process:
            raise ConnectionDropped(injection.spec())
        return DroppedResponse()
    if outcome == GARBAGE:
        return Response(GARBAGE_BODY, status_code=200, media_type="application/json")
    if outcome == SLOW:
        await sleep(slow_seconds)
    return None
