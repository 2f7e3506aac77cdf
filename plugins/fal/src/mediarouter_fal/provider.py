"""The fal queue provider: wiring of fal's wire format onto `mediarouter.Provider`.

`POST {base}/{model id}`, `GET {base}/{owner}/{app}/requests/{id}/status`, `GET …/requests/{id}`
(the result), `PUT …/requests/{id}/cancel`, then the video from fal's CDN (another origin, no key).
Everything every backend shares (status → error table, credentials only to the configured
origin, bounded reads, download checks) is the core's `mediarouter.http`; the wire shapes,
URLs, catalog, input mapping and error rules live in their own modules.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import SecretStr

from mediarouter import (
    Clock,
    ConfigurationError,
    Download,
    Job,
    JobOutput,
    JobState,
    JobStatus,
    MediaRouterError,
    Modality,
    ModelInfo,
    NotFound,
    ProtocolError,
    Provider,
    VideoRequest,
)
from mediarouter.emulation.loading import load_emulator
from mediarouter.http import ProviderClient, normalize_key
from mediarouter.keys import get_key

from . import PROVIDER_NAME, __version__, urls
from .catalog import catalog_model_infos
from .errors import KEY_HINT, RULES, already_completed, ended_by_result_error, is_cancellation
from .inputs import build_input
from .wire import COMPLETED, IN_PROGRESS, IN_QUEUE, QueueStatus, parse_cancel, parse_result, parse_status, parse_submit

if TYPE_CHECKING:
    from .webhooks import FalWebhookScheme

__all__ = ["KEY_ENV", "FalVideoProvider"]

log = logging.getLogger("mediarouter.fal")

KEY_ENV = "FAL_KEY"
USER_AGENT = f"mediarouter-fal/{__version__}"
_STATES = {IN_QUEUE: JobState.PENDING, IN_PROGRESS: JobState.IN_PROGRESS}


def _normalize_key(key: str | SecretStr | None) -> SecretStr | None:
    return normalize_key(key, provider=PROVIDER_NAME, label="fal", hint=KEY_HINT)


class FalVideoProvider(Provider):
    """fal.ai's queue API. The key comes from `api_key=` or `FAL_KEY`, the base from `base_url=` or `FAL_QUEUE_URL`."""

    name = PROVIDER_NAME
    supported_modalities = (Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO)
    can_cancel = True
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
        #: The in-process emulator's state (journal, requests) when emulated, for tests and demos.
        self.emulator_state: Any = None
        if emulator:
            # Offline runs never read FAL_KEY or FAL_QUEUE_URL: nothing real may be reached or sent.
            base_url, transport, api_key = self._emulated(base_url, transport, api_key, emulator_options)
            self.emulator_state = getattr(transport, "emulator", None)
        elif emulator_options:
            raise ConfigurationError("emulator_options need emulator=True", provider=PROVIDER_NAME)
        if base_url is None:
            base_url = os.environ.get(urls.QUEUE_URL_ENV) or urls.DEFAULT_QUEUE_URL
        self.base_url = urls.normalize_base(base_url)
        if api_key is None:  # FAL_KEY wins; `mediarouter keys set fal` is the fallback
            api_key = os.environ.get(KEY_ENV) or get_key(PROVIDER_NAME)
        self._api_key = _normalize_key(api_key)
        self.http = ProviderClient(
            provider=PROVIDER_NAME,
            rules=RULES,
            base_url=self.base_url,
            credentials={"Authorization": SecretStr(f"Key {self._api_key.get_secret_value()}")}
            if self._api_key is not None
            else None,
            user_agent=USER_AGENT,
            transport=transport,
            clock=clock,
        )
        self.server_address = self.http.server_address

    @staticmethod
    def _emulated(
        base_url: str | None,
        transport: httpx.AsyncBaseTransport | None,
        api_key: str | SecretStr | None,
        options: Mapping[str, Any] | None,
    ) -> tuple[str, httpx.AsyncBaseTransport, str | SecretStr]:
        """The in-process emulator: its base URL, its transport, and its own key (never the real one)."""
        from .emulator.config import EMULATOR_BASE_URL, EMULATOR_KEY, config_from_options

        config = config_from_options(options or {})
        if transport is None:

            def build() -> httpx.AsyncBaseTransport:
                from .emulator import emulator_transport

                return emulator_transport(config)

            transport = load_emulator(
                build, provider=PROVIDER_NAME, label="fal", hint="pip install 'mediarouter-fal[emulator]'"
            )
        return base_url or EMULATOR_BASE_URL, transport, api_key if api_key is not None else EMULATOR_KEY

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "unset"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key}, emulator={self.emulator})"

    @classmethod
    def webhook_scheme(cls) -> FalWebhookScheme:
        """fal's webhook scheme for the receiver (`mediarouter.webhooks`): ED25519 over fal's published keys.

        Read from `FAL_WEBHOOK_JWKS_URL` / `FAL_WEBHOOK_USER_ID`; needs `cryptography` (`mediarouter[webhooks]`).
        """
        from .webhooks import FalWebhookScheme

        return FalWebhookScheme()

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    #: fal has no listing endpoint: the catalog never fails, so there is no listing error to report.
    last_listing_error: Exception | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    def _urls(self, job: Job) -> urls.RequestUrls:
        """Status, result and cancel URLs built from the base with the app-id rule."""
        return urls.request_urls(self.base_url, job.model, job.id)

    # -- models ------------------------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        """The built-in catalog: fal has no listing with capabilities (any other fal id works generically)."""
        return catalog_model_infos()

    # -- submit and poll -----------------------------------------------------------------------

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        """`POST {base}/{model id}`, once. Never retried here: a second POST could be a second paid video."""
        urls.check_model_id(model_id)
        body = build_input(model_id, request)
        self.http.require_credentials("submit", model=model_id)
        url = httpx.URL(urls.submit_url(self.base_url, model_id, webhook_url=request.callback_url))
        answer = await self.http.request_json("POST", url, phase="submit", model=model_id, body=body)
        wire = parse_submit(answer.body, provider=PROVIDER_NAME, model=model_id, status_code=answer.status_code)
        built = urls.request_urls(self.base_url, model_id, wire.request_id)
        status_url = urls.follow(self.http.resolve(wire.status_url), built.status, self.base_url)
        log.info("fal submitted %s as request %s", model_id, wire.request_id)
        return Job(id=wire.request_id, provider=PROVIDER_NAME, model=model_id, polling_url=status_url)

    async def poll(self, job: Job) -> JobStatus:
        """One status look (`?logs=1`); on COMPLETED the result is fetched in the same call.

        fal keeps a result for an hour (six minutes when large), so its video URL is read at once
        and goes to the journal with the completed status.
        """
        self.http.require_credentials("poll", model=job.model, job_id=job.id)
        built = self._urls(job)
        url = httpx.URL(urls.with_logs(urls.follow(job.polling_url, built.status, self.base_url)))
        answer = await self.http.request_json("GET", url, phase="poll", model=job.model, job_id=job.id)
        context: dict[str, Any] = {
            "provider": PROVIDER_NAME,
            "model": job.model,
            "job_id": job.id,
            "status_code": answer.status_code,
        }
        wire = parse_status(answer.body, **context)
        extra = _extra(wire)
        if wire.status != COMPLETED:
            state = _STATES.get(wire.status, JobState.UNKNOWN)
            if state is JobState.UNKNOWN:
                log.warning("fal request %s has an unknown status %r; treating it as running", job.id, wire.status)
            return JobStatus(job_id=job.id, state=state, raw_status=wire.status, extra=extra)
        if wire.failed:
            error_type = wire.error_type
            state = JobState.CANCELLED if is_cancellation(error_type) else JobState.FAILED
            words = wire.error or f"fal reported {error_type}"
            if error_type:
                extra["error_type"] = error_type
                if wire.error:
                    words = f"{wire.error} ({error_type})"
            return JobStatus(job_id=job.id, state=state, raw_status=wire.status, error=words, extra=extra)
        return await self._result(job, wire, built, extra)

    async def _result(self, job: Job, wire: QueueStatus, built: urls.RequestUrls, extra: dict[str, Any]) -> JobStatus:
        url = httpx.URL(urls.follow(self.http.resolve(wire.response_url), built.result, self.base_url))
        try:
            answer = await self.http.request_json("GET", url, phase="result", model=job.model, job_id=job.id)
        except MediaRouterError as exc:
            ended = ended_by_result_error(exc)
            if ended is None and exc.status_code in (404, 410):
                # Gone, but not in fal's words (a proxy page, a cut body): poll again to hear it from fal.
                raise ProtocolError(
                    f"fal answered the result fetch with an unreadable HTTP {exc.status_code}",
                    provider=PROVIDER_NAME,
                    model=job.model,
                    job_id=job.id,
                    status_code=exc.status_code,
                ) from None
            if ended is None:
                raise
            extra.update(ended.extra)
            return JobStatus(job_id=job.id, state=ended.state, raw_status=wire.status, error=ended.message, extra=extra)
        result = parse_result(
            answer.body, provider=PROVIDER_NAME, model=job.model, job_id=job.id, status_code=answer.status_code
        )
        outputs = []
        for index, file in enumerate(result.files):
            resolved = self.http.resolve(file.url)
            if resolved is None or httpx.URL(resolved).scheme not in ("http", "https"):
                raise ProtocolError(
                    f"fal's result names a video URL that is not http(s) (output {index})",
                    provider=PROVIDER_NAME,
                    model=job.model,
                    job_id=job.id,
                )
            outputs.append(JobOutput(index=index, url=resolved))
        if result.seed is not None:
            extra["seed"] = result.seed
        # fal reports no cost anywhere in the queue API: cost stays None and the core's estimate stands.
        return JobStatus(
            job_id=job.id, state=JobState.COMPLETED, raw_status=wire.status, outputs=tuple(outputs), extra=extra
        )

    # -- download and cancel -------------------------------------------------------------------

    @asynccontextmanager
    async def open_download(
        self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0
    ) -> AsyncIterator[Download]:
        """Stream one output from its URL: fal's CDN is another origin and never gets the key."""
        if output.url is None:
            raise ProtocolError("fal's result gave no URL for this output", provider=PROVIDER_NAME, job_id=job.id)
        url = httpx.URL(output.url)
        auth = urls.on_origin(output.url, self.base_url)  # a compatible server may serve files itself
        async with self.http.open_download(
            url, model=job.model, job_id=job.id, offset=max(0, offset), auth=auth
        ) as download:
            yield download

    async def cancel(self, job: Job) -> None:
        """`PUT …/cancel`. CANCELLATION_REQUESTED (or OK) returns; the request may still finish, so keep polling.

        ALREADY_COMPLETED raises Conflict (the output can still be downloaded), NOT_FOUND NotFound.
        """
        self.http.require_credentials("cancel", model=job.model, job_id=job.id)
        url = httpx.URL(self._urls(job).cancel)
        answer = await self.http.request_json("PUT", url, phase="cancel", model=job.model, job_id=job.id)
        said = parse_cancel(answer.body, provider=PROVIDER_NAME, model=job.model, job_id=job.id).status
        if said == "ALREADY_COMPLETED":
            raise already_completed(job.model, job.id, status_code=answer.status_code)
        if said == "NOT_FOUND":
            raise NotFound(
                "fal cancel failed: no such request (NOT_FOUND)",
                provider=PROVIDER_NAME,
                model=job.model,
                job_id=job.id,
                status_code=answer.status_code,
            )
        log.info("fal cancel of request %s answered %s", job.id, said or answer.status_code)


def _extra(wire: QueueStatus) -> dict[str, Any]:
    """What a status says beyond its state: the queue position, the last runner log line, timings."""
    extra: dict[str, Any] = {}
    if wire.queue_position is not None:
        extra["queue_position"] = wire.queue_position
    if wire.logs:
        last = next((entry.message for entry in reversed(wire.logs) if entry.message), None)
        if last:
            extra["log"] = last[:500]
    if wire.metrics and isinstance(wire.metrics.get("inference_time"), int | float):
        extra["inference_time"] = wire.metrics["inference_time"]
    return extra
