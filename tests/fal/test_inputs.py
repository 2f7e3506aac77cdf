"""Request → fal input, per model; fal's 422 → InvalidRequest naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mediarouter_fal.catalog import CATALOG, catalog_entry
from mediarouter_fal.inputs import build_input, validation_error

from mediarouter import CapabilityMismatch, InvalidRequest, VideoRequest, validate_request

KLING_T2V = "fal-ai/kling-video/v2.1/master/text-to-video"
KLING_I2V = "fal-ai/kling-video/v2.1/master/image-to-video"
WAN = "fal-ai/wan/v2.2-a14b/text-to-video"
HAILUO_T2V = "fal-ai/minimax/hailuo-02/standard/text-to-video"
HAILUO_I2V = "fal-ai/minimax/hailuo-02/standard/image-to-video"
SEEDANCE = "fal-ai/bytedance/seedance/v1/pro/text-to-video"
LUMA = "fal-ai/luma-dream-machine/ray-2"
IMG = "https://example.com/first.png"
END = "https://example.com/last.png"


def fal(**parameters: Any) -> dict[str, Any]:
    return {"fal": {"parameters": parameters}}


@pytest.mark.parametrize(
    ("model_id", "fields", "expected"),
    [
        (
            "fal-ai/veo3",
            {"duration": 8, "resolution": "1080p", "aspect_ratio": "9:16", "generate_audio": False, "seed": 7},
            {"duration": "8s", "resolution": "1080p", "aspect_ratio": "9:16", "generate_audio": False, "seed": 7},
        ),
        ("fal-ai/veo3/fast", {"duration": 4}, {"duration": "4s"}),
        (KLING_T2V, {"duration": 10, "aspect_ratio": "1:1"}, {"duration": "10", "aspect_ratio": "1:1"}),
        (KLING_I2V, {"duration": 5, "image_url": IMG}, {"duration": "5", "image_url": IMG}),
        (WAN, {"duration": 5, "resolution": "580p", "seed": 1}, {"num_frames": 81, "resolution": "580p", "seed": 1}),
        (HAILUO_T2V, {"duration": 6, "resolution": "768p"}, {"duration": "6"}),
        (
            HAILUO_I2V,
            {
                "duration": 10,
                "resolution": "512p",
                "image_url": IMG,
                "frame_images": [{"image_url": {"url": END}, "frame_type": "last_frame"}],
            },
            {"duration": "10", "resolution": "512P", "image_url": IMG, "end_image_url": END},
        ),
        (
            SEEDANCE,
            {"duration": 12, "aspect_ratio": "21:9", "seed": 3},
            {"duration": "12", "aspect_ratio": "21:9", "seed": 3},
        ),
        (LUMA, {"duration": 9, "resolution": "540p"}, {"duration": "9s", "resolution": "540p"}),
    ],
)
def test_each_model_gets_its_own_spelling_of_the_request(
    model_id: str, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert build_input(model_id, VideoRequest(prompt="A fox", **fields)) == {"prompt": "A fox", **expected}


@pytest.mark.parametrize("model", CATALOG, ids=[m.id for m in CATALOG])
def test_unset_fields_are_omitted_so_fal_applies_the_model_defaults(model) -> None:  # type: ignore[no-untyped-def]
    image = IMG if model.inputs.requires_first_frame else None
    body = build_input(model.id, VideoRequest(prompt="A fox", image_url=image))
    assert body == {"prompt": "A fox", **({"image_url": IMG} if image else {})}


def test_wan_duration_becomes_a_frame_count_at_the_frame_rate_given() -> None:
    body = build_input(WAN, VideoRequest(prompt="p", duration=10))
    assert body["num_frames"] == 161
    body = build_input(WAN, VideoRequest(prompt="p", duration=2, provider_options=fal(frames_per_second=24)))
    assert (body["num_frames"], body["frames_per_second"]) == (49, 24)


@pytest.mark.parametrize(("seconds", "fps"), [(10, 24), (7, 24), (1, 4)])
def test_wan_refuses_a_frame_count_outside_fals_range_before_anything_is_sent(seconds: int, fps: int) -> None:
    """fal takes 17-161 frames whatever the frame rate: 10 s at 24 fps (241) would be a 422 once queued."""
    with pytest.raises(CapabilityMismatch) as raised:
        build_input(WAN, VideoRequest(prompt="p", duration=seconds, provider_options=fal(frames_per_second=fps)))
    assert raised.value.field == "duration" and "17 to 161 frames" in raised.value.message
    if fps == 24:
        assert raised.value.supported == [1, 2, 3, 4, 5, 6] and "1s to 6s" in raised.value.message


def test_an_unknown_model_gets_the_generic_mapping() -> None:
    request = VideoRequest(
        prompt="p",
        duration=5,
        resolution="720p",
        aspect_ratio="16:9",
        generate_audio=True,
        seed=9,
        image_url=IMG,
        frame_images=[{"image_url": {"url": END}, "frame_type": "last_frame"}],
        provider_options=fal(anything_goes=1),
    )
    assert build_input("someone/new-video-model/v1", request) == {
        "prompt": "p",
        "duration": "5",
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "generate_audio": True,
        "seed": 9,
        "image_url": IMG,
        "end_image_url": END,
        "anything_goes": 1,
    }


def test_passthrough_parameters_are_copied_and_other_providers_options_ignored() -> None:
    request = VideoRequest(
        prompt="p", provider_options={**fal(negative_prompt="blur", cfg_scale=0.7), "openrouter": {"x": 1}}
    )
    assert build_input(KLING_T2V, request) == {"prompt": "p", "negative_prompt": "blur", "cfg_scale": 0.7}


def test_core_validation_checks_only_the_fal_slug() -> None:
    """Options for another backend of a failover chain are not fal's to refuse; fal's own still are."""
    entry = catalog_entry(KLING_T2V)
    assert entry is not None
    caps = entry.capabilities
    assert caps.passthrough_slug == "fal"
    others = {"gemini": {"parameters": {"negativePrompt": "x"}}, "google-vertex": {"parameters": {"enhancePrompt": 1}}}
    request = VideoRequest(prompt="p", provider_options={**fal(negative_prompt="blur"), **others})
    validate_request(request, caps, model=KLING_T2V, provider="fal")
    assert build_input(KLING_T2V, request) == {"prompt": "p", "negative_prompt": "blur"}
    with pytest.raises(CapabilityMismatch) as caught:
        validate_request(
            VideoRequest(prompt="p", provider_options=fal(loop=True)), caps, model=KLING_T2V, provider="fal"
        )
    assert caught.value.field == "provider_options.fal.parameters"
    assert caught.value.supported == ["cfg_scale", "negative_prompt"]


def test_a_passthrough_parameter_the_model_does_not_take_is_refused_listing_the_supported_ones() -> None:
    with pytest.raises(CapabilityMismatch, match=r"loop is not an input of .*supported: negative_prompt, cfg_scale"):
        build_input(KLING_T2V, VideoRequest(prompt="p", provider_options=fal(loop=True)))


def test_a_passthrough_parameter_may_not_overwrite_a_request_field() -> None:
    request = VideoRequest(prompt="p", duration=5, provider_options=fal(duration="10"))
    with pytest.raises(InvalidRequest, match=r"parameters\.duration would overwrite"):
        build_input("someone/new-model", request)


@pytest.mark.parametrize("options", [{"fal": "x"}, {"fal": {"params": {}}}, {"fal": {"parameters": [1]}}])
def test_malformed_fal_options_are_refused_with_the_expected_shape(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match=r"provider_options\.fal"):
        build_input(KLING_T2V, VideoRequest(prompt="p", provider_options=options))


@pytest.mark.parametrize(
    ("model_id", "fields", "field"),
    [
        (KLING_T2V, {"resolution": "1080p"}, "resolution"),
        (HAILUO_T2V, {"resolution": "1080p"}, "resolution"),
        (KLING_I2V, {"aspect_ratio": "16:9", "image_url": IMG}, "aspect_ratio"),
        (KLING_T2V, {"seed": 1}, "seed"),
        (KLING_T2V, {"generate_audio": True}, "generate_audio"),
        (KLING_T2V, {"image_url": IMG}, "frame_images.frame_type"),
        (
            KLING_I2V,
            {"frame_images": [{"image_url": {"url": IMG}, "frame_type": "last_frame"}]},
            "frame_images.frame_type",
        ),
        (KLING_I2V, {}, "image_url"),
        ("fal-ai/veo3", {"size": "1280x720"}, "size"),
        ("fal-ai/veo3", {"input_references": [{"type": "image_url", "image_url": {"url": IMG}}]}, "input_references"),
    ],
)
def test_a_field_the_model_has_no_input_for_is_refused_before_submit_naming_it(
    model_id: str, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(CapabilityMismatch) as info:
        build_input(model_id, VideoRequest(prompt="p", **fields))
    assert info.value.field == field
    assert info.value.provider == "fal" and info.value.model == model_id


def test_audio_off_is_fine_for_a_model_without_audio() -> None:
    assert build_input(KLING_T2V, VideoRequest(prompt="p", generate_audio=False)) == {"prompt": "p"}


def test_metadata_fields_and_the_callback_are_not_part_of_the_input() -> None:
    request = VideoRequest(prompt="p", user="u", session_id="s", trace={"a": 1}, callback_url="https://me/hook")
    assert build_input("fal-ai/veo3", request) == {"prompt": "p"}


@given(seconds=st.integers(min_value=1, max_value=600))
def test_duration_spellings_round_trip_to_the_seconds_asked(seconds: int) -> None:
    veo = build_input("fal-ai/veo3", VideoRequest(prompt="p", duration=seconds))["duration"]
    kling = build_input(KLING_T2V, VideoRequest(prompt="p", duration=seconds))["duration"]
    wan = min(seconds, 10)  # fal takes 17-161 frames: 1-10 s at Wan's 16 fps
    frames = build_input(WAN, VideoRequest(prompt="p", duration=wan))["num_frames"]
    assert (int(veo.removesuffix("s")), int(kling), (frames - 1) // 16) == (seconds, seconds, wan)
    assert veo.endswith("s") and isinstance(kling, str) and isinstance(frames, int)


def _detail(*entries: tuple[list[Any], str, str]) -> bytes:
    return json.dumps({"detail": [{"loc": loc, "msg": msg, "type": kind} for loc, msg, kind in entries]}).encode()


def test_a_422_names_the_field_and_lists_what_the_model_accepts() -> None:
    body = _detail((["body", "duration"], "Input should be '5' or '10'", "enum"))
    error = validation_error(body, model=KLING_T2V, job_id="r1")
    assert isinstance(error, InvalidRequest)
    assert "duration: Input should be '5' or '10'" in error.message
    assert error.details["field"] == "duration"
    assert (error.status_code, error.job_id, error.provider) == (422, "r1", "fal")
    assert error.hint == f"{KLING_T2V} accepts duration: 5s, 10s"


def test_a_422_on_a_renamed_input_names_both_the_request_field_and_fals() -> None:
    error = validation_error(_detail((["body", "num_frames"], "too many", "less_than_equal")), model=WAN)
    assert "duration (fal input num_frames): too many" in error.message
    error = validation_error(_detail((["body", "end_image_url"], "bad image", "image_load_error")), model=HAILUO_I2V)
    assert "frame_images[last_frame] (fal input end_image_url): bad image" in error.message


def test_a_422_on_every_offending_field_names_them_all() -> None:
    body = _detail((["body", "prompt"], "field required", "missing"), (["body", "negative_prompt"], "too long", "x"))
    error = validation_error(body, model=KLING_T2V)
    assert "prompt: field required" in error.message
    assert "provider_options.fal.parameters.negative_prompt (fal input negative_prompt): too long" in error.message
    assert [e["field"] for e in error.details["errors"]] == [
        "prompt",
        "provider_options.fal.parameters.negative_prompt",
    ]


def test_a_422_without_a_model_still_names_fals_field() -> None:
    error = validation_error(_detail((["body", "image_url", 0], "unreachable", "file_download_error")))
    assert "image_url.0: unreachable" in error.message


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"detail": "Prompt violates content policy"}', "Prompt violates content policy"),
        (b"<html>oops</html>", "<html>oops</html>"),
        (b"", "an empty body"),
        (b'{"detail": []}', '{"detail": []}'),
    ],
)
def test_a_422_that_is_not_a_detail_list_still_becomes_an_invalid_request_showing_the_body(
    body: bytes, said: str
) -> None:
    error = validation_error(body, model=KLING_T2V)
    assert isinstance(error, InvalidRequest)
    assert said in error.message


def test_wan_with_a_frame_rate_and_no_duration_sends_the_frames_of_the_default_duration() -> None:
    """fal's own default (81 frames) at 8 fps would be 10 s, twice the 5 s the estimate priced."""
    body = build_input(WAN, VideoRequest(prompt="p", provider_options=fal(frames_per_second=8)))
    assert (body["num_frames"], body["frames_per_second"]) == (41, 8)
    assert "num_frames" not in build_input(WAN, VideoRequest(prompt="p"))  # fal's default frame rate: its default
