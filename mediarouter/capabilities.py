"""What one model accepts, as data the CLI, docs and validation all read."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Modality",
    "RESOLUTIONS",
    "ASPECT_RATIOS",
    "FRAME_TYPES",
    "REFERENCE_TYPES",
    "Capabilities",
    "ModelInfo",
]


class Modality(StrEnum):
    TEXT_TO_VIDEO = "text-to-video"
    IMAGE_TO_VIDEO = "image-to-video"
    REFERENCE_TO_VIDEO = "reference-to-video"
    VIDEO_TO_VIDEO = "video-to-video"
    VIDEO_TO_TEXT = "video-to-text"


#: Known values of the wire enums. Providers may advertise new ones (the enums are open).
RESOLUTIONS: tuple[str, ...] = ("360p", "480p", "720p", "768p", "1080p", "1K", "2K", "4K")
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21")
FRAME_TYPES: tuple[str, ...] = ("first_frame", "last_frame")
REFERENCE_TYPES: tuple[str, ...] = ("image_url", "audio_url", "video_url")


class Capabilities(BaseModel):
    """What a model can do. `None` on any field means "not advertised", never "none allowed"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    modalities: tuple[Modality, ...] | None = None
    durations: tuple[int, ...] | None = None
    resolutions: tuple[str, ...] | None = None
    aspect_ratios: tuple[str, ...] | None = None
    sizes: tuple[str, ...] | None = None
    frame_images: tuple[str, ...] | None = Field(default=None, description="first_frame / last_frame")
    reference_types: tuple[str, ...] | None = Field(default=None, description="image_url / audio_url / video_url")
    audio: bool | None = None
    seed: bool | None = None
    passthrough_parameters: tuple[str, ...] | None = None
    prompt_required: bool | None = None
    price_per_second: Decimal | None = Field(default=None, description="USD per second of output, when known")
    pricing: dict[str, str] | None = Field(default=None, description="raw provider pricing SKUs")

    def estimate_cost(self, duration: int | None) -> Decimal | None:
        """Price per second × duration; None when either is unknown."""
        if self.price_per_second is None:
            return None
        seconds = duration if duration is not None else self.default_duration()
        if seconds is None:
            return None
        return self.price_per_second * seconds

    def default_duration(self) -> int | None:
        return min(self.durations) if self.durations else None


class ModelInfo(BaseModel):
    """One model a provider serves."""

    model_config = ConfigDict(frozen=True)

    provider: str
    id: str = Field(description="the provider's own model id, e.g. google/veo-3.1")
    name: str | None = None
    description: str | None = None
    capabilities: Capabilities = Field(default_factory=Capabilities)
    source: str = Field(default="catalog", description="'live' when discovered from the provider, else 'catalog'")

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.id}"
