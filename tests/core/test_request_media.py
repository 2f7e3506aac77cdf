"""Input rules checked before any request: prompts, media URLs, local files, the body size guard, redaction."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from mediarouter import Capabilities, InvalidRequest, VideoRequest
from mediarouter.errors import PayloadTooLarge
from mediarouter.media_types import sniff
from mediarouter.request import DEFAULT_MAX_BODY_BYTES, FrameImage, URLRef
from mediarouter.validation import validate_request

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 40
MP4 = b"\0\0\0\x18ftypisom" + b"\0" * 40
WAV = b"RIFF\x10\0\0\0WAVEfmt " + b"\0" * 40


def frame(url: Any, frame_type: str = "last_frame") -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}, "frame_type": frame_type}


def refused(**fields: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        VideoRequest.build(**fields)
    return info.value


# -- prompts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", [" ", "\t\n ", "\u3000"])
def test_a_whitespace_only_prompt_is_refused_naming_prompt(prompt: str) -> None:
    error = refused(prompt=prompt)
    assert error.details["field"] == "prompt" and "whitespace" in str(error)


def test_a_whitespace_prompt_slipped_past_the_model_is_refused_by_validation() -> None:
    request = VideoRequest.model_construct(prompt="   ")
    with pytest.raises(InvalidRequest, match="prompt must not be empty"):
        validate_request(request, Capabilities(), model="m", provider="p")


def test_prompts_are_not_otherwise_altered() -> None:
    assert VideoRequest.build(prompt="  a dog \n").prompt == "  a dog \n"


# -- URL schemes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"image_url": "http://example.com/a.png"}, "image_url"),
        ({"frame_images": [frame("javascript:alert(1)")]}, "frame_images[0].image_url.url"),
        ({"frame_images": [frame("https://ok.test/a.png", "first_frame"), frame("file:///etc/passwd")]},
         "frame_images[1].image_url.url"),
        ({"input_references": [{"type": "video_url", "video_url": {"url": "ftp://x/y.mp4"}}]},
         "input_references[0].video_url.url"),
        ({"input_references": [{"type": "image_url", "image_url": {"url": "./no-such-frame.png"}}]},
         "input_references[0].image_url.url"),
        ({"image_url": "https:///no-host.png"}, "image_url"),
        ({"image_url": ""}, "image_url"),
    ],
)  # fmt: skip
def test_media_urls_must_be_https_or_data_naming_the_field_and_what_is_allowed(
    fields: dict[str, Any], field: str
) -> None:
    error = refused(prompt="x", **fields)
    assert error.details["field"] == field
    assert str(error).startswith(field)
    assert "https://" in str(error) and "data:" in str(error)


def test_https_and_well_formed_data_urls_pass_unchanged() -> None:
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    request = VideoRequest.build(prompt="x", image_url="HTTPS://cdn.test/a.png", frame_images=[frame(data_url)])
    assert request.image_url == "HTTPS://cdn.test/a.png"
    assert request.frame_images is not None and request.frame_images[0].image_url.url == data_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("data:image/png,iVBORw0KGgo=", "base64"),  # not base64-encoded
        ("data:image/png;base64,", "base64"),  # no body
        ("data:text/html;base64,PHNjcmlwdD4=", "data:text/html URL is not an image"),
        ("data:video/mp4;base64,AAAA", "not an image"),
    ],
)
def test_malformed_or_wrong_kind_data_urls_are_refused(url: str, shown: str) -> None:
    assert shown in str(refused(prompt="x", image_url=url))


def test_a_plain_urlref_is_checked_like_the_typed_field_it_is_given_for() -> None:
    audio = URLRef(url="data:audio/wav;base64,UklGRg==")  # any media kind is a valid plain URLRef
    with pytest.raises(InvalidRequest, match=r"frame_images\[0\]\.image_url\.url: a data:audio/wav URL is not an"):
        VideoRequest.build(prompt="x", frame_images=[frame(None) | {"image_url": audio}])
    with pytest.raises(ValueError, match="not an image"):
        FrameImage(image_url=audio, frame_type="last_frame")


# -- local files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_path", [False, True])
def test_a_local_image_file_becomes_a_data_url_with_a_sniffed_mime_type(tmp_path: Path, as_path: bool) -> None:
    image = tmp_path / "frame.bin"  # the name says nothing: the bytes decide
    image.write_bytes(JPEG)
    request = VideoRequest.build(prompt="x", image_url=image if as_path else str(image))
    assert request.image_url == "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()


def test_a_home_relative_path_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "f.png").write_bytes(PNG)
    request = VideoRequest.build(prompt="x", frame_images=[frame("~/f.png")])
    assert request.frame_images is not None
    assert request.frame_images[0].image_url.url.startswith("data:image/png;base64,")


def test_reference_files_are_checked_against_their_kind(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(MP4)
    (tmp_path / "voice.wav").write_bytes(WAV)
    request = VideoRequest.build(
        prompt="x",
        input_references=[
            {"type": "video_url", "video_url": {"url": str(tmp_path / "clip.mp4")}},
            {"type": "audio_url", "audio_url": {"url": tmp_path / "voice.wav"}},
        ],
    )
    assert [ref.url[:22] for ref in request.input_references or [] if ref.url] == [
        "data:video/mp4;base64,",
        "data:audio/wav;base64,",
    ]
    error = refused(prompt="x", input_references=[{"type": "image_url", "image_url": {"url": tmp_path / "clip.mp4"}}])
    assert error.details["field"] == "input_references[0].image_url.url" and "not an image" in str(error)


def test_a_file_that_is_not_a_known_media_type_is_refused_without_echoing_it(tmp_path: Path) -> None:
    secret = tmp_path / "notes.png"
    secret.write_text("API_KEY=sk-very-secret\n")
    error = refused(prompt="x", image_url=str(secret))
    assert "PNG, JPEG, WebP, GIF" in str(error) and "sk-very-secret" not in str(error)


def test_local_files_can_be_refused_for_untrusted_input(tmp_path: Path) -> None:
    (tmp_path / "f.png").write_bytes(PNG)
    with pytest.raises(InvalidRequest, match="local files are not allowed"):
        VideoRequest.build(prompt="x", image_url=str(tmp_path / "f.png"), local_files=False)


# -- size guard ---------------------------------------------------------------------------------------


def test_a_52_mib_data_url_is_refused_locally_naming_field_size_and_limit() -> None:
    url = "data:image/png;base64," + "A" * (52 * 1024 * 1024)
    with pytest.raises(PayloadTooLarge) as info:
        VideoRequest.build(prompt="x", frame_images=[frame(url)])
    text = str(info.value)
    assert info.value.details["field"] == "frame_images[0].image_url.url"
    assert "52.0 MiB" in text and "50.0 MiB" in text and "https://" in text


def test_a_file_too_big_once_base64_encoded_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    with big.open("wb") as handle:  # 40 MiB on disk, ~53 MiB as base64: over the 50 MiB body limit
        handle.write(MP4)
        handle.truncate(40 * 1024 * 1024)
    with pytest.raises(PayloadTooLarge, match=r"40\.0 MiB, 53\.3 MiB as a data: URL, over the 50\.0 MiB"):
        VideoRequest.build(prompt="x", input_references=[{"type": "video_url", "video_url": {"url": str(big)}}])


def test_the_limit_is_configurable(tmp_path: Path) -> None:
    image = tmp_path / "f.png"
    image.write_bytes(PNG + b"\0" * 100_000)
    with pytest.raises(PayloadTooLarge, match="request body limit"):
        VideoRequest.build(prompt="x", image_url=str(image), max_body_bytes=64 * 1024)
    assert VideoRequest.build(prompt="x", image_url=str(image)).image_url is not None
    url = "data:image/png;base64," + "A" * (52 * 1024 * 1024)
    assert VideoRequest.build(prompt="x", image_url=url, max_body_bytes=100 * 1024 * 1024).image_url == url


def test_urls_that_fit_one_by_one_are_refused_together_naming_the_largest() -> None:
    third = "A" * (DEFAULT_MAX_BODY_BYTES // 3)
    refs = [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{third}"}} for _ in range(2)]
    with pytest.raises(PayloadTooLarge) as info:
        VideoRequest.build(prompt="x", image_url="data:image/png;base64," + third + "AAAA", input_references=refs)
    assert info.value.details["field"] == "image_url"


# -- redaction ----------------------------------------------------------------------------------------


def test_redacted_replaces_data_url_bodies_with_size_and_digest(tmp_path: Path) -> None:
    (tmp_path / "f.png").write_bytes(PNG)
    request = VideoRequest.build(prompt="x", image_url=str(tmp_path / "f.png"))
    digest = hashlib.sha256(PNG).hexdigest()
    assert request.redacted()["image_url"] == f"data:image/png;base64,<{len(PNG)} bytes sha256={digest}>"


def test_redacted_cuts_signed_query_strings_but_keeps_plain_ones() -> None:
    request = VideoRequest.build(
        prompt="x",
        image_url="https://bucket.s3.test/a.png?X-Amz-Signature=abc123&X-Amz-Expires=60",
        input_references=[{"type": "image_url", "image_url": {"url": "https://cdn.test/b.png?width=512"}}],
        callback_url="https://hooks.test/done?token=s3cr3t",
    )
    journaled = str(request.redacted())
    assert "abc123" not in journaled and "s3cr3t" not in journaled
    assert "https://bucket.s3.test/a.png?[redacted]" in journaled
    assert "https://cdn.test/b.png?width=512" in journaled


# -- sniffer ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "mime"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
        (b"GIF89a\x01\0", "image/gif"),
        (MP4, "video/mp4"),
        (b"\0\0\0\x14ftypqt  \0\0\0\0", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x01\0\0\0", "video/webm"),
        (b"ID3\x04\0\0\0\0", "audio/mpeg"),
        (b"\xff\xfb\x90\x64", "audio/mpeg"),
        (WAV, "audio/wav"),
        (b"OggS\0\x02", "audio/ogg"),
        (b"%PDF-1.7", None),
        (b"", None),
    ],
)
def test_sniff_tells_the_type_from_magic_bytes(header: bytes, mime: str | None) -> None:
    assert sniff(header) == mime


# -- the CLI gets the same rules ----------------------------------------------------------------------


def test_the_cli_sends_a_local_image_and_refuses_an_http_one(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mediarouter.cli import cli

    (tmp_path / "frame.png").write_bytes(PNG)
    base = ["generate", "a dog", "--emulator", "-q", "-m", "openrouter/google/veo-3.1"]
    ok = CliRunner().invoke(cli, [*base, "--image", str(tmp_path / "frame.png"), "-o", str(tmp_path / "a.mp4")])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "a.mp4").stat().st_size > 0
    bad = CliRunner().invoke(cli, [*base, "--image", "http://cdn.test/f.png", "-o", str(tmp_path / "b.mp4")])
    assert bad.exit_code == 2
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()] and "image_url: http://" in bad.stderr
