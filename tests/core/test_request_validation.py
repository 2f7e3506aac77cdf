"""Requests, refs and validation against capabilities."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediarouter import Capabilities, CapabilityMismatch, InvalidRequest, Modality, ModelRef, VideoRequest
from mediarouter.validation import validate_request

VEO = Capabilities(
    modalities=(Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO, Modality.REFERENCE_TO_VIDEO),
    durations=(4, 6, 8),
    resolutions=("720p", "1080p"),
    aspect_ratios=("16:9", "9:16"),
    sizes=("1280x720",),
    frame_images=("first_frame",),
    audio=False,
    seed=False,
    passthrough_parameters=("negativePrompt",),
    price_per_second=Decimal("0.40"),
)


def check(**fields: object) -> None:
    validate_request(VideoRequest.build(**fields), VEO, model="google/veo-3.1", provider="openrouter")


def test_model_ref_strips_the_provider_prefix() -> None:
    ref = ModelRef.parse("openrouter/google/veo-3.1")
    assert (ref.provider, ref.model_id, str(ref)) == ("openrouter", "google/veo-3.1", "openrouter/google/veo-3.1")


@pytest.mark.parametrize("bad", ["", "veo", "openrouter/", "/google/veo", "openrouter//x"])
def test_model_ref_rejects_malformed_refs(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="provider/model-id"):
        ModelRef.parse(bad)


@given(
    st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), st.from_regex(r"[a-z0-9][a-z0-9./:-]{0,30}", fullmatch=True)
)
def test_model_ref_round_trips(provider: str, model_id: str) -> None:
    ref = ModelRef.parse(f"{provider}/{model_id}")
    assert ref == ModelRef(provider, model_id)


@pytest.mark.parametrize(
    ("fields", "field", "shown"),
    [
        ({"duration": 7}, "duration", "4s, 6s, 8s"),
        ({"resolution": "4K"}, "resolution", "720p, 1080p"),
        ({"aspect_ratio": "1:1"}, "aspect_ratio", "16:9, 9:16"),
        ({"size": "640x480"}, "size", "1280x720"),
        ({"generate_audio": True}, "generate_audio", "cannot generate audio"),
        ({"seed": 1}, "seed", "does not honour seed"),
        (
            {
                "image_url": "https://x/y.png",
                "frame_images": [
                    {"type": "image_url", "image_url": {"url": "https://x/z.png"}, "frame_type": "last_frame"}
                ],
            },
            "frame_images.frame_type",
            "first_frame",
        ),
        (
            {"provider_options": {"google-vertex": {"parameters": {"bogus": 1}}}},
            "provider_options.google-vertex.parameters",
            "negativePrompt",
        ),
    ],
)
def test_mismatch_names_the_field_and_the_supported_values(fields: dict[str, object], field: str, shown: str) -> None:
    with pytest.raises(CapabilityMismatch) as info:
        check(prompt="a dog", **fields)
    assert info.value.field == field
    assert shown in str(info.value)


def test_wrong_case_gets_a_did_you_mean() -> None:
    with pytest.raises(CapabilityMismatch) as info:
        check(prompt="x", resolution="1080P")
    assert "did you mean '1080p'" in str(info.value)


def test_unadvertised_capability_does_not_block_but_unknown_enum_values_do() -> None:
    caps = Capabilities()
    validate_request(VideoRequest(prompt="x", resolution="4K", seed=1, duration=13), caps, model="m", provider="p")
    with pytest.raises(CapabilityMismatch, match="allowed: 360p"):
        validate_request(VideoRequest(prompt="x", resolution="999p"), caps, model="m", provider="p")


def test_valid_requests_pass() -> None:
    check(prompt="a dog", duration=8, resolution="1080p", aspect_ratio="9:16")
    check(prompt="a dog", size="1280x720")
    check(image_url="https://example.com/a.png")  # image-only: no prompt needed
    check(prompt="x", provider_options={"google-vertex": {"parameters": {"negativePrompt": "blurry"}}})


def test_prompt_or_image_is_required() -> None:
    with pytest.raises(CapabilityMismatch, match="prompt is required"):
        check()


def test_size_and_resolution_together_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="either size or resolution"):
        check(prompt="x", size="1280x720", resolution="720p")


def test_callback_must_be_https() -> None:
    with pytest.raises(InvalidRequest, match="https"):
        check(prompt="x", callback_url="http://example.com/hook")


def test_unknown_fields_are_refused_naming_them() -> None:
    with pytest.raises(InvalidRequest, match=r"unknown request field.*negative_prompt") as info:
        VideoRequest.build(prompt="x", negative_prompt="blurry")
    assert "provider_options" in (info.value.hint or "")


def test_bad_types_name_the_field() -> None:
    with pytest.raises(InvalidRequest, match="duration"):
        VideoRequest.build(prompt="x", duration=-3)
    with pytest.raises(InvalidRequest, match=r"frame_images\[0\]\.image_url"):
        VideoRequest.build(prompt="x", frame_images=[{"type": "image_url", "frame_type": "first_frame"}])
    middle = VideoRequest.build(
        prompt="x", frame_images=[{"type": "image_url", "image_url": {"url": "https://x/u"}, "frame_type": "middle"}]
    )
    with pytest.raises(CapabilityMismatch, match="allowed: first_frame, last_frame"):
        validate_request(middle, Capabilities(), model="m", provider="p")


def test_image_url_becomes_the_first_frame_and_passthrough_is_untouched() -> None:
    frame = {
        "type": "image_url",
        "image_url": {"url": "https://x/last.png", "detail": "hi"},
        "frame_type": "last_frame",
    }
    request = VideoRequest.build(prompt="x", image_url="https://x/first.png", frame_images=[frame])
    frames = [f.model_dump(exclude_none=True) for f in request.effective_frame_images()]
    assert frames[0] == {"type": "image_url", "image_url": {"url": "https://x/first.png"}, "frame_type": "first_frame"}
    assert frames[1] == frame  # extra keys kept


def test_redacted_shortens_data_urls() -> None:
    data_url = "data:image/png;base64," + "A" * 5000
    request = VideoRequest.build(prompt="x", image_url=data_url)
    assert len(str(request.redacted())) < 300


def test_cost_estimate() -> None:
    assert VEO.estimate_cost(8) == Decimal("3.20")
    assert VEO.estimate_cost(None) == Decimal("1.60")  # smallest supported duration
    assert Capabilities().estimate_cost(8) is None


def test_image_url_and_a_first_frame_together_are_refused_not_silently_dropped() -> None:
    frame = {"type": "image_url", "image_url": {"url": "https://x/first.png"}, "frame_type": "first_frame"}
    with pytest.raises(InvalidRequest, match="give only one"):
        check(prompt="x", image_url="https://x/other.png", frame_images=[frame])
