"""`Retry-After` (seconds or HTTP-date) and `retry-after-ms`, read once for every provider."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping

__all__ = ["parse_retry_after"]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    getter = getattr(headers, "get_list", None)
    if getter is not None:  # httpx.Headers: case-insensitive already
        values: list[str] = getter(name)
        return values[0] if values else None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _finite_non_negative(value: float) -> bool:
    return math.isfinite(value) and value >= 0


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait, or None when the server did not say (or said something unusable).

    `retry-after-ms` wins because it is the more precise of the two (OpenRouter's SDK reads it
    first). Garbage, negative and non-finite values are ignored rather than trusted; an
    HTTP-date in the past means "now" (0 seconds).
    """
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        try:
            value = float(millis.strip())
        except ValueError:
            value = -1.0
        if _finite_non_negative(value):
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
        if when.tzinfo is None:  # an HTTP-date is GMT by definition; a zone-less one is not an HTTP-date
            return None
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    return seconds if _finite_non_negative(seconds) else None
