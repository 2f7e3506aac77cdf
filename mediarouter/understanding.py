"""Video understanding (the video-to-text modality): what a describe call sends, gets back, and may send.

A describe call sends one video and a prompt to a multimodal chat model and gets text back.
This module holds the provider-neutral parts:

- `load_video`: a local path, bytes, a `data:`/https URL, a `MediaFile` or a `VideoResult` as
  one `VideoInput`, its MIME type sniffed from the first bytes (never from the file name);
- `DescribeModel`: what a model takes (size limit, MIME types, URLs) and what it charges per token;
- `check_input`: the per-model size and type guard, run before anything is uploaded;
- `shrink_video`: the opt-in cut or downscale (PyAV) that makes a video fit, never applied silently;
- `DescribeRequest` / `DescribeResult` and the `Describer` protocol a provider implements.

PyAV is imported on first use (`pip install 'mediarouter[video]'`), so the module loads without it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import math
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .errors import CapabilityMismatch, ConfigurationError, InvalidRequest, PayloadTooLarge
from .media_types import HEADER_BYTES, VIDEO_TYPES, kind_of, sniff
from .redact import redact_url
from .results import Attempt, MediaFile, VideoResult

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MAX_VIDEO_BYTES",
    "DEFAULT_VIDEO_TOKENS_PER_SECOND",
    "PROCESSING_MODES",
    "SHRINK_MODES",
    "DescribeModel",
    "DescribeRequest",
    "DescribeResult",
    "Describer",
    "ShrinkMode",
    "ShrinkReport",
    "TokenUsage",
    "valid_unicode",
    "VideoInput",
    "VideoLike",
    "VideoProbe",
    "check_input",
    "estimate_cost",
    "load_video",
    "probe_video",
    "shrink_video",
]

#: When a model advertises no limit: Gemini's documented inline-data size (OpenRouter documents none).
DEFAULT_MAX_VIDEO_BYTES = 20 * 1024 * 1024
#: Sent as `max_tokens` unless the caller says otherwise, so the cost estimate has an upper bound.
DEFAULT_MAX_TOKENS = 1024
#: Gemini bills about 263 tokens per second of video (258 for frames at 1 fps, 32 for audio): the estimate's rate.
DEFAULT_VIDEO_TOKENS_PER_SECOND = 300
#: OpenRouter's `video_url.processing` values (Gemini only, for now).
PROCESSING_MODES: tuple[str, ...] = ("agentic", "static")

ShrinkMode = Literal["auto", "downscale", "cut"]
SHRINK_MODES: tuple[str, ...] = ("auto", "downscale", "cut")

VideoLike = str | os.PathLike[str] | bytes | bytearray | memoryview | MediaFile | VideoResult

_ALLOWED = "a local video file, bytes, an https:// or data: URL, a MediaFile or a VideoResult"
_DATA_URL = re.compile(r"^data:([^;,]+)(;[^,]*)?,", re.IGNORECASE)


def _mib(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


# -- the input ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoInput:
    """One video to describe: bytes (in memory or in a file) with their sniffed type, or an https URL."""

    #: What to call it in messages (a file name, "bytes", a URL without its query).
    label: str
    data: bytes | None = field(default=None, repr=False)
    path: Path | None = None
    url: str | None = field(default=None, repr=False)
    #: Sniffed from the bytes; None for a URL (its bytes are never fetched here).
    mime_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    #: How the video was made to fit, when it was.
    shrunk: ShrinkReport | None = None

    @property
    def is_url(self) -> bool:
        return self.url is not None

    def read_bytes(self) -> bytes:
        """The bytes; a file is read again and must still be what was checked and hashed (else InvalidRequest)."""
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ValueError("a URL input has no local bytes")
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise _refuse(f"cannot read {self.path}: {exc.strerror or exc}; nothing was sent") from None
        if len(data) != self.size or (self.sha256 is not None and hashlib.sha256(data).hexdigest() != self.sha256):
            # The size guard and the cache key are about the bytes first read: other bytes are never sent.
            raise _refuse(
                f"{self.path} changed after it was checked ({self.size} bytes then, {len(data)} now); nothing was sent",
                hint="wait until the file is written completely, then run it again",
            )
        return data

    def data_url(self, mime_type: str | None = None) -> str:
        """`data:<mime>;base64,…` of the bytes (what a provider sends for a local video).

        `mime_type` overrides the sniffed name where an API spells the same type its own way.
        """
        if self.mime_type is None:
            raise ValueError("a URL input has no data: URL")
        return f"data:{mime_type or self.mime_type};base64," + base64.b64encode(self.read_bytes()).decode("ascii")

    def encoded_size(self) -> int | None:
        """Bytes of the data: URL (base64 adds a third), or None for a URL."""
        if self.size is None or self.mime_type is None:
            return None
        return len(f"data:{self.mime_type};base64,") + 4 * math.ceil(self.size / 3)

    def summary(self) -> dict[str, Any]:
        """JSON-ready facts about the input (never its bytes, never a URL's query)."""
        return {
            "label": self.label,
            "mime_type": self.mime_type,
            "size": self.size,
            "sha256": self.sha256,
            "url": redact_url(self.url) if self.url is not None else None,
            "shrunk": self.shrunk.model_dump(mode="json") if self.shrunk is not None else None,
        }


def _refuse(message: str, hint: str | None = None) -> InvalidRequest:
    return InvalidRequest(f"video: {message}", hint=hint or f"give {_ALLOWED}")


def _video_type(header: bytes, shown: str) -> str:
    mime = sniff(header)
    if mime is None or kind_of(mime) != "video":
        what = f"it looks like {mime}" if mime else "its first bytes match no known format"
        raise _refuse(
            f"{shown} is not a video ({what}; told by its bytes, not its name)",
            hint="give an MP4, WebM, MOV, AVI, MKV or MPEG video",
        )
    return mime


def _from_bytes(data: bytes, label: str) -> VideoInput:
    if not data:
        raise _refuse(f"{label} is empty")
    mime = _video_type(data[:HEADER_BYTES], label)
    return VideoInput(label=label, data=data, mime_type=mime, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def _from_path(path: Path, shown: str) -> VideoInput:
    try:
        path = path.expanduser()
        size = path.stat().st_size
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            header = handle.read(HEADER_BYTES)
            digest.update(header)
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise _refuse(f"no such file: {shown!r}") from None
    except IsADirectoryError:
        raise _refuse(f"{shown!r} is a directory") from None
    except OSError as exc:
        raise _refuse(f"cannot read {shown}: {exc.strerror or exc}") from None
    if size == 0:
        raise _refuse(f"{shown} is empty")
    mime = _video_type(header, shown)
    return VideoInput(label=path.name, path=path, mime_type=mime, size=size, sha256=digest.hexdigest())


def _from_data_url(value: str) -> VideoInput:
    match = _DATA_URL.match(value)
    if match is None or not (match.group(2) or "").lower().endswith("base64"):
        raise _refuse("a data: URL must look like data:video/<type>;base64,<data>")
    try:
        data = base64.b64decode(value[match.end() :], validate=True)
    except (binascii.Error, ValueError):
        raise _refuse("the data: URL is not valid base64") from None
    return _from_bytes(data, "data: URL")


def load_video(video: VideoLike) -> VideoInput:
    """The video as a `VideoInput`; an InvalidRequest naming `video` for anything unusable.

    A `VideoResult` gives its first file. Strings are https:// URLs, data: URLs or file paths;
    http:// and other schemes are refused (providers fetch only https).
    """
    if isinstance(video, VideoResult):
        if not video.files:
            raise _refuse(f"the VideoResult of job {video.job_id} has no files")
        return load_video(video.files[0])
    if isinstance(video, MediaFile):
        if video.data is not None:
            return _from_bytes(video.data, f"MediaFile #{video.index}")
        if video.path is not None:
            return _from_path(video.path, str(video.path))
        raise _refuse("the MediaFile has neither a path nor data")
    if isinstance(video, bytes | bytearray | memoryview):
        return _from_bytes(bytes(video), "bytes")
    if isinstance(video, os.PathLike):
        return _from_path(Path(os.fspath(video)), os.fspath(video))
    if not isinstance(video, str):
        raise _refuse(f"cannot use a {type(video).__name__}")
    text = video.strip()
    if not text:
        raise _refuse("must not be empty")
    lowered = text.lower()
    if lowered.startswith("https://"):
        return VideoInput(label=redact_url(text), url=text)
    if lowered.startswith("data:"):
        return _from_data_url(text)
    if lowered.startswith("http://"):
        raise _refuse("http:// URLs are not allowed (providers fetch only https://)")
    return _from_path(Path(text), text)


# -- what a model takes -------------------------------------------------------------------------


class DescribeModel(BaseModel):
    """One model that takes video input, with the limits the guard checks and the prices the estimate uses."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    provider: str
    id: str
    name: str | None = None
    #: Largest video (raw bytes, before base64) sent inline; None: DEFAULT_MAX_VIDEO_BYTES.
    max_video_bytes: int | None = None
    #: Video MIME types the model takes; None: not advertised (anything sniffed is sent).
    video_mime_types: tuple[str, ...] | None = None
    #: Whether an https:// URL may be sent as is (None: unknown, the provider decides).
    accepts_video_urls: bool | None = None
    #: USD per token, when known.
    price_per_input_token: Decimal | None = None
    price_per_output_token: Decimal | None = None
    #: USD charged once per request on top of the tokens (OpenRouter's `pricing.request`), when known.
    price_per_request: Decimal | None = None
    #: Input tokens per second of video, for the estimate.
    video_tokens_per_second: int = DEFAULT_VIDEO_TOKENS_PER_SECOND
    context_length: int | None = None
    source: str = Field(default="catalog", description="'live' when read from the provider's listing")

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.id}"

    @property
    def size_limit(self) -> int:
        return self.max_video_bytes if self.max_video_bytes is not None else DEFAULT_MAX_VIDEO_BYTES


def check_input(model: DescribeModel, video: VideoInput) -> None:
    """Refuse, before any upload, a video the model cannot take: its type, then its size (PayloadTooLarge)."""
    if video.is_url:
        if model.accepts_video_urls is False:
            raise CapabilityMismatch(
                f"{model.ref} does not take video URLs",
                field="video",
                value=video.label,
                provider=model.provider,
                model=model.id,
                hint="download the video and give the local file (it is sent inline as a data: URL)",
            )
        return
    allowed = model.video_mime_types
    if allowed is not None and video.mime_type not in allowed:
        raise CapabilityMismatch(
            f"{model.ref} does not take {video.mime_type} video (allowed values: {', '.join(allowed)})",
            field="video",
            value=video.mime_type,
            supported=list(allowed),
            provider=model.provider,
            model=model.id,
            hint="--shrink (shrink=True) re-encodes it as MP4, or convert it yourself",
        )
    size = video.size or 0
    if size > model.size_limit:
        raise PayloadTooLarge(
            f"video {video.label} is {_mib(size)}, over the {_mib(model.size_limit)} limit of {model.ref}; "
            "nothing was uploaded",
            provider=model.provider,
            model=model.id,
            hint="--shrink (shrink=True) cuts or downscales a copy to fit, or give an https:// URL",
            details={"size": size, "limit": model.size_limit},
        )


# -- request, result, protocol ------------------------------------------------------------------


@dataclass(frozen=True)
class DescribeRequest:
    """What one describe call asks of one model."""

    video: VideoInput
    prompt: str
    max_tokens: int = DEFAULT_MAX_TOKENS
    #: OpenRouter's `video_url.processing` (agentic | static); None leaves it to the model.
    processing: str | None = None
    temperature: float | None = None

    def __post_init__(self) -> None:
        if not self.prompt or not self.prompt.strip():
            raise InvalidRequest("prompt: must not be empty", hint="say what to do with the video")
        if self.max_tokens < 1:
            raise InvalidRequest(f"max_tokens: must be >= 1 (got {self.max_tokens})")
        if self.processing is not None and self.processing not in PROCESSING_MODES:
            raise InvalidRequest(
                f"processing: {self.processing!r} is not allowed (allowed values: {', '.join(PROCESSING_MODES)})"
            )
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise InvalidRequest(f"temperature: must be between 0 and 2 (got {self.temperature})")

    def options(self) -> dict[str, Any]:
        """The request's settings besides video and prompt (part of the cache key)."""
        return {"max_tokens": self.max_tokens, "processing": self.processing, "temperature": self.temperature}


class TokenUsage(BaseModel):
    model_config = ConfigDict(defer_build=True)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class ShrinkReport(BaseModel):
    """How a video was made to fit a model's limit (shown to the caller: shrinking is never silent)."""

    model_config = ConfigDict(defer_build=True)

    mode: str = Field(description="downscale | cut")
    original_size: int
    size: int
    limit: int
    original_resolution: str | None = None
    resolution: str | None = None
    original_duration: float | None = None
    duration: float | None = None
    audio_dropped: bool = False

    def describe(self) -> str:
        text = f"shrunk the video from {_mib(self.original_size)} to {_mib(self.size)} (limit {_mib(self.limit)})"
        changes = []
        if self.resolution != self.original_resolution:
            changes.append(f"downscaled {self.original_resolution} → {self.resolution}")
        if self.duration is not None and self.original_duration is not None and self.duration < self.original_duration:
            changes.append(f"cut to the first {self.duration:.1f}s of {self.original_duration:.1f}s")
        if self.audio_dropped:
            changes.append("dropped the audio track")
        return text + (f": {', '.join(changes)}" if changes else ": re-encoded")


class DescribeResult(BaseModel):
    """A model's answer about a video, who gave it, what it cost and how long it took."""

    model_config = ConfigDict(defer_build=True)

    text: str
    provider: str
    model: str
    usage: TokenUsage = Field(default_factory=TokenUsage)
    cost: Decimal | None = None
    estimated_cost: Decimal | None = None
    #: The provider's id for the completion (OpenRouter's generation id), when it gives one.
    generation_id: str | None = None
    finish_reason: str | None = None
    cached: bool = False
    timings: dict[str, float] = Field(default_factory=dict)
    attempts: list[Attempt] = Field(default_factory=list)
    video: dict[str, Any] = Field(default_factory=dict, description="VideoInput.summary() of what was sent")

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.model}"

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@runtime_checkable
class Describer(Protocol):
    """What a provider implements to serve video understanding (next to `mediarouter.Provider`).

    `describe_models` lists the models that take video input (live when possible, cached, with
    an offline catalog); `describe` sends one request, once, and raises core errors (the same
    status table as generation). Like `submit`, it never retries, sleeps or fails over.
    """

    async def describe_models(self) -> list[DescribeModel]: ...

    async def describe(self, model_id: str, request: DescribeRequest) -> DescribeResult: ...


# -- cost --------------------------------------------------------------------------------------


def estimate_cost(
    model: DescribeModel, request: DescribeRequest, duration_s: float | None
) -> tuple[Decimal | None, int | None]:
    """(USD upper estimate, input tokens) for a request: video seconds × tokens/s + prompt, plus `max_tokens` out,
    plus the model's per-request price.

    None when a price or the video's duration is unknown (a URL, or PyAV missing).
    """
    if model.price_per_input_token is None or model.price_per_output_token is None or duration_s is None:
        return None, None
    prompt_tokens = math.ceil(duration_s * model.video_tokens_per_second) + math.ceil(len(request.prompt) / 3) + 16
    cost = model.price_per_input_token * prompt_tokens + model.price_per_output_token * request.max_tokens
    cost += model.price_per_request or 0
    return cost.quantize(Decimal("0.000001")), prompt_tokens


# -- probing and shrinking (PyAV) ------------------------------------------------------------------


@dataclass(frozen=True)
class VideoProbe:
    """What a video's container says about it."""

    container: str
    duration: float | None
    width: int | None
    height: int | None
    frames: int | None
    fps: float | None
    has_audio: bool
    video_codec: str | None = None

    @property
    def resolution(self) -> str | None:
        return f"{self.width}x{self.height}" if self.width and self.height else None


def _import_av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise ConfigurationError(
            f"reading video needs PyAV ({exc.name or exc})", hint="pip install 'mediarouter[video]'"
        ) from None
    return av


def _open(av: Any, source: bytes | Path) -> Any:
    try:
        return av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InvalidRequest(f"video: cannot be read as a video ({exc})") from None


def probe_video(source: bytes | Path) -> VideoProbe:
    """Container, duration, resolution, frame count, frame rate and audio of a video (blocking)."""
    av = _import_av()
    with _open(av, source) as container:
        video = container.streams.video[0] if container.streams.video else None
        duration = container.duration / 1_000_000 if container.duration else None
        if duration is None and video is not None and video.duration and video.time_base:
            duration = float(video.duration * video.time_base)
        frames = int(video.frames) if video is not None and video.frames else None
        if video is not None and not frames:
            frames = sum(1 for packet in container.demux(video) if packet.size)
        fps = float(video.average_rate) if video is not None and video.average_rate else None
        return VideoProbe(
            container=str(container.format.name),
            duration=round(duration, 3) if duration is not None else None,
            width=int(video.codec_context.width) if video is not None else None,
            height=int(video.codec_context.height) if video is not None else None,
            frames=frames,
            fps=round(fps, 3) if fps is not None else None,
            has_audio=bool(container.streams.audio),
            video_codec=str(video.codec_context.name) if video is not None else None,
        )


#: Heights tried when downscaling, and the least bits per pixel (per frame) worth sending.
_HEIGHTS = (1080, 720, 540, 480, 360, 240, 144, 96, 72)
_MIN_BITS_PER_PIXEL = 0.03
_AUDIO_BITRATE = 32_000
_MARGIN = 0.88  # containers and rate control overshoot a little


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


@dataclass(frozen=True)
class _Plan:
    mode: str
    width: int
    height: int
    seconds: float
    video_bitrate: int
    audio: bool


def _plan(probe: VideoProbe, limit: int, mode: ShrinkMode, squeeze: float) -> _Plan:
    width, height = probe.width or 256, probe.height or 144
    duration = probe.duration or 1.0
    fps = probe.fps or 24.0
    budget = limit * 8 * _MARGIN * squeeze
    # An audio track that would take most of a tiny budget is dropped (and the report says so).
    keep_audio = probe.has_audio and 0.4 * budget / duration >= _AUDIO_BITRATE
    audio = _AUDIO_BITRATE if keep_audio else 0
    bitrate = int(budget / duration) - audio
    if mode != "cut":
        for target in sorted({height, *(h for h in _HEIGHTS if h < height)}, reverse=True):
            w, h = _even(width * target / height), _even(target)
            if bitrate > 0 and bitrate / (w * h * fps) >= _MIN_BITS_PER_PIXEL:
                return _Plan("downscale", w, h, duration, bitrate, keep_audio)
        if mode == "downscale":
            raise PayloadTooLarge(
                f"video: downscaling alone cannot fit {duration:.1f}s under {_mib(limit)}",
                hint="shrink='cut' (or 'auto') keeps only the start of the video",
            )
    # Cut: keep the resolution (downscaled to 360p at most in auto mode) and as many seconds as fit.
    if mode == "auto" and height > 360:
        width, height = _even(width * 360 / height), 360
    else:
        width, height = _even(width), _even(height)
    rate = max(int(width * height * fps * _MIN_BITS_PER_PIXEL * 2), 64_000)
    seconds = budget / (rate + audio)
    if seconds < 1.0:
        raise PayloadTooLarge(f"video: under a second of it fits {_mib(limit)}; nothing useful would be left")
    return _Plan("cut", width, height, min(seconds, duration), rate, keep_audio)


def _encode(av: Any, source: bytes | Path, plan: _Plan, probe: VideoProbe) -> bytes:
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    fps = Fraction(round(probe.fps or 24)).limit_denominator(1000) or Fraction(24)
    buffer = io.BytesIO()
    with _open(av, source) as src, av.open(buffer, mode="w", format="mp4") as out:
        vin = src.streams.video[0]
        ain = src.streams.audio[0] if src.streams.audio and plan.audio else None
        options = {"preset": "ultrafast"} if codec == "libx264" else {}
        vout = out.add_stream(codec, rate=fps, options=options)
        vout.width, vout.height, vout.pix_fmt = plan.width, plan.height, "yuv420p"
        vout.bit_rate = plan.video_bitrate
        aout = resampler = None
        if ain is not None:
            aout = out.add_stream("aac", rate=24_000)
            aout.layout = "mono"
            aout.bit_rate = _AUDIO_BITRATE
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=24_000)
        index = 0
        streams = [vin] if ain is None else [vin, ain]
        for packet in src.demux(*streams):
            for frame in packet.decode():
                if frame.time is not None and frame.time >= plan.seconds:
                    continue
                if packet.stream is vin:
                    picture = frame.reformat(width=plan.width, height=plan.height, format="yuv420p")
                    picture.pts, picture.time_base = index, 1 / fps
                    index += 1
                    out.mux(vout.encode(picture))
                elif aout is not None and resampler is not None:
                    for sound in resampler.resample(frame):
                        sound.pts = None
                        out.mux(aout.encode(sound))
        out.mux(vout.encode(None))
        if aout is not None:
            out.mux(aout.encode(None))
    return buffer.getvalue()


def shrink_video(video: VideoInput, limit: int, *, mode: ShrinkMode = "auto") -> VideoInput:
    """A re-encoded MP4 copy of `video` under `limit` bytes: downscaled, else cut (`auto`), or as `mode` says.

    Blocking and CPU-bound (run it in a thread). The returned input carries a `ShrinkReport`;
    the cache key stays the original's content hash. PayloadTooLarge when nothing useful fits.
    """
    if mode not in SHRINK_MODES:
        raise InvalidRequest(f"shrink: {mode!r} is not allowed (allowed values: {', '.join(SHRINK_MODES)})")
    if video.is_url:
        raise InvalidRequest("shrink: a URL input cannot be shrunk", hint="download it and give the local file")
    av = _import_av()
    source = video.read_bytes()
    probe = probe_video(source)
    squeeze = 1.0
    for _ in range(4):
        plan = _plan(probe, limit, mode, squeeze)
        try:
            data = _encode(av, source, plan, probe)
        except av.error.FFmpegError as exc:
            raise InvalidRequest(f"video: could not be re-encoded to shrink it ({exc})") from None
        if len(data) <= limit:
            report = ShrinkReport(
                mode=plan.mode,
                original_size=video.size or len(source),
                size=len(data),
                limit=limit,
                original_resolution=probe.resolution,
                resolution=f"{plan.width}x{plan.height}",
                original_duration=probe.duration,
                duration=round(min(plan.seconds, probe.duration or plan.seconds), 3),
                audio_dropped=probe.has_audio and not plan.audio,
            )
            return VideoInput(
                label=f"{video.label} (shrunk)",
                data=data,
                mime_type="video/mp4",
                size=len(data),
                sha256=video.sha256,  # the cache is keyed by what the caller gave
                shrunk=report,
            )
        squeeze *= 0.7 * limit / len(data)
    raise PayloadTooLarge(f"video: could not shrink {video.label} under {_mib(limit)}")


def video_types() -> tuple[str, ...]:
    """The video MIME types the sniffer knows (for messages)."""
    return VIDEO_TYPES


def valid_unicode(text: str) -> str:
    """`text` with any lone surrogate as U+FFFD. An answer's JSON may escape half a pair, and such a
    string cannot be encoded as UTF-8 (printed, cached, logged) after it was paid for."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
