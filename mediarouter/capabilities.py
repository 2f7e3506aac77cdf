"""What one model accepts, as data the CLI, docs and validation all read."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .pricing import CostEstimate, InputMode, PriceRule, estimate

if TYPE_CHECKING:
    from .request import VideoRequest

__all__ = [
    "Modality",
    "RESOLUTIONS",
    "ASPECT_RATIOS",
    "FRAME_TYPES",
    "REFERENCE_TYPES",
    "Capabilities",
    "CostEstimate",
    "ModelInfo",
    "PriceRule",
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

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

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
    passthrough_slug: str | None = Field(
        default=None,
        description=(
            "the provider_options key whose parameters this model reads (fal: 'fal'); options under other keys "
            "belong to other backends of a failover chain and are neither checked nor sent. None: the plugin "
            "forwards every key (OpenRouter, whose keys name its upstream providers), so every key is checked"
        ),
    )
    prompt_required: bool | None = None
    price_per_second: Decimal | None = Field(
        default=None, description="USD per second of output, when known: the dearest rate when prices vary"
    )
    prices: tuple[PriceRule, ...] | None = Field(
        default=None, description="per-second rates by resolution / audio / size (see mediarouter.pricing)"
    )
    default_audio: bool | None = Field(default=None, description="what the provider does when generate_audio is unset")
    default_resolution: str | None = Field(default=None, description="what the provider uses when resolution is unset")
    pricing: dict[str, str] | None = Field(default=None, description="raw provider pricing SKUs")

    @model_validator(mode="before")
    @classmethod
    def _dearest_price(cls, data: Any) -> Any:
        """`price_per_second` defaults to the dearest rule, so code that reads only it stays on the safe side."""
        if isinstance(data, dict) and data.get("prices") and data.get("price_per_second") is None:
            rules = [r if isinstance(r, PriceRule) else PriceRule.model_validate(r) for r in data["prices"]]
            data = {**data, "prices": tuple(rules), "price_per_second": max(r.price_per_second for r in rules)}
        return data

    @property
    def price_rules(self) -> tuple[PriceRule, ...]:
        """`prices`, or one unconditional rule from `price_per_second`."""
        if self.prices:
            return self.prices
        if self.price_per_second is not None:
            return (PriceRule(price_per_second=self.price_per_second),)
        return ()

    def estimate(self, request: VideoRequest | int | None) -> CostEstimate | None:
        """The cost of `request` at the rate that applies to its resolution, audio and size.

        A bare duration (or None: the default duration) is a request with nothing else set. A
        price-relevant field the request leaves unset, whose default is unknown, is priced at its
        dearest value and listed in `CostEstimate.assumed`.
        """
        if request is None or isinstance(request, int):
            return estimate(
                self.price_rules,
                request if request is not None else self.default_duration(),
                resolution=self.default_resolution,
                audio=self.default_audio,
                resolutions=self.resolutions,
                sizes=self.sizes,
                audio_possible=self.audio,
            )
        audio = request.generate_audio if request.generate_audio is not None else self.default_audio
        mode: InputMode | None = "text-to-video"
        if request.effective_frame_images():
            mode = "image-to-video"
        elif request.input_references:
            mode = None  # references alone: the provider may bill either way
        return estimate(
            self.price_rules,
            request.duration if request.duration is not None else self.default_duration(),
            resolution=request.resolution or (None if request.size else self.default_resolution),
            audio=audio,
            size=request.size,
            mode=mode,
            resolutions=self.resolutions,
            sizes=self.sizes,
            audio_possible=self.audio,
        )

    def estimate_cost(self, request: VideoRequest | int | None) -> Decimal | None:
        """`estimate(...).amount`: USD for the request (or a bare duration); None when the price is unknown."""
        found = self.estimate(request)
        return found.amount if found is not None else None

    def default_duration(self) -> int | None:
        return min(self.durations) if self.durations else None


class ModelInfo(BaseModel):
    """One model a provider serves."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    provider: str
    id: str = Field(description="the provider's own model id, e.g. google/veo-3.1")
    name: str | None = None
    description: str | None = None
    capabilities: Capabilities = Field(default_factory=Capabilities)
    source: str = Field(default="catalog", description="'live' when discovered from the provider, else 'catalog'")

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.id}"
