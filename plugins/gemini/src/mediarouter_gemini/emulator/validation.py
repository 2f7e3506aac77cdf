"""The emulator's check of a `:predictLongRunning` body, per catalog model, answered the way Google does:
400 INVALID_ARGUMENT naming the field and the allowed values. Independent of the provider's own
checks (`body.py`), so a provider bug that sends something Google refuses shows up in tests."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from mediarouter.emulation import ApiError

from ..catalog import MAX_REFERENCE_IMAGES, GeminiModel, catalog_model

__all__ = ["GoogleError", "Submission", "validate_predict"]

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_WIRE_RESOLUTIONS = {"720p": "720p", "1080p": "1080p", "4K": "4k"}
_PARAMETERS = frozenset({"aspectRatio", "durationSeconds", "resolution", "negativePrompt", "personGeneration", "seed"})
_SEED_MAX = 4_294_967_295


class GoogleError(ApiError):
    """An ApiError that knows its google.rpc status name (the HTTP code's, unless given)."""

    messages: ClassVar[Mapping[int, str]] = {
        401: "Request had invalid authentication credentials.",
        403: "Method doesn't allow unregistered callers (callers without established identity).",
        404: "Requested entity was not found.",
        429: "Resource has been exhausted (e.g. check quota).",
        500: "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
        503: "The model is overloaded. Please try again later.",
    }

    def __init__(
        self, status: int, message: str | None = None, *, rpc_status: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(status, message)
        self.rpc_status = rpc_status or _STATUS_NAMES.get(status, "UNKNOWN" if status >= 500 else "INVALID_ARGUMENT")
        self.reason = reason


@dataclass(frozen=True)
class Submission:
    """What a valid body asks for: enough to render the video."""

    model: str
    prompt: str | None
    duration: int
    aspect_ratio: str
    resolution: str
    seed: int | None
    audio: bool


def _bad(message: str) -> GoogleError:
    return GoogleError(400, message)


def _image(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise _bad(f"Invalid value at '{where}': expected an Image object {{\"inlineData\": {{...}}}}")
    inline = value.get("inlineData") if "inlineData" in value else value.get("inline_data")
    if not isinstance(inline, dict):
        raise _bad(f"{where}.inlineData is required (mimeType and base64 data)")
    mime = inline.get("mimeType")
    if not isinstance(mime, str) or not mime.startswith("image/"):
        raise _bad(f"Unsupported MIME type at '{where}.inlineData.mimeType': {mime!r}; allowed: image/*")
    data = inline.get("data")
    if not isinstance(data, str) or not data:
        raise _bad(f"{where}.inlineData.data must be non-empty base64")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"Invalid value at '{where}.inlineData.data' (TYPE_BYTES), Base64 decoding failed") from None


def _one_of(name: str, value: Any, allowed: list[Any]) -> None:
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise _bad(f"{name} {value!r} is not supported by this model; allowed values: {shown}")


def _instance(model: GeminiModel, instances: Any) -> tuple[str | None, bool, int]:
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        raise _bad("instances must be a list with exactly one object")
    instance = instances[0]
    unknown = sorted(set(instance) - {"prompt", "image", "lastFrame", "referenceImages", "video"})
    if unknown:
        name = unknown[0]
        raise _bad(f"Invalid JSON payload received. Unknown name \"{name}\" at 'instances[0]': Cannot find field.")
    prompt = instance.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise _bad("instances[0].prompt must be a string")
    if "video" in instance:
        raise _bad("instances[0].video (video extension) is not supported by this emulator")
    has_image = "image" in instance
    if has_image:
        _image(instance["image"], "instances[0].image")
    if "lastFrame" in instance:
        if not has_image:
            raise _bad("instances[0].lastFrame requires instances[0].image (the first frame)")
        _image(instance["lastFrame"], "instances[0].lastFrame")
    refs = instance.get("referenceImages")
    count = 0
    if refs is not None:
        if not model.capabilities.reference_types:
            raise _bad(f"referenceImages isn't supported by {model.id}")
        if not isinstance(refs, list) or not 1 <= len(refs) <= MAX_REFERENCE_IMAGES:
            raise _bad(f"referenceImages must hold 1 to {MAX_REFERENCE_IMAGES} images")
        for i, ref in enumerate(refs):
            if not isinstance(ref, dict):
                raise _bad(f"instances[0].referenceImages[{i}] must be an object")
            _image(ref.get("image"), f"instances[0].referenceImages[{i}].image")
            _one_of(f"instances[0].referenceImages[{i}].referenceType", ref.get("referenceType"), ["asset"])
        count = len(refs)
    if not prompt and not has_image:
        raise _bad("instances[0].prompt is required unless an image is given")
    return prompt or None, has_image or count > 0, count


def validate_predict(model_id: str, body: Any) -> Submission:
    """Check one submit body; raise GoogleError (400/404) the way the Gemini API answers."""
    model = catalog_model(model_id)
    if model is None:
        raise GoogleError(
            404, f"models/{model_id} is not found for API version v1beta, or is not supported for predictLongRunning."
        )
    if not isinstance(body, dict):
        raise _bad("Invalid JSON payload received: expected an object")
    unknown = sorted(set(body) - {"instances", "parameters"})
    if unknown:
        raise _bad(f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
    prompt, has_images, references = _instance(model, body.get("instances"))
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise _bad("parameters must be an object")
    for key in params:
        if key not in _PARAMETERS:
            raise _bad(f"Invalid JSON payload received. Unknown name \"{key}\" at 'parameters': Cannot find field.")
        if key not in model.parameters:
            raise _bad(f"`{key}` isn't supported by {model.id}.")
    caps = model.capabilities
    aspect = params.get("aspectRatio", "16:9")
    _one_of("aspectRatio", aspect, list(caps.aspect_ratios or ()))
    allowed_resolutions = [_WIRE_RESOLUTIONS[r] for r in caps.resolutions or ("720p",)]
    resolution = params.get("resolution", "720p")
    _one_of("resolution", resolution, allowed_resolutions)
    duration = params.get("durationSeconds", 8)
    if isinstance(duration, str) and duration.isdigit():
        duration = int(duration)
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise _bad(f"durationSeconds must be an integer, got {duration!r}")
    _one_of("durationSeconds", duration, list(caps.durations or ()))
    eight_only = [_WIRE_RESOLUTIONS[r] for r in model.eight_seconds_only]
    if resolution in eight_only and duration != 8:
        raise _bad(f"resolution {resolution} requires durationSeconds 8 (got {duration})")
    if references and model.references_need_eight_seconds and duration != 8:
        raise _bad(f"referenceImages require durationSeconds 8 (got {duration})")
    landscape = [_WIRE_RESOLUTIONS[r] for r in model.landscape_only]
    if resolution in landscape and aspect != "16:9":
        raise _bad(f"resolution {resolution} is only supported with aspectRatio 16:9 on {model.id}")
    people = params.get("personGeneration")
    if people is not None:
        mode = "image" if has_images else "text"
        _one_of("personGeneration", people, list(model.person_generation.get(mode, ())))
    negative = params.get("negativePrompt")
    if negative is not None and not isinstance(negative, str):
        raise _bad("negativePrompt must be a string")
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _SEED_MAX):
        raise _bad(f"seed must be an integer between 0 and {_SEED_MAX}, got {seed!r}")
    return Submission(
        model=model.id,
        prompt=prompt,
        duration=duration,
        aspect_ratio=str(aspect),
        resolution=str(resolution),
        seed=seed,
        audio=model.audio_always_on,
    )
