"""Acme's JSON shapes, read strictly enough to be safe and loosely enough to survive new fields.

Unknown fields are allowed (APIs grow); anything unreadable (not JSON, wrong shape, a field of
the wrong type) becomes `ProtocolError`, never a `ValidationError` or `KeyError` out of the plugin.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from mediarouter import JobState, ProtocolError
from mediarouter.http import ServerMessage, default_server_message

__all__ = ["STATES", "Generation", "Listing", "Model", "parse", "server_message"]

#: Acme's job states → the core's. Anything else is `JobState.UNKNOWN` (the engine keeps polling).
STATES: dict[str, JobState] = {
    "queued": JobState.PENDING,
    "running": JobState.IN_PROGRESS,
    "succeeded": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "canceled": JobState.CANCELLED,
    "expired": JobState.EXPIRED,
}


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class Video(_Wire):
    url: str
    requires_key: bool = True
    expires_at: int | None = None


class Result(_Wire):
    videos: list[Video] = []
    charged_usd: Decimal | None = None


class Generation(_Wire):
    id: str
    state: str
    failure_reason: str | None = None
    result: Result | None = None


class Envelope(_Wire):
    generation: Generation


class Model(_Wire):
    name: str
    lengths: list[int] | None = None
    resolutions: list[str] | None = None
    aspects: list[str] | None = None
    audio: bool | None = None
    seed: bool | None = None
    frames: list[str] | None = None
    usd_per_second: Decimal | None = None


class Listing(_Wire):
    models: list[Model]


class _Error(_Wire):
    type: str | None = None
    detail: str | None = None


Shape = TypeVar("Shape", bound=_Wire)


def parse(shape: type[Shape], body: bytes, what: str, **context: Any) -> Shape:
    """`body` as `shape`, or a ProtocolError that shows the start of what came instead."""
    try:
        return shape.model_validate_json(body)
    except ValidationError as exc:  # not JSON at all is a ValidationError too
        shown = body[:120].decode("utf-8", "replace")
        first = exc.errors()[0]["type"] if exc.errors() else "invalid"
        raise ProtocolError(f"Acme sent an unreadable {what} ({first}): {shown!r}", **context) from None


def server_message(body: bytes) -> ServerMessage:
    """Acme's `{"type", "detail"}` error body (the type becomes the error code), else the common shapes."""
    try:
        error = _Error.model_validate_json(body)
    except ValidationError:
        return default_server_message(body)
    if not error.detail:
        return default_server_message(body)
    return ServerMessage(message=error.detail, code=error.type, structured=True)
