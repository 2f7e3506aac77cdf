"""Real, playable MP4s for the emulator, written with PyAV.

Clients under test must handle a genuine file (container parsing, probing duration, saving to
disk), so the emulator never serves placeholder bytes. To stay fast the picture is small:

- the height is always 144 px; the width follows the requested shape and is rounded to an even
  number (H.264 with 4:2:0 chroma needs even sizes). For ``aspect_ratio="16:9"`` that is 256x144,
  for ``"9:16"`` 82x144. A ``size`` of ``"WxH"`` is scaled the same way (``"1280x720"`` → 256x144)
  and wins over ``aspect_ratio``; with neither the clip is 16:9;
- 12 frames per second, and the frame count is ``round(duration × 12)`` so the clip lasts the
  requested time (within one frame);
- H.264 (libx264, ultrafast) in an MP4 container, falling back to MPEG-4 Part 2 when libx264 is
  not built into the installed FFmpeg;
- optionally a mono AAC sine track of the same length.

The frames are a diagonal colour gradient that drifts every frame, seeded by ``seed`` and
``label``, so the video visibly moves and different jobs give different bytes. No numpy: the
planes are filled from byte slices, which keeps an 8 s clip well under a second.
"""

from __future__ import annotations

import io
import math
import zlib
from array import array
from fractions import Fraction
from typing import cast

import av
from av.container import OutputContainer

__all__ = ["FPS", "HEIGHT", "SAMPLE_RATE", "frame_size", "make_mp4"]

FPS = 12
HEIGHT = 144
SAMPLE_RATE = 24_000
_AUDIO_FRAME = 1024
#: 375 Hz divides 24 kHz into whole 64-sample cycles, so one cycle is computed and tiled.
_TONE_HZ = 375


def _ratio(text: str, sep: str) -> tuple[int, int]:
    parts = text.lower().split(sep)
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"expected W{sep}H, got {text!r}")
    w, h = int(parts[0]), int(parts[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"expected positive W{sep}H, got {text!r}")
    return w, h


def frame_size(aspect_ratio: str | None, size: str | None) -> tuple[int, int]:
    """The (width, height) in pixels the emulator encodes for a requested shape."""
    if size:
        w, h = _ratio(size, "x")
    elif aspect_ratio:
        w, h = _ratio(aspect_ratio, ":")
    else:
        w, h = 16, 9
    width = max(2, int(HEIGHT * w / h / 2 + 0.5) * 2)
    return width, HEIGHT


def _video_codec() -> str:
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def _palette(seed: int) -> bytes:
    """One period of a smooth 0→255→0 ramp; slicing it at moving offsets gives the motion."""
    period = 256
    phase = seed % period
    return bytes(int(127.5 + 110 * math.sin(2 * math.pi * ((i + phase) % period) / period)) for i in range(period))


def _plane_bytes(ramp: bytes, width: int, height: int, line_size: int, shift: int, slope: int) -> bytes:
    """A plane whose row y is the ramp started at ``shift + slope·y``: a drifting diagonal gradient."""
    period = len(ramp)
    tiled = ramp * (width // period + 2)
    pad = b"\x00" * (line_size - width)
    rows = []
    for y in range(height):
        start = (shift + slope * y) % period
        rows.append(tiled[start : start + width] + pad)
    return b"".join(rows)


def _fill_frame(frame: av.VideoFrame, ramps: tuple[bytes, bytes, bytes], index: int) -> None:
    luma, cb, cr = frame.planes
    luma.update(_plane_bytes(ramps[0], luma.width, luma.height, luma.line_size, index * 6, 2))
    cb.update(_plane_bytes(ramps[1], cb.width, cb.height, cb.line_size, index * 3, 1))
    cr.update(_plane_bytes(ramps[2], cr.width, cr.height, cr.line_size, 255 - index * 2, 3))


def _add_audio(container: OutputContainer) -> av.AudioStream:
    stream = container.add_stream("aac", rate=SAMPLE_RATE)
    stream.layout = "mono"
    stream.time_base = Fraction(1, SAMPLE_RATE)
    return stream


def _audio_frames(duration_s: float) -> list[av.AudioFrame]:
    total = round(duration_s * SAMPLE_RATE)
    cycle = SAMPLE_RATE // _TONE_HZ
    one_cycle = array("f", (0.2 * math.sin(2 * math.pi * i / cycle) for i in range(cycle))).tobytes()
    tone = one_cycle * (total // cycle + 1)
    width = array("f").itemsize
    frames = []
    for start in range(0, total, _AUDIO_FRAME):
        count = min(_AUDIO_FRAME, total - start)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=count)
        frame.planes[0].update(tone[start * width : (start + count) * width])
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        frame.time_base = Fraction(1, SAMPLE_RATE)
        frames.append(frame)
    return frames


def make_mp4(
    duration_s: float,
    aspect_ratio: str | None,
    size: str | None,
    *,
    with_audio: bool,
    seed: int | None,
    label: str,
) -> bytes:
    """Encode a clip of ``duration_s`` seconds; see the module docstring for the picture it draws."""
    if not duration_s > 0:
        raise ValueError(f"duration must be positive, got {duration_s!r}")
    width, height = frame_size(aspect_ratio, size)
    frame_count = max(1, round(duration_s * FPS))
    mixed = zlib.crc32(f"{seed}:{label}".encode())
    ramps = (_palette(mixed), _palette(mixed >> 8), _palette(mixed >> 16))

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        container.metadata["comment"] = label
        codec = _video_codec()
        options = {"preset": "ultrafast", "crf": "30"} if codec == "libx264" else {}
        video = cast(av.VideoStream, container.add_stream(codec, rate=FPS, options=options))
        video.width = width
        video.height = height
        video.pix_fmt = "yuv420p"
        video.time_base = Fraction(1, FPS)
        video.codec_context.time_base = Fraction(1, FPS)
        audio = _add_audio(container) if with_audio else None

        for index in range(frame_count):
            frame = av.VideoFrame(width, height, "yuv420p")
            _fill_frame(frame, ramps, index)
            frame.pts = index
            frame.time_base = Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))

        if audio is not None:
            for audio_frame in _audio_frames(duration_s):
                container.mux(audio.encode(audio_frame))
            container.mux(audio.encode(None))
    return buffer.getvalue()
