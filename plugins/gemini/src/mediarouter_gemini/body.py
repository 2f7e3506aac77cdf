"""Build the `:predictLongRunning` body for a Veo model from a provider-neutral VideoRequest.

Pure and I/O-free: image inputs arrive already resolved as `InlineImage(mime_type, data_b64)`.
The boundary is `image_sources(request)` (which URLs need resolving) → *the provider
resolves them* (https download, local file read, or `inline_image_from_data_url` for
`data:` URLs, each under a size guard) → `build_body(model_id, request, images)`.

Everything Google documents as a hard rule is checked here, before any money is spent, and
fails with a CapabilityMismatch naming the field and the allowed values: 8-second-only
resolutions, reference images needing 8 s, `personGeneration` per mode, audio that cannot
be turned off, fields the Gemini API has no place for.

Gemini-specific parameters come through `provider_options`:

    provider_options={"gemini": {"parameters": {"negativePrompt": "text overlays",
                                                "personGeneration": "allow_adult"}}}

Options under other slugs are for other backends and are ignored here.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from mediarouter import CapabilityMismatch, InvalidRequest, NotFound, PayloadTooLarge, VideoRequest, validate_request

from . import PROVIDER_NAME
from .catalog import (
    CATALOG,
    MAX_REFERENCE_IMAGES,
    OPTIONS_KEY,
    PASSTHROUGH_PARAMETERS,
    SIZES,
    GeminiModel,
    catalog_model,
)

__all__ = [
    "MAX_IMAGE_BYTES",
    "InlineImage",
    "ImageSources",
    "ResolvedImages",
    "inline_image_from_data_url",
    "image_sources",
    "gemini_parameters",
    "build_body",
]

#: Size guard for one input image, decoded. Google's Veo page allows images "up to 20 MB".
MAX_IMAGE_BYTES = 20 * 1024 * 1024

#: mediarouter's resolution names → the Gemini API's (`"4k"` is lower-case on the wire).
_WIRE_RESOLUTION = {"720p": "720p", "1080p": "1080p", "4K": "4k"}

_DATA_URL = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(;[^;,]*)*),(?P<data>.*)$", re.DOTALL)

_SEED_MAX = 4_294_967_295

#: Request fields the Gemini API has no equivalent for; refusing them beats silently dropping them.
_UNSUPPORTED_FIELDS = {
    "callback_url": "the Gemini API has no per-request callback here",
    "previous_job_id": "video extension is not supported by this backend",
    "creativity": "Veo has no creativity setting",
    "upscale_factor": "Veo has no upscaling",
}


@dataclass(frozen=True)
class InlineImage:
    """An image ready for the wire: its MIME type and base64 bytes."""

    mime_type: str
    data_b64: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.mime_type.startswith("image/"):
            raise InvalidRequest(f"an input image must have an image/* MIME type (got {self.mime_type!r})")

    @property
    def size(self) -> int:
        """Decoded size in bytes, from the base64 length (no decoding)."""
        padding = self.data_b64[-2:].count("=")
        return len(self.data_b64) * 3 // 4 - padding

    def to_wire(self) -> dict[str, Any]:
        """The `Image` object as Google's REST examples send it."""
        return {"inlineData": {"mimeType": self.mime_type, "data": self.data_b64}}


@dataclass(frozen=True)
class ImageSources:
    """The URLs a request's images come from, in wire order, for the provider to resolve."""

    first_frame: str | None = None
    last_frame: str | None = None
    references: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.first_frame or self.last_frame or self.references)


@dataclass(frozen=True)
class ResolvedImages:
    """The same images, resolved to inline bytes."""

    first_frame: InlineImage | None = None
    last_frame: InlineImage | None = None
    references: tuple[InlineImage, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.first_frame or self.last_frame or self.references)


def inline_image_from_data_url(url: str, *, field_name: str = "image", max_bytes: int = MAX_IMAGE_BYTES) -> InlineImage:
    """Turn a `data:image/...;base64,...` URL into an InlineImage, checking its type and size.

    Percent-encoded (non-base64) data URLs are accepted and re-encoded. The size guard
    runs on the decoded bytes, so a 20 MiB limit means 20 MiB of image.
    """
    match = _DATA_URL.match(url)
    if match is None:
        raise InvalidRequest(f"{field_name} is not a data: URL", hint="expected data:image/png;base64,<data>")
    mime = match["mime"].strip().lower() or "text/plain"
    params = [p.strip().lower() for p in match["params"].split(";") if p.strip()]
    if not mime.startswith("image/"):
        raise InvalidRequest(
            f"{field_name} must be an image (got a data: URL of type {mime!r})",
            hint="allowed: image/png, image/jpeg, image/webp, …",
        )
    raw = match["data"]
    if "base64" in params:
        data = "".join(raw.split())
        if len(data) * 3 // 4 > max_bytes + 3:  # reject before decoding a huge string
            raise _too_large(field_name, len(data) * 3 // 4, max_bytes)
        try:
            decoded = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"{field_name} has invalid base64 data") from None
    else:
        decoded = urllib.parse.unquote_to_bytes(raw)
    if not decoded:
        raise InvalidRequest(f"{field_name} is an empty image")
    if len(decoded) > max_bytes:
        raise _too_large(field_name, len(decoded), max_bytes)
    return InlineImage(mime_type=mime, data_b64=base64.b64encode(decoded).decode("ascii"))


def _bytes(size: int) -> str:
    return f"{size / 1048576:.1f} MiB" if size >= 1048576 else f"{size} bytes"


def _too_large(field_name: str, size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{field_name} is {_bytes(size)}, over the {_bytes(limit)} limit for one input image",
        provider=PROVIDER_NAME,
        hint="downscale or recompress the image",
    )


def image_sources(request: VideoRequest) -> ImageSources:
    """Which image URLs the request needs resolved (first frame, last frame, reference images)."""
    first: str | None = None
    last: str | None = None
    for frame in request.effective_frame_images():
        if frame.frame_type == "first_frame":
            first = frame.image_url.url
        elif frame.frame_type == "last_frame":
            last = frame.image_url.url
    references = tuple(ref.url for ref in request.input_references or [] if ref.type == "image_url" and ref.url)
    return ImageSources(first_frame=first, last_frame=last, references=references)


def gemini_parameters(request: VideoRequest) -> dict[str, Any]:
    """`provider_options["gemini"]["parameters"]`, shape-checked; {} when absent."""
    options = (request.provider_options or {}).get(OPTIONS_KEY)
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise InvalidRequest(
            "provider_options.gemini must be an object",
            hint="provider_options={'gemini': {'parameters': {'negativePrompt': ...}}}",
        )
    unknown = sorted(set(options) - {"parameters"})
    if unknown:
        raise InvalidRequest(
            f"provider_options.gemini has unknown key(s): {', '.join(unknown)}; allowed: parameters",
            hint="provider_options={'gemini': {'parameters': {'negativePrompt': ...}}}",
        )
    params = options.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidRequest("provider_options.gemini.parameters must be an object")
    extra = sorted(set(params) - set(PASSTHROUGH_PARAMETERS))
    if extra:
        raise CapabilityMismatch(
            f"provider_options.gemini.parameters.{extra[0]} is not accepted; "
            f"supported: {', '.join(PASSTHROUGH_PARAMETERS)}",
            field="provider_options.gemini.parameters",
            value=extra[0],
            supported=list(PASSTHROUGH_PARAMETERS),
            provider=PROVIDER_NAME,
        )
    return dict(params)


def _model(model_id: str) -> GeminiModel:
    model = catalog_model(model_id)
    if model is None:
        known = ", ".join(m.id for m in CATALOG)
        raise NotFound(
            f"gemini has no Veo model {model_id!r}; known: {known}",
            provider=PROVIDER_NAME,
            model=model_id,
            hint="run `mediarouter models` to list them",
        )
    return model


def _mismatch(model: GeminiModel, message: str, field: str, value: Any, supported: list[Any]) -> CapabilityMismatch:
    return CapabilityMismatch(
        message, field=field, value=value, supported=supported, provider=PROVIDER_NAME, model=model.id
    )


def build_body(model_id: str, request: VideoRequest, images: ResolvedImages | None = None) -> dict[str, Any]:
    """The JSON body of `POST {base}/models/{model_id}:predictLongRunning`.

    `images` must hold what `image_sources(request)` named, already resolved. Raises
    CapabilityMismatch / InvalidRequest for anything the model cannot do, so nothing is
    sent that Google would refuse for a documented reason.
    """
    model = _model(model_id)
    ctx: dict[str, Any] = {"provider": PROVIDER_NAME, "model": model.id}
    images = images or ResolvedImages()
    validate_request(request, model.capabilities, model=model.id, provider=PROVIDER_NAME)

    for name, why in _UNSUPPORTED_FIELDS.items():
        value = getattr(request, name)
        if value is not None:
            raise _mismatch(model, f"{name} is not supported by gemini/{model.id}: {why}", name, value, [])

    sources = image_sources(request)
    _check_images_match(sources, images, ctx)
    if images.last_frame is not None and images.first_frame is None:
        raise InvalidRequest("a last_frame needs a first_frame on the Gemini API (lastFrame is used with image)", **ctx)
    if len(images.references) > MAX_REFERENCE_IMAGES:
        raise _mismatch(
            model,
            f"at most {MAX_REFERENCE_IMAGES} reference images (got {len(images.references)})",
            "input_references",
            len(images.references),
            list(range(1, MAX_REFERENCE_IMAGES + 1)),
        )

    resolution, aspect_ratio = request.resolution, request.aspect_ratio
    if request.size is not None:
        resolution, aspect_ratio = SIZES[request.size]  # validate_request checked it is one of the model's sizes

    if request.generate_audio is False and model.audio_always_on:
        raise _mismatch(
            model,
            f"{model.id} always generates audio; it cannot be turned off on the Gemini API",
            "generate_audio",
            False,
            [True],
        )
    if resolution in model.landscape_only and aspect_ratio not in (None, "16:9"):
        raise _mismatch(model, f"{resolution} on {model.id} is 16:9 only", "aspect_ratio", aspect_ratio, ["16:9"])

    duration = _duration(model, request, resolution, bool(images.references))
    params = gemini_parameters(request)
    _check_person_generation(model, params.get("personGeneration"), bool(images))
    negative = params.get("negativePrompt")
    if negative is not None and (not isinstance(negative, str) or not negative.strip()):
        raise InvalidRequest("provider_options.gemini.parameters.negativePrompt must be a non-empty string", **ctx)
    if request.seed is not None and not 0 <= request.seed <= _SEED_MAX:
        raise _mismatch(model, f"seed must be between 0 and {_SEED_MAX}", "seed", request.seed, [0, _SEED_MAX])

    instance: dict[str, Any] = {}
    if request.prompt:
        instance["prompt"] = request.prompt
    if images.first_frame is not None:
        instance["image"] = images.first_frame.to_wire()
    if images.last_frame is not None:
        instance["lastFrame"] = images.last_frame.to_wire()
    if images.references:
        instance["referenceImages"] = [{"image": ref.to_wire(), "referenceType": "asset"} for ref in images.references]

    parameters: dict[str, Any] = {}
    if aspect_ratio is not None:
        parameters["aspectRatio"] = aspect_ratio
    if resolution is not None and "resolution" in model.parameters:
        parameters["resolution"] = _WIRE_RESOLUTION.get(resolution, resolution)
    parameters["durationSeconds"] = duration
    if request.seed is not None:
        parameters["seed"] = request.seed
    for key in PASSTHROUGH_PARAMETERS:
        if key in params and key in model.parameters:
            parameters[key] = params[key]
    return {"instances": [instance], "parameters": parameters}


def _check_images_match(sources: ImageSources, images: ResolvedImages, ctx: dict[str, Any]) -> None:
    """The provider must resolve exactly the images the request names: a dropped frame would be paid for."""
    wanted = (sources.first_frame is not None, sources.last_frame is not None, len(sources.references))
    given = (images.first_frame is not None, images.last_frame is not None, len(images.references))
    if wanted != given:
        raise InvalidRequest(
            f"resolved images do not match the request (first, last, references: wanted {wanted}, got {given})",
            **ctx,
        )


def _duration(model: GeminiModel, request: VideoRequest, resolution: str | None, references: bool) -> int:
    """The seconds to ask for, sent explicitly so the bill matches the estimate.

    Without a requested duration this is `Capabilities.default_duration_for(request)`, the duration
    `Capabilities.estimate` prices: the model's default, or 8 s where Google requires it (core
    validation has already refused a requested duration the resolution or references do not allow).
    """
    asked = request.duration
    forced: str | None = None
    if resolution in model.eight_seconds_only:
        forced = f"{resolution} output"
    elif references and model.references_need_eight_seconds:
        forced = "reference images"
    if forced is not None and asked is not None and asked != 8:
        raise _mismatch(model, f"{forced} on {model.id} needs duration=8s (got {asked}s)", "duration", asked, [8])
    if asked is not None:
        return asked
    seconds = model.capabilities.default_duration_for(request)  # 8 s where forced: the catalog ties them so
    return seconds if seconds is not None else 8


def _check_person_generation(model: GeminiModel, value: Any, has_images: bool) -> None:
    if value is None:
        return
    mode = "image" if has_images else "text"
    allowed = model.person_generation.get(mode, ())
    if value not in allowed:
        what = "with an input image" if has_images else "from text"
        raise _mismatch(
            model,
            f"personGeneration={value!r} is not allowed on {model.id} {what}; allowed: {', '.join(allowed)}",
            "provider_options.gemini.parameters.personGeneration",
            value,
            list(allowed),
        )
