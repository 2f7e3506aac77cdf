"""The OpenRouter video provider: OpenRouter's async video API mapped onto `mediarouter.Provider`.

Wire protocol only. The job engine owns polling, deadlines, retries and the journal; this
module turns one call into one HTTP exchange (plus hand-followed download redirects) and
one answer into a core object or a core error.

The API key is the one thing that must never leak. It goes only to the configured base
origin (scheme, host and port of `base_url`): signed download URLs, foreign polling URLs and
cross-origin redirects never see it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError
from pydantic_core import to_jsonable_python

from mediarouter import (
    AuthenticationFailed,
    Capabilities,
    Clock,
    ConfigurationError,
    Download,
    InvalidRequest,
    Job,
    JobOutput,
    JobState,
    JobStatus,
    MediaRouterError,
    Modality,
    ModelInfo,
    ProtocolError,
    Provider,
    VideoRequest,
    VideoResult,
)
from mediarouter.request import FrameImage, InputReference

from .catalog import CATALOG
from .errors import KEY_HINT, Phase, error_from_response, error_from_transport
from .settings import OpenRouterSettings, header_value, normalize_base_url
from .wire import VideoGenerationResponse, VideoModel, parse_error_body, parse_job, parse_models, snippet

__all__ = ["OpenRouterVideoProvider", "build_submit_body", "model_info", "catalog_model_infos"]

log = logging.getLogger("mediarouter.openrouter")

PROVIDER_NAME = "openrouter"
#: Redirects a download follows by hand (so the key can be dropped when the origin changes).
MAX_REDIRECTS = 5
#: A signed URL this close to expiry is not used: the download might outlive it.
SIGNED_URL_MARGIN = 30.0
#: How long a catalog fallback is served before the live listing is tried again.
FALLBACK_CACHE_TTL = 60.0
#: Caps on bodies read into memory (job objects and listings are small; errors are only shown).
MAX_JSON_BODY = 8 * 1024 * 1024
MAX_ERROR_BODY = 64 * 1024

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Answers from a signed-URL host that mean "this signature no longer works".
_SIGNED_REFUSALS = frozenset({400, 401, 403, 404, 410})
_STATES: dict[str, JobState] = {
    "pending": JobState.PENDING,
    "in_progress": JobState.IN_PROGRESS,
    "completed": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
    "expired": JobState.EXPIRED,
}
#: Response headers worth handing to the engine (never Set-Cookie and the like).
_DOWNLOAD_HEADERS = ("content-type", "content-length", "content-range", "accept-ranges", "etag", "last-modified")


def _package_version() -> str:
    try:
        return version("mediarouter-openrouter")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


USER_AGENT = f"mediarouter-openrouter/{_package_version()}"


# -- URLs and origins ---------------------------------------------------------------------------


def _url(text: str | None) -> httpx.URL | None:
    if not text:
        return None
    try:
        return httpx.URL(text)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None


def _origin(url: httpx.URL) -> tuple[str, str, int] | None:
    """(scheme, host, port) with default ports filled in; None for anything that is not http(s)."""
    scheme = url.scheme.lower()
    if scheme not in ("http", "https") or not url.host:
        return None
    return scheme, url.host.lower(), url.port or (443 if scheme == "https" else 80)


def _display_origin(url: httpx.URL) -> str:
    """`scheme://host[:port]`: safe to show, since a signed URL's secret is in its path or query."""
    origin = _origin(url)
    if origin is None:
        return url.scheme or "?"
    scheme, host, port = origin
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


def _bare_model_id(model_id: str) -> str:
    """`openrouter/google/veo-3.1` → `google/veo-3.1`; OpenRouter's own ids never start with our name."""
    text = model_id.strip()
    prefix = f"{PROVIDER_NAME}/"
    return text[len(prefix) :] if text.startswith(prefix) else text


# -- request body and model info (pure functions, tested directly) -------------------------------


def build_submit_body(model_id: str, request: VideoRequest) -> dict[str, Any]:
    """The `POST /videos` body. Unset fields are omitted; user-shaped objects pass through untouched."""
    body: dict[str, Any] = {"model": model_id}
    for name in ("prompt", "duration", "resolution", "aspect_ratio", "size", "generate_audio", "seed"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    frames = request.effective_frame_images()
    if frames:
        body["frame_images"] = [f.model_dump(mode="json", by_alias=True, exclude_none=True) for f in frames]
    if request.input_references:
        body["input_references"] = [
            r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in request.input_references
        ]
    for name in ("callback_url", "previous_job_id"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.provider_options:
        body["provider"] = {"options": to_jsonable_python(request.provider_options)}
    for name in ("session_id", "user"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.trace:
        body["trace"] = to_jsonable_python(request.trace)
    for name in ("creativity", "upscale_factor"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    return body


def _price_per_second(pricing: Mapping[str, str] | None) -> Decimal | None:
    """The highest per-second SKU: cost guards should see the dearest way the model can bill."""
    best: Decimal | None = None
    for key, raw in (pricing or {}).items():
        if "second" not in key.lower():
            continue
        try:
            price = Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            continue
        if not price.is_finite() or price < 0:
            continue
        if best is None or price > best:
            best = price
    return best


def _as_tuple(values: list[Any] | None) -> tuple[Any, ...] | None:
    return None if values is None else tuple(values)


def model_info(model: VideoModel, *, source: str) -> ModelInfo:
    """Wire model → ModelInfo. Null lists stay None ("not advertised"), so they never block a request."""
    frames = _as_tuple(model.supported_frame_images)
    modalities = [Modality.TEXT_TO_VIDEO]
    # An empty list says "no frame images"; null only says nothing, so it must not forbid them.
    if frames is None or frames:
        modalities.append(Modality.IMAGE_TO_VIDEO)
    modalities.append(Modality.REFERENCE_TO_VIDEO)  # every OpenRouter provider honours image references
    capabilities = Capabilities(
        modalities=tuple(modalities),
        durations=_as_tuple(model.supported_durations),
        resolutions=_as_tuple(model.supported_resolutions),
        aspect_ratios=_as_tuple(model.supported_aspect_ratios),
        sizes=_as_tuple(model.supported_sizes),
        frame_images=frames,
        reference_types=None,
        audio=model.generate_audio,
        seed=model.seed,
        passthrough_parameters=_as_tuple(model.allowed_passthrough_parameters),
        price_per_second=_price_per_second(model.pricing_skus),
        pricing=dict(model.pricing_skus) if model.pricing_skus is not None else None,
    )
    return ModelInfo(
        provider=PROVIDER_NAME,
        id=model.id,
        name=model.name,
        description=model.description,
        capabilities=capabilities,
        source=source,
    )


@cache
def _catalog_infos() -> tuple[ModelInfo, ...]:
    return tuple(model_info(VideoModel.model_validate(entry), source="catalog") for entry in CATALOG)


def catalog_model_infos() -> list[ModelInfo]:
    """The built-in catalog as ModelInfo (`source="catalog"`), for when the live listing is unreachable."""
    return list(_catalog_infos())


def emulator_config_from_options(options: Mapping[str, Any]) -> Any:
    """The core's provider-neutral `emulator_options` (from `mediarouter generate --emulator-inject ...`) as an
    EmulatorConfig: `inject` (PHASE:OUTCOME[:MODEL][xN] specs), `polls_before_completed`, `polls_before_in_progress`.
    """
    from .emulator import EmulatorConfig, Injection

    unknown = sorted(set(options) - {"inject", "polls_before_completed", "polls_before_in_progress"})
    if unknown:
        log.debug("the OpenRouter emulator ignores options: %s", ", ".join(unknown))
    defaults = EmulatorConfig()
    completed, in_progress = options.get("polls_before_completed"), options.get("polls_before_in_progress")
    polls_completed = int(completed) if completed is not None else defaults.polls_before_completed
    if in_progress is not None:
        polls_in_progress = int(in_progress)
    elif completed is not None:
        polls_in_progress = min(defaults.polls_before_in_progress, polls_completed)
    else:
        polls_in_progress = defaults.polls_before_in_progress
    try:
        injections = tuple(Injection.parse(str(spec)) for spec in options.get("inject") or ())
        return EmulatorConfig(
            injections=injections,
            polls_before_completed=polls_completed,
            polls_before_in_progress=polls_in_progress,
        )
    except ValueError as exc:
        raise ConfigurationError(f"invalid emulator option: {exc}", provider=PROVIDER_NAME) from None


# -- the provider -------------------------------------------------------------------------------


class OpenRouterVideoProvider(Provider):
    """OpenRouter's async video API: `POST /videos`, `GET /videos/{id}`, `GET …/content`, `GET /videos/models`."""

    name = PROVIDER_NAME
    supported_modalities = (Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO, Modality.REFERENCE_TO_VIDEO)
    can_cancel = False  # OpenRouter has no cancel endpoint; the base class's cancel() says so

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
        settings: OpenRouterSettings | None = None,
        http_referer: str | None = None,
        app_title: str | None = None,
        app_categories: str | None = None,
        emulator: bool = False,
        emulator_config: Any = None,
        emulator_options: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
        **options: Any,
    ) -> None:
        # Unknown options are ignored on purpose: the core hands every factory the same options.
        if options:
            log.debug("OpenRouterVideoProvider ignores options: %s", ", ".join(sorted(options)))
        if settings is None and emulator:
            # Offline runs must not depend on (or be broken by) OPENROUTER_* in the environment.
            settings = OpenRouterSettings.model_construct()
        if settings is None:
            try:
                settings = OpenRouterSettings()
            except ValidationError as exc:
                fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
                raise ConfigurationError(
                    f"invalid OpenRouter settings in the environment: {fields}",
                    provider=PROVIDER_NAME,
                    hint="check the OPENROUTER_* environment variables",
                ) from None
        self._settings = settings

        if emulator:
            from .emulator import EMULATOR_BASE_URL, emulator_transport

            base_url = base_url or EMULATOR_BASE_URL
            if emulator_config is None and emulator_options:
                emulator_config = emulator_config_from_options(emulator_options)
            if transport is None and client is None:
                try:
                    transport = emulator_transport(emulator_config)
                except ImportError as exc:
                    raise ConfigurationError(
                        f"the OpenRouter emulator needs extra packages ({exc.name or exc})",
                        provider=PROVIDER_NAME,
                        hint="pip install 'mediarouter-openrouter[emulator]'",
                    ) from None
            if api_key is None:
                # Never hand the real key from the environment to the emulator.
                api_key = getattr(emulator_config, "api_key", None) or "emulator-key"

        try:
            self.base_url = normalize_base_url(base_url) if base_url is not None else settings.base_url
            self._referer = header_value(http_referer if http_referer is not None else settings.http_referer)
            self._title = header_value(app_title if app_title is not None else settings.app_title)
            self._categories = header_value(app_categories if app_categories is not None else settings.app_categories)
        except ValueError as exc:
            raise ConfigurationError(str(exc), provider=PROVIDER_NAME) from None

        self._api_key = self._normalize_key(api_key if api_key is not None else settings.api_key)
        self.emulator = emulator
        self._base = httpx.URL(self.base_url)
        self._base_dir = httpx.URL(self.base_url + "/")  # so relative references keep the /api/v1 prefix
        base_origin = _origin(self._base)
        if base_origin is None:  # pragma: no cover - normalize_base_url already refused it
            raise ConfigurationError(f"unusable base_url {self.base_url!r}", provider=PROVIDER_NAME)
        self._base_origin = base_origin
        self.server_address = f"{base_origin[1]}:{base_origin[2]}"

        self._clock = clock
        self._transport = transport
        self._client = client
        self._owns_client = client is None
        self._timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)

        self._models: list[ModelInfo] | None = None
        self._models_expire_at = 0.0
        #: Why the last listing fell back to the catalog (None when it was live).
        self.last_listing_error: MediaRouterError | None = None

    @staticmethod
    def _normalize_key(key: str | SecretStr | None) -> SecretStr | None:
        if key is None:
            return None
        text = (key.get_secret_value() if isinstance(key, SecretStr) else str(key)).strip()
        if not text:
            return None
        if not text.isascii() or any(ch.isspace() or ord(ch) < 32 for ch in text):
            raise ConfigurationError(
                "the OpenRouter API key contains characters that cannot be sent in a header",
                provider=PROVIDER_NAME,
                hint=KEY_HINT,
            )
        return SecretStr(text)

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "unset"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key}, emulator={self.emulator})"

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    def _now(self) -> float:
        return self._clock.time() if self._clock is not None else time.time()

    def _monotonic(self) -> float:
        return self._clock.monotonic() if self._clock is not None else time.monotonic()

    def _secrets(self) -> tuple[str, ...]:
        return (self._api_key.get_secret_value(),) if self._api_key is not None else ()

    def _http(self) -> httpx.AsyncClient:
        """The one long-lived client, made on first use (so constructing a provider does no I/O)."""
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, timeout=self._timeout, follow_redirects=False)
            self._owns_client = True
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client if this provider made it (a client passed in belongs to the caller)."""
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()

    def _on_base_origin(self, url: httpx.URL) -> bool:
        return _origin(url) == self._base_origin

    def _require_key(self, *, phase: Phase, model: str | None = None, job_id: str | None = None) -> None:
        if self._api_key is None:
            raise AuthenticationFailed(
                f"no OpenRouter API key: cannot {phase}",
                provider=PROVIDER_NAME,
                model=model,
                job_id=job_id,
                hint=KEY_HINT,
                details={"phase": phase},
            )

    def _headers(self, url: httpx.URL, *, accept: str, auth: bool) -> httpx.Headers:
        """Request headers. The key and the attribution go only to the configured base origin."""
        headers = httpx.Headers({"Accept": accept, "User-Agent": USER_AGENT}, encoding="utf-8")
        if self._on_base_origin(url):
            if auth and self._api_key is not None:
                headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
            if self._referer:
                headers["HTTP-Referer"] = self._referer
            if self._title:
                headers["X-OpenRouter-Title"] = self._title
            if self._categories:
                headers["X-OpenRouter-Categories"] = self._categories
        return headers

    def _endpoint(self, *segments: str) -> httpx.URL:
        return httpx.URL(self.base_url + "/" + "/".join(quote(s, safe="") for s in segments))

    def _content_url(self, job_id: str, index: int) -> httpx.URL:
        return self._endpoint("videos", job_id, "content").copy_merge_params({"index": str(index)})

    def _resolve(self, reference: str | None) -> str | None:
        """A URL from a response, made absolute against the base URL (the docs show relative polling URLs)."""
        if not reference:
            return None
        try:
            return str(self._base_dir.join(reference))
        except (httpx.InvalidURL, TypeError, ValueError):
            return None

    async def _send(
        self,
        request: httpx.Request,
        *,
        phase: Phase,
        model: str | None,
        job_id: str | None,
    ) -> httpx.Response:
        """Send with streaming on and redirects off; network failures become ProviderUnavailable."""
        if not self._on_base_origin(request.url):
            request.headers.pop("Authorization", None)  # even if a caller-supplied client has a default one
        log.debug("openrouter %s %s %s", phase, request.method, _display_origin(request.url))
        try:
            # auth=None: a caller-supplied client's own auth must not ride along to other origins.
            return await self._http().send(request, stream=True, follow_redirects=False, auth=None)
        except httpx.HTTPError as exc:
            raise error_from_transport(
                exc, provider=PROVIDER_NAME, model=model, job_id=job_id, phase=phase, secrets=self._secrets()
            ) from exc

    async def _read(
        self, response: httpx.Response, *, limit: int, phase: Phase, model: str | None, job_id: str | None
    ) -> bytes:
        data = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > limit:
                    raise ProtocolError(
                        f"OpenRouter sent a {phase} answer over {limit} bytes",
                        provider=PROVIDER_NAME,
                        model=model,
                        job_id=job_id,
                        status_code=response.status_code,
                    )
        except httpx.HTTPError as exc:
            raise error_from_transport(
                exc, provider=PROVIDER_NAME, model=model, job_id=job_id, phase=phase, secrets=self._secrets()
            ) from exc
        return bytes(data)

    async def _call_json(
        self,
        method: str,
        url: httpx.URL,
        *,
        phase: Phase,
        model: str | None = None,
        job_id: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> tuple[httpx.Response, bytes]:
        """One JSON exchange: (response, body) for a 2xx, else the mapped core error."""
        headers = self._headers(url, accept="application/json", auth=True)
        content: bytes | None = None
        if body is not None:
            try:
                content = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
            except (TypeError, ValueError) as exc:
                raise InvalidRequest(
                    f"the request cannot be sent as JSON: {exc}", provider=PROVIDER_NAME, model=model
                ) from None
            headers["Content-Type"] = "application/json"
        request = self._http().build_request(method, url, headers=headers, content=content)
        response = await self._send(request, phase=phase, model=model, job_id=job_id)
        ok = 200 <= response.status_code < 300
        try:
            if ok:
                raw = await self._read(response, limit=MAX_JSON_BODY, phase=phase, model=model, job_id=job_id)
            else:  # an error body only feeds the message: a long or broken one must not hide the status
                raw = await self._read_quietly(response, MAX_ERROR_BODY)
        finally:
            await response.aclose()
        if not ok:
            raise error_from_response(
                response.status_code,
                response.headers,
                raw,
                provider=PROVIDER_NAME,
                model=model,
                job_id=job_id,
                phase=phase,
                secrets=self._secrets(),
                now=self._now(),
            )
        return response, raw

    # -- models ----------------------------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        """The live listing, cached; the built-in catalog (cached briefly) whenever the listing fails."""
        if self._models is not None and self._monotonic() < self._models_expire_at:
            return list(self._models)
        try:
            models = await self._fetch_models()
            ttl = self._settings.models_cache_ttl
            self.last_listing_error = None
        except MediaRouterError as exc:
            log.info("OpenRouter model listing unavailable, using the built-in catalog: %s", exc)
            models = catalog_model_infos()
            ttl = min(FALLBACK_CACHE_TTL, self._settings.models_cache_ttl)
            self.last_listing_error = exc
        self._models = models
        self._models_expire_at = self._monotonic() + ttl
        return list(models)

    async def _fetch_models(self) -> list[ModelInfo]:
        # The listing works without a key; _headers adds the bearer only when one is set.
        _, raw = await self._call_json("GET", self._endpoint("videos", "models"), phase="models")
        return [model_info(m, source="live") for m in parse_models(raw, provider=PROVIDER_NAME, status_code=200)]

    async def get_model(self, model_id: str) -> ModelInfo | None:
        """One model, or None when the listing (live, or the catalog fallback) does not have it."""
        return await super().get_model(_bare_model_id(model_id))

    # -- submit and poll -------------------------------------------------------------------------

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        """`POST /videos`, once. Never retried here: a second POST could be a second paid job."""
        model_id = _bare_model_id(model_id)
        self._require_key(phase="submit", model=model_id)
        body = build_submit_body(model_id, request)
        response, raw = await self._call_json(
            "POST", self._endpoint("videos"), phase="submit", model=model_id, body=body
        )
        try:
            wire = parse_job(raw, provider=PROVIDER_NAME, model=model_id, status_code=response.status_code)
        except ProtocolError as exc:
            exc.hint = (
                f"OpenRouter accepted the submit (HTTP {response.status_code}) but its answer could not be read, "
                "so a job may exist and be billed: check your OpenRouter activity before submitting again"
            )
            raise
        log.info("openrouter submitted %s as job %s (status %s)", model_id, wire.id, wire.status)
        return Job(id=wire.id, provider=PROVIDER_NAME, model=model_id, polling_url=self._resolve(wire.polling_url))

    def _poll_url(self, job: Job) -> httpx.URL:
        """The job's polling_url when it is on our origin; otherwise our own endpoint (the key stays home)."""
        url = _url(job.polling_url)
        if url is not None and self._on_base_origin(url):
            return url
        if url is not None:
            log.warning(
                "polling_url of job %s is on %s, not the API origin; polling the API", job.id, _display_origin(url)
            )
        return self._endpoint("videos", job.id)

    async def poll(self, job: Job) -> JobStatus:
        """`GET` the job once and translate it; safe to repeat."""
        self._require_key(phase="poll", model=job.model, job_id=job.id)
        response, raw = await self._call_json("GET", self._poll_url(job), phase="poll", model=job.model, job_id=job.id)
        context: dict[str, Any] = {
            "provider": PROVIDER_NAME,
            "model": job.model,
            "job_id": job.id,
            "status_code": response.status_code,
        }
        wire = parse_job(raw, **context)
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
            signed_url = self._resolve(signed[index]) if index < len(signed) else None
            outputs.append(
                JobOutput(
                    index=index,
                    url=self._resolve(unsigned[index]) if index < len(unsigned) else None,
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

    def _download_target(self, job: Job, output: JobOutput, *, signed_ok: bool = True) -> tuple[httpx.URL, bool]:
        """(URL, send the key?): a fresh signed URL without the key, else an authenticated URL on our origin."""
        signed = _url(output.signed_url) if signed_ok else None
        if signed is not None and _origin(signed) is not None:
            expires = output.expires_at
            if expires is None or expires.timestamp() > self._now() + SIGNED_URL_MARGIN:
                return signed, False
        unsigned = _url(output.url)
        if unsigned is not None and self._on_base_origin(unsigned):
            return unsigned, True
        return self._content_url(job.id, output.index), True

    async def _open_stream(self, url: httpx.URL, *, auth: bool, offset: int, job: Job) -> httpx.Response:
        """GET with redirects followed by hand: the key is dropped for good once the origin changes."""
        client = self._http()
        for _ in range(MAX_REDIRECTS + 1):
            auth = auth and self._on_base_origin(url)
            headers = self._headers(url, accept="video/mp4", auth=auth)
            headers["Accept-Encoding"] = "identity"  # byte offsets must mean bytes of the file
            if offset > 0:
                headers["Range"] = f"bytes={offset}-"
            request = client.build_request("GET", url, headers=headers)
            response = await self._send(request, phase="download", model=job.model, job_id=job.id)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            await response.aclose()
            target = None
            with suppress(httpx.InvalidURL, TypeError, ValueError):
                target = url.join(location)
            if target is None or _origin(target) is None:
                raise ProtocolError(
                    "OpenRouter download redirected to an unusable location",
                    provider=PROVIDER_NAME,
                    model=job.model,
                    job_id=job.id,
                    status_code=response.status_code,
                )
            url = target
        raise ProtocolError(
            f"OpenRouter download redirected more than {MAX_REDIRECTS} times",
            provider=PROVIDER_NAME,
            model=job.model,
            job_id=job.id,
        )

    @asynccontextmanager
    async def open_download(
        self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0
    ) -> AsyncIterator[Download]:
        """Stream one output. The response is closed when the context exits, also on error or cancellation."""
        url, auth = self._download_target(job, output)
        if auth:
            self._require_key(phase="download", model=job.model, job_id=job.id)
        response = await self._open_stream(url, auth=auth, offset=max(0, offset), job=job)
        if not auth and response.status_code in _SIGNED_REFUSALS and self._api_key is not None:
            # A signed URL can die before its expires_at (clock skew, revocation) while the authenticated
            # content URL still works; giving up here would lose a video that was paid for.
            await response.aclose()
            log.info("signed download of job %s refused (HTTP %s); using the API", job.id, response.status_code)
            url, auth = self._download_target(job, output, signed_ok=False)
            response = await self._open_stream(url, auth=auth, offset=max(0, offset), job=job)
        chunks: AsyncIterator[bytes] | None = None
        try:
            download = await self._check_download(response, job, max(0, offset))
            chunks = download.chunks
            yield download
        finally:
            if chunks is not None:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
            await response.aclose()

    async def _check_download(self, response: httpx.Response, job: Job, offset: int) -> Download:
        """Refuse what is not a video (error pages, JSON, empty bodies) before the engine writes a byte."""
        context: dict[str, Any] = {
            "provider": PROVIDER_NAME,
            "model": job.model,
            "job_id": job.id,
            "status_code": response.status_code,
        }
        code = response.status_code
        if not 200 <= code < 300:
            body = await self._read_quietly(response, MAX_ERROR_BODY)
            raise error_from_response(
                code,
                response.headers,
                body,
                provider=PROVIDER_NAME,
                model=job.model,
                job_id=job.id,
                phase="download",
                secrets=self._secrets(),
                now=self._now(),
            )
        content_type = response.headers.get("content-type")
        media_type = (content_type or "").split(";")[0].strip().lower()
        if _is_textual(media_type):
            body = await self._read_quietly(response, 4096)
            envelope = parse_error_body(body)
            server_message = envelope.error.message if envelope and envelope.error else None
            raise ProtocolError(
                f"OpenRouter download: expected a video, got {media_type}: {snippet(body) or 'an empty body'}",
                server_message=server_message,
                hint="the output may not be ready; poll the job again",
                **context,
            )
        length = _int_header(response.headers.get("content-length"))
        if code in (204, 205) or length == 0:
            raise ProtocolError("OpenRouter download: the server sent an empty body", **context)
        resumed_from = 0
        if code == 206:
            start = _range_start(response.headers.get("content-range"))
            if start is not None and start != offset:
                raise ProtocolError(
                    f"OpenRouter download: asked for bytes from {offset}, got a range starting at {start}", **context
                )
            resumed_from = offset
        return Download(
            chunks=self._chunks(response, job),
            content_type=media_type or None,
            content_length=length,
            origin=_display_origin(response.url),
            resumed_from=resumed_from,
            headers={k: response.headers[k] for k in _DOWNLOAD_HEADERS if k in response.headers},
        )

    async def _chunks(self, response: httpx.Response, job: Job) -> AsyncIterator[bytes]:
        total = 0
        try:
            async for chunk in response.aiter_bytes():
                if chunk:
                    total += len(chunk)
                    yield chunk
        except httpx.HTTPError as exc:
            raise error_from_transport(
                exc, provider=PROVIDER_NAME, model=job.model, job_id=job.id, phase="download", secrets=self._secrets()
            ) from exc
        if total == 0:
            raise ProtocolError(
                "OpenRouter download: the server sent an empty body",
                provider=PROVIDER_NAME,
                model=job.model,
                job_id=job.id,
                status_code=response.status_code,
            )

    @staticmethod
    async def _read_quietly(response: httpx.Response, limit: int) -> bytes:
        """Up to `limit` bytes of a body that is only going into an error message."""
        data = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) >= limit:
                    break
        except httpx.HTTPError:
            pass
        return bytes(data[:limit])

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
        poll_interval: float = 30.0,
        timeout: float = 600.0,
        output: str | Path | None = None,
        **provider_params: Any,
    ) -> VideoResult:
        """Submit, poll and download one video through the core job engine; returns the saved result.

        `model` may carry the `openrouter/` prefix. Extra keyword arguments are any VideoRequest
        field (size, callback_url, provider_options, session_id, …); `provider={"options": …}`
        in OpenRouter's own wire shape is accepted too.
        """
        model_id = _bare_model_id(model)
        request = self._build_request(
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
        from mediarouter.engine import JobEngine

        engine = JobEngine(clock=self._clock, poll_interval=poll_interval, timeout=timeout)
        return await engine.run(self, model_id, request, output=Path(output) if output is not None else None)

    @staticmethod
    def _build_request(provider_params: Mapping[str, Any], **fields: Any) -> VideoRequest:
        params = dict(provider_params)
        if "provider" in params:
            wire_provider = params.pop("provider")
            if (
                not isinstance(wire_provider, Mapping)
                or set(wire_provider) - {"options"}
                or not isinstance(wire_provider.get("options", {}), Mapping)
            ):
                raise InvalidRequest(
                    "provider= must look like {'options': {'<slug>': {...}}}",
                    provider=PROVIDER_NAME,
                    hint="or pass provider_options={'<slug>': {'parameters': {...}}}",
                )
            if params.get("provider_options") is not None:
                raise InvalidRequest(
                    "give either provider={'options': ...} or provider_options=..., not both", provider=PROVIDER_NAME
                )
            options = wire_provider.get("options")
            if options:
                params["provider_options"] = dict(options)
        fields.update(params)
        return VideoRequest.build(**{k: v for k, v in fields.items() if v is not None})


def _is_textual(media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in ("application/json", "application/xml", "application/xhtml+xml")
        or media_type.endswith("+json")
        or media_type.endswith("+xml")
    )


def _int_header(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number >= 0 else None


def _range_start(content_range: str | None) -> int | None:
    """`bytes 100-999/1000` → 100; None when absent or unreadable."""
    if not content_range:
        return None
    unit, _, spec = content_range.strip().partition(" ")
    if unit.lower() != "bytes":
        return None
    start, sep, _ = spec.partition("-")
    return int(start) if sep and start.strip().isdigit() else None
