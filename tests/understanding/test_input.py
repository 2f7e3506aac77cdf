"""Video inputs: every accepted form, the type told by the bytes, clear refusals naming `video`."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediarouter import InvalidRequest, MediaFile, VideoResult
from mediarouter.media_types import sniff
from mediarouter.understanding import load_video

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
MKV_HEADER = b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x88matroska"
WEBM_HEADER = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"


@pytest.mark.parametrize(
    ("header", "mime"),
    [
        (MP4, "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video/quicktime"),
        (WEBM_HEADER, "video/webm"),
        (MKV_HEADER, "video/x-matroska"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "video/x-msvideo"),
        (b"\x00\x00\x01\xba\x44\x00\x04\x00", "video/mpeg"),
        (b"\x00\x00\x01\xb3\x16\x00\xf0\x15", "video/mpeg"),
        (b"RIFF\x00\x10\x00\x00WAVEfmt ", "audio/wav"),
    ],
)
def test_the_sniffer_tells_each_video_container_from_its_bytes(header: bytes, mime: str) -> None:
    assert sniff(header) == mime


def test_a_file_whose_name_lies_is_typed_by_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "movie.webm"
    path.write_bytes(MKV_HEADER + b"\x00" * 100)
    video = load_video(path)
    assert video.mime_type == "video/x-matroska"
    assert video.size == len(MKV_HEADER) + 100 and video.sha256 is not None
    assert video.data_url().startswith("data:video/x-matroska;base64,")


def test_every_accepted_form_gives_the_same_content_hash(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(MP4)
    result = VideoResult(files=[MediaFile(path=path, size=len(MP4))], provider="p", model="m", job_id="j")
    forms = [path, str(path), MP4, bytearray(MP4), MediaFile(data=MP4), result]
    hashes = {load_video(form).sha256 for form in forms}  # type: ignore[arg-type]
    assert len(hashes) == 1
    import base64

    assert load_video("data:video/mp4;base64," + base64.b64encode(MP4).decode()).sha256 in hashes


def test_an_https_url_is_kept_as_a_url_and_never_fetched() -> None:
    video = load_video("https://cdn.example.com/v.mp4?X-Amz-Signature=secret")
    assert video.is_url and video.mime_type is None and video.sha256 is None
    assert "secret" not in video.label and "secret" not in str(video.summary())


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("http://cdn.example.com/v.mp4", "http:// URLs are not allowed"),
        ("/no/such/file.mp4", "no such file"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a video (it looks like image/png"),
        (b"", "empty"),
        ("data:video/mp4;base64,@@@", "not valid base64"),
    ],
)
def test_unusable_input_is_refused_naming_the_video_field(value: object, says: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        load_video(value)  # type: ignore[arg-type]
    assert caught.value.message.startswith("video: ") and says in caught.value.message


def test_a_file_changed_after_it_was_checked_is_refused_before_it_is_sent(tmp_path: Path) -> None:
    """The size guard and the cache key are about the bytes that were read: other bytes are never sent."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(MP4)
    video = load_video(path)
    path.write_bytes(MP4 + b"\x00" * 1000)  # still being rendered, or replaced
    with pytest.raises(InvalidRequest) as caught:
        video.data_url()
    assert caught.value.message.startswith("video: ") and "changed" in caught.value.message
