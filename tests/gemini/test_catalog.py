"""The catalog: the five Veo models Google documents, as data the core can validate against."""

from __future__ import annotations

from decimal import Decimal

import pytest
from mediarouter_gemini.catalog import (
    CATALOG,
    PASSTHROUGH_PARAMETERS,
    SIZES,
    GeminiModel,
    catalog_model,
    catalog_model_infos,
)

from mediarouter import Modality
from mediarouter.capabilities import ASPECT_RATIOS, FRAME_TYPES, RESOLUTIONS

DOCUMENTED = {
    "veo-3.1-generate-preview",
    "veo-3.1-fast-generate-preview",
    "veo-3.0-generate-001",
    "veo-3.0-fast-generate-001",
    "veo-2.0-generate-001",
}


def test_the_catalog_holds_exactly_the_documented_models_as_gemini_catalog_infos() -> None:
    infos = catalog_model_infos()
    assert {info.id for info in infos} == DOCUMENTED
    assert {info.provider for info in infos} == {"gemini"}
    assert {info.source for info in infos} == {"catalog"}
    assert {info.ref for info in infos} == {f"gemini/{m}" for m in DOCUMENTED}


@pytest.mark.parametrize("model", CATALOG, ids=lambda m: m.id)
def test_every_model_uses_only_known_enum_values_and_has_a_price(model: GeminiModel) -> None:
    caps = model.capabilities
    assert set(caps.resolutions or ()) <= set(RESOLUTIONS)
    assert set(caps.aspect_ratios or ()) <= set(ASPECT_RATIOS)
    assert set(caps.frame_images or ()) <= set(FRAME_TYPES)
    assert set(caps.sizes or ()) <= set(SIZES)
    assert caps.price_per_second is not None and caps.price_per_second > 0
    assert caps.passthrough_parameters == PASSTHROUGH_PARAMETERS
    assert set(model.person_generation) == {"text", "image"}


def test_only_veo_3_1_models_take_reference_images() -> None:
    with_refs = {m.id for m in CATALOG if Modality.REFERENCE_TO_VIDEO in (m.capabilities.modalities or ())}
    assert with_refs == {"veo-3.1-generate-preview", "veo-3.1-fast-generate-preview"}


def test_veo_2_is_silent_takes_no_seed_and_no_resolution_parameter() -> None:
    veo2 = catalog_model("veo-2.0-generate-001")
    assert veo2 is not None
    assert veo2.capabilities.audio is False and veo2.capabilities.seed is False
    assert "resolution" not in veo2.parameters and "seed" not in veo2.parameters
    assert veo2.capabilities.durations == (5, 6, 8)


def test_4k_is_offered_only_on_veo_3_1_and_only_for_8_seconds() -> None:
    for model in CATALOG:
        has_4k = "4K" in (model.capabilities.resolutions or ())
        assert has_4k == model.id.startswith("veo-3.1")
        if has_4k:
            assert "4K" in model.eight_seconds_only


def test_the_estimate_for_a_default_request_is_the_shortest_duration_times_the_price() -> None:
    veo31 = catalog_model("veo-3.1-generate-preview")
    assert veo31 is not None
    assert veo31.capabilities.estimate_cost(None) == Decimal("0.40") * 4


def test_a_models_prefix_is_accepted_and_unknown_models_are_none() -> None:
    assert catalog_model("models/veo-3.1-generate-preview") is catalog_model("veo-3.1-generate-preview")
    assert catalog_model("veo-9-imaginary") is None
