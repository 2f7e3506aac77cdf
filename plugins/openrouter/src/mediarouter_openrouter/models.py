"""OpenRouter's model listing as mediarouter capabilities and prices (pure functions, tested directly)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from mediarouter import Capabilities, Modality, ModelInfo
from mediarouter.pricing import rules_from_skus

from .catalog import CATALOG
from .wire import VideoModel

__all__ = ["PROVIDER_NAME", "bare_model_id", "catalog_model_infos", "model_info", "price_per_second"]

PROVIDER_NAME = "openrouter"


def bare_model_id(model_id: str) -> str:
    """`openrouter/google/veo-3.1` → `google/veo-3.1`; OpenRouter's own ids never start with our name."""
    text = model_id.strip()
    prefix = f"{PROVIDER_NAME}/"
    return text[len(prefix) :] if text.startswith(prefix) else text


def price_per_second(pricing: Mapping[str, str] | None) -> Decimal | None:
    """The highest per-second SKU: cost guards should see the dearest way the model can bill."""
    best: Decimal | None = None
    for key, raw in (pricing or {}).items():
        if "second" not in key.lower():
            continue
        try:
            price = Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            continue
        if not price.is_finite() or price < 0:
            continue
        if best is None or price > best:
            best = price
    return best


def _as_tuple(values: list[Any] | None) -> tuple[Any, ...] | None:
    return None if values is None else tuple(values)


def model_info(model: VideoModel, *, source: str) -> ModelInfo:
    """Wire model → ModelInfo. Null lists stay None ("not advertised"), so they never block a request."""
    frames = _as_tuple(model.supported_frame_images)
    modalities = [Modality.TEXT_TO_VIDEO]
    # An empty list says "no frame images"; null only says nothing, so it must not forbid them.
    if frames is None or frames:
        modalities.append(Modality.IMAGE_TO_VIDEO)
    modalities.append(Modality.REFERENCE_TO_VIDEO)  # every OpenRouter provider honours image references
    capabilities = Capabilities(
        modalities=tuple(modalities),
        durations=_as_tuple(model.supported_durations),
        resolutions=_as_tuple(model.supported_resolutions),
        aspect_ratios=_as_tuple(model.supported_aspect_ratios),
        sizes=_as_tuple(model.supported_sizes),
        frame_images=frames,
        reference_types=None,
        audio=model.generate_audio,
        seed=model.seed,
        passthrough_parameters=_as_tuple(model.allowed_passthrough_parameters),
        price_per_second=price_per_second(model.pricing_skus),
        prices=rules_from_skus(model.pricing_skus),
        # OpenRouter: an omitted generate_audio defaults to the endpoint's capability (the SDK's rule).
        default_audio=bool(model.generate_audio) if model.generate_audio is not None else None,
        pricing=dict(model.pricing_skus) if model.pricing_skus is not None else None,
    )
    return ModelInfo(
        provider=PROVIDER_NAME,
        id=model.id,
        name=model.name,
        description=model.description,
        capabilities=capabilities,
        source=source,
    )


@cache
def _catalog_infos() -> tuple[ModelInfo, ...]:
    return tuple(model_info(VideoModel.model_validate(entry), source="catalog") for entry in CATALOG)


def catalog_model_infos() -> list[ModelInfo]:
    """The built-in catalog as ModelInfo (`source="catalog"`), for when the live listing is unreachable."""
    return list(_catalog_infos())
