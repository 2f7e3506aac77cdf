"""Capability fitting: make a request fit one candidate, or say why it cannot.

Policies (router default, overridable per call):

- `strict`: the request must fit every candidate as given; the router raises the first
  CapabilityMismatch before any request.
- `adjust`: duration, resolution, aspect ratio and size snap to the nearest value the
  candidate supports, recorded as `{"duration": {"requested": 7, "applied": 8}}`. A duration
  snaps among those the request's resolution (and references) allow: 1080p on a model that
  makes 1080p only at 8 s turns a 4 s request into an 8 s one. Anything
  else (frame images, references, audio, seed, passthrough parameters) is the caller's content
  and is never dropped: a candidate that cannot honour it is skipped, with the reason.
- `skip`: a candidate that does not fit is skipped, with the reason.

Nearest means: duration by seconds, resolution by pixel height, aspect ratio by the ratio
(on a log scale, so 16:9 is as far from 1:1 as 9:16 is), size by shape then area. A tie
goes to the larger value: a caller who asked for 7 s gets 8 s rather than 6 s (the estimate,
and so the cost guard, sees the applied value).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .capabilities import Capabilities
from .errors import CapabilityMismatch
from .pricing import resolution_height
from .request import VideoRequest
from .settings import FIT_POLICIES, FitPolicy
from .validation import validate_request

__all__ = ["ADJUSTABLE", "Fit", "FitPolicy", "FIT_POLICIES", "fit_request", "nearest"]

#: Fields `adjust` may change; everything else in a request is passed through or refused.
ADJUSTABLE: tuple[str, ...] = ("duration", "resolution", "aspect_ratio", "size")

_RATIO = re.compile(r"^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$")
_SIZE = re.compile(r"^(\d+)x(\d+)$")


@dataclass(frozen=True)
class Fit:
    """The request to send to one candidate, or the mismatch that rules the candidate out."""

    request: VideoRequest | None
    adjustments: dict[str, dict[str, Any]] = field(default_factory=dict)
    mismatch: CapabilityMismatch | None = None

    @property
    def fits(self) -> bool:
        return self.request is not None


def fit_request(
    request: VideoRequest, capabilities: Capabilities, *, policy: FitPolicy, provider: str, model: str
) -> Fit:
    """Validate, and under `adjust` snap one adjustable field at a time until the request fits.

    Each field is snapped once, except a duration that a later snap of the resolution made unfit (a duration
    tied to the resolution): it snaps again among the new resolution's durations, still recorded against what
    the caller asked for.
    """
    if policy not in FIT_POLICIES:
        raise ValueError(f"fit policy must be one of {', '.join(FIT_POLICIES)}, not {policy!r}")
    current = request
    adjustments: dict[str, dict[str, Any]] = {}
    snapped: list[str] = []
    for _ in range(len(ADJUSTABLE) + 2):
        try:
            validate_request(current, capabilities, model=model, provider=provider)
        except CapabilityMismatch as exc:
            applied = _snap(exc.field, current, capabilities) if policy == "adjust" else None
            again = exc.field == "duration" and snapped[-1:] != ["duration"] and snapped.count("duration") == 1
            if applied is None or exc.field is None or (exc.field in adjustments and not again):
                return Fit(request=None, adjustments=adjustments, mismatch=exc)
            if applied == getattr(current, exc.field):
                return Fit(request=None, adjustments=adjustments, mismatch=exc)
            adjustments[exc.field] = {"requested": getattr(request, exc.field), "applied": applied}
            snapped.append(exc.field)
            current = current.model_copy(update={exc.field: applied})
            continue
        return Fit(request=current, adjustments=adjustments)
    raise AssertionError("unreachable: a field is snapped at most once, a duration twice")  # pragma: no cover


def _snap(field_name: str | None, request: VideoRequest, caps: Capabilities) -> Any:
    """The supported value nearest to the requested one, or None when the field cannot be adjusted."""
    if field_name == "duration" and request.duration is not None:
        allowed = caps.allowed_durations(request)
        return nearest(request.duration, allowed, float) if allowed else None
    if field_name == "resolution" and request.resolution is not None and caps.resolutions:
        return nearest(request.resolution, caps.resolutions, _resolution_height)
    if field_name == "aspect_ratio" and request.aspect_ratio is not None and caps.aspect_ratios:
        return nearest(request.aspect_ratio, caps.aspect_ratios, _log_ratio)
    if field_name == "size" and request.size is not None and caps.sizes:
        return _nearest_size(request.size, caps.sizes)
    return None


def nearest(value: Any, supported: Sequence[Any], key: Callable[[Any], float | None]) -> Any:
    """The supported value whose key is closest to the value's; a tie goes to the larger one."""
    target = key(value)
    if target is None:
        return None
    scored = [(abs(k - target), -k, choice) for choice in supported if (k := key(choice)) is not None]
    if not scored:
        return None
    return min(scored, key=lambda item: (item[0], item[1]))[2]


def _resolution_height(value: Any) -> float | None:
    return resolution_height(str(value))


def _log_ratio(value: Any) -> float | None:
    match = _RATIO.match(str(value).strip())
    if not match:
        return None
    width, height = float(match.group(1)), float(match.group(2))
    return math.log(width / height) if width > 0 and height > 0 else None


def _dimensions(value: str) -> tuple[int, int] | None:
    match = _SIZE.match(value.strip())
    if not match:
        return None
    width, height = int(match.group(1)), int(match.group(2))
    return (width, height) if width > 0 and height > 0 else None


def _nearest_size(value: str, supported: Sequence[str]) -> str | None:
    wanted = _dimensions(value)
    if wanted is None:
        return None
    shape, area = math.log(wanted[0] / wanted[1]), math.log(wanted[0] * wanted[1])
    best: tuple[float, float, float, str] | None = None
    for choice in supported:
        dims = _dimensions(choice)
        if dims is None:
            continue
        choice_area = math.log(dims[0] * dims[1])
        score = (abs(math.log(dims[0] / dims[1]) - shape), abs(choice_area - area), -choice_area, choice)
        if best is None or score < best:
            best = score
    return best[3] if best is not None else None
