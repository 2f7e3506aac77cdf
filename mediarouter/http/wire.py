"""Reading providers' JSON answers: tolerant models, and ProtocolError (never KeyError, TypeError or a
pydantic ValidationError) for anything that cannot be read, with a short excerpt of what came instead."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import ProtocolError
from ..redact import redact_text

__all__ = ["SNIPPET_CHARS", "WireModel", "describe_validation_error", "parse_json_object", "parse_model", "snippet"]

#: How much of an unreadable body goes into an error message.
SNIPPET_CHARS = 200

M = TypeVar("M", bound=BaseModel)


class WireModel(BaseModel):
    """Base of a provider's wire shapes: extra fields are kept, never an error (APIs add fields without notice)."""

    model_config = ConfigDict(extra="allow", frozen=True)


def snippet(body: bytes, limit: int = SNIPPET_CHARS) -> str:
    """A short, single-line, printable excerpt of a body for error messages (and so for the journal): URLs
    without their query (a completed job's body holds signed URLs), bearer tokens and known secrets blanked."""
    text = redact_text(body[: limit * 4].decode("utf-8", errors="replace"))
    text = " ".join(text.split())
    if _looks_binary(text):  # raw bytes on a terminal: say what it was, not the bytes themselves
        return f"{len(body)} bytes of binary data" if len(body) < limit * 4 else "binary data"
    text = "".join(c if c.isprintable() else "\ufffd" for c in text)  # no control characters reach a terminal
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _looks_binary(text: str) -> bool:
    """Mostly undecodable or control characters: not text a person can read."""
    if not text:
        return False
    odd = sum(1 for c in text if c == "\ufffd" or not c.isprintable())
    return odd * 4 > len(text)


def describe_validation_error(exc: ValidationError, limit: int = 3) -> str:
    """`field.path: what is wrong; …` for the first few problems."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def parse_json_object(body: bytes, *, label: str, what: str, **context: Any) -> dict[str, Any]:
    """Decode a JSON object or raise ProtocolError saying what was expected (`label` names the provider)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        shown = snippet(body) or "an empty body"
        raise ProtocolError(f"{label} sent {what} that is not JSON: {shown}", **context) from None
    if not isinstance(data, dict):
        raise ProtocolError(
            f"{label} sent {what} as a JSON {type(data).__name__}, expected an object: {snippet(body)}", **context
        )
    return data


def parse_model(shape: type[M], body: bytes, /, *, label: str, what: str, **context: Any) -> M:
    """A JSON object validated as `shape`; ProtocolError naming the bad fields otherwise.

    `context` (provider, model, job_id, status_code …) goes into the error.
    """
    article = "an" if what[:1].lower() in "aeiou" else "a"  # parse_json_object's `what` carries its article
    data = parse_json_object(body, label=label, what=f"{article} {what}", **context)
    try:
        return shape.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(f"{label} sent a malformed {what} ({describe_validation_error(exc)})", **context) from None
