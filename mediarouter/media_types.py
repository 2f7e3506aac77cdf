"""Tell a media file's MIME type from its first bytes, so a local file can be sent as a `data:` URL.

A file name says nothing reliable about what is inside; the magic bytes do. Only the formats
video providers take as frames and references are known; anything else is `None`, and the
caller refuses it rather than sending bytes the provider would reject after a paid submit.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["HEADER_BYTES", "KINDS", "MediaKind", "SUPPORTED", "VIDEO_TYPES", "kind_of", "sniff"]

MediaKind = Literal["image", "audio", "video"]
KINDS: tuple[MediaKind, ...] = ("image", "audio", "video")

#: Human-readable names of the formats `sniff` recognises, per kind (for error messages).
SUPPORTED: dict[MediaKind, tuple[str, ...]] = {
    "image": ("PNG", "JPEG", "WebP", "GIF"),
    "video": ("MP4", "WebM", "MOV", "AVI", "MKV", "MPEG"),
    "audio": ("MP3", "WAV", "Ogg"),
}

#: How many leading bytes `sniff` needs (a Matroska header names its DocType within the first 64).
HEADER_BYTES = 64

#: The video MIME types `sniff` can return.
VIDEO_TYPES: tuple[str, ...] = (
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "video/x-msvideo",
    "video/x-matroska",
    "video/mpeg",
)

_QUICKTIME_BRANDS = (b"qt  ",)
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
#: MPEG program stream pack header, and an MPEG-1/2 video sequence header.
_MPEG_STARTS = (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")

_AUDIO_MP4_BRANDS = (b"M4A ", b"M4B ")


def sniff(header: bytes) -> str | None:
    """The MIME type of a file starting with `header` (at least `HEADER_BYTES` bytes when available)."""
    if header.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if header.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return "image/webp"
    if header[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if header[:4] == b"RIFF" and header[8:12] == b"WAVE":
        return "audio/wav"
    if header.startswith(b"OggS"):
        return "audio/ogg"
    if header.startswith(b"ID3") or (len(header) >= 2 and header[0] == 0xFF and header[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if header[:4] == b"RIFF" and header[8:12] == b"AVI ":
        return "video/x-msvideo"
    if header.startswith(_EBML_MAGIC):
        # Matroska and WebM share the EBML header; its DocType element (0x4282) says which.
        return "video/x-matroska" if b"\x42\x82" in header and b"matroska" in header else "video/webm"
    if header[:4] in _MPEG_STARTS:
        return "video/mpeg"
    if header[4:8] == b"ftyp":
        brand = header[8:12]
        if brand in _QUICKTIME_BRANDS:
            return "video/quicktime"
        if brand in _AUDIO_MP4_BRANDS:
            return "audio/mp4"
        return "video/mp4"
    if header[4:8] in (b"moov", b"mdat", b"wide", b"free") and header[:4] != b"RIFF":
        return "video/quicktime"  # old QuickTime files start with an atom, not ftyp
    return None


def kind_of(mime: str) -> MediaKind | None:
    """`image`, `audio` or `video` for a MIME type such as `image/png`; None for anything else."""
    top = mime.split("/", 1)[0].strip().lower()
    for kind in KINDS:
        if top == kind:
            return kind
    return None
