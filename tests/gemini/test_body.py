"""The predictLongRunning body: what Google's docs require, checked before any money is spent."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from mediarouter_gemini.body import (
    MAX_IMAGE_BYTES,
    ImageSources,
    InlineImage,
    ResolvedImages,
    build_body,
    image_sources,
    inline_image_from_data_url,
)
from mediarouter_gemini.catalog import catalog_model

from mediarouter import CapabilityMismatch, InvalidRequest, NotFound, PayloadTooLarge, VideoRequest, validate_request

PNG = InlineImage("image/png", base64.b64encode(b"\x89PNG fake").decode())
JPG = InlineImage("image/jpeg", base64.b64encode(b"\xff\xd8 fake").decode())
V31 = "veo-3.1-generate-preview"


def _req(**fields: Any) -> VideoRequest:
    return VideoRequest.build(**fields)


def _opts(**params: Any) -> dict[str, Any]:
    return {"gemini": {"parameters": params}}


# -- data: URLs and the size guard ------------------------------------------------------------


def test_a_base64_data_url_becomes_an_inline_image() -> None:
    image = inline_image_from_data_url("data:image/png;base64," + base64.b64encode(b"abc").decode())
    assert image.mime_type == "image/png"
    assert base64.b64decode(image.data_b64) == b"abc"
    assert image.size == 3


def test_a_percent_encoded_data_url_is_re_encoded_as_base64() -> None:
    image = inline_image_from_data_url("data:image/svg+xml,%3Csvg%2F%3E")
    assert base64.b64decode(image.data_b64) == b"<svg/>"


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("https://example.com/a.png", "not a data: URL"),
        ("data:text/plain;base64,YWJj", "must be an image"),
        ("data:,hello", "must be an image"),
        ("data:image/png;base64,@@@@", "invalid base64"),
        ("data:image/png;base64,", "empty image"),
    ],
)
def test_a_bad_data_url_is_refused_with_the_reason(url: str, match: str) -> None:
    with pytest.raises(InvalidRequest, match=match):
        inline_image_from_data_url(url, field_name="frame_images[0]")


def test_an_image_over_the_size_guard_is_payload_too_large() -> None:
    data = base64.b64encode(b"x" * 2048).decode()
    with pytest.raises(PayloadTooLarge, match="over the 1024 bytes limit"):
        inline_image_from_data_url(f"data:image/png;base64,{data}", max_bytes=1024)
    assert inline_image_from_data_url(f"data:image/png;base64,{data}", max_bytes=2048).size == 2048
    assert MAX_IMAGE_BYTES == 20 * 1024 * 1024


def test_an_inline_image_must_be_an_image_type() -> None:
    with pytest.raises(InvalidRequest, match="image/\\* MIME type"):
        InlineImage("video/mp4", "AAAA")


def test_an_inline_image_repr_does_not_carry_the_bytes() -> None:
    assert PNG.data_b64 not in repr(PNG)


# -- which images need resolving -------------------------------------------------------------


def test_image_sources_names_first_last_and_reference_urls() -> None:
    request = _req(
        prompt="p",
        image_url="https://a/first.png",
        frame_images=[{"image_url": {"url": "https://a/last.png"}, "frame_type": "last_frame"}],
        input_references=[{"type": "image_url", "image_url": {"url": "https://a/ref.png"}}],
    )
    assert image_sources(request) == ImageSources("https://a/first.png", "https://a/last.png", ("https://a/ref.png",))
    assert not image_sources(_req(prompt="p"))


# -- the body --------------------------------------------------------------------------------


def test_a_text_request_sends_the_prompt_and_the_shortest_duration_explicitly() -> None:
    """Without a duration the shortest is sent, so the bill matches Capabilities.estimate_cost."""
    assert build_body(V31, _req(prompt="a cat")) == {
        "instances": [{"prompt": "a cat"}],
        "parameters": {"durationSeconds": 4},
    }


def test_4k_goes_on_the_wire_lower_case_and_forces_8_seconds() -> None:
    body = build_body(V31, _req(prompt="p", resolution="4K", aspect_ratio="9:16"))
    assert body["parameters"] == {"aspectRatio": "9:16", "resolution": "4k", "durationSeconds": 8}


@pytest.mark.parametrize("resolution", ["1080p", "4K"])
def test_1080p_and_4k_with_a_short_duration_are_refused_locally(resolution: str) -> None:
    with pytest.raises(CapabilityMismatch, match="needs duration=8s") as caught:
        build_body(V31, _req(prompt="p", resolution=resolution, duration=4))
    assert caught.value.field == "duration" and caught.value.supported == [8]


def test_a_size_maps_to_resolution_and_aspect_ratio() -> None:
    body = build_body(V31, _req(prompt="p", size="1080x1920"))
    assert body["parameters"] == {"aspectRatio": "9:16", "resolution": "1080p", "durationSeconds": 8}


def test_images_go_inline_with_their_mime_type_and_references_as_assets() -> None:
    request = _req(
        prompt="p",
        image_url="https://a/first.png",
        frame_images=[{"image_url": {"url": "https://a/last.jpg"}, "frame_type": "last_frame"}],
    )
    body = build_body(V31, request, ResolvedImages(first_frame=PNG, last_frame=JPG))
    instance = body["instances"][0]
    assert instance["image"] == {"inlineData": {"mimeType": "image/png", "data": PNG.data_b64}}
    assert instance["lastFrame"] == {"inlineData": {"mimeType": "image/jpeg", "data": JPG.data_b64}}

    refs = _req(prompt="p", input_references=[{"type": "image_url", "image_url": {"url": "https://a/r.png"}}])
    body = build_body(V31, refs, ResolvedImages(references=(PNG,)))
    assert body["instances"][0]["referenceImages"] == [{"image": PNG.to_wire(), "referenceType": "asset"}]
    assert body["parameters"]["durationSeconds"] == 8  # reference images need 8 s


def test_reference_images_with_a_short_duration_are_refused() -> None:
    refs = _req(
        prompt="p",
        duration=6,
        input_references=[{"type": "image_url", "image_url": {"url": "https://img.example.test/u.png"}}],
    )
    with pytest.raises(CapabilityMismatch, match=r"reference images .* needs duration=8s"):
        build_body(V31, refs, ResolvedImages(references=(PNG,)))


def test_more_than_three_reference_images_are_refused() -> None:
    refs = _req(
        prompt="p",
        input_references=[
            {"type": "image_url", "image_url": {"url": f"https://img.example.test/u{i}.png"}} for i in range(4)
        ],
    )
    with pytest.raises(CapabilityMismatch, match="at most 3 reference images"):
        build_body(V31, refs, ResolvedImages(references=(PNG,) * 4))


def test_reference_images_on_a_model_without_them_are_refused_by_capabilities() -> None:
    refs = _req(
        prompt="p", input_references=[{"type": "image_url", "image_url": {"url": "https://img.example.test/u.png"}}]
    )
    with pytest.raises(CapabilityMismatch, match="reference-to-video"):
        build_body("veo-3.0-generate-001", refs, ResolvedImages(references=(PNG,)))


def test_unresolved_or_extra_images_are_refused_so_no_frame_is_silently_dropped() -> None:
    with pytest.raises(InvalidRequest, match="resolved images do not match"):
        build_body(V31, _req(prompt="p", image_url="https://a/f.png"))
    with pytest.raises(InvalidRequest, match="resolved images do not match"):
        build_body(V31, _req(prompt="p"), ResolvedImages(first_frame=PNG))


def test_a_last_frame_without_a_first_frame_is_refused() -> None:
    request = _req(
        prompt="p", frame_images=[{"image_url": {"url": "https://img.example.test/u.png"}, "frame_type": "last_frame"}]
    )
    with pytest.raises(InvalidRequest, match="last_frame needs a first_frame"):
        build_body(V31, request, ResolvedImages(last_frame=PNG))


def test_audio_cannot_be_turned_off_on_veo_3_and_cannot_be_asked_of_veo_2() -> None:
    with pytest.raises(CapabilityMismatch, match="always generates audio") as caught:
        build_body(V31, _req(prompt="p", generate_audio=False))
    assert caught.value.field == "generate_audio"
    assert "generateAudio" not in build_body(V31, _req(prompt="p", generate_audio=True))["parameters"]
    with pytest.raises(CapabilityMismatch, match="cannot generate audio"):
        build_body("veo-2.0-generate-001", _req(prompt="p", generate_audio=True))
    build_body("veo-2.0-generate-001", _req(prompt="p", generate_audio=False))


def test_veo_3_1080p_is_landscape_only() -> None:
    with pytest.raises(CapabilityMismatch, match="16:9 only"):
        build_body("veo-3.0-generate-001", _req(prompt="p", resolution="1080p", aspect_ratio="9:16"))


def test_veo_2_never_gets_a_resolution_parameter() -> None:
    body = build_body("veo-2.0-generate-001", _req(prompt="p", resolution="720p", duration=5))
    assert body["parameters"] == {"durationSeconds": 5}


def test_seed_is_sent_where_accepted_and_range_checked() -> None:
    assert build_body(V31, _req(prompt="p", seed=7))["parameters"]["seed"] == 7
    with pytest.raises(CapabilityMismatch, match="between 0 and 4294967295"):
        build_body(V31, _req(prompt="p", seed=2**32))
    with pytest.raises(CapabilityMismatch, match="does not honour seed"):
        build_body("veo-2.0-generate-001", _req(prompt="p", seed=1))


def test_negative_prompt_and_person_generation_come_from_gemini_provider_options() -> None:
    request = _req(prompt="p", provider_options=_opts(negativePrompt="cars", personGeneration="allow_all"))
    params = build_body(V31, request)["parameters"]
    assert (params["negativePrompt"], params["personGeneration"]) == ("cars", "allow_all")


def test_options_for_other_backends_are_ignored() -> None:
    request = _req(prompt="p", provider_options={"google-vertex": {"parameters": {"negativePrompt": "x"}}})
    assert "negativePrompt" not in build_body(V31, request)["parameters"]


def test_another_backends_parameters_are_not_checked_against_geminis_list() -> None:
    """A failover chain carries every backend's options; fal's snake_case keys are not Gemini's to refuse."""
    options = {**_opts(negativePrompt="cars"), "fal": {"parameters": {"negative_prompt": "cars", "num_frames": 81}}}
    request = _req(prompt="p", provider_options=options)
    caps = catalog_model(V31).capabilities  # type: ignore[union-attr]
    assert caps.passthrough_slug == "gemini"
    validate_request(request, caps, model=V31, provider="gemini")
    assert build_body(V31, request)["parameters"]["negativePrompt"] == "cars"


@pytest.mark.parametrize(
    ("model", "value", "images", "allowed"),
    [
        (V31, "allow_adult", False, ["allow_all"]),
        (V31, "allow_all", True, ["allow_adult"]),
        ("veo-2.0-generate-001", "allow_all", True, ["allow_adult", "dont_allow"]),
    ],
)
def test_person_generation_is_checked_per_model_and_mode(
    model: str, value: str, images: bool, allowed: list[str]
) -> None:
    fields: dict[str, Any] = {"prompt": "p", "provider_options": _opts(personGeneration=value)}
    resolved = ResolvedImages()
    if images:
        fields["image_url"] = "https://a/f.png"
        resolved = ResolvedImages(first_frame=PNG)
    with pytest.raises(CapabilityMismatch, match="allowed: ") as caught:
        build_body(model, _req(**fields), resolved)
    assert caught.value.supported == allowed


def test_an_unknown_gemini_parameter_or_option_key_is_refused_with_the_allowed_list() -> None:
    with pytest.raises(CapabilityMismatch, match="supported: negativePrompt, personGeneration"):
        build_body(V31, _req(prompt="p", provider_options=_opts(sampleCount=2)))
    with pytest.raises(InvalidRequest, match="unknown key\\(s\\): model; allowed: parameters"):
        build_body(V31, _req(prompt="p", provider_options={"gemini": {"model": "x"}}))


@pytest.mark.parametrize(
    ("field", "value"),
    [("callback_url", "https://hook.example/x"), ("previous_job_id", "job-1"), ("upscale_factor", 2.0)],
)
def test_request_fields_without_a_gemini_equivalent_are_refused_not_dropped(field: str, value: Any) -> None:
    with pytest.raises(CapabilityMismatch, match=f"{field} is not supported"):
        build_body(V31, _req(prompt="p", **{field: value}))


def test_a_duration_the_model_lacks_is_refused_with_the_supported_list() -> None:
    with pytest.raises(CapabilityMismatch, match="supported: 4s, 6s, 8s"):
        build_body(V31, _req(prompt="p", duration=5))


def test_an_unknown_model_is_not_found_listing_the_known_ones() -> None:
    with pytest.raises(NotFound, match=r"known: veo-3\.1-generate-preview"):
        build_body("veo-9", _req(prompt="p"))
