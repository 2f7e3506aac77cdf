"""The OpenRouter video provider: wiring of its wire format onto `mediarouter.Provider`.

`POST /videos`, `GET /videos/{id}`, `GET /videos/{id}/content?index=N`, `GET /videos/models`;
for video understanding (`mediarouter.understanding.Describer`) `POST /chat/completions` and
`GET /models` (chat.py).
Everything every backend shares (status → error table, Retry-After, credentials only to the
configured origin, bounded reads, the listing cache, download checks) is the core's
`mediarouter.http`; the body, the model mapping and the error hints live in their own modules.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr, ValidationError

from mediarouter import (
    Clock,
    ConfigurationError,
    Download,
    Job,
    JobOutput,
    JobState,
    JobStatus,
    Modality,
    ModelInfo,
    ProtocolError,
    Provider,
    ProviderUnavailable,
    VideoRequest,
    VideoResult,
)
from mediarouter.emulation.loading import load_emulator
from mediarouter.http import DownloadRefused, ListingCache, ProviderClient, display_origin, normalize_key, origin_of
from mediarouter.keys import get_key
from mediarouter.request import FrameImage, InputReference
from mediarouter.understanding import DescribeModel, DescribeRequest, DescribeResult

from . import chat
from .body import build_submit_body, request_from_arguments
from .errors import EMULATOR_HINT, KEY_HINT, RULES
from .models import PROVIDER_NAME, bare_model_id, catalog_model_infos, model_info
from .settings import OpenRouterSettings, header_value, normalize_base_url
from .wire import VideoGenerationResponse, parse_job, parse_models

__all__ = ["OpenRouterVideoProvider", "build_submit_body", "catalog_model_infos", "model_info"]

log = logging.getLogger("mediarouter.openrouter")

#: A signed URL this close to expiry is not used: the download might outlive it.
SIGNED_URL_MARGIN = 30.0
#: How long a catalog fallback is served before the live listing is tried again.
FALLBACK_CACHE_TTL = 60.0
#: Answers from a signed-URL host that mean "this signature no longer works".
SIGNED_REFUSALS = frozenset({400, 401, 403, 404, 410})
_STATES: dict[str, JobState] = {
    "pending": JobState.PENDING,
    "in_progress": JobState.IN_PROGRESS,
    "completed": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
    "expired": JobState.EXPIRED,
}


def _package_version() -> str:
    try:
        return version("mediarouter-openrouter")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


USER_AGENT = f"mediarouter-openrouter/{_package_version()}"


def _load_settings() -> OpenRouterSettings:
    try:
        return OpenRouterSettings()
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise ConfigurationError(
            f"invalid OpenRouter settings in the environment: {fields}",
            provider=PROVIDER_NAME,
            hint="check the OPENROUTER_* environment variables",
        ) from None


def _normalize_key(key: str | SecretStr | None) -> SecretStr | None:
    return normalize_key(key, provider=PROVIDER_NAME, label="OpenRouter", hint=KEY_HINT)


class OpenRouterVideoProvider(Provider):
    """OpenRouter's async video API. The key comes from `api_key=` or `OPENROUTER_API_KEY`."""

    name = PROVIDER_NAME
    supported_modalities = (
        Modality.TEXT_TO_VIDEO,
        Modality.IMAGE_TO_VIDEO,
        Modality.REFERENCE_TO_VIDEO,
        Modality.VIDEO_TO_TEXT,
    )
    can_cancel = False  # OpenRouter has no cancel endpoint; the base class's cancel() says so
    supports_emulator: ClassVar[bool] = True

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        settings: OpenRouterSettings | None = None,
        http_referer: str | None = None,
        app_title: str | None = None,
        app_categories: str | None = None,
        emulator: bool = False,
        emulator_config: Any = None,
        emulator_options: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if settings is None:
            # Offline runs must not depend on (or be broken by) OPENROUTER_* in the environment.
            settings = OpenRouterSettings.model_construct() if emulator else _load_settings()
        self._settings = settings
        if emulator:
            emulated = self._emulated(base_url, transport, api_key, emulator_config, emulator_options)
            base_url, transport, api_key = emulated
        try:
            self.base_url = normalize_base_url(base_url) if base_url is not None else settings.base_url
            referer = header_value(http_referer if http_referer is not None else settings.http_referer)
            title = header_value(app_title if app_title is not None else settings.app_title)
            categories = header_value(app_categories if app_categories is not None else settings.app_categories)
        except ValueError as exc:
            raise ConfigurationError(str(exc), provider=PROVIDER_NAME) from None
        self._api_key = _normalize_key(api_key if api_key is not None else settings.api_key)
        if self._api_key is None and not emulator:  # the env var wins; `mediarouter keys set openrouter` after it
            self._api_key = _normalize_key(get_key(PROVIDER_NAME))
        self.emulator = emulator
        attribution = {"HTTP-Referer": referer, "X-OpenRouter-Title": title, "X-OpenRouter-Categories": categories}
        self.http = ProviderClient(
            provider=PROVIDER_NAME,
            rules=RULES,
            base_url=self.base_url,
            credentials={"Authorization": SecretStr(f"Bearer {self._api_key.get_secret_value()}")}
            if self._api_key is not None
            else None,
            origin_headers={k: v for k, v in attribution.items() if v},
            user_agent=USER_AGENT,
            transport=transport,
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            clock=clock,
        )
        self.server_address = self.http.server_address
        self._clock = clock
        self._listing: ListingCache[list[ModelInfo]] = ListingCache(
            ttl=settings.models_cache_ttl,
            fallback=self._catalog_fallback,
            fallback_ttl=FALLBACK_CACHE_TTL,
            clock=clock,
        )
        self._chat_listing: ListingCache[list[DescribeModel]] = ListingCache(
            ttl=settings.models_cache_ttl,
            fallback=self._chat_catalog_fallback,
            fallback_ttl=FALLBACK_CACHE_TTL,
            clock=clock,
        )
        #: (job id, output index) whose signed URL was refused: the next attempt goes through the API.
        self._dead_signed: set[tuple[str, int]] = set()

    @staticmethod
    def _emulated(
        base_url: str | None,
        transport: httpx.AsyncBaseTransport | None,
        api_key: str | SecretStr | None,
        config: Any,
        options: Mapping[str, Any] | None,
    ) -> tuple[str, httpx.AsyncBaseTransport | None, str | SecretStr]:
        """The in-process emulator: its base URL, its transport, and its own key (never the real one)."""
        from .emulated import emulator_config_from_options
        from .emulator import EMULATOR_BASE_URL, emulator_transport

        if config is None and options:
            config = emulator_config_from_options(options)
        if transport is None:
            transport = load_emulator(
                lambda: emulator_transport(config), provider=PROVIDER_NAME, label="OpenRouter", hint=EMULATOR_HINT
            )
        if api_key is None:
            api_key = getattr(config, "api_key", None) or "emulator-key"
        return base_url or EMULATOR_BASE_URL, transport, api_key

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "unset"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key}, emulator={self.emulator})"

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    @property
    def last_listing_error(self) -> Exception | None:
        """Why the last listing fell back to the catalog (None when it was live)."""
        return self._listing.last_error

    async def aclose(self) -> None:
        await self.http.aclose()

    def _content_url(self, job_id: str, index: int) -> httpx.URL:
        return self.http.endpoint("videos", job_id, "content", params={"index": str(index)})

    # -- models ------------------------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        """The live listing, cached; the built-in catalog (cached briefly) whenever the listing fails."""
        return list(await self._listing.get(self._fetch_models))

    @staticmethod
    def _catalog_fallback(error: Exception) -> list[ModelInfo]:
        log.info("OpenRouter model listing unavailable, using the built-in catalog: %s", error)
        return catalog_model_infos()

    async def _fetch_models(self) -> list[ModelInfo]:
        # The listing works without a key; the client adds the bearer only when one is set.
        answer = await self.http.request_json("GET", self.http.endpoint("videos", "models"), phase="models")
        return [model_info(m, source="live") for m in parse_models(answer.body, provider=PROVIDER_NAME)]

    async def get_model(self, model_id: str) -> ModelInfo | None:
        return await super().get_model(bare_model_id(model_id))

    # -- video understanding (chat completions) ------------------------------------------------

    async def describe_models(self) -> list[DescribeModel]:
        """Chat models whose input modalities include video: the live `GET /models`, else the catalog."""
        return list(await self._chat_listing.get(lambda: chat.fetch_describe_models(self.http)))

    @staticmethod
    def _chat_catalog_fallback(error: Exception) -> list[DescribeModel]:
        log.info("OpenRouter model listing unavailable, using the built-in video chat catalog: %s", error)
        return chat.catalog_describe_models()

    async def describe(self, model_id: str, request: DescribeRequest) -> DescribeResult:
        """`POST /chat/completions` with the video, once (a second POST could be a second bill)."""
        model_id = bare_model_id(model_id)
        self.http.require_credentials("chat", model=model_id)
        return await chat.describe(self.http, model_id, request)

    # -- submit and poll -----------------------------------------------------------------------

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        """`POST /videos`, once. Never retried here: a second POST could be a second paid job."""
        model_id = bare_model_id(model_id)
        self.http.require_credentials("submit", model=model_id)
        body = build_submit_body(model_id, request)
        url = self.http.endpoint("videos")
        answer = await self.http.request_json("POST", url, phase="submit", model=model_id, body=body)
        wire = parse_job(answer.body, provider=PROVIDER_NAME, model=model_id, status_code=answer.status_code)
        log.info("openrouter submitted %s as job %s (status %s)", model_id, wire.id, wire.status)
        return Job(id=wire.id, provider=PROVIDER_NAME, model=model_id, polling_url=self.http.resolve(wire.polling_url))

    async def poll(self, job: Job) -> JobStatus:
        """`GET` the job once (its polling_url when on our origin, else our own endpoint) and translate it."""
        self.http.require_credentials("poll", model=job.model, job_id=job.id)
        url = self.http.follow(job.polling_url, self.http.endpoint("videos", job.id))
        answer = await self.http.request_json("GET", url, phase="poll", model=job.model, job_id=job.id)
        context: dict[str, Any] = {
            "provider": PROVIDER_NAME,
            "model": job.model,
            "job_id": job.id,
            "status_code": answer.status_code,
        }
        wire = parse_job(answer.body, **context)
        if wire.status is None:
            raise ProtocolError("OpenRouter sent a job object without a status", **context)
        return self._job_status(job, wire)

    def _job_status(self, job: Job, wire: VideoGenerationResponse) -> JobStatus:
        raw_status = wire.status or ""
        state = _STATES.get(raw_status.strip().lower(), JobState.UNKNOWN)
        if state is JobState.UNKNOWN:
            log.warning("OpenRouter job %s has an unknown status %r; treating it as still running", job.id, raw_status)
        unsigned = wire.unsigned_urls or []
        signed = wire.urls or []
        outputs = []
        for index in range(max(len(unsigned), len(signed))):
            signed_url = self.http.resolve(signed[index]) if index < len(signed) else None
            outputs.append(
                JobOutput(
                    index=index,
                    url=self.http.resolve(unsigned[index]) if index < len(unsigned) else None,
                    signed_url=signed_url,
                    expires_at=wire.expires_at if signed_url else None,
                )
            )
        if state is JobState.COMPLETED and not outputs:
            outputs.append(JobOutput(index=0, url=str(self._content_url(job.id, 0))))
        extra: dict[str, Any] = {}
        if wire.usage is not None and wire.usage.is_byok is not None:
            extra["is_byok"] = wire.usage.is_byok
        return JobStatus(
            job_id=job.id,
            state=state,
            raw_status=raw_status,
            error=wire.error,
            outputs=tuple(outputs),
            cost=wire.usage.cost if wire.usage is not None else None,
            generation_id=wire.generation_id,
            extra=extra,
        )

    # -- download ------------------------------------------------------------------------------

    def _download_target(self, job: Job, output: JobOutput) -> tuple[httpx.URL, bool]:
        """(URL, send the key?): a fresh signed URL without the key, else an authenticated URL on our origin."""
        if (job.id, output.index) not in self._dead_signed and origin_of(output.signed_url) is not None:
            expires = output.expires_at
            if expires is None or expires.timestamp() > self.http.now() + SIGNED_URL_MARGIN:
                return httpx.URL(str(output.signed_url)), False
        if output.url is not None and self.http.on_origin(output.url):
            return httpx.URL(output.url), True
        return self._content_url(job.id, output.index), True

    @asynccontextmanager
    async def open_download(
        self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0
    ) -> AsyncIterator[Download]:
        """Stream one output: a fresh signed URL without the key, else the content URL with it.

        A signed URL can die before its `expires_at` (clock skew, revocation) while the
        authenticated content URL still works: its refusal is a retryable error, and the
        engine's next attempt goes through the API, so a paid video is not given up.
        """
        url, auth = self._download_target(job, output)
        if auth:
            self.http.require_credentials("download", model=job.model, job_id=job.id)
        refused = SIGNED_REFUSALS if not auth and self._api_key is not None else frozenset()
        try:
            async with self.http.open_download(
                url, model=job.model, job_id=job.id, offset=max(0, offset), auth=auth, refused=refused
            ) as download:
                yield download
        except DownloadRefused as refusal:
            self._dead_signed.add((job.id, output.index))
            code = refusal.error.status_code
            log.info("signed download of job %s refused (HTTP %s); next try uses the API", job.id, code)
            raise ProviderUnavailable(
                f"the signed download URL on {display_origin(url)} was refused "
                f"(HTTP {refusal.error.status_code}); retrying through the OpenRouter API",
                provider=PROVIDER_NAME,
                model=job.model,
                job_id=job.id,
                status_code=refusal.error.status_code,
                retry_after=0.0,
                details={"phase": "download", "signed_url_refused": True},
            ) from None

    # -- the feature request's one-call DX ------------------------------------------------------

    async def generate_video(
        self,
        prompt: str | None = None,
        model: str = "google/veo-3.1",
        image_url: str | None = None,
        duration: int | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        generate_audio: bool | None = None,
        seed: int | None = None,
        frame_images: Sequence[Mapping[str, Any] | FrameImage] | None = None,
        input_references: Sequence[Mapping[str, Any] | InputReference] | None = None,
        poll_interval: float | None = None,
        timeout: float | None = None,
        output: str | Path | None = None,
        **provider_params: Any,
    ) -> VideoResult:
        """Submit, poll and download one video through the core lifecycle (its defaults, its journal).

        `model` may carry the `openrouter/` prefix. Extra keyword arguments are any VideoRequest
        field (size, callback_url, provider_options, session_id, …); `provider={"options": …}`
        in OpenRouter's own wire shape is accepted too.
        """
        from mediarouter import Router

        request = request_from_arguments(
            provider_params,
            prompt=prompt,
            image_url=image_url,
            duration=duration,
            resolution=resolution,
            aspect_ratio=aspect_ratio,
            generate_audio=generate_audio,
            seed=seed,
            frame_images=list(frame_images) if frame_images is not None else None,
            input_references=list(input_references) if input_references is not None else None,
        )
        # An emulated provider gets an emulated router's schedule (0.2 s polls unless configured), as `--emulator`.
        async with Router(
            providers={PROVIDER_NAME: self}, clock=self._clock, fit="strict", emulator=self.emulator
        ) as router:
            return await router.generate_request(
                request,
                model=f"{PROVIDER_NAME}/{bare_model_id(model)}",
                output=output,
                poll_interval=poll_interval,
                timeout=timeout,
            )
