"""Built-in catalog of fal video models: what each can do, and how its input is spelled.

fal has no listing endpoint with capabilities the way OpenRouter's `/videos/models` has,
and every model names its inputs differently (`duration: "8s"` on Veo 3, `"5"` on Kling,
a frame count on Wan; the last frame is `end_image_url` on Hailuo …). So both facts live
here as data: `Capabilities` for validation, docs and the CLI, and an `InputMapping` that
`inputs.build_input` follows. Values come from each model's page on fal.ai (its llms.txt)
as read for docs/providers/fal.md; entries say in `sources` which facts were not on the
model's own page. `price_per_second` is the price at fal's default settings (audio on for
Veo 3, 720p for Wan, 540p for Luma, 768p for Hailuo); `pricing` keeps the published rates.
An empty tuple (`sizes=()`, Kling's `resolutions=()`) says the model has no such input at all,
so core validation refuses it before submit; Veo 3's `prices` price audio on and off apart.
Each entry's `InputMapping.default_duration` (what fal makes when no duration is sent) becomes its
`Capabilities.default_duration`, which is what an estimate without a duration prices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from mediarouter import Capabilities, Modality, ModelInfo
from mediarouter.pricing import PriceRule

from . import PROVIDER_NAME

__all__ = [
    "OPTIONS_KEY",
    "DurationStyle",
    "InputMapping",
    "GENERIC_INPUTS",
    "FalModel",
    "CATALOG",
    "catalog_entry",
    "catalog_model_infos",
]

#: The key under `provider_options` whose `parameters` are copied into the fal input: the
#: `Capabilities.passthrough_slug` of every catalog model (FalModel sets it).
OPTIONS_KEY = PROVIDER_NAME

T2V = (Modality.TEXT_TO_VIDEO,)
I2V = (Modality.IMAGE_TO_VIDEO,)


class DurationStyle(StrEnum):
    """How a model spells a duration of N seconds."""

    SECONDS_SUFFIX = "seconds_suffix"  # "8s"
    STRING = "string"  # "5"
    INTEGER = "integer"  # 5
    FRAMES = "frames"  # a frame count: N x frames_per_second + 1


@dataclass(frozen=True)
class InputMapping:
    """Where each `VideoRequest` field goes in a model's fal input. `None` means the model has no such input."""

    duration: DurationStyle | None = DurationStyle.STRING
    duration_field: str = "duration"
    #: For DurationStyle.FRAMES: the model's default frame rate, used to turn seconds into frames.
    frames_per_second: int = 16
    #: For DurationStyle.FRAMES: the frame counts the model accepts (fal refuses others with a 422 once queued).
    frames_range: tuple[int, int] | None = None
    #: The duration fal uses when none is sent; FalModel copies it into `Capabilities.default_duration`, so the
    #: estimate prices it (None: unknown, and the estimate assumes the longest duration).
    default_duration: int | None = None
    resolution_field: str | None = "resolution"
    #: mediarouter spelling → wire spelling, when they differ ("768p" → "768P").
    resolution_values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    aspect_ratio_field: str | None = "aspect_ratio"
    generate_audio_field: str | None = None
    seed_field: str | None = None
    first_frame_field: str | None = None
    last_frame_field: str | None = None
    requires_first_frame: bool = False


#: For a model id not in the catalog: the names most fal video models use, duration as "5".
GENERIC_INPUTS = InputMapping(
    generate_audio_field="generate_audio",
    seed_field="seed",
    first_frame_field="image_url",
    last_frame_field="end_image_url",
)


@dataclass(frozen=True)
class FalModel:
    """One catalog entry."""

    id: str
    name: str
    description: str
    capabilities: Capabilities
    inputs: InputMapping
    #: Where the facts come from, and which ones were not on the model's own fal page.
    sources: str = ""

    def __post_init__(self) -> None:
        """The passthrough slug is fal's, set here once for every entry: none can forget or misspell it
        (options under other slugs belong to other backends of a failover chain). The default duration is the
        input mapping's: fal makes it when none is sent (the body omits unset fields), so the core's estimate
        and cost guards must price it, not the shortest duration."""
        caps = self.capabilities
        slug = caps.passthrough_slug
        if slug not in (None, OPTIONS_KEY):
            raise ValueError(f"{self.id}: passthrough_slug is always {OPTIONS_KEY!r} on fal, not {slug!r}")
        default = self.inputs.default_duration
        if caps.default_duration not in (None, default):
            raise ValueError(
                f"{self.id}: default_duration is the input mapping's ({default}), not {caps.default_duration}"
            )
        # Built anew (not model_copy) so the core checks the default is one of the model's durations.
        fields = {**dict(caps), "passthrough_slug": OPTIONS_KEY, "default_duration": default}
        object.__setattr__(self, "capabilities", Capabilities(**fields))

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            provider=PROVIDER_NAME,
            id=self.id,
            name=self.name,
            description=self.description,
            capabilities=self.capabilities,
            source="catalog",
        )


def _seconds(*values: int) -> tuple[int, ...]:
    return tuple(values)


_VEO3_INPUTS = InputMapping(
    duration=DurationStyle.SECONDS_SUFFIX,
    default_duration=8,
    generate_audio_field="generate_audio",
    seed_field="seed",
)

_KLING_21_PRICING = {"per_second": "0.28", "per_5_seconds": "1.40"}

CATALOG: tuple[FalModel, ...] = (
    FalModel(
        id="fal-ai/veo3",
        name="Google Veo 3 (fal)",
        description="Google's Veo 3 text-to-video with native audio, 720p/1080p.",
        capabilities=Capabilities(
            modalities=T2V,
            durations=_seconds(4, 6, 8),
            resolutions=("720p", "1080p"),
            aspect_ratios=("16:9", "9:16"),
            audio=True,
            seed=True,
            passthrough_parameters=("negative_prompt", "auto_fix"),
            sizes=(),
            prompt_required=True,
            price_per_second=Decimal("0.40"),
            prices=(
                PriceRule(price_per_second=Decimal("0.40"), audio=True),
                PriceRule(price_per_second=Decimal("0.20"), audio=False),
            ),
            default_audio=True,
            pricing={"per_second": "0.40", "per_second_audio_off": "0.20"},
        ),
        inputs=_VEO3_INPUTS,
        sources="fal.ai/models/fal-ai/veo3/llms.txt",
    ),
    FalModel(
        id="fal-ai/veo3/fast",
        name="Google Veo 3 Fast (fal)",
        description="The faster, cheaper Veo 3 endpoint, text-to-video with audio.",
        capabilities=Capabilities(
            modalities=T2V,
            durations=_seconds(4, 6, 8),
            resolutions=("720p", "1080p"),
            aspect_ratios=("16:9", "9:16"),
            audio=True,
            seed=True,
            passthrough_parameters=("negative_prompt", "auto_fix"),
            sizes=(),
            prompt_required=True,
            price_per_second=Decimal("0.15"),
            prices=(
                PriceRule(price_per_second=Decimal("0.15"), audio=True),
                PriceRule(price_per_second=Decimal("0.10"), audio=False),
            ),
            default_audio=True,
            pricing={"per_second": "0.15", "per_second_audio_off": "0.10"},
        ),
        inputs=_VEO3_INPUTS,
        sources=(
            "schema assumed equal to fal-ai/veo3 (its own page was not read); price from fal's Veo3 developer "
            "guide ($0.10-$0.15/s)"
        ),
    ),
    FalModel(
        id="fal-ai/kling-video/v2.1/master/text-to-video",
        name="Kling 2.1 Master text-to-video (fal)",
        description="Kling 2.1 Master, the premium Kling 2.1 endpoint, 5 or 10 seconds.",
        capabilities=Capabilities(
            modalities=T2V,
            durations=_seconds(5, 10),
            resolutions=(),
            aspect_ratios=("16:9", "9:16", "1:1"),
            audio=False,
            seed=False,
            passthrough_parameters=("negative_prompt", "cfg_scale"),
            sizes=(),
            prompt_required=True,
            price_per_second=Decimal("0.28"),
            pricing=_KLING_21_PRICING,
        ),
        inputs=InputMapping(default_duration=5, resolution_field=None),
        sources="fal.ai/models/fal-ai/kling-video/v2.1/master/text-to-video/llms.txt",
    ),
    FalModel(
        id="fal-ai/kling-video/v2.1/master/image-to-video",
        name="Kling 2.1 Master image-to-video (fal)",
        description="Kling 2.1 Master animating a first-frame image, 5 or 10 seconds.",
        capabilities=Capabilities(
            modalities=I2V,
            durations=_seconds(5, 10),
            resolutions=(),
            aspect_ratios=(),
            frame_images=("first_frame",),
            audio=False,
            seed=False,
            passthrough_parameters=("negative_prompt", "cfg_scale"),
            sizes=(),
            prompt_required=True,
            price_per_second=Decimal("0.28"),
            pricing=_KLING_21_PRICING,
        ),
        inputs=InputMapping(
            default_duration=5,
            resolution_field=None,
            aspect_ratio_field=None,
            first_frame_field="image_url",
            requires_first_frame=True,
        ),
        sources=(
            "fal.ai/models/fal-ai/kling-video/v2.1/master/image-to-video/llms.txt (no last-frame input listed; "
            "older Kling endpoints call it tail_image_url)"
        ),
    ),
    FalModel(
        id="fal-ai/wan/v2.2-a14b/text-to-video",
        name="Wan 2.2 A14B text-to-video (fal)",
        description="Alibaba's open Wan 2.2 (14B), 480p-720p; length set as a frame count at 16 fps.",
        capabilities=Capabilities(
            modalities=T2V,
            durations=_seconds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
            resolutions=("480p", "580p", "720p"),
            aspect_ratios=("16:9", "9:16", "1:1"),
            audio=False,
            seed=True,
            sizes=(),
            prompt_required=True,
            price_per_second=Decimal("0.08"),
            pricing={"per_second_720p": "0.08", "per_second_580p": "0.06", "per_second_480p": "0.04"},
        ),
        inputs=InputMapping(
            duration=DurationStyle.FRAMES,
            duration_field="num_frames",
            frames_per_second=16,
            frames_range=(17, 161),
            default_duration=5,
            seed_field="seed",
        ),
        sources=(
            "num_frames 17-161 and frames_per_second 16 from the Wan 2.2 A14B pages on fal; resolutions, aspect "
            "ratios and prices read on the image-to-video siblings, not on the text-to-video page"
        ),
    ),
    FalModel(
        id="fal-ai/minimax/hailuo-02/standard/text-to-video",
        name="MiniMax Hailuo 02 Standard text-to-video (fal)",
        description="MiniMax Hailuo-02 at 768p, 6 or 10 seconds.",
        capabilities=Capabilities(
            modalities=T2V,
            durations=_seconds(6, 10),
            resolutions=("768p",),
            aspect_ratios=(),
            audio=False,
            seed=False,
            passthrough_parameters=("prompt_optimizer",),
            sizes=(),
            prompt_required=True,
            price_per_second=Decimal("0.045"),
            pricing={"per_second": "0.045"},
        ),
        inputs=InputMapping(default_duration=6, resolution_field=None, aspect_ratio_field=None),
        sources=(
            "inputs from fal's Hailuo-02 pages (768p fixed, prompt_optimizer, duration '6'/'10'); the per-second "
            "price was read on the image-to-video sibling"
        ),
    ),
    FalModel(
        id="fal-ai/minimax/hailuo-02/standard/image-to-video",
        name="MiniMax Hailuo 02 Standard image-to-video (fal)",
        description="MiniMax Hailuo-02 from a first frame (and optionally a last frame), 512p or 768p.",
        capabilities=Capabilities(
            modalities=I2V,
            durations=_seconds(6, 10),
            resolutions=("512p", "768p"),
            aspect_ratios=(),
            frame_images=("first_frame", "last_frame"),
            audio=False,
            seed=False,
            passthrough_parameters=("prompt_optimizer",),
            sizes=(),
            prompt_required=True,
            price_per_second=Decimal("0.045"),
            pricing={"per_second_768p": "0.045", "per_second_512p": "0.017"},
        ),
        inputs=InputMapping(
            default_duration=6,
            resolution_values=MappingProxyType({"512p": "512P", "768p": "768P"}),
            aspect_ratio_field=None,
            first_frame_field="image_url",
            last_frame_field="end_image_url",
            requires_first_frame=True,
        ),
        sources="fal.ai/models/fal-ai/minimax/hailuo-02/standard/image-to-video/llms.txt",
    ),
    FalModel(
        id="fal-ai/bytedance/seedance/v1/pro/text-to-video",
        name="ByteDance Seedance 1.0 Pro text-to-video (fal)",
        description="ByteDance's Seedance 1.0 Pro, 2-12 seconds up to 1080p.",
        capabilities=Capabilities(
            modalities=T2V,
            durations=_seconds(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12),
            resolutions=("480p", "720p", "1080p"),
            aspect_ratios=("21:9", "16:9", "4:3", "1:1", "3:4", "9:16"),
            audio=False,
            seed=True,
            passthrough_parameters=("camera_fixed", "enable_safety_checker"),
            sizes=(),
            prompt_required=True,
            price_per_second=None,
            pricing={"per_million_video_tokens": "token-based; tokens = width x height x fps x seconds / 1024"},
        ),
        inputs=InputMapping(default_duration=5, seed_field="seed"),
        sources=(
            "fal.ai/docs model API reference for bytedance-seedance-v1-pro-text-to-video; billed per video token, "
            "so no flat per-second price"
        ),
    ),
    FalModel(
        id="fal-ai/luma-dream-machine/ray-2",
        name="Luma Ray 2 text-to-video (fal)",
        description="Luma's Ray 2, 5 or 9 seconds, 540p-1080p, optional seamless loop.",
        capabilities=Capabilities(
            modalities=T2V,
            durations=_seconds(5, 9),
            resolutions=("540p", "720p", "1080p"),
            aspect_ratios=("16:9", "9:16", "4:3", "3:4", "21:9", "9:21"),
            audio=False,
            seed=False,
            passthrough_parameters=("loop",),
            sizes=(),
            prompt_required=True,
            # Billed per 5 s unit ($0.50 at 540p; 720p 2x, 1080p 4x; 9 s counts 2 units): per second that is
            # at most $1.00 / 9 s at 540p, the rate used, so a 9 s video is never under-estimated (a 5 s one
            # is estimated ~11 % high).
            prices=(
                PriceRule(price_per_second=Decimal("0.1112"), resolution="540p"),
                PriceRule(price_per_second=Decimal("0.2223"), resolution="720p"),
                PriceRule(price_per_second=Decimal("0.4445"), resolution="1080p"),
            ),
            pricing={
                "per_5_seconds_540p": "0.50",
                "multiplier_720p": "2",
                "multiplier_1080p": "4",
                "multiplier_9s": "2",
            },
        ),
        inputs=InputMapping(duration=DurationStyle.SECONDS_SUFFIX, default_duration=5),
        sources=(
            "fal's Ray 2 playground page ($0.50 per 5 s at 540p; 720p 2x, 1080p 4x; 9 s 2x); inputs as on the "
            "Ray 2 Flash page, which has the same schema"
        ),
    ),
)

_BY_ID: Mapping[str, FalModel] = MappingProxyType({model.id: model for model in CATALOG})


def catalog_entry(model_id: str) -> FalModel | None:
    """The catalog entry of a fal model id, or None for a model the catalog does not know."""
    return _BY_ID.get(model_id)


def catalog_model_infos() -> list[ModelInfo]:
    """Every catalog model as a `ModelInfo` (provider "fal", source "catalog")."""
    return [model.model_info() for model in CATALOG]
