"""The provider-neutral video request."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InvalidRequest

__all__ = ["FrameImage", "InputReference", "VideoRequest", "URLRef"]


class URLRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    url: str


class FrameImage(BaseModel):
    """Fixes the first or last frame: `{"type":"image_url","image_url":{"url":…},"frame_type":…}`."""

    model_config = ConfigDict(extra="allow")

    type: Literal["image_url"] = "image_url"
    image_url: URLRef
    frame_type: str = Field(description="first_frame or last_frame (checked against the model's capabilities)")


class InputReference(BaseModel):
    """A reference asset: `{"type":"image_url"|"audio_url"|"video_url", "<type>": {"url": …}}`."""

    model_config = ConfigDict(extra="allow")

    type: Literal["image_url", "audio_url", "video_url"]
    image_url: URLRef | None = None
    audio_url: URLRef | None = None
    video_url: URLRef | None = None

    @property
    def url(self) -> str | None:
        holder = getattr(self, self.type)
        return holder.url if holder is not None else None


class VideoRequest(BaseModel):
    """What the caller wants, independent of any provider's wire format.

    `frame_images`, `input_references` and `provider_options` are passed through to the
    provider untouched (after a shape check); `image_url` is a shortcut for a first frame.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    prompt: str | None = None
    duration: int | None = Field(default=None, gt=0, description="seconds")
    resolution: str | None = None
    aspect_ratio: str | None = None
    size: str | None = Field(default=None, description="WIDTHxHEIGHT, e.g. 1280x720")
    generate_audio: bool | None = None
    seed: int | None = None
    image_url: str | None = Field(default=None, description="shortcut: use this image as the first frame")
    frame_images: list[FrameImage] | None = None
    input_references: list[InputReference] | None = None
    provider_options: dict[str, Any] | None = Field(
        default=None, description="provider slug → options object, sent as provider.options untouched"
    )
    callback_url: str | None = None
    previous_job_id: str | None = None
    session_id: str | None = Field(default=None, max_length=256)
    user: str | None = None
    trace: dict[str, Any] | None = None
    creativity: int | None = None
    upscale_factor: float | None = None

    @classmethod
    def build(cls, **fields: Any) -> VideoRequest:
        """Build a request from keyword arguments, turning pydantic errors into InvalidRequest."""
        unknown = sorted(set(fields) - set(cls.model_fields))
        if unknown:
            raise InvalidRequest(
                f"unknown request field(s): {', '.join(unknown)}",
                hint=(
                    f"accepted fields: {', '.join(cls.model_fields)}; provider-specific parameters go in "
                    "provider_options={'<slug>': {'parameters': {...}}}"
                ),
            )
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise invalid_from_validation(exc) from None

    def effective_frame_images(self) -> list[FrameImage]:
        """Frame images including the `image_url` shortcut (as the first frame)."""
        frames = list(self.frame_images or [])
        if self.image_url and not any(f.frame_type == "first_frame" for f in frames):
            frames.insert(0, FrameImage(image_url=URLRef(url=self.image_url), frame_type="first_frame"))
        return frames

    def redacted(self) -> dict[str, Any]:
        """JSON-ready form with data URLs shortened, for logs and journals."""
        data: dict[str, Any] = _shorten_data_urls(self.model_dump(mode="json", exclude_none=True))
        return data


def _shorten_data_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shorten_data_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten_data_urls(v) for v in value]
    if isinstance(value, str) and value.startswith("data:") and len(value) > 64:
        return value[:40] + f"…({len(value)} chars)"
    return value


def invalid_from_validation(exc: ValidationError) -> InvalidRequest:
    """A readable InvalidRequest naming the first offending field."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "request"
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    error = InvalidRequest(f"invalid {field}: {problems}")
    error.details["field"] = field
    return error
