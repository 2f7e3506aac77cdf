"""The router: from a model ref to a saved video, through the right provider plugin."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .capabilities import ModelInfo
from .clock import Clock
from .engine import JobEngine
from .errors import MediaRouterError
from .events import Listener
from .plugins import create_provider, provider_factories
from .provider import Provider
from .refs import ModelRef
from .request import VideoRequest
from .results import Attempt, VideoResult
from .settings import MediaRouterSettings
from .validation import validate_request

__all__ = ["Router", "generate", "generate_sync"]


class Router:
    """Resolves model refs to providers (one long-lived instance each) and runs jobs through the engine."""

    def __init__(
        self,
        *,
        settings: MediaRouterSettings | None = None,
        clock: Clock | None = None,
        provider_options: Mapping[str, Mapping[str, Any]] | None = None,
        providers: Mapping[str, Provider] | None = None,
        emulator: bool = False,
        listeners: Sequence[Listener] = (),
    ) -> None:
        self.settings = settings or MediaRouterSettings()
        self.clock = clock
        self.emulator = emulator
        self.listeners: list[Listener] = list(listeners)
        self._provider_options = {k: dict(v) for k, v in (provider_options or {}).items()}
        self._providers: dict[str, Provider] = dict(providers or {})
        self._owned: set[str] = set()

    # -- providers ----------------------------------------------------------------------

    def provider(self, name: str) -> Provider:
        """The provider instance for `name`, created on first use from its plugin."""
        if name not in self._providers:
            options: dict[str, Any] = dict(self._provider_options.get(name, {}))
            if self.clock is not None:
                options.setdefault("clock", self.clock)
            if self.emulator:
                options.setdefault("emulator", True)
            self._providers[name] = create_provider(name, **options)
            self._owned.add(name)
        return self._providers[name]

    def provider_names(self) -> list[str]:
        return sorted(set(provider_factories()) | set(self._providers))

    def resolve(self, model: str | Sequence[str] | None, fallbacks: Sequence[str] | None = None) -> list[ModelRef]:
        """Candidate refs in order. A single ref today; the shape is a list so chains slot in."""
        if model is None:
            model = self.settings.default_model
        refs = [model] if isinstance(model, str) else list(model)
        refs += list(fallbacks or [])
        return [ModelRef.parse(r) for r in refs]

    # -- generation ---------------------------------------------------------------------

    async def generate(
        self,
        prompt: str | None = None,
        *,
        model: str | Sequence[str] | None = None,
        output: str | Path | None = None,
        fallbacks: Sequence[str] | None = None,
        poll_interval: float | None = None,
        timeout: float | None = None,
        **fields: Any,
    ) -> VideoResult:
        """Generate one video and save it to `output` (a temporary directory when None)."""
        request = VideoRequest.build(prompt=prompt, **fields)
        return await self.generate_request(
            request, model=model, output=output, fallbacks=fallbacks, poll_interval=poll_interval, timeout=timeout
        )

    async def generate_request(
        self,
        request: VideoRequest,
        *,
        model: str | Sequence[str] | None = None,
        output: str | Path | None = None,
        fallbacks: Sequence[str] | None = None,
        poll_interval: float | None = None,
        timeout: float | None = None,
    ) -> VideoResult:
        candidates = self.resolve(model, fallbacks)
        ref = candidates[0]
        provider = self.provider(ref.provider)
        engine = self.engine(poll_interval=poll_interval, timeout=timeout)
        attempt = Attempt(ref=str(ref), outcome="failed")
        started = engine.clock.monotonic()
        try:
            capabilities = await provider.capabilities(ref.model_id)
            validate_request(request, capabilities, model=ref.model_id, provider=ref.provider)
            attempt.estimated_cost = capabilities.estimate_cost(request.duration)
            result = await engine.run(
                provider, ref.model_id, request, output=output, validate=False, capabilities=capabilities
            )
        except MediaRouterError as exc:
            attempt.error_type = type(exc).__name__
            attempt.error = exc.message
            attempt.status_code = exc.status_code
            attempt.job_id = exc.job_id
            attempt.duration_s = engine.clock.monotonic() - started
            exc.details.setdefault("attempts", [attempt.model_dump(mode="json")])
            raise
        attempt.outcome = "succeeded"
        attempt.job_id = result.job_id
        attempt.cost = result.cost
        attempt.duration_s = engine.clock.monotonic() - started
        result.attempts = [attempt]
        return result

    def engine(self, *, poll_interval: float | None = None, timeout: float | None = None) -> JobEngine:
        s = self.settings
        return JobEngine(
            clock=self.clock,
            poll_interval=poll_interval if poll_interval is not None else s.poll_interval,
            max_poll_interval=s.max_poll_interval,
            timeout=timeout if timeout is not None else s.timeout,
            request_timeout=s.request_timeout,
            listeners=self.listeners,
        )

    # -- discovery ----------------------------------------------------------------------

    async def models(self, prefix: str | None = None) -> list[ModelInfo]:
        """Models of every installed provider (or those whose ref starts with `prefix`)."""
        names = self.provider_names()
        if prefix:
            names = [n for n in names if n.startswith(prefix.split("/", 1)[0]) or prefix.startswith(n)]
        infos: list[ModelInfo] = []
        for name in names:
            infos.extend(await self.provider(name).list_models())
        if prefix:
            infos = [i for i in infos if i.ref.startswith(prefix)]
        return sorted(infos, key=lambda i: i.ref)

    # -- lifecycle ----------------------------------------------------------------------

    async def aclose(self) -> None:
        for name in list(self._owned):
            await self._providers.pop(name).aclose()
            self._owned.discard(name)

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def generate(
    prompt: str | None = None, *, model: str | Sequence[str] | None = None, **kwargs: Any
) -> VideoResult:
    """One-shot: build a Router, generate, close it."""
    router_kwargs = {k: kwargs.pop(k) for k in ("settings", "clock", "provider_options", "emulator") if k in kwargs}
    async with Router(**router_kwargs) as router:
        return await router.generate(prompt, model=model, **kwargs)


def generate_sync(prompt: str | None = None, *, model: str | Sequence[str] | None = None, **kwargs: Any) -> VideoResult:
    """Blocking facade for scripts: `generate_sync("A cat", model="openrouter/alibaba/wan-2.6", output="cat.mp4")`."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(generate(prompt, model=model, **kwargs))
    raise RuntimeError("generate_sync() cannot run inside an event loop; use `await mediarouter.generate(...)`")
