"""The Acme Video API (imaginary) as a mediarouter provider.

The wire format, which is all this plugin knows:

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
    errors                        → {"type": "...", "detail": "..."}, maybe `Retry-After`
    auth                          → `X-Api-Key: <key>` on every request to the API's own origin

Everything every backend shares is the core's `mediarouter.http`: the status → error table,
Retry-After, the key kept to Acme's origin (redirects included), bounded reads, the listing
cache, download checks and Range resume. The job engine polls, retries, sleeps and keeps the
deadline. So each method here is one HTTP exchange, and the plugin is only Acme's shapes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from mediarouter import (
    Capabilities,
    Clock,
    Download,
    Job,
    JobOutput,
    JobState,
    JobStatus,
    Modality,
    ModelInfo,
    Provider,
    VideoRequest,
)
from mediarouter.http import ListingCache, ProviderClient, StatusRules
from mediarouter.keys import get_key

from .wire import STATES, Envelope, Generation, Listing, Model, parse, server_message

__all__ = ["AcmeVideoProvider", "DEFAULT_BASE_URL", "KEY_ENV", "RULES"]

NAME = "acme"
DEFAULT_BASE_URL = "https://api.acme-video.test/v2"
KEY_ENV = "ACME_API_KEY"
BASE_URL_ENV = "ACME_BASE_URL"
KEY_HINT = f"set {KEY_ENV}; keys are at https://acme-video.test/account/keys"
#: How long a model listing is trusted before it is fetched again.
MODELS_TTL = 600.0

#: Where Acme differs from the shared table: its error body, and hints that name its own pages.
RULES = StatusRules(
    label="Acme",
    key_hint=KEY_HINT,
    server_message=server_message,
    hints={
        402: "add credits at https://acme-video.test/account/billing; waiting will not help",
        (404, "submit"): "unknown model: run `mediarouter models acme` to list them",
    },
)


def _read_key(api_key: str | SecretStr | None) -> SecretStr | None:
    """The key from the host, else from `ACME_API_KEY`, else from the user's key store (`mediarouter keys set
    acme`); held as a SecretStr so no repr or log shows it."""
    if api_key is None:
        api_key = os.environ.get(KEY_ENV) or get_key(NAME)
    text = api_key.get_secret_value() if isinstance(api_key, SecretStr) else (api_key or "")
    return SecretStr(text.strip()) if text.strip() else None


class AcmeVideoProvider(Provider):
    """The Acme Video API. No emulator: `--emulator` is refused for `acme/…` before anything is sent."""

    name = NAME
    supported_modalities = (Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO)
    supports_emulator: ClassVar[bool] = False  # the default, spelled out: this plugin ships no emulator

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        # The factory's signature is its contract: the core passes `clock=` because it is accepted
        # here, and refuses any option not listed (a typo is an error, never silently dropped).
        self._key = _read_key(api_key)
        self.http = ProviderClient(
            provider=NAME,
            rules=RULES,
            base_url=base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
            credentials={"X-Api-Key": self._key} if self._key is not None else None,
            transport=transport,
            clock=clock,
        )
        self.base_url = self.http.base_url
        self.server_address = self.http.server_address
        self._listing: ListingCache[list[ModelInfo]] = ListingCache(ttl=MODELS_TTL, clock=clock)

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- models ------------------------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        return list(await self._listing.get(self._fetch_models))

    async def _fetch_models(self) -> list[ModelInfo]:
        self.http.require_credentials("list models")
        answer = await self.http.request_json("GET", self.http.endpoint("models"), phase="models")
        return [_model_info(m) for m in parse(Listing, answer.body, "model listing", provider=NAME).models]

    # -- submit and poll -----------------------------------------------------------------------

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        """One POST. Never retried here: the engine decides, since a second POST may be a second paid job."""
        self.http.require_credentials("submit", model=model_id)
        answer = await self.http.request_json(
            "POST",
            self.http.endpoint("generations"),
            phase="submit",
            model=model_id,
            body=_submit_body(model_id, request),
        )
        generation = parse(Envelope, answer.body, "submit answer", provider=NAME, model=model_id).generation
        return Job(id=generation.id, provider=NAME, model=model_id)

    async def poll(self, job: Job) -> JobStatus:
        self.http.require_credentials("poll", model=job.model, job_id=job.id)
        answer = await self.http.request_json(
            "GET", self.http.endpoint("generations", job.id), phase="poll", model=job.model, job_id=job.id
        )
        context = {"provider": NAME, "model": job.model, "job_id": job.id}
        return self._job_status(job, parse(Envelope, answer.body, "job", **context).generation)

    def _job_status(self, job: Job, generation: Generation) -> JobStatus:
        outputs: list[JobOutput] = []
        result = generation.result
        for index, video in enumerate(result.videos if result is not None else ()):
            url = self.http.resolve(video.url)
            if video.requires_key:
                outputs.append(JobOutput(index=index, url=url))
            else:  # pre-signed: a secret, fetched without the key, valid until expires_at
                outputs.append(JobOutput(index=index, signed_url=url, expires_at=_expiry(video.expires_at)))
        return JobStatus(
            job_id=job.id,
            state=STATES.get(generation.state, JobState.UNKNOWN),
            raw_status=generation.state,
            error=generation.failure_reason,
            outputs=tuple(outputs),
            cost=result.charged_usd if result is not None else None,
        )

    # -- download ------------------------------------------------------------------------------

    @asynccontextmanager
    async def open_download(
        self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0
    ) -> AsyncIterator[Download]:
        """One GET of one output, from byte `offset` (the client sends Range and reports 206 vs 200)."""
        signed = output.signed_url is not None
        own = self.http.endpoint("generations", job.id, "videos", str(output.index))
        url = httpx.URL(output.signed_url or output.url or str(own))
        if not signed:
            self.http.require_credentials("download", model=job.model, job_id=job.id)
        # auth=False for a signed URL; with auth=True the key still goes only to Acme's own origin.
        async with self.http.open_download(
            url, model=job.model, job_id=job.id, offset=max(0, offset), auth=not signed
        ) as download:
            yield download


def _expiry(seconds: int | None) -> datetime | None:
    """Unix seconds as a datetime; an absurd value is dropped, not a crash (it only informs the journal)."""
    try:
        return datetime.fromtimestamp(seconds, UTC) if seconds else None
    except (OverflowError, OSError, ValueError):
        return None


def _submit_body(model_id: str, request: VideoRequest) -> dict[str, Any]:
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
    for frame in request.effective_frame_images():  # first_frame → first_frame_url
        body[f"{frame.frame_type.removesuffix('_frame')}_frame_url"] = frame.image_url.url
    extra = (request.provider_options or {}).get(NAME, {}).get("parameters")
    if extra:
        body["extra"] = extra
    return body


def _model_info(model: Model) -> ModelInfo:
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
