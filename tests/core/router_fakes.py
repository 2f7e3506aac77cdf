"""Fake providers with several models each, for routing tests: every request lands in one shared log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mediarouter import (
    Capabilities,
    Download,
    Job,
    JobOutput,
    JobState,
    JobStatus,
    ModelInfo,
    Provider,
    VideoRequest,
)
from mediarouter.clock import Clock
from mediarouter.router import Router
from mediarouter.settings import MediaRouterSettings

from .fakes import VIDEO

#: Poll step that keeps a job running forever (until the engine's deadline).
HANG = "hang"

PollStep = str | Callable[[], Exception]


@dataclass
class Script:
    """How one model behaves: every submit raises `submit_error()` (when set), else a job follows `polls`."""

    submit_error: Callable[[], Exception] | None = None
    polls: Sequence[PollStep] = field(default_factory=lambda: ["in_progress", "completed"])
    cost: Decimal | None = Decimal("1.00")


@dataclass
class LogEntry:
    """One thing a backend saw or did, on the shared clock."""

    kind: str  # submit | accepted | refused | terminal | poll_error
    ref: str
    time: float
    job_id: str | None = None
    detail: str | None = None


DEFAULT_CAPS = Capabilities(durations=(4, 6, 8), price_per_second=Decimal("0.10"))


class FleetProvider(Provider):
    """A provider serving several models; scripts and capabilities can change between calls."""

    def __init__(
        self,
        name: str,
        *,
        clock: Clock,
        log: list[LogEntry],
        models: dict[str, Capabilities] | None = None,
        scripts: dict[str, Script] | None = None,
    ) -> None:
        self.name = name
        self.clock = clock
        self.log = log
        self.models: dict[str, Capabilities] = dict(models or {"m1": DEFAULT_CAPS})
        self.scripts: dict[str, Script] = dict(scripts or {})
        self._jobs: dict[str, list[PollStep]] = {}
        self._counter = 0
        self.submitted: list[VideoRequest] = []

    def _ref(self, model_id: str) -> str:
        return f"{self.name}/{model_id}"

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(provider=self.name, id=m, capabilities=c) for m, c in self.models.items()]

    async def capabilities(self, model_id: str) -> Capabilities:
        return self.models.get(model_id, Capabilities())

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        ref = self._ref(model_id)
        self.log.append(LogEntry("submit", ref, self.clock.monotonic()))
        self.submitted.append(request)
        script = self.scripts.get(model_id, Script())
        if script.submit_error is not None:
            error = script.submit_error()
            self.log.append(LogEntry("refused", ref, self.clock.monotonic(), detail=type(error).__name__))
            raise error
        self._counter += 1
        job_id = f"{self.name}-{model_id}-job{self._counter}"
        self._jobs[job_id] = list(script.polls)
        self.log.append(LogEntry("accepted", ref, self.clock.monotonic(), job_id=job_id))
        return Job(id=job_id, provider=self.name, model=model_id)

    async def poll(self, job: Job) -> JobStatus:
        steps = self._jobs[job.id]
        step = steps[0] if steps and steps[0] == HANG else (steps.pop(0) if steps else "completed")
        if step == HANG:
            step = "in_progress"
        if callable(step):
            error = step()
            self.log.append(LogEntry("poll_error", job.ref, self.clock.monotonic(), job.id, type(error).__name__))
            raise error
        state = JobState(step)
        if state.terminal:
            self.log.append(LogEntry("terminal", job.ref, self.clock.monotonic(), job.id, state.value))
        script = self.scripts.get(job.model, Script())
        return JobStatus(
            job_id=job.id,
            state=state,
            outputs=(JobOutput(index=0, url=f"https://fleet.test/{job.id}"),) if state is JobState.COMPLETED else (),
            cost=script.cost if state is JobState.COMPLETED else None,
            error="the backend said no" if state.terminal and state is not JobState.COMPLETED else None,
        )

    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        return self._download()

    @asynccontextmanager
    async def _download(self) -> AsyncIterator[Download]:
        async def chunks() -> AsyncIterator[bytes]:
            yield VIDEO

        yield Download(chunks=chunks(), content_type="video/mp4", content_length=len(VIDEO))


def quiet_settings(**overrides: Any) -> MediaRouterSettings:
    """Settings that ignore the user's config file (environment variables still apply)."""
    overrides.setdefault("poll_interval", 1.0)
    return MediaRouterSettings(config_file="", **overrides)


class Fleet:
    """Several FleetProviders on one clock and one log, and routers over them."""

    def __init__(self, clock: Clock, models: dict[str, dict[str, Capabilities]] | None = None) -> None:
        self.clock = clock
        self.log: list[LogEntry] = []
        layout = models or {"p1": {"m1": DEFAULT_CAPS, "m2": DEFAULT_CAPS}, "p2": {"m1": DEFAULT_CAPS}}
        self.providers = {
            name: FleetProvider(name, clock=clock, log=self.log, models=dict(caps)) for name, caps in layout.items()
        }

    def script(self, ref: str, script: Script) -> None:
        provider, model = ref.split("/", 1)
        self.providers[provider].scripts[model] = script

    def router(self, *, settings: MediaRouterSettings | None = None, **kwargs: Any) -> Router:
        return Router(providers=self.providers, clock=self.clock, settings=settings or quiet_settings(), **kwargs)

    def submits(self) -> list[str]:
        return [e.ref for e in self.log if e.kind == "submit"]

    def accepted(self) -> list[LogEntry]:
        return [e for e in self.log if e.kind == "accepted"]
