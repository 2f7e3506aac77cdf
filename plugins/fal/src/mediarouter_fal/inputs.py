"""Turn a validated `VideoRequest` into one fal model's input JSON, and fal's 422 back into words.

`build_input` follows the model's `InputMapping` from the catalog (a generic one for an
unknown id). Unset fields are omitted, so fal applies the model's own defaults. A field the
model has no input for is refused here, before anything is paid, as `CapabilityMismatch`
naming it. Model-specific inputs (`negative_prompt`, `cfg_scale`, `loop`, …) come from
`provider_options={"fal": {"parameters": {...}}}` and are copied as given; they may not
overwrite a field the request already set. `callback_url` is not part of the input: fal
takes a webhook as the `fal_webhook` query parameter of the submit URL (see `urls.submit_url`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_core import to_jsonable_python

from mediarouter import CapabilityMismatch, InvalidRequest, VideoRequest

from . import PROVIDER_NAME
from .catalog import GENERIC_INPUTS, OPTIONS_KEY, DurationStyle, FalModel, InputMapping, catalog_entry
from .wire import ErrorBody, parse_error_body, snippet

__all__ = ["OPTIONS_KEY", "build_input", "input_fields", "validation_error"]

#: Request fields with no place in a fal input: refused rather than silently dropped.
_NOT_ON_FAL: Mapping[str, str] = {
    "size": "fal video models take resolution and aspect_ratio, not an exact size",
    "input_references": "reference-to-video is not mapped for fal models yet",
    "creativity": "no fal video model in the catalog takes creativity",
    "upscale_factor": "no fal video model in the catalog takes upscale_factor",
    "previous_job_id": "fal has no follow-up jobs; submit a new request",
}


def build_input(model_id: str, request: VideoRequest) -> dict[str, Any]:
    """The JSON body to POST to `{base}/{model_id}` for this request."""
    entry = catalog_entry(model_id)
    mapping = entry.inputs if entry else GENERIC_INPUTS
    ctx: dict[str, Any] = {"provider": PROVIDER_NAME, "model": model_id}

    for name, why in _NOT_ON_FAL.items():
        value = getattr(request, name)
        if value is not None:
            raise CapabilityMismatch(f"{name} is not supported by {model_id}: {why}", field=name, **ctx)

    params = _passthrough(request, entry, ctx)
    body: dict[str, Any] = {}
    if request.prompt is not None:
        body["prompt"] = request.prompt
    if request.duration is not None:
        _put_duration(body, mapping, request.duration, params, ctx)
    elif mapping.duration is DurationStyle.FRAMES and "frames_per_second" in params and mapping.default_duration:
        # fal's default frame count at another frame rate is another length than the default duration the
        # estimate priced (81 frames at 8 fps: 10 s): send the frames of that duration, so the bill matches.
        _put_duration(body, mapping, mapping.default_duration, params, ctx)
    if request.resolution is not None:
        _put_resolution(body, mapping, entry, request.resolution, ctx)
    if request.aspect_ratio is not None:
        _put_simple(body, mapping.aspect_ratio_field, "aspect_ratio", request.aspect_ratio, ctx)
    if request.generate_audio is not None:
        if mapping.generate_audio_field is not None:
            body[mapping.generate_audio_field] = request.generate_audio
        elif request.generate_audio:
            raise CapabilityMismatch(
                f"{model_id} cannot generate audio", field="generate_audio", value=True, supported=[False], **ctx
            )
    if request.seed is not None:
        _put_simple(body, mapping.seed_field, "seed", request.seed, ctx)
    _put_frames(body, mapping, request, ctx)

    for key, value in params.items():
        if key in body:
            raise InvalidRequest(
                f"provider_options.{OPTIONS_KEY}.parameters.{key} would overwrite the {key!r} input the request "
                "already sets; give it in one place",
                hint=f"leave the request field unset to pass {key} through as is",
                **ctx,
            )
        body[key] = value
    return body


def input_fields(model_id: str) -> dict[str, str]:
    """fal input name → the request field that fills it, for naming fields in fal's errors."""
    entry = catalog_entry(model_id)
    mapping = entry.inputs if entry else GENERIC_INPUTS
    names = {"prompt": "prompt"}
    if mapping.duration is not None:
        names[mapping.duration_field] = "duration"
    for fal_name, ours in (
        (mapping.resolution_field, "resolution"),
        (mapping.aspect_ratio_field, "aspect_ratio"),
        (mapping.generate_audio_field, "generate_audio"),
        (mapping.seed_field, "seed"),
        (mapping.first_frame_field, "image_url"),
        (mapping.last_frame_field, "frame_images[last_frame]"),
    ):
        if fal_name is not None:
            names[fal_name] = ours
    return names


def validation_error(
    body: bytes,
    *,
    model: str | None = None,
    status_code: int | None = 422,
    job_id: str | None = None,
) -> InvalidRequest:
    """fal's 422 answer as an InvalidRequest whose message names the field(s) and what was wrong.

    fal names its own input fields (`num_frames`, `end_image_url`, …); where that is not the
    request field, the message gives both. Unknown fields are reported as passthrough parameters.
    """
    ctx: dict[str, Any] = {"provider": PROVIDER_NAME, "model": model, "status_code": status_code, "job_id": job_id}
    parsed = parse_error_body(body)
    if parsed is None or (not parsed.details and not isinstance(parsed.detail, str)):
        shown = snippet(body) or "an empty body"
        return InvalidRequest(f"fal rejected the input: {shown}", server_message=shown or None, **ctx)
    if not parsed.details:
        text = parsed.message or "no reason given"
        return InvalidRequest(f"fal rejected the input: {text}", server_message=text, **ctx)
    return _from_details(parsed, model, ctx)


def _from_details(parsed: ErrorBody, model: str | None, ctx: dict[str, Any]) -> InvalidRequest:
    names = input_fields(model) if model else {}
    entry = catalog_entry(model) if model else None
    parts: list[str] = []
    errors: list[dict[str, Any]] = []
    for detail in parsed.details:
        fal_field = detail.field
        top = fal_field.split(".", 1)[0]
        ours = names.get(top) if top else None
        if ours is None and top and model:
            ours = f"provider_options.{OPTIONS_KEY}.parameters.{fal_field}"
        label = ours or fal_field or "input"
        if ours and ours != fal_field:
            label = f"{ours} (fal input {fal_field})"
        parts.append(f"{label}: {detail.msg or detail.type or 'invalid'}")
        errors.append(
            {"field": ours or fal_field or None, "fal_field": fal_field or None, "msg": detail.msg, "type": detail.type}
        )
    first = errors[0]["field"]
    error = InvalidRequest(
        "fal rejected the input: " + "; ".join(parts),
        server_message=parsed.message,
        hint=_allowed_hint(entry, first),
        **ctx,
    )
    error.details["field"] = first
    error.details["errors"] = errors
    return error


def _allowed_hint(entry: FalModel | None, field: str | None) -> str | None:
    if entry is None or field is None:
        return None
    caps = entry.capabilities
    allowed: tuple[Any, ...] | None = {
        "duration": caps.durations,
        "resolution": caps.resolutions,
        "aspect_ratio": caps.aspect_ratios,
    }.get(field)
    if not allowed:
        return None
    unit = "s" if field == "duration" else ""
    return f"{entry.id} accepts {field}: " + ", ".join(f"{v}{unit}" for v in allowed)


def _passthrough(request: VideoRequest, entry: FalModel | None, ctx: dict[str, Any]) -> dict[str, Any]:
    options = (request.provider_options or {}).get(OPTIONS_KEY)
    if options is None:
        return {}
    where = f"provider_options.{OPTIONS_KEY}"
    if not isinstance(options, dict) or set(options) - {"parameters"}:
        raise InvalidRequest(
            f"{where} must be {{'parameters': {{...}}}}; the parameters are copied into the fal input",
            hint=f"e.g. provider_options={{'{OPTIONS_KEY}': {{'parameters': {{'negative_prompt': 'blur'}}}}}}",
            **ctx,
        )
    params = options.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidRequest(f"{where}.parameters must be an object", **ctx)
    allowed = entry.capabilities.passthrough_parameters if entry else None
    if allowed is not None:
        for key in params:
            if key not in allowed:
                raise CapabilityMismatch(
                    f"{where}.parameters.{key} is not an input of {ctx['model']}; supported: "
                    + (", ".join(allowed) or "none"),
                    field=f"{where}.parameters",
                    value=key,
                    supported=list(allowed),
                    **ctx,
                )
    jsonable: dict[str, Any] = to_jsonable_python(params)
    return jsonable


def _put_duration(
    body: dict[str, Any], mapping: InputMapping, seconds: int, params: Mapping[str, Any], ctx: dict[str, Any]
) -> None:
    style = mapping.duration
    if style is None:
        raise CapabilityMismatch(f"{ctx['model']} takes no duration", field="duration", value=seconds, **ctx)
    if style is DurationStyle.SECONDS_SUFFIX:
        body[mapping.duration_field] = f"{seconds}s"
    elif style is DurationStyle.STRING:
        body[mapping.duration_field] = str(seconds)
    elif style is DurationStyle.INTEGER:
        body[mapping.duration_field] = seconds
    else:
        fps = params.get("frames_per_second", mapping.frames_per_second)
        if not isinstance(fps, int) or isinstance(fps, bool) or fps <= 0:
            raise InvalidRequest(
                f"provider_options.{OPTIONS_KEY}.parameters.frames_per_second must be a positive integer", **ctx
            )
        frames = seconds * fps + 1
        if mapping.frames_range is not None and not mapping.frames_range[0] <= frames <= mapping.frames_range[1]:
            low, high = mapping.frames_range
            fits = [s for s in range(1, high) if low <= s * fps + 1 <= high]
            raise CapabilityMismatch(
                f"duration={seconds}s at {fps} frames per second is {frames} frames ({mapping.duration_field}); "
                f"{ctx['model']} takes {low} to {high} frames"
                + (f": at {fps} fps, {fits[0]}s to {fits[-1]}s" if fits else f": no whole second at {fps} fps"),
                field="duration",
                value=seconds,
                supported=fits or None,
                **ctx,
            )
        body[mapping.duration_field] = frames


def _put_resolution(
    body: dict[str, Any], mapping: InputMapping, entry: FalModel | None, resolution: str, ctx: dict[str, Any]
) -> None:
    if mapping.resolution_field is not None:
        body[mapping.resolution_field] = mapping.resolution_values.get(resolution, resolution)
        return
    fixed = entry.capabilities.resolutions if entry else None
    if fixed and resolution in fixed:
        return  # the model renders only at this resolution and has no input for it
    raise CapabilityMismatch(
        f"{ctx['model']} takes no resolution" + (f"; it renders at {', '.join(fixed)}" if fixed else ""),
        field="resolution",
        value=resolution,
        supported=list(fixed) if fixed else None,
        **ctx,
    )


def _put_simple(body: dict[str, Any], fal_field: str | None, name: str, value: Any, ctx: dict[str, Any]) -> None:
    if fal_field is None:
        raise CapabilityMismatch(f"{ctx['model']} takes no {name}", field=name, value=value, **ctx)
    body[fal_field] = value


def _put_frames(body: dict[str, Any], mapping: InputMapping, request: VideoRequest, ctx: dict[str, Any]) -> None:
    frames = request.effective_frame_images()
    has_first = False
    for frame in frames:
        if frame.frame_type == "first_frame":
            fal_field, has_first = mapping.first_frame_field, True
        elif frame.frame_type == "last_frame":
            fal_field = mapping.last_frame_field
        else:
            fal_field = None
        if fal_field is None:
            supported = [
                t
                for t, f in (("first_frame", mapping.first_frame_field), ("last_frame", mapping.last_frame_field))
                if f is not None
            ]
            raise CapabilityMismatch(
                f"{ctx['model']} takes no {frame.frame_type} image"
                + (f"; supported: {', '.join(supported)}" if supported else "; it is text-to-video only"),
                field="frame_images.frame_type",
                value=frame.frame_type,
                supported=supported,
                **ctx,
            )
        body[fal_field] = frame.image_url.url
    if mapping.requires_first_frame and not has_first:
        raise CapabilityMismatch(
            f"{ctx['model']} needs a first-frame image: give image_url=... (or a first_frame in frame_images)",
            field="image_url",
            **ctx,
        )
