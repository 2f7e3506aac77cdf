"""The `POST /videos` body, and the seed-style `generate_video(...)` arguments as a VideoRequest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_core import to_jsonable_python

from mediarouter import InvalidRequest, VideoRequest

from .models import PROVIDER_NAME

__all__ = ["build_submit_body", "request_from_arguments"]

_SCALARS = ("prompt", "duration", "resolution", "aspect_ratio", "size", "generate_audio", "seed")


def build_submit_body(model_id: str, request: VideoRequest) -> dict[str, Any]:
    """The `POST /videos` body. Unset fields are omitted; user-shaped objects pass through untouched."""
    body: dict[str, Any] = {"model": model_id}
    for name in _SCALARS:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    frames = request.effective_frame_images()
    if frames:
        body["frame_images"] = [f.model_dump(mode="json", by_alias=True, exclude_none=True) for f in frames]
    if request.input_references:
        body["input_references"] = [
            r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in request.input_references
        ]
    for name in ("callback_url", "previous_job_id"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.provider_options:
        body["provider"] = {"options": to_jsonable_python(request.provider_options)}
    for name in ("session_id", "user"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.trace:
        body["trace"] = to_jsonable_python(request.trace)
    for name in ("creativity", "upscale_factor"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    return body


def request_from_arguments(provider_params: Mapping[str, Any], **fields: Any) -> VideoRequest:
    """`generate_video(...)` keywords → VideoRequest; `provider={"options": …}` (the wire shape) is accepted too."""
    params = dict(provider_params)
    if "provider" in params:
        wire_provider = params.pop("provider")
        if (
            not isinstance(wire_provider, Mapping)
            or set(wire_provider) - {"options"}
            or not isinstance(wire_provider.get("options", {}), Mapping)
        ):
            raise InvalidRequest(
                "provider= must look like {'options': {'<slug>': {...}}}",
                provider=PROVIDER_NAME,
                hint="or pass provider_options={'<slug>': {'parameters': {...}}}",
            )
        if params.get("provider_options") is not None:
            raise InvalidRequest(
                "give either provider={'options': ...} or provider_options=..., not both", provider=PROVIDER_NAME
            )
        options = wire_provider.get("options")
        if options:
            params["provider_options"] = dict(options)
    fields.update(params)
    return VideoRequest.build(**{k: v for k, v in fields.items() if v is not None})
