"""Check a request against a model's capabilities before any money is spent."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from .capabilities import ASPECT_RATIOS, FRAME_TYPES, RESOLUTIONS, Capabilities, Modality
from .errors import CapabilityMismatch, InvalidRequest
from .request import BLANK_PROMPT_HINT, VideoRequest, check_provider_options

__all__ = ["validate_request", "validate_request_level"]

_SIZE = re.compile(r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")


def validate_request_level(request: VideoRequest, *, model: str, provider: str) -> None:
    """The problems no candidate can fix (no prompt, two first frames, malformed provider_options), raised before
    any candidate is planned; values a model may or may not support are left to each candidate's fitting."""
    try:
        validate_request(request, Capabilities(), model=model, provider=provider)
    except CapabilityMismatch as exc:
        if exc.field == "prompt":
            raise


def validate_request(request: VideoRequest, capabilities: Capabilities, *, model: str, provider: str) -> None:
    """Raise CapabilityMismatch naming the first field the model cannot honour.

    A capability the model does not advertise (`None`) never blocks a request.
    """
    ctx: dict[str, Any] = {"model": model, "provider": provider}
    caps = capabilities
    check_provider_options(request.provider_options, **ctx)
    if request.image_url and any(f.frame_type == "first_frame" for f in request.frame_images or []):
        raise InvalidRequest(
            "image_url and a first_frame in frame_images both set the first frame; give only one",
            hint="image_url is a shortcut for frame_images=[{..., 'frame_type': 'first_frame'}]",
            **ctx,
        )
    frames = request.effective_frame_images()
    refs = request.input_references or []

    if request.prompt is not None and not request.prompt.strip():
        raise InvalidRequest(
            "prompt must not be empty or only whitespace",
            hint=BLANK_PROMPT_HINT,
            details={"field": "prompt"},
            **ctx,
        )
    if not request.prompt and not frames and not refs:
        raise CapabilityMismatch(
            "prompt is required (or give frame images / input references for an image-only model)",
            field="prompt",
            **ctx,
        )
    if not request.prompt and caps.prompt_required:
        raise CapabilityMismatch(f"{model} requires a prompt", field="prompt", **ctx)

    _check_choice("duration", request.duration, caps.durations, None, ctx, unit="s")
    _check_choice("resolution", request.resolution, caps.resolutions, RESOLUTIONS, ctx)
    _check_choice("aspect_ratio", request.aspect_ratio, caps.aspect_ratios, ASPECT_RATIOS, ctx)

    if request.size is not None:
        if not _SIZE.match(request.size):
            raise InvalidRequest(
                f"size must look like WIDTHxHEIGHT, e.g. 1280x720 (got {request.size!r})",
                **ctx,
            )
        if request.resolution or request.aspect_ratio:
            raise InvalidRequest(
                "give either size or resolution/aspect_ratio, not both",
                hint="size fixes the exact pixels; resolution + aspect_ratio let the provider choose them",
                **ctx,
            )
        _check_choice("size", request.size, caps.sizes, None, ctx)
    _check_duration_at_resolution(request, caps, ctx)

    if request.generate_audio and caps.audio is False:
        raise CapabilityMismatch(
            f"{model} cannot generate audio", field="generate_audio", value=True, supported=[False], **ctx
        )
    if request.seed is not None and caps.seed is False:
        raise CapabilityMismatch(f"{model} does not honour seed", field="seed", value=request.seed, **ctx)

    if frames:
        if caps.modalities is not None and Modality.IMAGE_TO_VIDEO not in caps.modalities:
            raise CapabilityMismatch(
                f"{model} does not do image-to-video (frame images / image_url)",
                field="frame_images",
                supported=[str(m) for m in caps.modalities],
                **ctx,
            )
        for frame in frames:
            _check_choice("frame_images.frame_type", frame.frame_type, caps.frame_images, FRAME_TYPES, ctx)
    if refs:
        if caps.modalities is not None and Modality.REFERENCE_TO_VIDEO not in caps.modalities:
            raise CapabilityMismatch(
                f"{model} does not do reference-to-video (input_references)",
                field="input_references",
                supported=[str(m) for m in caps.modalities],
                **ctx,
            )
        for ref in refs:
            _check_choice("input_references.type", ref.type, caps.reference_types, None, ctx)
        _check_duration_with_references(request, caps, ctx)

    if request.callback_url is not None and not request.callback_url.startswith("https://"):
        raise InvalidRequest("callback_url must be an https:// URL", **ctx)

    if request.provider_options and caps.passthrough_parameters:
        allowed = set(caps.passthrough_parameters)
        for slug, options in request.provider_options.items():
            if caps.passthrough_slug is not None and slug != caps.passthrough_slug:
                continue  # another backend's options (a failover chain carries them all): not ours to refuse
            for key in options.get("parameters") or {}:
                if key not in allowed:
                    raise CapabilityMismatch(
                        f"provider_options.{slug}.parameters.{key} is not a passthrough parameter of {model}; "
                        f"supported: {', '.join(sorted(allowed))}",
                        field=f"provider_options.{slug}.parameters",
                        value=key,
                        supported=sorted(allowed),
                        **ctx,
                    )


def _check_duration_at_resolution(request: VideoRequest, caps: Capabilities, ctx: dict[str, Any]) -> None:
    """A duration the request's resolution does not allow (`durations_by_resolution`: 1080p only at 8 s)."""
    if request.duration is None:
        return
    resolution = caps.resolution_of(request)
    allowed = caps.durations_at(resolution)
    if allowed is None or request.duration in allowed:
        return
    if request.resolution is not None:
        at = f"resolution={resolution}"
    elif request.size is not None:
        at = f"size={request.size} ({resolution})"
    else:
        at = f"resolution={resolution} (the model's default)"
    raise CapabilityMismatch(
        f"duration={request.duration}s is not allowed at {at} on {ctx['model']}: {resolution} output needs "
        f"duration={_seconds(allowed)}",
        field="duration",
        value=request.duration,
        supported=list(allowed),
        hint=_tied_hint(request.duration, allowed, "or choose another resolution"),
        details={"resolution": resolution},
        **ctx,
    )


def _check_duration_with_references(request: VideoRequest, caps: Capabilities, ctx: dict[str, Any]) -> None:
    """A duration not allowed with input references (`reference_durations`)."""
    allowed = caps.reference_durations
    if request.duration is None or allowed is None or request.duration in allowed:
        return
    images = all(ref.type == "image_url" for ref in request.input_references or [])
    kind = "reference images" if images else "input references"
    raise CapabilityMismatch(
        f"duration={request.duration}s is not allowed with {kind} on {ctx['model']}: a request with "
        f"input_references needs duration={_seconds(allowed)}",
        field="duration",
        value=request.duration,
        supported=list(allowed),
        hint=_tied_hint(request.duration, allowed, "or leave input_references out"),
        **ctx,
    )


def _seconds(values: Sequence[int]) -> str:
    shown = [f"{v}s" for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _tied_hint(value: int, allowed: Sequence[int], otherwise: str) -> str:
    close = _nearest("duration", value, allowed)
    return f"did you mean {close}s? (fit='adjust' / --fit adjust picks it), {otherwise}"


def _check_choice(
    field: str,
    value: Any,
    supported: Sequence[Any] | None,
    known: Sequence[Any] | None,
    ctx: dict[str, Any],
    unit: str = "",
) -> None:
    if value is None:
        return
    if supported is not None:
        if value in supported:
            return
        shown = ", ".join(f"{v}{unit}" for v in supported) or "none"
        raise CapabilityMismatch(
            f"{field}={value}{unit} is not supported by {ctx['model']}; supported: {shown}",
            field=field,
            value=value,
            supported=list(supported),
            hint=_did_you_mean(field, value, supported, unit, adjusts=True),
            **ctx,
        )
    if known is not None and value not in known:
        raise CapabilityMismatch(
            f"{field}={value!r} is not a known value; allowed: {', '.join(known)}",
            field=field,
            value=value,
            supported=list(known),
            hint=_did_you_mean(field, value, known, unit),
            **ctx,
        )


def _did_you_mean(
    field: str, value: Any, choices: Sequence[Any], unit: str = "", *, adjusts: bool = False
) -> str | None:
    """The choice the caller most likely meant: the same one in another case; for a duration, size, resolution or
    aspect ratio the nearest by value (by the rule `fit='adjust'` snaps with); else the most similar string.

    `adjusts`: the choices are the model's own, so `fit='adjust'` would pick the nearest one (the hint says so).
    """
    if isinstance(value, str) and (by_case := same_name(value, choices)) is not None:
        return f"did you mean {by_case!r}?"
    close = _nearest(field, value, choices)
    if close is not None:
        shown = f"{close}{unit}" if isinstance(close, int | float) else repr(close)
        if adjusts:
            return f"did you mean {shown}, the nearest supported? (fit='adjust' / --fit adjust picks it)"
        return f"did you mean {shown}?"
    if not isinstance(value, str):
        return None
    similar = closest_name(value, [str(c) for c in choices])
    return f"did you mean {similar!r}?" if similar is not None else None


def same_name(value: str, choices: Sequence[Any]) -> str | None:
    """The choice that is `value` in another case, or None."""
    return next((c for c in choices if isinstance(c, str) and c.lower() == value.lower()), None)


def closest_name(value: str, choices: Sequence[str], *, cutoff: float = 0.6) -> str | None:
    """The name the caller most likely meant: the same one in another case, else the closest spelling
    (`difflib`, at least `cutoff` similar); None when none is close."""
    same = same_name(value, choices)
    if same is not None:
        return same
    similar = difflib.get_close_matches(value, list(choices), n=1, cutoff=cutoff)
    return similar[0] if similar else None


def _nearest(field: str, value: Any, choices: Sequence[Any]) -> Any:
    """The choice nearest `value` by what it measures (None for names, or a value that does not parse)."""
    # fitting imports this module; its measures are the ones `fit='adjust'` snaps by, so hint and fit agree.
    from .fitting import _log_ratio, _nearest_size, _resolution_height, nearest

    if field == "size":
        return _nearest_size(str(value), [str(c) for c in choices])
    measure = {"duration": _number, "resolution": _resolution_height, "aspect_ratio": _log_ratio}.get(field)
    return nearest(value, choices, measure) if measure is not None else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
