"""The Acme Video API (imaginary) as a mediarouter provider.

The wire format, which is all this module knows:

    POST /v2/generations          {"model", "prompt", "length_seconds"?, "resolution"?, "aspect"?,
                                   "audio"?, "seed"?, "first_frame_url"?, "last_frame_url"?,
                                   "webhook_url"?, "extra"?}
                                  → 201 {"generation": {"id", "state": "queued"}}
    GET  /v2/generations/{id}     → 200 {"generation": {"id", "state", "failure_reason"?,
                                   "result"?: {"videos": [{"url", "requires_key", "expires_at"?}],
                                               "charged_usd": "0.40" | null}}}
                                   states: queued, running, succeeded, failed, canceled, expired
    GET  /v2/generations/{id}/videos/{n}  → 200 video/mp4 (needs the key)
    GET  /v2/models               → 200 {"models": [{"name", "lengths", "resolutions", "aspects",
                                   "audio", "seed", "frames", "usd_per_second"}]}
    errors                        → {"type": "...", "detail": "..."}, maybe `Retry-After: <seconds>`
    auth                          → `X-Api-Key: <key>` on every request to the API's own origin

What it deliberately does *not* do: loop, sleep, retry or fail over. Each method is one HTTP
exchange (plus hand-followed download redirects); the job engine owns the rest.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from mediarouter import (
    AuthenticationFailed,
    Capabilities,
    ConfigurationError,
    Conflict,
    Download,
    InsufficientCredits,
    InvalidRequest,
    Job,
    JobOutput,
    JobState,
    JobStatus,
    MediaRouterError,
    Modality,
    ModelInfo,
    NotFound,
    OutputGone,
    PayloadTooLarge,
    PermissionDenied,
    ProtocolError,
    Provider,
    ProviderUnavailable,
    RateLimited,
    VideoRequest,
)

__all__ = ["AcmeVideoProvider", "DEFAULT_BASE_URL"]

NAME = "acme"
DEFAULT_BASE_URL = "https://api.acme-video.test/v2"
MAX_REDIRECTS = 3

_STATES = {
    "queued": JobState.PENDING,
    "running": JobState.IN_PROGRESS,
    "succeeded": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "canceled": JobState.CANCELLED,
    "expired": JobState.EXPIRED,
}
#: HTTP status → core error. 5xx (and 408) are ProviderUnavailable, any other 4xx InvalidRequest.
_ERRORS: dict[int, type[MediaRouterError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    402: InsufficientCredits,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    410: OutputGone,
    413: PayloadTooLarge,
    429: RateLimited,
}


# -- wire shapes: unknown fields allowed, anything unreadable becomes ProtocolError -------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Video(_Wire):
    url: str
    requires_key: bool = True
    expires_at: int | None = None


class _Result(_Wire):
    videos: list[_Video] = []
    charged_usd: Decimal | None = None


class _Generation(_Wire):
    id: str
    state: str
    failure_reason: str | None = None
    result: _Result | None = None


class _Envelope(_Wire):
    generation: _Generation


class _Model(_Wire):
    name: str
    lengths: list[int] | None = None
    resolutions: list[str] | None = None
    aspects: list[str] | None = None
    audio: bool | None = None
    seed: bool | None = None
    frames: list[str] | None = None
    usd_per_second: Decimal | None = None


class _Listing(_Wire):
    models: list[_Model]


def _parse(shape: type[_Wire], body: bytes, what: str, **context: Any) -> Any:
    try:
        return shape.model_validate(json.loads(body))
    except (ValueError, UnicodeDecodeError, ValidationError) as exc:  # JSONDecodeError is a ValueError
        shown = body[:120].decode("utf-8", "replace")
        raise ProtocolError(f"Acme sent an unreadable {what} ({type(exc).__name__}): {shown!r}", **context) from None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


class AcmeVideoProvider(Provider):
    name = NAME
    supported_modalities = (Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO)

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,  # the core passes every factory the same options (clock=, emulator=, …): ignore the rest
    ) -> None:
        self._key = api_key if api_key is not None else os.environ.get("ACME_API_KEY")
        self.base_url = (base_url or os.environ.get("ACME_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self._base = httpx.URL(self.base_url)
        self.server_address = f"{self._base.host}:{self._base.port or 443}"
        self._client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(60.0, connect=10.0))
        self._models: list[ModelInfo] | None = None

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- plumbing --------------------------------------------------------------------------

    def _headers(self, url: httpx.URL) -> dict[str, str]:
        """The key goes to the API's own origin and nowhere else (CDN links, redirects)."""
        if _origin(url) != _origin(self._base):
            return {}
        if not self._key:
            raise ConfigurationError("no Acme API key", provider=NAME, hint="set ACME_API_KEY or pass api_key=")
        return {"X-Api-Key": self._key}

    async def _send(self, method: str, url: httpx.URL, *, json_body: Any = None, **context: Any) -> httpx.Response:
        """One request, streamed; network failures become ProviderUnavailable (sent=False if never sent)."""
        request = self._client.build_request(method, url, headers=self._headers(url), json=json_body)
        try:
            return await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            raise ProviderUnavailable(
                f"Acme is unreachable: {type(exc).__name__}", sent=sent, provider=NAME, **context
            ) from exc

    async def _read(self, response: httpx.Response, **context: Any) -> bytes:
        try:
            return await response.aread()
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"Acme's answer was cut off: {type(exc).__name__}", **context) from exc
        finally:
            await response.aclose()

    @staticmethod
    def _error(response: httpx.Response, body: bytes, **context: Any) -> MediaRouterError:
        status = response.status_code
        detail: str | None = None
        try:
            data = json.loads(body)
            detail = data.get("detail") if isinstance(data, dict) else None
        except (ValueError, UnicodeDecodeError):
            detail = body[:200].decode("utf-8", "replace").strip() or None
        retry_after: float | None = None
        with suppress(KeyError, ValueError):
            retry_after = float(response.headers["retry-after"])
        if status in _ERRORS:
            cls = _ERRORS[status]
        elif status >= 500 or status == 408:
            cls = ProviderUnavailable
        elif status >= 400:
            cls = InvalidRequest
        else:
            cls = ProtocolError
        message = f"Acme answered HTTP {status}" + (f": {detail}" if detail else "")
        return cls(
            message, status_code=status, server_message=detail, retry_after=retry_after, provider=NAME, **context
        )

    async def _json(self, method: str, url: httpx.URL, *, json_body: Any = None, **context: Any) -> bytes:
        response = await self._send(method, url, json_body=json_body, **context)
        body = await self._read(response, **context)
        if not 200 <= response.status_code < 300:
            raise self._error(response, body, **context)
        return body

    # -- the Provider interface ------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        if self._models is None:
            body = await self._json("GET", self._url("models"))
            listing: _Listing = _parse(_Listing, body, "model listing", provider=NAME)
            self._models = [self._model_info(m) for m in listing.models]
        return list(self._models)

    @staticmethod
    def _model_info(model: _Model) -> ModelInfo:
        frames = tuple(model.frames) if model.frames is not None else None
        modalities = (Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO) if frames else (Modality.TEXT_TO_VIDEO,)
        return ModelInfo(
            provider=NAME,
            id=model.name,
            capabilities=Capabilities(
                modalities=modalities,
                durations=tuple(model.lengths) if model.lengths is not None else None,
                resolutions=tuple(model.resolutions) if model.resolutions is not None else None,
                aspect_ratios=tuple(model.aspects) if model.aspects is not None else None,
                sizes=(),  # Acme has no exact pixel sizes
                frame_images=frames,
                audio=model.audio,
                seed=model.seed,
                prompt_required=True,
                price_per_second=model.usd_per_second,
            ),
            source="live",
        )

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        body: dict[str, Any] = {"model": model_id, "prompt": request.prompt}
        for wire, value in (
            ("length_seconds", request.duration),
            ("resolution", request.resolution),
            ("aspect", request.aspect_ratio),
            ("audio", request.generate_audio),
            ("seed", request.seed),
            ("webhook_url", request.callback_url),
        ):
            if value is not None:
                body[wire] = value
        for frame in request.effective_frame_images():
            body[f"{frame.frame_type.removesuffix('_frame')}_frame_url"] = frame.image_url.url
        extra = (request.provider_options or {}).get(NAME, {}).get("parameters")
        if extra:
            body["extra"] = extra
        raw = await self._json("POST", self._url("generations"), json_body=body, model=model_id)
        envelope: _Envelope = _parse(_Envelope, raw, "submit answer", provider=NAME, model=model_id)
        return Job(id=envelope.generation.id, provider=NAME, model=model_id)

    def _url(self, *segments: str) -> httpx.URL:
        return httpx.URL(self.base_url + "/" + "/".join(quote(s, safe="") for s in segments))

    async def poll(self, job: Job) -> JobStatus:
        context = {"model": job.model, "job_id": job.id}
        raw = await self._json("GET", self._url("generations", job.id), **context)
        generation = _parse(_Envelope, raw, "job", provider=NAME, **context).generation
        state = _STATES.get(generation.state, JobState.UNKNOWN)
        outputs: list[JobOutput] = []
        cost = None
        if generation.result is not None:
            cost = generation.result.charged_usd
            for index, video in enumerate(generation.result.videos):
                if video.requires_key:
                    outputs.append(JobOutput(index=index, url=video.url))
                else:
                    outputs.append(JobOutput(index=index, signed_url=video.url))
        return JobStatus(
            job_id=job.id,
            state=state,
            raw_status=generation.state,
            error=generation.failure_reason,
            outputs=tuple(outputs),
            cost=cost,
        )

    @asynccontextmanager
    async def open_download(
        self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0
    ) -> AsyncIterator[Download]:
        context = {"model": job.model, "job_id": job.id}
        url = httpx.URL(
            output.signed_url or output.url or str(self._url("generations", job.id, "videos", str(output.index)))
        )
        response = await self._send("GET", url, **context)
        for _ in range(MAX_REDIRECTS):  # followed by hand: _send drops the key when the origin changes
            if response.status_code not in (301, 302, 303, 307, 308) or "location" not in response.headers:
                break
            await response.aclose()
            url = url.join(response.headers["location"])
            response = await self._send("GET", url, **context)
        try:
            if not 200 <= response.status_code < 300:
                raise self._error(response, await response.aread(), **context)
            length = response.headers.get("content-length", "")
            yield Download(
                chunks=self._chunks(response, context),
                content_type=response.headers.get("content-type"),
                content_length=int(length) if length.isdigit() else None,
                origin=f"{url.scheme}://{url.host}",
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"Acme download failed: {type(exc).__name__}", provider=NAME, **context) from exc
        finally:
            await response.aclose()

    @staticmethod
    async def _chunks(response: httpx.Response, context: dict[str, Any]) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"Acme download cut off: {type(exc).__name__}", provider=NAME, **context) from exc
