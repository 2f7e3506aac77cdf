"""The Gemini API (Veo) provider: wiring of Google's long-running operations onto `mediarouter.Provider`.

`POST {base}/models/{model}:predictLongRunning` → an operation; `GET {base}/{operation name}` until
`done`; `GET <video.uri>` with the key on Google's origin (the redirect to the file host goes
without it), or, for a video sent inline, its bytes decoded once into an anonymous temporary file.
The status table, credentials-only-to-origin, bounded reads and download checks are the core's
`mediarouter.http`; the body, the catalog and the rpc mapping are their own modules.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import IO, Any, ClassVar

import httpx
from pydantic import SecretStr

from mediarouter import (
    ConfigurationError,
    Download,
    InvalidRequest,
    Job,
    JobOutput,
    JobState,
    JobStatus,
    Modality,
    ModelInfo,
    PayloadTooLarge,
    ProtocolError,
    Provider,
    ProviderUnavailable,
    VideoRequest,
)
from mediarouter.clock import Clock
from mediarouter.emulation.loading import load_emulator
from mediarouter.http import ProviderClient, display_origin, normalize_key, origin_of
from mediarouter.keys import get_key
from mediarouter.media_types import HEADER_BYTES, sniff

from . import PROVIDER_NAME
from .body import MAX_IMAGE_BYTES, InlineImage, ResolvedImages, build_body, image_sources, inline_image_from_data_url
from .catalog import catalog_model_infos
from .rpc import KEY_HINT, RULES, operation_ending
from .wire import Operation, Video, is_operation_name, parse_operation

__all__ = ["DEFAULT_BASE_URL", "GeminiVideoProvider"]

log = logging.getLogger("mediarouter.gemini")

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_PLACEHOLDER = InlineImage("image/png", "AAAA")
#: A finished operation may carry its video inline (base64, about 4/3 of the file), so a poll may read this much.
MAX_OPERATION_BODY = 256 * 1024 * 1024
_INLINE_CHUNK = 1024 * 1024
#: Base64 characters decoded per step (a multiple of 4): the decoded video is never whole in memory.
_DECODE_STEP = 4 * 1024 * 1024
#: Standard and URL-safe base64 alike (proto3 JSON allows both for bytes); whitespace is dropped.
_BASE64_ALPHABET = bytes.maketrans(b"-_", b"+/")
_WHITESPACE = b" \t\r\n\f\v"
#: Inline videos kept decoded for a download to come (a poll without a download, e.g. a status look, leaves one):
#: past this many, the oldest not being read is closed; its download then reads the operation again.
MAX_KEPT_INLINE = 8


def _package_version() -> str:
    try:
        return version("mediarouter-gemini")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


USER_AGENT = f"mediarouter-gemini/{_package_version()}"


def _normalize_key(key: str | SecretStr | None) -> SecretStr | None:
    return normalize_key(key, provider=PROVIDER_NAME, label="Gemini", hint=KEY_HINT)


def _base_url(value: str) -> str:
    """https, or http on loopback only (a local proxy): the key must not cross a network in clear text."""
    text = value.strip().rstrip("/")
    url = origin_of(text)
    if url is None or "?" in text or "#" in text or "@" in text.split("://", 1)[-1].split("/", 1)[0]:
        raise ConfigurationError(
            f"GEMINI_BASE_URL / base_url must be an https URL such as {DEFAULT_BASE_URL} (got {value!r})",
            provider=PROVIDER_NAME,
        )
    if url[0] == "http" and url[1] not in _LOOPBACK:
        raise ConfigurationError(
            f"base_url {value!r} is plain http: the API key would travel unencrypted; use https "
            "(http is allowed for localhost only)",
            provider=PROVIDER_NAME,
        )
    return text


class GeminiVideoProvider(Provider):
    """Veo on the Gemini API. Key from `api_key=`, else GEMINI_API_KEY, else GOOGLE_API_KEY."""

    name = PROVIDER_NAME
    supported_modalities = (Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO, Modality.REFERENCE_TO_VIDEO)
    can_cancel = False  # Google documents no cancel for Veo operations; the base class's cancel() says so
    supports_emulator: ClassVar[bool] = True

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        emulator: bool = False,
        emulator_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.emulator = emulator
        if emulator:
            # Offline runs never read (or depend on) GEMINI_* / GOOGLE_* from the environment.
            base_url, transport, api_key = self._emulated(base_url, transport, api_key, emulator_options)
        else:
            if emulator_options:
                raise ConfigurationError("emulator_options need emulator=True", provider=PROVIDER_NAME)
            if api_key is None:
                # The environment wins; `mediarouter keys set gemini` is the fallback.
                api_key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY") or get_key(PROVIDER_NAME)
            if base_url is None:
                base_url = os.environ.get("GEMINI_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = _base_url(base_url)
        self._api_key = _normalize_key(api_key)
        self.http = ProviderClient(
            provider=PROVIDER_NAME,
            rules=RULES,
            base_url=self.base_url,
            credentials={"x-goog-api-key": self._api_key} if self._api_key is not None else None,
            user_agent=USER_AGENT,
            transport=transport,
            timeout=httpx.Timeout(60.0, connect=10.0),
            clock=clock,
        )
        self.server_address = self.http.server_address
        self._transport = transport
        self._media: httpx.AsyncClient | None = None
        #: Inline videos decoded by a poll (or a download), by (operation name, output index), until downloaded.
        self._inline: dict[tuple[str, int], _InlineVideo] = {}

    @staticmethod
    def _emulated(
        base_url: str | None,
        transport: httpx.AsyncBaseTransport | None,
        api_key: str | SecretStr | None,
        options: Mapping[str, Any] | None,
    ) -> tuple[str, httpx.AsyncBaseTransport, str | SecretStr]:
        """The in-process emulator: its base URL, its transport, and its own key (never the real one)."""
        from .emulator import EMULATOR_BASE_URL, config_from_options

        config = config_from_options(options or {})
        if transport is None:

            def build() -> httpx.AsyncBaseTransport:
                from .emulator import emulator_transport

                return emulator_transport(config)

            transport = load_emulator(
                build, provider=PROVIDER_NAME, label="Gemini", hint="pip install 'mediarouter-gemini[emulator]'"
            )
        return base_url or EMULATOR_BASE_URL, transport, api_key if api_key is not None else "emulator-key"

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "unset"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key}, emulator={self.emulator})"

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    async def aclose(self) -> None:
        kept, self._inline = self._inline, {}
        for video in kept.values():
            video.close()
        media, self._media = self._media, None
        if media is not None:
            await media.aclose()
        await self.http.aclose()

    # -- models ------------------------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        """The built-in catalog: Google's model listing says nothing about video capabilities."""
        return catalog_model_infos()

    async def get_model(self, model_id: str) -> ModelInfo | None:
        return await super().get_model(model_id.removeprefix("models/"))

    # -- input images --------------------------------------------------------------------------

    def _media_client(self) -> httpx.AsyncClient:
        """A plain client for the caller's https image URLs: no key, no Google headers, ever."""
        if self._media is None:
            self._media = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(30.0, connect=10.0),
                follow_redirects=True,
                max_redirects=5,
                event_hooks={"request": [_https_only]},
            )
        return self._media

    async def _fetch_image(self, url: str, field: str) -> InlineImage:
        """Download one https image under the size guard; its MIME type comes from its bytes."""
        where = display_origin(url)
        context: dict[str, Any] = {"provider": PROVIDER_NAME, "details": {"field": field, "origin": where}}
        data = bytearray()
        try:
            async with self._media_client().stream("GET", url, headers={"Accept": "image/*"}) as response:
                if response.status_code != 200:
                    raise InvalidRequest(
                        f"{field}: {where} answered HTTP {response.status_code} for the image",
                        hint="give a URL that serves the image to anyone, or a local file",
                        **context,
                    )
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
                    raise _too_large(field, int(declared))
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > MAX_IMAGE_BYTES:
                        raise _too_large(field, len(data))
                declared_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        except _NotHttps:
            raise InvalidRequest(f"{field}: {where} redirected to a non-https URL", **context) from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"{field}: could not fetch the image from {where} ({type(exc).__name__}); nothing was sent to Gemini",
                sent=False,
                **context,
            ) from None
        mime = sniff(bytes(data[:HEADER_BYTES])) or (declared_type if declared_type.startswith("image/") else None)
        if mime is None or not mime.startswith("image/"):
            raise InvalidRequest(
                f"{field}: {where} did not serve an image (PNG, JPEG, WebP or GIF)",
                hint="check the URL",
                **context,
            )
        return InlineImage(mime, base64.b64encode(bytes(data)).decode("ascii"))

    async def _resolve(self, url: str | None, field: str) -> InlineImage | None:
        if url is None:
            return None
        if url.startswith("data:"):
            return inline_image_from_data_url(url, field_name=field)
        if url.lower().startswith("https://"):
            return await self._fetch_image(url, field)
        raise InvalidRequest(f"{field} must be an https:// or data: URL", provider=PROVIDER_NAME)

    async def _images(self, request: VideoRequest) -> ResolvedImages:
        sources = image_sources(request)
        if not sources:
            return ResolvedImages()
        references = []
        for i, url in enumerate(sources.references):
            image = await self._resolve(url, f"input_references[{i}]")
            assert image is not None
            references.append(image)
        return ResolvedImages(
            first_frame=await self._resolve(sources.first_frame, "first_frame"),
            last_frame=await self._resolve(sources.last_frame, "last_frame"),
            references=tuple(references),
        )

    # -- submit and poll -----------------------------------------------------------------------

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        """`POST {base}/models/{model}:predictLongRunning`, once; the operation name is the job id."""
        model_id = model_id.removeprefix("models/")
        self.http.require_credentials("submit", model=model_id)
        sources = image_sources(request)
        placeholders = ResolvedImages(
            first_frame=_PLACEHOLDER if sources.first_frame else None,
            last_frame=_PLACEHOLDER if sources.last_frame else None,
            references=tuple(_PLACEHOLDER for _ in sources.references),
        )
        build_body(model_id, request, placeholders)  # refuse what the model cannot do before fetching images
        body = build_body(model_id, request, await self._images(request))
        url = self.http.path(f"models/{model_id}:predictLongRunning")
        answer = await self.http.request_json("POST", url, phase="submit", model=model_id, body=body)
        operation = parse_operation(answer.body, provider=PROVIDER_NAME, model=model_id, status_code=200)
        log.info("gemini submitted %s as operation %s", model_id, operation.name)
        return Job(
            id=operation.name,
            provider=PROVIDER_NAME,
            model=model_id,
            polling_url=str(self.http.path(operation.name)),
        )

    def _operation_url(self, job: Job) -> httpx.URL:
        if not is_operation_name(job.id):
            raise InvalidRequest(
                f"{job.id[:80]!r} is not a Gemini operation name (models/<model>/operations/<id>)",
                provider=PROVIDER_NAME,
                model=job.model,
                job_id=job.id,
            )
        return self.http.path(job.id)

    async def _operation(self, job: Job, phase: str) -> Operation:
        self.http.require_credentials(phase, model=job.model, job_id=job.id)
        url = self._operation_url(job)
        answer = await self.http.request_json(
            "GET", url, phase=phase, model=job.model, job_id=job.id, limit=MAX_OPERATION_BODY
        )
        context: dict[str, Any] = {"provider": PROVIDER_NAME, "model": job.model, "job_id": job.id}
        return parse_operation(answer.body, status_code=answer.status_code, **context)

    async def poll(self, job: Job) -> JobStatus:
        """`GET {base}/{operation name}` once: running until `done`, then videos, an error, or filtered.

        A video sent inline (no URI) is an output without a URL. Its base64 is decoded here, once, into an
        anonymous temporary file that `open_download` serves (malformed base64 is a `ProtocolError` now, not at
        the download); a download in another process (a resumed, journaled job) reads the operation again.
        A finished operation that holds no readable video and says no reason is a `ProtocolError` (see
        `rpc.operation_ending`): never `failed`, which would fail over and pay twice.
        """
        context: dict[str, Any] = {"provider": PROVIDER_NAME, "model": job.model, "job_id": job.id}
        operation = await self._operation(job, "poll")
        if not operation.done:
            return JobStatus(job_id=job.id, state=JobState.IN_PROGRESS, raw_status="running")
        ending = operation_ending(operation, **context)
        if ending is not None:
            return JobStatus(
                job_id=job.id,
                state=ending.state,
                raw_status=ending.raw_status,
                error=ending.error,
                extra=ending.details,
            )
        outputs = []
        videos = operation.videos()
        for index, video in enumerate(videos):
            if not video.uri:
                await self._keep_inline(job, index, video)
                outputs.append(JobOutput(index=index))  # inline: served from the decoded file
                continue
            uri = video.uri
            resolved = self.http.resolve(uri)
            if resolved is None or origin_of(resolved) is None:
                raise ProtocolError(f"Gemini sent a video URI that is not http(s): {uri[:80]!r}", **context)
            outputs.append(JobOutput(index=index, url=resolved))
        extra: dict[str, Any] = {}
        response = operation.video_response
        if response is not None and response.unreadable_samples:
            # Beside readable videos (mediarouter asks for one video, so this is not expected): said, not hidden.
            log.warning("gemini operation %s: %d sample(s) hold no readable video", job.id, response.unreadable_samples)
            extra["unreadable_samples"] = response.unreadable_samples
        return JobStatus(
            job_id=job.id, state=JobState.COMPLETED, raw_status="done", outputs=tuple(outputs), extra=extra
        )

    async def _keep_inline(self, job: Job, index: int, video: Video) -> _InlineVideo:
        """The decoded file of inline video `index` of `job`: decoded now unless an earlier poll already did."""
        key = (job.id, index)
        kept = self._inline.get(key)
        if kept is not None:
            return kept
        encoded = video.inline_base64
        assert encoded is not None  # a deliverable video without a URI has inline bytes
        context: dict[str, Any] = {"provider": PROVIDER_NAME, "model": job.model, "job_id": job.id}
        spooled = await asyncio.to_thread(_spool_base64, encoded, **context)
        kept = _InlineVideo(
            file=spooled[0], size=spooled[1], content_type=video.encoding or video.mime_type or "video/mp4"
        )
        meanwhile = self._inline.get(key)
        if meanwhile is not None:  # decoded by a concurrent call while this one decoded: keep that one
            kept.close()
            return meanwhile
        self._inline[key] = kept
        self._trim_inline(keep=key)
        return kept

    def _trim_inline(self, *, keep: tuple[str, int]) -> None:
        """Close the oldest kept inline videos past MAX_KEPT_INLINE (never `keep`, nor one a download is reading)."""
        for key in list(self._inline):
            if len(self._inline) <= MAX_KEPT_INLINE:
                return
            if key != keep and self._inline[key].readers == 0:
                self._inline.pop(key).close()

    def _drop_inline(self, key: tuple[str, int], video: _InlineVideo) -> None:
        if self._inline.get(key) is video:
            del self._inline[key]
        video.close()

    # -- download ------------------------------------------------------------------------------

    @asynccontextmanager
    async def open_download(
        self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0
    ) -> AsyncIterator[Download]:
        """Stream one video: the key goes with it on Google's origin only (the client strips it elsewhere).

        An output without a URL was sent inline: it is served from the file its poll decoded it into (decoded
        from the operation, read again, when this provider did not poll it: a resumed job). The file is closed
        once it was served to the end, or when the provider closes; a download cut short keeps it for the
        retry that continues it.
        """
        if output.url is None:
            async with self._inline_download(job, output, offset=max(0, offset)) as download:
                yield download
            return
        url = httpx.URL(output.url)
        if self.http.on_origin(url):
            self.http.require_credentials("download", model=job.model, job_id=job.id)
        async with self.http.open_download(
            url, model=job.model, job_id=job.id, offset=max(0, offset), auth=True
        ) as download:
            yield download

    @asynccontextmanager
    async def _inline_download(self, job: Job, output: JobOutput, *, offset: int) -> AsyncIterator[Download]:
        key = (job.id, output.index)
        video = self._inline.get(key)
        if video is None:
            video = await self._decode_again(job, output)
        start = offset if offset <= video.size else 0
        served = False

        async def chunks() -> AsyncIterator[bytes]:
            nonlocal served
            position = start
            while position < video.size:
                data = await asyncio.to_thread(video.read_at, position, _INLINE_CHUNK)
                if not data:  # the file is shorter than decoded: a bug, never a silent short video
                    raise ProtocolError("the decoded inline video ended early", provider=PROVIDER_NAME, job_id=job.id)
                position += len(data)
                yield data
            served = True

        video.readers += 1
        try:
            yield Download(
                chunks=chunks(),
                content_type=video.content_type,
                content_length=video.size - start,
                origin=display_origin(self.http.path(job.id)),
                resumed_from=start,
            )
        finally:
            video.readers -= 1
            if served and video.readers == 0:
                self._drop_inline(key, video)  # delivered: the disk space is freed now, not at aclose

    async def _decode_again(self, job: Job, output: JobOutput) -> _InlineVideo:
        """A job this provider did not poll to its end (resumed from the journal): read the operation for the bytes."""
        context: dict[str, Any] = {"provider": PROVIDER_NAME, "model": job.model, "job_id": job.id}
        operation = await self._operation(job, "download")
        operation_ending(operation, **context)  # an unreadable answer is named as such here too
        videos = operation.videos()
        video = videos[output.index] if 0 <= output.index < len(videos) else None
        if video is None or video.inline_base64 is None:
            raise ProtocolError(
                f"Gemini's operation no longer holds inline video #{output.index} ({len(videos)} video(s) now)",
                **context,
            )
        return await self._keep_inline(job, output.index, video)


@dataclass(eq=False)
class _InlineVideo:
    """One inline video, decoded into an anonymous temporary file (gone from the disk when closed)."""

    file: IO[bytes]
    size: int
    content_type: str
    readers: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def read_at(self, position: int, size: int) -> bytes:
        with self._lock:  # seek + read as one step (called from worker threads)
            self.file.seek(position)
            return self.file.read(size)

    def close(self) -> None:
        with self._lock:
            self.file.close()


def _spool_base64(text: str, **context: Any) -> tuple[IO[bytes], int]:
    """Decode `text` into a new anonymous temporary file: (the file, its size). ProtocolError if it is not base64."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the download; _InlineVideo.close() closes it
    try:
        size = _decode_base64_into(text, spool, **context)
        spool.flush()
    except BaseException:
        spool.close()
        raise
    if size == 0:
        spool.close()
        raise ProtocolError("Gemini sent an inline video with no bytes", **context)
    return spool, size


def _decode_base64_into(text: str, sink: IO[bytes], **context: Any) -> int:
    """Standard or URL-safe base64, padded or not (what proto3 JSON allows for bytes), decoded into `sink` a step
    at a time; the bytes written. Anything else (a foreign character, padding in the middle, a dangling
    character) is ProtocolError."""
    written = 0
    carry = b""
    ended = False  # padding seen: nothing may follow
    try:
        for begin in range(0, len(text), _DECODE_STEP):
            piece = carry + text[begin : begin + _DECODE_STEP].encode("ascii").translate(_BASE64_ALPHABET, _WHITESPACE)
            whole = len(piece) - len(piece) % 4
            piece, carry = piece[:whole], piece[whole:]
            if not piece:
                continue
            if ended:
                raise ValueError("data after the padding")
            written += sink.write(binascii.a2b_base64(piece, strict_mode=True))
            ended = piece.endswith(b"=")
        if carry:
            if ended:
                raise ValueError("data after the padding")
            written += sink.write(binascii.a2b_base64(carry + b"=" * (-len(carry) % 4), strict_mode=True))
    except ValueError:  # binascii.Error, UnicodeEncodeError
        raise ProtocolError("Gemini sent an inline video that is not base64", **context) from None
    return written


class _NotHttps(Exception):
    """A redirect of an input image to something that is not https."""


async def _https_only(request: httpx.Request) -> None:
    if request.url.scheme != "https":
        raise _NotHttps(request.url.scheme)


def _too_large(field: str, size: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{field} is over the {MAX_IMAGE_BYTES // 1048576} MiB limit for one input image ({size} bytes or more)",
        provider=PROVIDER_NAME,
        hint="downscale or recompress the image",
    )
