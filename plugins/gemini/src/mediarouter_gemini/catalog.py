"""The Veo models of the Gemini API, as data: what each accepts, and what it costs.

The Gemini API has no model listing with video capabilities, so this catalog is the only
source: validation, `mediarouter models` and the body builder all read it. Values follow
Google's Veo page (ai.google.dev/gemini-api/docs/video, "Veo API parameters and
specifications" and "Model features"); where Google's own pages disagree the stricter
reading is taken, and every such point is listed in docs/providers/gemini.md.

The Gemini API body always carries `durationSeconds`. Without a duration in the request the plugin
asks for the model's `default_duration` (its shortest, as it always has), or 8 s where Google
requires 8 s (1080p and 4K on Veo 3.1, reference images); the core's estimate prices the same one.
Google's default resolution is 720p (`default_resolution`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mediarouter import Capabilities, Modality, ModelInfo

from . import PROVIDER_NAME

__all__ = [
    "OPTIONS_KEY",
    "PASSTHROUGH_PARAMETERS",
    "MAX_REFERENCE_IMAGES",
    "SIZES",
    "GeminiModel",
    "CATALOG",
    "catalog_model",
    "catalog_model_infos",
]

#: The `provider_options` key this backend reads (`Capabilities.passthrough_slug` of every model, set by GeminiModel).
OPTIONS_KEY = PROVIDER_NAME

#: Parameters a caller may set through `provider_options={"gemini": {"parameters": {...}}}`.
PASSTHROUGH_PARAMETERS: tuple[str, ...] = ("negativePrompt", "personGeneration")

#: "Up to three images" (Google's Veo page, `referenceImages`).
MAX_REFERENCE_IMAGES = 3

#: Exact sizes a request may name instead of resolution + aspect ratio → (resolution, aspectRatio).
SIZES: dict[str, tuple[str, str]] = {
    "1280x720": ("720p", "16:9"),
    "720x1280": ("720p", "9:16"),
    "1920x1080": ("1080p", "16:9"),
    "1080x1920": ("1080p", "9:16"),
    "3840x2160": ("4K", "16:9"),
    "2160x3840": ("4K", "9:16"),
}


@dataclass(frozen=True)
class GeminiModel:
    """One Veo model: its mediarouter capabilities plus the wire rules the capabilities cannot express."""

    id: str
    name: str
    description: str
    capabilities: Capabilities
    #: `parameters.*` names this model takes on the Gemini API (anything else is never sent).
    parameters: frozenset[str]
    #: Allowed `personGeneration` values by mode: "text" (no input image) or "image" (any input image).
    person_generation: dict[str, tuple[str, ...]]
    #: Resolutions that Google allows only with an 8-second duration.
    eight_seconds_only: tuple[str, ...] = ()
    #: Reference images also force an 8-second duration.
    references_need_eight_seconds: bool = False
    #: Resolutions Google allows only in 16:9.
    landscape_only: tuple[str, ...] = ()
    #: Audio is always generated and cannot be turned off (no `generateAudio` on the Gemini API).
    audio_always_on: bool = False
    #: Google marks the model deprecated on its Veo page.
    deprecated: bool = False

    def __post_init__(self) -> None:
        """The passthrough slug is this backend's, set here once for every model: an entry cannot forget or
        misspell it (options under other slugs belong to other backends of a failover chain).

        Google's 8-second rules (`eight_seconds_only`, `references_need_eight_seconds`) become the core's
        `durations_by_resolution` and `reference_durations`, so validation, `fit='adjust'` and the estimate
        know them before any request; the plugin always sends a duration, and without one in the request it
        sends `Capabilities.default_duration_for(request)`, the duration the estimate priced."""
        caps = self.capabilities
        slug = caps.passthrough_slug
        if slug not in (None, OPTIONS_KEY):
            raise ValueError(f"{self.id}: passthrough_slug is always {OPTIONS_KEY!r} on this backend, not {slug!r}")
        fields = {**dict(caps), "passthrough_slug": OPTIONS_KEY}
        if self.eight_seconds_only:
            fields["durations_by_resolution"] = {resolution: (8,) for resolution in self.eight_seconds_only}
        if self.references_need_eight_seconds:
            fields["reference_durations"] = (8,)
        # Built anew (not model_copy) so the core checks the tied durations are the model's own.
        object.__setattr__(self, "capabilities", Capabilities(**fields))

    def info(self) -> ModelInfo:
        return ModelInfo(
            provider=PROVIDER_NAME,
            id=self.id,
            name=self.name,
            description=self.description,
            capabilities=self.capabilities,
            source="catalog",
        )


def _sizes(resolutions: tuple[str, ...], landscape_only: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(
        size
        for size, (resolution, aspect) in SIZES.items()
        if resolution in resolutions and not (resolution in landscape_only and aspect != "16:9")
    )


_VEO3_PARAMETERS = frozenset(
    {"aspectRatio", "durationSeconds", "resolution", "negativePrompt", "personGeneration", "seed"}
)
_VEO3_PEOPLE: dict[str, tuple[str, ...]] = {"text": ("allow_all",), "image": ("allow_adult",)}
_ASPECTS = ("16:9", "9:16")


def _veo31(model_id: str, name: str, description: str, price: str) -> GeminiModel:
    resolutions = ("720p", "1080p", "4K")
    return GeminiModel(
        id=model_id,
        name=name,
        description=description,
        capabilities=Capabilities(
            modalities=(Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO, Modality.REFERENCE_TO_VIDEO),
            durations=(4, 6, 8),
            resolutions=resolutions,
            aspect_ratios=_ASPECTS,
            sizes=_sizes(resolutions),
            frame_images=("first_frame", "last_frame"),
            reference_types=("image_url",),
            audio=True,
            seed=True,
            passthrough_parameters=PASSTHROUGH_PARAMETERS,
            prompt_required=False,
            price_per_second=Decimal(price),
            pricing={"per_second": price},
            default_resolution="720p",
            default_duration=4,
        ),
        parameters=_VEO3_PARAMETERS,
        person_generation=dict(_VEO3_PEOPLE),
        eight_seconds_only=("1080p", "4K"),
        references_need_eight_seconds=True,
        audio_always_on=True,
    )


def _veo30(model_id: str, name: str, description: str, price: str) -> GeminiModel:
    resolutions = ("720p", "1080p")
    return GeminiModel(
        id=model_id,
        name=name,
        description=description,
        capabilities=Capabilities(
            modalities=(Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO),
            # Google's feature table says "8 seconds"; its parameter table lists 4/6/8. The stricter wins.
            durations=(8,),
            resolutions=resolutions,
            aspect_ratios=_ASPECTS,
            sizes=_sizes(resolutions, landscape_only=("1080p",)),
            frame_images=("first_frame", "last_frame"),
            reference_types=None,
            audio=True,
            seed=True,
            passthrough_parameters=PASSTHROUGH_PARAMETERS,
            prompt_required=False,
            price_per_second=Decimal(price),
            pricing={"per_second": price},
            default_resolution="720p",
            default_duration=8,
        ),
        parameters=_VEO3_PARAMETERS,
        person_generation=dict(_VEO3_PEOPLE),
        landscape_only=("1080p",),
        audio_always_on=True,
        deprecated=True,
    )


CATALOG: tuple[GeminiModel, ...] = (
    _veo31(
        "veo-3.1-generate-preview",
        "Google: Veo 3.1 (preview)",
        "Veo 3.1: 4-8 s at 720p, 1080p or 4K with native audio; first/last frame and up to 3 reference images.",
        "0.40",
    ),
    _veo31(
        "veo-3.1-fast-generate-preview",
        "Google: Veo 3.1 Fast (preview)",
        "Veo 3.1 Fast: the faster, cheaper Veo 3.1; same inputs, native audio.",
        "0.15",
    ),
    _veo30(
        "veo-3.0-generate-001",
        "Google: Veo 3 (deprecated)",
        "Veo 3: 8 s at 720p or 1080p (16:9) with native audio. Deprecated by Google.",
        "0.40",
    ),
    _veo30(
        "veo-3.0-fast-generate-001",
        "Google: Veo 3 Fast (deprecated)",
        "Veo 3 Fast: the faster, cheaper Veo 3. Deprecated by Google.",
        "0.15",
    ),
    GeminiModel(
        id="veo-2.0-generate-001",
        name="Google: Veo 2 (deprecated)",
        description="Veo 2: 5-8 s silent 720p video from text or an image. Deprecated by Google.",
        capabilities=Capabilities(
            modalities=(Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO),
            durations=(5, 6, 8),
            resolutions=("720p",),
            aspect_ratios=_ASPECTS,
            sizes=_sizes(("720p",)),
            frame_images=("first_frame", "last_frame"),
            reference_types=None,
            audio=False,
            seed=False,
            passthrough_parameters=PASSTHROUGH_PARAMETERS,
            prompt_required=False,
            price_per_second=Decimal("0.35"),
            pricing={"per_second": "0.35"},
            default_resolution="720p",
            default_duration=5,
        ),
        # Veo 2 takes no `resolution` (it always renders 720p) and no `seed`.
        parameters=frozenset({"aspectRatio", "durationSeconds", "negativePrompt", "personGeneration"}),
        person_generation={
            "text": ("allow_all", "allow_adult", "dont_allow"),
            "image": ("allow_adult", "dont_allow"),
        },
        deprecated=True,
    ),
)

_BY_ID: dict[str, GeminiModel] = {model.id: model for model in CATALOG}


def catalog_model(model_id: str) -> GeminiModel | None:
    """The catalog entry for a model id (`models/` prefix allowed), or None when Google documents no such model."""
    return _BY_ID.get(model_id.removeprefix("models/"))


def catalog_model_infos() -> list[ModelInfo]:
    """Every catalog model as a mediarouter ModelInfo (provider "gemini", source "catalog")."""
    return [model.info() for model in CATALOG]
