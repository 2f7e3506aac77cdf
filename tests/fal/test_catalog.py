"""The catalog: at least six popular fal video models, consistent with their own input mapping."""

from __future__ import annotations

import pytest
from mediarouter_fal.catalog import CATALOG, DurationStyle, catalog_entry, catalog_model_infos
from mediarouter_fal.inputs import build_input
from mediarouter_fal.urls import app_id

from mediarouter import Modality, VideoRequest, validate_request

IDS = [model.id for model in CATALOG]


def test_the_catalog_has_at_least_six_video_models_of_both_kinds() -> None:
    modalities = {m for model in CATALOG for m in model.capabilities.modalities or ()}
    assert len(CATALOG) >= 6
    assert {Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO} <= modalities
    assert len(set(IDS)) == len(IDS)


def test_model_infos_are_fal_catalog_entries_with_fal_refs() -> None:
    infos = catalog_model_infos()
    assert [info.id for info in infos] == IDS
    assert {info.provider for info in infos} == {"fal"}
    assert {info.source for info in infos} == {"catalog"}
    assert infos[0].ref == "fal/fal-ai/veo3"


def test_catalog_entry_finds_known_ids_and_nothing_else() -> None:
    assert catalog_entry("fal-ai/veo3") is CATALOG[0]
    assert catalog_entry("fal-ai/veo3/") is None
    assert catalog_entry("fal-ai/not-a-model") is None


@pytest.mark.parametrize("model_id", IDS)
def test_every_id_is_a_valid_fal_model_id(model_id: str) -> None:
    assert app_id(model_id).count("/") == 1


@pytest.mark.parametrize("model", CATALOG, ids=IDS)
def test_every_advertised_duration_maps_and_the_default_is_one_of_them(model) -> None:  # type: ignore[no-untyped-def]
    caps = model.capabilities
    assert caps.durations
    assert model.inputs.default_duration in caps.durations
    for seconds in caps.durations:
        request = VideoRequest(prompt="p", duration=seconds, image_url=_frame(model))
        validate_request(request, caps, model=model.id, provider="fal")
        assert model.inputs.duration_field in build_input(model.id, request)


@pytest.mark.parametrize("model", CATALOG, ids=IDS)
def test_every_advertised_resolution_and_aspect_ratio_is_accepted_by_the_mapping(model) -> None:  # type: ignore[no-untyped-def]
    caps = model.capabilities
    for resolution in caps.resolutions or ():
        build_input(model.id, VideoRequest(prompt="p", resolution=resolution, image_url=_frame(model)))
    for ratio in caps.aspect_ratios or ():
        assert (
            build_input(model.id, VideoRequest(prompt="p", aspect_ratio=ratio, image_url=_frame(model)))["aspect_ratio"]
            == ratio
        )


@pytest.mark.parametrize("model", CATALOG, ids=IDS)
def test_audio_and_seed_capabilities_match_the_inputs_that_carry_them(model) -> None:  # type: ignore[no-untyped-def]
    caps, inputs = model.capabilities, model.inputs
    assert caps.audio is (inputs.generate_audio_field is not None)
    assert caps.seed is (inputs.seed_field is not None)
    assert (Modality.IMAGE_TO_VIDEO in (caps.modalities or ())) is (inputs.first_frame_field is not None)
    assert ("last_frame" in (caps.frame_images or ())) is (inputs.last_frame_field is not None)


@pytest.mark.parametrize("model", CATALOG, ids=IDS)
def test_a_published_flat_price_gives_an_estimate_and_token_pricing_gives_none(model) -> None:  # type: ignore[no-untyped-def]
    caps = model.capabilities
    assert caps.pricing, "every entry records what fal publishes"
    estimate = caps.estimate_cost(model.inputs.default_duration)
    if caps.price_per_second is None:
        assert estimate is None
    else:
        assert estimate == caps.price_per_second * model.inputs.default_duration


def test_veo3_costs_what_fal_publishes_for_an_eight_second_clip_with_audio() -> None:
    veo3 = catalog_entry("fal-ai/veo3")
    assert veo3 is not None and veo3.inputs.duration is DurationStyle.SECONDS_SUFFIX
    assert str(veo3.capabilities.estimate_cost(8)) == "3.20"


def _frame(model) -> str | None:  # type: ignore[no-untyped-def]
    return "https://example.com/first.png" if model.inputs.requires_first_frame else None
