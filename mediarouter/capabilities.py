"""What one model accepts, as data the CLI, docs and validation all read."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .pricing import CostEstimate, InputMode, PriceRule, estimate, normalize_resolution, resolution_height

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
    default_duration: int | None = Field(
        default=None,
        gt=0,
        description=(
            "the seconds the provider makes when the request gives no duration (and its resolution and references "
            "allow them); None: unknown, so an estimate assumes the longest duration the request could get"
        ),
    )
    durations_by_resolution: dict[str, tuple[int, ...]] | None = Field(
        default=None,
        description=(
            "resolution → the only durations allowed at it, e.g. {'1080p': (8,), '4K': (8,)}; a resolution not "
            "named allows every one of `durations`. A size counts as the resolution of its pixel height"
        ),
    )
    reference_durations: tuple[int, ...] | None = Field(
        default=None, description="the only durations allowed when the request has input_references"
    )
    pricing: dict[str, str] | None = Field(default=None, description="raw provider pricing SKUs")

    @model_validator(mode="before")
    @classmethod
    def _dearest_price(cls, data: Any) -> Any:
        """`price_per_second` defaults to the dearest rule, so code that reads only it stays on the safe side."""
        if isinstance(data, dict) and data.get("prices") and data.get("price_per_second") is None:
            rules = [r if isinstance(r, PriceRule) else PriceRule.model_validate(r) for r in data["prices"]]
            data = {**data, "prices": tuple(rules), "price_per_second": max(r.price_per_second for r in rules)}
        return data

    @model_validator(mode="after")
    def _consistent_durations(self) -> Capabilities:
        """A default or a tied duration outside `durations` is a plugin's mistake: say so when the model is built."""
        tied = {**(self.durations_by_resolution or {})}
        if self.reference_durations is not None:
            tied["input_references"] = self.reference_durations
        for where, allowed in tied.items():
            if not allowed or any(d <= 0 for d in allowed):
                raise ValueError(f"durations for {where} must be a non-empty tuple of positive seconds, not {allowed}")
            if self.durations is not None and not set(allowed) <= set(self.durations):
                raise ValueError(f"durations for {where} {allowed} are not all in durations {self.durations}")
        if (
            self.default_duration is not None
            and self.durations is not None
            and self.default_duration not in self.durations
        ):
            raise ValueError(f"default_duration {self.default_duration} is not in durations {self.durations}")
        return self

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

        A bare duration (or None: no duration) is a request with nothing else set. A price-relevant
        field the request leaves unset, whose default is unknown, is priced at its dearest value and
        listed in `CostEstimate.assumed`. An unset duration is `default_duration` when the provider
        declares one (and the request's resolution and references allow it), else the longest the
        request could get, listed as "duration" when more than one was possible.
        """
        if request is None or isinstance(request, int):
            fixed: dict[str, Any] = {"resolution": self.default_resolution, "audio": self.default_audio}
            duration, resolution, references = request, self.default_resolution, False
        else:
            mode: InputMode | None = "text-to-video"
            if request.effective_frame_images():
                mode = "image-to-video"
            elif request.input_references:
                mode = None  # references alone: the provider may bill either way
            fixed = {
                "resolution": request.resolution or (None if request.size else self.default_resolution),
                "audio": request.generate_audio if request.generate_audio is not None else self.default_audio,
                "size": request.size,
                "mode": mode,
            }
            duration, resolution = request.duration, self.resolution_of(request)
            references = bool(request.input_references)
        if duration is not None:
            return self._priced(duration, **fixed)
        if resolution is not None or not self.durations_by_resolution:
            seconds, assumed = self._unset_duration(resolution, references=references)
            return _assuming(self._priced(seconds, **fixed), ("duration",) if assumed else ())
        # The resolution is unknown and decides the duration: price each one it could be, the dearest wins.
        found: list[tuple[CostEstimate, int | None, bool]] = []
        for candidate in self._possible_resolutions():
            seconds, assumed = self._unset_duration(candidate, references=references)
            priced = self._priced(seconds, **{**fixed, "resolution": candidate or fixed["resolution"]})
            if priced is not None:
                found.append((priced, seconds, assumed))
        if not found:
            return None
        best = max(found, key=lambda item: item[0].amount)[0]
        extra: list[str] = []
        if len({item[0].amount for item in found}) > 1 and "resolution" not in best.assumed:
            extra.append("resolution")
        if len({item[1] for item in found}) > 1 or any(item[2] for item in found):
            extra.append("duration")
        return _assuming(best, tuple(extra))

    def _priced(
        self,
        duration: int | None,
        *,
        resolution: str | None = None,
        audio: bool | None = None,
        size: str | None = None,
        mode: InputMode | None = None,
    ) -> CostEstimate | None:
        return estimate(
            self.price_rules,
            duration,
            resolution=resolution,
            audio=audio,
            size=size,
            mode=mode,
            resolutions=self.resolutions,
            sizes=self.sizes,
            audio_possible=self.audio,
        )

    def estimate_cost(self, request: VideoRequest | int | None) -> Decimal | None:
        """`estimate(...).amount`: USD for the request (or a bare duration); None when the price is unknown."""
        found = self.estimate(request)
        return found.amount if found is not None else None

    def default_duration_for(self, request: VideoRequest | None = None) -> int | None:
        """The seconds `request` gets when it gives no duration, as the estimate assumes them.

        `default_duration` when declared and allowed for the request's resolution and references, else the
        longest duration allowed for them (the dearest: a cost guard must not assume less than is made);
        None when the model advertises no durations. A plugin that always sends a duration sends this one, so
        the bill matches the estimate.
        """
        resolution = self.default_resolution if request is None else self.resolution_of(request)
        references = request is not None and bool(request.input_references)
        if resolution is None and self.durations_by_resolution:
            options = [self._unset_duration(r, references=references)[0] for r in self._possible_resolutions()]
            known = [d for d in options if d is not None]
            return max(known) if known else None
        return self._unset_duration(resolution, references=references)[0]

    def resolution_of(self, request: VideoRequest) -> str | None:
        """The resolution `request` is made at: its own; for a size, the model's resolution of that pixel height
        (its shorter side: 1920x1080 → 1080p, 3840x2160 → 4K); else `default_resolution`. None when unknown."""
        if request.resolution is not None:
            return request.resolution
        if request.size is not None:
            return self._size_resolution(request.size)
        return self.default_resolution

    def durations_at(self, resolution: str | None) -> tuple[int, ...] | None:
        """The only durations `resolution` allows (`durations_by_resolution`), or None when it ties none."""
        if resolution is None or not self.durations_by_resolution:
            return None
        wanted = normalize_resolution(resolution) or resolution
        for key, allowed in self.durations_by_resolution.items():
            if (normalize_resolution(key) or key) == wanted:
                return allowed
        return None

    def allowed_durations(self, request: VideoRequest) -> tuple[int, ...] | None:
        """The durations `request` may have: `durations`, narrowed by its resolution (`durations_by_resolution`)
        and, when it has input references, by `reference_durations`. None when nothing is advertised."""
        return self._allowed(self.resolution_of(request), references=bool(request.input_references))

    def _allowed(self, resolution: str | None, *, references: bool) -> tuple[int, ...] | None:
        allowed = self.durations
        limits = [self.durations_at(resolution), self.reference_durations if references else None]
        for limit in limits:
            if limit is not None:
                allowed = limit if allowed is None else tuple(d for d in allowed if d in limit)
        return allowed

    def _unset_duration(self, resolution: str | None, *, references: bool) -> tuple[int | None, bool]:
        """(seconds, whether they were assumed) for a request without a duration at `resolution`."""
        allowed = self._allowed(resolution, references=references)
        if self.default_duration is not None and (allowed is None or self.default_duration in allowed):
            return self.default_duration, False
        if not allowed:
            return None, False
        return max(allowed), len(allowed) > 1

    def _possible_resolutions(self) -> list[str | None]:
        """What an unset resolution could turn out to be: the advertised ones, else the tied ones or any other."""
        if self.resolutions:
            return list(self.resolutions)
        return [*(self.durations_by_resolution or {}), None]

    def _size_resolution(self, size: str) -> str | None:
        parts = size.strip().lower().split("x")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            return None
        height = float(min(int(parts[0]), int(parts[1])))
        for resolution in (*(self.resolutions or ()), *(self.durations_by_resolution or {})):
            if resolution_height(resolution) == height:
                return resolution
        return None


def _assuming(found: CostEstimate | None, fields: tuple[str, ...]) -> CostEstimate | None:
    """`found` with `fields` added to what it assumed."""
    if found is None or not fields:
        return found
    return found.model_copy(update={"assumed": (*found.assumed, *(f for f in fields if f not in found.assumed))})


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
