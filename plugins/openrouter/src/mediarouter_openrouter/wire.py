"""Pydantic models of OpenRouter's video wire shapes, and the parsers that use them.

The models accept unknown fields and treat enums as plain strings, because OpenRouter adds
fields and enum values without notice. Anything that cannot be read (not JSON, not an
object, a required field missing, a field of the wrong type) becomes `ProtocolError`, so
a caller never sees a KeyError, TypeError or pydantic ValidationError from a bad answer.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import Field, ValidationError, field_validator

from mediarouter import ProtocolError
from mediarouter.http.wire import WireModel, snippet
from mediarouter.http.wire import describe_validation_error as _describe
from mediarouter.http.wire import parse_json_object as _parse_json_object

__all__ = [
    "WireModel",
    "Usage",
    "VideoGenerationResponse",
    "UpscaleFactorRange",
    "VideoModel",
    "ErrorDetail",
    "ErrorBody",
    "snippet",
    "parse_json_object",
    "parse_job",
    "parse_models",
    "parse_error_body",
]

log = logging.getLogger("mediarouter.openrouter")


class Usage(WireModel):
    cost: Decimal | None = Field(default=None, description="USD; null when unknown")
    is_byok: bool | None = None


class VideoGenerationResponse(WireModel):
    """The job object, returned by submit (202) and poll (200)."""

    id: str = Field(min_length=1)
    polling_url: str | None = None
    status: str | None = Field(default=None, description="open enum: pending, in_progress, completed, …")
    error: str | None = None
    generation_id: str | None = None
    unsigned_urls: list[str] | None = None
    urls: list[str] | None = Field(default=None, repr=False, description="signed URLs: secrets")
    expires_at: datetime | None = Field(default=None, description="Unix seconds on the wire")
    usage: Usage | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: Any) -> Any:
        """The SDK says `error` is a string; tolerate an `{message: …}` object rather than fail the poll."""
        if isinstance(value, dict):
            message = value.get("message")
            return message if isinstance(message, str) else json.dumps(value, default=str)[:1000]
        return value

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """Unix seconds parse as UTC; an ISO string without a zone is taken as UTC too, so comparisons work."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class UpscaleFactorRange(WireModel):
    min: float | None = None
    max: float | None = None


class VideoModel(WireModel):
    """One entry of `GET /videos/models`. In every list field, null means "not advertised"."""

    id: str = Field(min_length=1)
    canonical_slug: str | None = None
    name: str | None = None
    created: int | None = None
    description: str | None = None
    hugging_face_id: str | None = None
    allowed_passthrough_parameters: list[str] | None = None
    supported_durations: list[int] | None = None
    supported_resolutions: list[str] | None = None
    supported_aspect_ratios: list[str] | None = None
    supported_sizes: list[str] | None = None
    supported_frame_images: list[str] | None = None
    generate_audio: bool | None = None
    seed: bool | None = None
    creativity: list[int] | None = None
    upscale_factor: UpscaleFactorRange | None = None
    pricing_skus: dict[str, str] | None = None

    @field_validator("pricing_skus", mode="before")
    @classmethod
    def _prices_as_text(cls, value: Any) -> Any:
        """Prices are strings on the wire; accept numbers too (as text, so no float rounding creeps in)."""
        if isinstance(value, dict):
            return {
                key: str(price) if isinstance(price, int | float) and not isinstance(price, bool) else price
                for key, price in value.items()
            }
        return value


class ErrorDetail(WireModel):
    code: int | str | None = None
    message: str | None = None
    metadata: dict[str, Any] | None = None


class ErrorBody(WireModel):
    """`{"error": {"code", "message", "metadata"}, "openrouter_metadata", "user_id"}`."""

    error: ErrorDetail | None = None
    openrouter_metadata: dict[str, Any] | None = None
    user_id: str | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"message": value}
        return value


def parse_json_object(body: bytes, *, what: str, **context: Any) -> dict[str, Any]:
    """Decode a JSON object or raise ProtocolError saying what was expected and what came instead."""
    return _parse_json_object(body, label="OpenRouter", what=what, **context)


def parse_job(body: bytes, **context: Any) -> VideoGenerationResponse:
    """Parse a job object (submit or poll answer)."""
    data = parse_json_object(body, what="a job", **context)
    try:
        return VideoGenerationResponse.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(f"OpenRouter sent a malformed job object ({_describe(exc)})", **context) from None


def parse_models(body: bytes, **context: Any) -> list[VideoModel]:
    """Parse `{"data": [VideoModel, …]}`, skipping single malformed entries rather than losing the listing."""
    data = parse_json_object(body, what="a model listing", **context)
    entries = data.get("data")
    if not isinstance(entries, list):
        raise ProtocolError("OpenRouter sent a model listing without a `data` list", **context)
    models: list[VideoModel] = []
    for entry in entries:
        try:
            models.append(VideoModel.model_validate(entry))
        except ValidationError as exc:
            model_id = entry.get("id") if isinstance(entry, dict) else None
            log.warning("skipping malformed model %r in the OpenRouter listing: %s", model_id, _describe(exc))
    if entries and not models:
        raise ProtocolError("OpenRouter sent a model listing in which no entry could be read", **context)
    return models


def parse_error_body(body: bytes) -> ErrorBody | None:
    """The error envelope, or None when the body is not one (HTML from a proxy, plain text, …)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return ErrorBody.model_validate(data)
    except ValidationError:
        return None
