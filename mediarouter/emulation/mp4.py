"""Real, playable MP4s for emulators, written with PyAV, rendered once per shape.

Clients under test must handle a genuine file (container parsing, probing duration, saving to
disk), so emulators never serve placeholder bytes. To stay fast the picture is small:

- the height is 144 px unless a backend asks for another; the width follows the requested
  shape and is rounded to an even number (H.264 with 4:2:0 chroma needs even sizes). For
  ``aspect_ratio="16:9"`` that is 256x144, for ``"9:16"`` 82x144. A ``size`` of ``"WxH"`` is
  scaled the same way (``"1280x720"`` → 256x144) and wins over ``aspect_ratio``; with neither
  the clip is 16:9;
- 12 frames per second by default, and the frame count is ``round(duration × fps)`` so the clip
  lasts the requested time (within one frame);
- H.264 (libx264, ultrafast) in an MP4 container, falling back to MPEG-4 Part 2 when libx264 is
  not built into the installed FFmpeg;
- optionally a mono AAC sine track of the same length.

The frames are a diagonal colour gradient that drifts every frame, seeded by ``seed`` and a
``variant``, so the video visibly moves and different outputs give different pictures. No numpy:
the planes are filled from byte slices.

Rendering costs about a quarter of a CPU second per clip, so a load test against an emulator
would measure the emulator. Clips are therefore rendered once per :class:`VideoSpec` (size,
duration, fps, audio, palette) and kept in a bounded LRU :class:`VideoCache`; every job's copy
differs only in a fixed-width ``comment`` stamped over a placeholder in the container metadata,
which changes no box size, so each job still gets its own bytes at the cost of one copy.

PyAV is imported on first render, so specs, sizes and the cache load without it.
"""

from __future__ import annotations

import io
import math
import threading
import zlib
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, cast

__all__ = [
    "DEFAULT_CACHE",
    "FPS",
    "HEIGHT",
    "LABEL_WIDTH",
    "SAMPLE_RATE",
    "VideoCache",
    "VideoSpec",
    "frame_size",
    "make_mp4",
    "render",
]

FPS = 12
HEIGHT = 144
SAMPLE_RATE = 24_000
#: Bytes of the stamped ``comment``: longer labels are replaced by their CRC-and-prefix.
LABEL_WIDTH = 64
_AUDIO_FRAME = 1024
#: 375 Hz divides 24 kHz into whole 64-sample cycles, so one cycle is computed and tiled.
_TONE_HZ = 375
#: Written as the ``comment`` of every cached render and replaced by each job's label.
_PLACEHOLDER = b"mediarouter-emulator-label:" + b"~" * (LABEL_WIDTH - 27)


def _ratio(text: str, sep: str) -> tuple[int, int]:
    parts = text.lower().split(sep)
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"expected W{sep}H, got {text!r}")
    w, h = int(parts[0]), int(parts[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"expected positive W{sep}H, got {text!r}")
    return w, h


def frame_size(aspect_ratio: str | None, size: str | None, *, height: int = HEIGHT) -> tuple[int, int]:
    """The (width, height) in pixels encoded for a requested shape: ``size`` wins, else the ratio, else 16:9."""
    if size:
        w, h = _ratio(size, "x")
    elif aspect_ratio:
        w, h = _ratio(aspect_ratio, ":")
    else:
        w, h = 16, 9
    width = max(2, int(height * w / h / 2 + 0.5) * 2)
    return width, height


@dataclass(frozen=True)
class VideoSpec:
    """Everything that shapes the picture and sound; equal specs render to equal bytes, so it is the cache key."""

    duration_s: float
    width: int
    height: int = HEIGHT
    fps: int = FPS
    with_audio: bool = False
    palette: int = 0

    def __post_init__(self) -> None:
        if not self.duration_s > 0:
            raise ValueError(f"duration must be positive, got {self.duration_s!r}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value < 2 or value % 2:
                raise ValueError(f"{name} must be an even number >= 2, got {value!r}")
        if self.fps < 1:
            raise ValueError(f"fps must be >= 1, got {self.fps!r}")

    @classmethod
    def for_request(
        cls,
        duration_s: float,
        aspect_ratio: str | None = None,
        size: str | None = None,
        *,
        with_audio: bool = False,
        seed: int | None = None,
        variant: str = "",
        height: int = HEIGHT,
        fps: int = FPS,
    ) -> VideoSpec:
        """The spec for an API request's shape; ``seed`` and ``variant`` pick the palette."""
        width, height = frame_size(aspect_ratio, size, height=height)
        palette = zlib.crc32(f"{seed}:{variant}".encode())
        return cls(duration_s, width, height, fps, with_audio, palette)


def _video_codec(av: Any) -> str:
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def _ramp(seed: int) -> bytes:
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


def _fill_frame(frame: Any, ramps: tuple[bytes, bytes, bytes], index: int) -> None:
    luma, cb, cr = frame.planes
    luma.update(_plane_bytes(ramps[0], luma.width, luma.height, luma.line_size, index * 6, 2))
    cb.update(_plane_bytes(ramps[1], cb.width, cb.height, cb.line_size, index * 3, 1))
    cr.update(_plane_bytes(ramps[2], cr.width, cr.height, cr.line_size, 255 - index * 2, 3))


def _audio_frames(av: Any, duration_s: float) -> list[Any]:
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


def render(spec: VideoSpec, *, comment: str | bytes = _PLACEHOLDER) -> bytes:
    """Encode one clip (uncached, CPU-bound, blocking); see the module docstring for the picture."""
    import av  # the emulator extra; imported here so the module loads without it

    frame_count = max(1, round(spec.duration_s * spec.fps))
    mixed = spec.palette
    ramps = (_ramp(mixed), _ramp(mixed >> 8), _ramp(mixed >> 16))
    rate = Fraction(1, spec.fps)

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        container.metadata["comment"] = comment.decode() if isinstance(comment, bytes) else comment
        codec = _video_codec(av)
        options = {"preset": "ultrafast", "crf": "30"} if codec == "libx264" else {}
        video = cast("av.VideoStream", container.add_stream(codec, rate=spec.fps, options=options))
        video.width = spec.width
        video.height = spec.height
        video.pix_fmt = "yuv420p"
        video.time_base = rate
        video.codec_context.time_base = rate
        audio = None
        if spec.with_audio:
            audio = container.add_stream("aac", rate=SAMPLE_RATE)
            audio.layout = "mono"
            audio.time_base = Fraction(1, SAMPLE_RATE)

        for index in range(frame_count):
            frame = av.VideoFrame(spec.width, spec.height, "yuv420p")
            _fill_frame(frame, ramps, index)
            frame.pts = index
            frame.time_base = rate
            container.mux(video.encode(frame))
        container.mux(video.encode(None))

        if audio is not None:
            for audio_frame in _audio_frames(av, spec.duration_s):
                container.mux(audio.encode(audio_frame))
            container.mux(audio.encode(None))
    return buffer.getvalue()


def _stamp_text(label: str) -> bytes:
    """``label`` as exactly LABEL_WIDTH bytes: padded with spaces, or shortened with a CRC when too long."""
    raw = label.encode()
    if len(raw) > LABEL_WIDTH:
        raw = f"{zlib.crc32(raw):08x}:".encode() + raw[: LABEL_WIDTH - 9]
        raw = raw.decode(errors="ignore").encode()  # never end inside a multi-byte character
    return raw.ljust(LABEL_WIDTH)


class VideoCache:
    """A thread-safe, bounded LRU of rendered clips, by spec.

    Concurrent requests for one spec render it once (the others wait for it); different specs
    render in parallel. ``renders`` counts encodes, so tests can prove sharing.
    """

    def __init__(self, *, max_entries: int = 64, max_bytes: int = 256 * 1024 * 1024) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be >= 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.renders = 0
        self._clips: OrderedDict[VideoSpec, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._rendering: dict[VideoSpec, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._clips)

    @property
    def size_bytes(self) -> int:
        return self._size

    def _lookup(self, spec: VideoSpec) -> bytes | None:
        with self._lock:
            data = self._clips.get(spec)
            if data is not None:
                self._clips.move_to_end(spec)
            return data

    def get(self, spec: VideoSpec) -> bytes:
        """The clip for ``spec`` with the placeholder comment, rendered now if it is not cached."""
        data = self._lookup(spec)
        if data is not None:
            return data
        with self._lock:
            gate = self._rendering.setdefault(spec, threading.Lock())
        with gate:
            data = self._lookup(spec)  # rendered by whoever held the gate
            if data is None:
                data = render(spec)
                self._store(spec, data)
        with self._lock:
            if self._rendering.get(spec) is gate:
                del self._rendering[spec]
        return data

    def _store(self, spec: VideoSpec, data: bytes) -> None:
        with self._lock:
            self.renders += 1
            if len(data) > self.max_bytes:
                return  # served once, never kept: it would evict everything else
            self._clips[spec] = data
            self._size += len(data)
            while len(self._clips) > self.max_entries or self._size > self.max_bytes:
                _, evicted = self._clips.popitem(last=False)
                self._size -= len(evicted)

    def clip(self, spec: VideoSpec, label: str) -> bytes:
        """The clip for ``spec`` whose metadata ``comment`` is ``label``: each job gets its own bytes."""
        data = self.get(spec)
        if data.count(_PLACEHOLDER) != 1:  # the encoder moved or split it: never serve a guess
            return render(spec, comment=label)
        return data.replace(_PLACEHOLDER, _stamp_text(label), 1)

    def clear(self) -> None:
        with self._lock:
            self._clips.clear()
            self._size = 0


#: Shared by every emulator in the process, so many jobs (and many emulators) with one shape render once.
DEFAULT_CACHE = VideoCache()


def make_mp4(
    duration_s: float,
    aspect_ratio: str | None,
    size: str | None,
    *,
    with_audio: bool,
    seed: int | None,
    label: str,
    variant: str | None = None,
    fps: int = FPS,
    height: int = HEIGHT,
    cache: VideoCache | None = DEFAULT_CACHE,
) -> bytes:
    """A clip of ``duration_s`` seconds whose comment is ``label``.

    The picture follows ``seed`` and ``variant`` (``label`` when None); clips that share them and
    the shape are rendered once in ``cache`` (``None`` renders anew).
    """
    spec = VideoSpec.for_request(
        duration_s,
        aspect_ratio,
        size,
        with_audio=with_audio,
        seed=seed,
        variant=label if variant is None else variant,
        height=height,
        fps=fps,
    )
    if cache is None:
        return render(spec, comment=label)
    return cache.clip(spec, label)
