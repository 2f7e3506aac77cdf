"""Requests, refs and validation against capabilities."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mediarouter_contracts.clock import FakeClock

from mediarouter import (
    Capabilities,
    CapabilityMismatch,
    InvalidRequest,
    Modality,
    ModelRef,
    PayloadTooLarge,
    VideoRequest,
)
from mediarouter.batch import run_batch
from mediarouter.journal import MemoryJobStore
from mediarouter.validation import validate_request

from .router_fakes import Fleet

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


WIDE = Capabilities(
    durations=(4, 6, 8),
    resolutions=("480p", "720p", "1080p"),
    aspect_ratios=("16:9", "9:16", "1:1"),
    sizes=("1280x720", "1920x1080", "720x1280"),
)


@pytest.mark.parametrize(
    ("fields", "meant"),
    [
        ({"duration": 7}, "8s"),  # a tie goes to the longer one, as fit='adjust' snaps
        ({"duration": 5}, "6s"),
        ({"resolution": "1440p"}, "'1080p'"),  # by height, not by spelling ('480p')
        ({"resolution": "4K"}, "'1080p'"),
        ({"aspect_ratio": "4:3"}, "'1:1'"),  # by shape
        ({"size": "1000x1000"}, "'1280x720'"),  # by shape then area, not by spelling ('1920x1080')
        ({"size": "1300x730"}, "'1280x720'"),
    ],
)
def test_numbers_and_sizes_get_the_nearest_supported_value_as_did_you_mean(
    fields: dict[str, object], meant: str
) -> None:
    """The suggestion is the value `fit='adjust'` would pick, so the hint and the fit agree."""
    with pytest.raises(CapabilityMismatch) as info:
        validate_request(VideoRequest.build(prompt="x", **fields), WIDE, model="m", provider="p")
    assert f"did you mean {meant}, the nearest supported?" in (info.value.hint or "")
    assert "--fit adjust" in (info.value.hint or "")


def test_names_keep_the_did_you_mean_by_spelling() -> None:
    caps = Capabilities(frame_images=("first_frame",), resolutions=("720p", "1080p"))
    frame = {"type": "image_url", "image_url": {"url": "https://x/y.png"}, "frame_type": "first_fram"}
    with pytest.raises(CapabilityMismatch) as info:
        validate_request(VideoRequest.build(prompt="x", frame_images=[frame]), caps, model="m", provider="p")
    assert info.value.hint == "did you mean 'first_frame'?"
    with pytest.raises(CapabilityMismatch) as info:  # no height to measure: by spelling
        validate_request(VideoRequest.build(prompt="x", resolution="1080"), caps, model="m", provider="p")
    assert info.value.hint == "did you mean '1080p'?"


def test_an_unknown_enum_value_gets_the_nearest_known_one_without_promising_a_fit() -> None:
    """Without the model's own list there is nothing for fit='adjust' to snap to: the hint does not claim it."""
    with pytest.raises(CapabilityMismatch) as info:
        validate_request(VideoRequest.build(prompt="x", resolution="999p"), Capabilities(), model="m", provider="p")
    assert info.value.hint == "did you mean '1080p'?"


@pytest.mark.parametrize(
    ("options", "field", "kind"),
    [
        ({"openrouter": {"parameters": 5}}, "provider_options.openrouter.parameters", "a number"),
        ({"google-vertex": {"parameters": ["negativePrompt"]}}, "provider_options.google-vertex.parameters", "a list"),
        ({"google-vertex": {"parameters": None}}, "provider_options.google-vertex.parameters", "null"),
        ({"google-vertex": [{"parameters": {}}]}, "provider_options.google-vertex", "a list"),
        ({"google-vertex": "negativePrompt=blurry"}, "provider_options.google-vertex", "a string"),
    ],
)
def test_malformed_provider_options_are_refused_naming_the_path_and_the_shape(
    options: dict[str, Any], field: str, kind: str
) -> None:
    """provider_options is sent untouched: a slug's value and its parameters must be objects, or nothing is sent."""
    refusals: list[InvalidRequest] = []
    with pytest.raises(InvalidRequest) as built:
        VideoRequest.build(prompt="x", provider_options=options)
    refusals.append(built.value)
    hand_built = VideoRequest(prompt="x", provider_options=options)  # not through build: validation refuses it
    for caps in (VEO, Capabilities()):  # whatever the model advertises (none: the router's request-level check)
        with pytest.raises(InvalidRequest) as info:
            validate_request(hand_built, caps, model="google/veo-3.1", provider="openrouter")
        refusals.append(info.value)
    for error in refusals:
        assert not isinstance(error, CapabilityMismatch)  # the request is wrong, not the model: no failover
        assert error.details["field"] == field
        assert error.message.startswith(f"{field} must be an object")
        assert error.message.endswith(f", not {kind}")
        assert "{'<slug>': {'parameters': {" in (error.hint or "")


async def test_malformed_provider_options_are_refused_before_any_submit(clock: FakeClock, tmp_path: Path) -> None:
    fleet = Fleet(clock)
    async with fleet.router() as router:
        for fit in ("strict", "skip", "adjust"):
            with pytest.raises(InvalidRequest, match=r"provider_options\.p1\.parameters must be an object"):
                await router.generate(
                    "a dog",
                    model=["p1/m1", "p2/m1"],
                    output=tmp_path / "o.mp4",
                    fit=fit,
                    provider_options={"p1": {"parameters": 5}},
                )
    assert fleet.submits() == []


async def test_a_batch_line_with_malformed_provider_options_is_invalid_and_the_others_run(
    clock: FakeClock, tmp_path: Path
) -> None:
    """Batch checks every line before any submit: the malformed one is reported by number, not run."""
    fleet = Fleet(clock)
    lines = [
        json.dumps({"prompt": "a dog", "model": "p1/m1", "duration": 4}),
        json.dumps({"prompt": "a cat", "model": "p1/m1", "provider_options": {"p1": [{"parameters": {}}]}}),
    ]
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(router, lines, output_dir=tmp_path)
    assert [(b.number, b.error_type) for b in report.invalid] == [(2, "InvalidRequest")]
    assert report.invalid[0].message.startswith("provider_options.p1 must be an object")
    assert fleet.submits() == ["p1/m1"]


def test_other_keys_under_a_slug_pass_through() -> None:
    """Only the shape mediarouter reads is checked; a provider's own keys beside `parameters` are its business."""
    check(prompt="x", provider_options={"google-vertex": {"order": ["a"]}, "fal": {}})


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


def test_every_pydantic_error_is_named_once_with_its_field() -> None:
    with pytest.raises(InvalidRequest) as info:
        VideoRequest.build(prompt="x", duration=0, seed="b")
    assert info.value.message == (
        "duration: Input should be greater than 0; "
        "seed: Input should be a valid integer, unable to parse string as an integer"
    )
    assert info.value.details["field"] == "duration"
    with pytest.raises(InvalidRequest) as info:  # our own check: its message and hint, its field named once
        VideoRequest.build(prompt="x", image_url="http://x/y.png")
    assert info.value.message == "image_url: http:// URLs are not allowed (the provider fetches only https://)"
    assert info.value.hint is not None and "https://" in info.value.hint
    with pytest.raises(PayloadTooLarge) as large:
        VideoRequest.build(prompt="x", image_url="data:image/png;base64," + "A" * 2000, max_body_bytes=1024)
    assert large.value.details["field"] == "image_url"


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
    assert VEO.estimate_cost(None) == Decimal("3.20")  # no declared default: the longest supported duration
    assert Capabilities().estimate_cost(8) is None


def test_image_url_and_a_first_frame_together_are_refused_not_silently_dropped() -> None:
    frame = {"type": "image_url", "image_url": {"url": "https://x/first.png"}, "frame_type": "first_frame"}
    with pytest.raises(InvalidRequest, match="give only one"):
        check(prompt="x", image_url="https://x/other.png", frame_images=[frame])
