"""Run one job of a provider against a scenario, on the real job engine and a fake clock.

`run_job` is what every property of the suite is built on, and is public so plugin authors
can write extra properties of their own: it builds a fresh fake clock, transport and
provider, runs `mediarouter.engine.JobEngine` to the end (or cancels it at a chosen point),
and returns a `JobRun` with everything a property needs to look at.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from mediarouter import Capabilities, MediaRouterError, Provider, VideoRequest, VideoResult
from mediarouter.engine import JobEngine

from .adapter import WireAdapter
from .clock import FakeClock
from .scenarios import Pretty, Scenario
from .transport import RecordedRequest, ScenarioOverrun, ScenarioTransport

__all__ = [
    "OUTPUT_NAME",
    "CancelKind",
    "CancelPoint",
    "EngineOptions",
    "JobRun",
    "ProviderFactory",
    "run_job",
    "run_listing",
    "describe_error",
    "scratch_dir",
]

#: The file name the suite asks the engine to save to (several outputs: video-1.mp4, video-2.mp4, …).
OUTPUT_NAME = "video.mp4"

#: Builds the provider under test on the kit's transport and clock.
ProviderFactory = Callable[[httpx.AsyncBaseTransport, FakeClock], Provider]


@dataclass(frozen=True)
class EngineOptions:
    """How the suite configures `JobEngine` (the engine's own defaults, with a long deadline)."""

    timeout: float = 3600.0
    poll_interval: float = 10.0
    poll_growth: float = 1.25
    max_poll_interval: float = 60.0
    request_timeout: float = 120.0
    submit_retries: int = 2
    poll_retries: int = 5
    download_retries: int = 3

    def build(self, clock: FakeClock) -> JobEngine:
        return JobEngine(
            clock=clock,
            timeout=self.timeout,
            poll_interval=self.poll_interval,
            poll_growth=self.poll_growth,
            max_poll_interval=self.max_poll_interval,
            request_timeout=self.request_timeout,
            submit_retries=self.submit_retries,
            poll_retries=self.poll_retries,
            download_retries=self.download_retries,
        )


CancelKind = Literal["request", "response", "sleep"]


@dataclass(frozen=True)
class CancelPoint(Pretty):
    """Where to cancel the engine's task: while request n hangs, right after answer n, or at the n-th sleep."""

    kind: CancelKind
    n: int

    def __repr__(self) -> str:
        where = {"request": "while request #{n} is in flight", "response": "right after answer #{n}"}
        return "cancel " + where.get(self.kind, "at sleep #{n}").format(n=self.n)


@dataclass
class JobRun:
    """What happened in one run: the result or the error, every request, the clock, what was left behind."""

    scenario: Scenario
    request: VideoRequest
    options: EngineOptions
    transport: ScenarioTransport
    clock: FakeClock
    result: VideoResult | None = None
    error: BaseException | None = None
    #: The saved files' bytes, read before the run's directory was removed.
    saved: list[bytes] = field(default_factory=list)
    #: Every file in the output directory after the run (name → bytes), partial files included.
    files: dict[str, bytes] = field(default_factory=dict)
    #: Tasks other than the runner's that were still alive after the run.
    leftover_tasks: list[str] = field(default_factory=list)
    #: Response bodies the provider never closed, counted when the run ended (before aclose).
    open_streams: int = 0
    #: What `await provider.aclose()` raised, if anything.
    close_error: BaseException | None = None
    cancel: CancelPoint | None = None
    #: Whether the cancellation was delivered (False: the job ended before the cancel point).
    cancel_sent: bool = False
    #: Requests sent before the cancellation was delivered.
    requests_at_cancel: int = 0
    #: Whether the engine task ended cancelled.
    cancelled: bool = False
    #: Fake seconds from the start of the run to its end.
    elapsed: float = 0.0

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.transport.requests

    @property
    def partial_files(self) -> list[str]:
        """Temporary or hidden files left in the output directory (a partial download)."""
        return [name for name in self.files if name.startswith(".") or name.endswith(".part")]

    @property
    def overrun(self) -> bool:
        return self.transport.overrun

    @property
    def unexpected_error(self) -> bool:
        """The engine had to wrap a raw exception from the plugin (KeyError, TypeError, …)."""
        return isinstance(self.error, MediaRouterError) and bool(self.error.details.get("unexpected"))

    def outcome(self) -> str:
        if self.cancel_sent:
            return "cancelled" if self.cancelled else f"cancel sent, but the task ended with {self._ending()}"
        return self._ending()

    def _ending(self) -> str:
        if self.error is not None:
            return describe_error(self.error)
        if self.result is not None:
            files = ", ".join(f"{f.size} bytes" for f in self.result.files)
            return f"VideoResult(job_id={self.result.job_id!r}, cost={self.result.cost}, files=[{files}])"
        return "nothing (the run did not finish)"

    def report(self) -> str:
        """The scenario, the request, every request sent and how the run ended: for assertion messages."""
        lines = [
            "scenario: " + self.scenario.describe().replace("\n", "\n  "),
            f"request: {self.request.redacted()}",
        ]
        if self.cancel is not None:
            lines.append(f"cancellation: {self.cancel!r}")
        lines.append("requests:\n  " + self.transport.log().replace("\n", "\n  "))
        if self.clock.sleeps:
            shown = [f"{s:g}s" for s in self.clock.sleeps]
            if len(shown) > 24:
                shown = [*shown[:12], f"… {len(shown) - 24} more …", *shown[-12:]]
            lines.append(f"engine sleeps ({len(self.clock.sleeps)}): " + ", ".join(shown))
        if self.files:
            listed = ", ".join(f"{name} ({len(data)} bytes)" for name, data in self.files.items())
            lines.append(f"files in the output directory: {listed}")
        lines.append(f"fake time at the end: {self.elapsed:g}s")
        lines.append(f"outcome: {self.outcome()}")
        return "\n".join(lines)


def scratch_dir() -> str | None:
    """Where runs save their throw-away videos: `MEDIAROUTER_CONTRACT_TMPDIR`, else memory-backed /dev/shm
    when there is one (the engine fsyncs every file; on a disk that costs more than the whole run), else
    the system's temporary directory."""
    chosen = os.environ.get("MEDIAROUTER_CONTRACT_TMPDIR")
    if chosen:
        return chosen
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return None


def describe_error(error: BaseException) -> str:
    """`Type: message` plus the core fields worth seeing."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, MediaRouterError) and error.details.get("unexpected"):
        text += " [the plugin raised a raw exception; the engine wrapped it]"
    return text


def run_job(
    factory: ProviderFactory,
    adapter: WireAdapter,
    scenario: Scenario,
    request: VideoRequest,
    *,
    base_url: str,
    model_id: str,
    capabilities: Capabilities,
    options: EngineOptions | None = None,
    discover: bool = False,
    cancel: CancelPoint | None = None,
    max_requests: int = 200,
) -> JobRun:
    """Run one job to the end on a fresh event loop; never raises for what the provider does.

    With `discover=False` the engine validates against `capabilities` and never asks for the model
    listing; with `discover=True` it asks the provider (whose listing the adapter renders from
    `capabilities`), as the router does.
    """
    return asyncio.run(
        _run_job(
            factory,
            adapter,
            scenario,
            request,
            base_url=base_url,
            model_id=model_id,
            capabilities=capabilities,
            options=options or EngineOptions(),
            discover=discover,
            cancel=cancel,
            max_requests=max_requests,
        )
    )


async def _run_job(
    factory: ProviderFactory,
    adapter: WireAdapter,
    scenario: Scenario,
    request: VideoRequest,
    *,
    base_url: str,
    model_id: str,
    capabilities: Capabilities,
    options: EngineOptions,
    discover: bool,
    cancel: CancelPoint | None,
    max_requests: int,
) -> JobRun:
    clock = FakeClock()
    transport = ScenarioTransport(
        scenario,
        adapter,
        base_url=base_url,
        model_id=model_id,
        clock=clock,
        capabilities=capabilities,
        max_requests=max_requests,
        # Nothing may be sent after the deadline: end the run at the first such request.
        stop_after=options.timeout,
    )
    run = JobRun(scenario=scenario, request=request, options=options, transport=transport, clock=clock, cancel=cancel)
    out_dir = Path(tempfile.mkdtemp(prefix="mediarouter-contract-", dir=scratch_dir()))
    provider = factory(transport, clock)
    try:
        engine = options.build(clock)
        task = asyncio.create_task(
            engine.run(
                provider,
                model_id,
                request,
                output=out_dir / OUTPUT_NAME,
                capabilities=None if discover else capabilities,
            )
        )
        if cancel is not None:
            await _cancel_at(run, task, cancel)
        else:
            await asyncio.wait({task})
        _collect(run, task)
        run.elapsed = clock.elapsed
        for _ in range(5):  # let stray callbacks run, so whatever they start shows up below
            await asyncio.sleep(0)
        current = asyncio.current_task()
        run.leftover_tasks = [repr(t) for t in asyncio.all_tasks() if t is not current and not t.done()]
        run.open_streams = len(transport.open_streams())
        run.files = {p.name: p.read_bytes() for p in sorted(out_dir.iterdir())}  # noqa: ASYNC240 - tiny, local
        if run.result is not None:
            run.saved = [f.read_bytes() for f in run.result.files]
    finally:
        try:
            await provider.aclose()
        except Exception as exc:  # reported by the rules, never raised here
            run.close_error = exc
        shutil.rmtree(out_dir, ignore_errors=True)
    return run


def _collect(run: JobRun, task: asyncio.Task[VideoResult]) -> None:
    if task.cancelled():
        run.cancelled = True
        return
    error = task.exception()
    if error is None:
        run.result = task.result()
    elif isinstance(error, Exception | ScenarioOverrun):
        run.error = error
    else:  # KeyboardInterrupt, SystemExit: not ours to keep
        raise error


async def _cancel_at(run: JobRun, task: asyncio.Task[VideoResult], point: CancelPoint) -> None:
    trigger = asyncio.Event()
    transport, clock = run.transport, run.clock

    if point.kind == "request":
        transport.block_at = point.n
        transport.on_request = lambda record: trigger.set() if record.number == point.n else None
    elif point.kind == "response":
        transport.on_response = lambda record: trigger.set() if record.number == point.n else None
    else:
        clock.on_sleep = lambda n, _seconds: trigger.set() if n == point.n else None

    waiter = asyncio.create_task(trigger.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if trigger.is_set() and not task.done():
        run.cancel_sent = True
        run.requests_at_cancel = len(transport.requests)
        task.cancel()
    waiter.cancel()
    await asyncio.wait({task, waiter})


def run_listing(
    factory: ProviderFactory,
    adapter: WireAdapter,
    scenario: Scenario,
    *,
    base_url: str,
    model_id: str,
    capabilities: Capabilities,
) -> tuple[ScenarioTransport, Provider, object]:
    """Call `provider.list_models()` once: (transport, provider, the list or the exception raised)."""

    async def go() -> tuple[ScenarioTransport, Provider, object]:
        clock = FakeClock()
        transport = ScenarioTransport(
            scenario, adapter, base_url=base_url, model_id=model_id, clock=clock, capabilities=capabilities
        )
        provider = factory(transport, clock)
        answer: object
        try:
            answer = await provider.list_models()
        except Exception as exc:
            answer = exc
        finally:
            await provider.aclose()
        return transport, provider, answer

    return asyncio.run(go())
