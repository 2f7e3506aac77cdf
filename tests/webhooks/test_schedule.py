"""The engine with webhooks: a job submitted with a callback_url polls on the safety-net schedule and
completes as soon as a delivery wakes it (one poll); a webhook that never comes costs at most the
safety-net delay. The emulator, the receiver and the engine share one manual clock (zero wall time)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock
from mediarouter_openrouter import OpenRouterVideoProvider
from mediarouter_openrouter.emulator import EmulatorConfig, Injection, emulator_transport

from mediarouter import JobFailed, VideoRequest
from mediarouter.engine import JobEngine
from mediarouter.events import Event, PollStartedEvent
from mediarouter.journal import MemoryJobStore, RecordState
from mediarouter.webhooks import Waiters, create_receiver

from .helpers import SECRET, ManualClock

MODEL = "google/veo-3.1"
HOOK = "https://hooks.example/openrouter"


@pytest.fixture(autouse=True)
def _no_openrouter_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)


class World:
    """Emulator → (signed webhook, in-process) → receiver → waiters → engine, on one clock."""

    def __init__(
        self, clock: Any, *, inject: tuple[str, ...] = (), callback_after: float | None = 5.0, polls: int = 50
    ) -> None:
        self.clock = clock
        self.journal = MemoryJobStore()
        self.waiters = Waiters(first_poll=60.0, poll_every=180.0)
        self.receiver = create_receiver(
            secret=SECRET, journal=self.journal, waiters=self.waiters, clock=clock, listeners=[]
        )
        self.transport = emulator_transport(
            EmulatorConfig(
                callback_secret=SECRET,
                callback_after=callback_after,
                callback_transport=httpx.ASGITransport(app=self.receiver),
                callback_sleep=clock.sleep,
                clock=clock.time,
                injections=[Injection.parse(spec) for spec in inject],
                polls_before_in_progress=0,
                polls_before_completed=polls,  # 50: never by polls, only the timer ends the job
            )
        )
        self.provider = OpenRouterVideoProvider(emulator=True, transport=self.transport, clock=clock)
        self.polled_at: list[float] = []
        self.engine = JobEngine(
            clock=clock,
            poll_interval=10.0,
            timeout=3600.0,
            journal=self.journal,
            webhooks=self.waiters,
            listeners=[self._on_event],
        )

    def _on_event(self, event: Event) -> None:
        if isinstance(event.payload, PollStartedEvent):
            self.polled_at.append(self.clock.monotonic())

    def run(self, tmp_path: Path, *, callback_url: str | None = HOOK) -> asyncio.Task[Any]:
        request = VideoRequest(prompt="x", duration=4, callback_url=callback_url)
        return asyncio.ensure_future(self.engine.run(self.provider, MODEL, request, output=tmp_path / "o.mp4"))

    @property
    def calls(self) -> list[Any]:
        return self.transport.emulator.webhooks.calls


async def test_a_webhook_completes_the_job_at_once_with_one_poll(tmp_path: Path) -> None:
    clock = ManualClock()
    world = World(clock)
    start = clock.now
    task = world.run(tmp_path)
    await clock.until_sleeping(2)  # the engine's safety-net sleep (60 s) and the emulator's job (5 s)
    assert clock.sleepers == [start + 5, start + 60]
    await clock.advance(5)
    result = await asyncio.wait_for(task, 30)
    assert result.polls == 1
    assert world.polled_at == [start + 5]  # woken at the delivery, not at the 60 s safety net
    assert [c["response_status"] for c in world.calls] == [204]
    assert world.journal.get(result.job_id).state is RecordState.DOWNLOADED  # type: ignore[union-attr]


async def test_a_webhook_that_never_comes_costs_at_most_the_first_safety_net_delay(tmp_path: Path) -> None:
    clock = ManualClock()
    world = World(clock, inject=("callback:lost",))
    start = clock.now
    task = world.run(tmp_path)
    await clock.until_sleeping(2)
    await clock.advance(5)  # the job ends upstream; the webhook is lost
    assert not task.done()
    await clock.advance(55)
    result = await asyncio.wait_for(task, 30)
    assert world.polled_at == [start + 60] and result.polls == 1
    assert [c["outcome"] for c in world.calls] == ["lost"]


async def test_after_the_first_poll_a_lost_webhook_costs_at_most_poll_every(tmp_path: Path) -> None:
    clock = ManualClock()
    world = World(clock, inject=("callback:lost",), callback_after=70.0)
    start = clock.now
    task = world.run(tmp_path)
    await clock.until_sleeping(2)
    await clock.advance(60)  # first safety-net poll: still running
    await clock.until_sleeping(2)
    assert clock.sleepers == [start + 70, start + 240]
    await clock.advance(180)
    result = await asyncio.wait_for(task, 30)
    assert world.polled_at == [start + 60, start + 240] and result.polls == 2


async def test_a_badly_signed_webhook_wakes_nothing_and_the_safety_net_completes_the_job(tmp_path: Path) -> None:
    clock = ManualClock()
    world = World(clock, inject=("callback:bad_signature",))
    start = clock.now
    task = world.run(tmp_path)
    await clock.until_sleeping(2)
    await clock.advance(5)
    assert [c["response_status"] for c in world.calls] == [401]
    assert not task.done()
    await clock.advance(55)
    await asyncio.wait_for(task, 30)
    assert world.polled_at == [start + 60]


async def test_a_duplicated_webhook_still_means_one_poll(tmp_path: Path) -> None:
    clock = ManualClock()
    world = World(clock, inject=("callback:duplicate",))
    task = world.run(tmp_path)
    await clock.until_sleeping(2)
    await clock.advance(5)
    result = await asyncio.wait_for(task, 30)
    assert result.polls == 1 and [c["response_status"] for c in world.calls] == [204, 204]


async def test_a_failed_job_reported_by_webhook_fails_at_once(tmp_path: Path) -> None:
    clock = ManualClock()
    world = World(clock, inject=("poll:failed",))
    start = clock.now
    task = world.run(tmp_path)
    await clock.until_sleeping(2)
    await clock.advance(5)
    with pytest.raises(JobFailed):
        await asyncio.wait_for(task, 30)
    assert world.polled_at == [start + 5]


async def test_a_job_without_a_callback_url_polls_as_usual(tmp_path: Path) -> None:
    clock = FakeClock()
    world = World(clock, callback_after=None, polls=2)
    await world.run(tmp_path, callback_url=None)
    assert clock.sleeps[:3] == [10.0, 12.5, 15.625]


async def test_an_engine_without_webhooks_polls_a_callback_job_as_usual(tmp_path: Path) -> None:
    clock = FakeClock()
    world = World(clock, callback_after=None, polls=2)
    world.engine.webhooks = None
    await world.run(tmp_path)
    await world.transport.emulator.webhooks.drain()
    assert [c["response_status"] for c in world.calls] == [204]  # the webhook came, nobody waited for it
    assert clock.sleeps[:3] == [10.0, 12.5, 15.625]


async def test_the_deadline_still_holds_while_waiting_for_a_webhook(tmp_path: Path) -> None:
    from mediarouter import JobTimeout

    clock = ManualClock()
    world = World(clock, inject=("callback:lost",), callback_after=None)
    world.engine.timeout = 30.0
    task = world.run(tmp_path)
    await clock.until_sleeping(1)
    await clock.advance(30)
    with pytest.raises(JobTimeout):
        await asyncio.wait_for(task, 30)
    assert world.polled_at == []


async def test_a_routed_generate_with_a_callback_url_completes_from_the_delivery_to_router_webhook_app(
    tmp_path: Path,
) -> None:
    """As a host app does it: `Router.webhook_app()` mounted where the provider calls back, and
    `router.generate(..., callback_url=...)` completing at the delivery, with one poll."""
    from mediarouter import Router
    from mediarouter.settings import MediaRouterSettings

    clock = ManualClock()
    journal = MemoryJobStore()
    holder: dict[str, Any] = {}

    class Hook(httpx.AsyncBaseTransport):
        """The emulator's callbacks go to the router's receiver, created once the router exists."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return await httpx.ASGITransport(app=holder["app"]).handle_async_request(request)

    transport = emulator_transport(
        EmulatorConfig(
            callback_secret=SECRET,
            callback_after=5.0,
            callback_transport=Hook(),
            callback_sleep=clock.sleep,
            clock=clock.time,
            polls_before_in_progress=0,
            polls_before_completed=50,
        )
    )
    provider = OpenRouterVideoProvider(emulator=True, transport=transport, clock=clock)
    settings = MediaRouterSettings.model_construct(**{**MediaRouterSettings().model_dump(), "timeout": 3600.0})
    router = Router(
        providers={"openrouter": provider}, clock=clock, journal=journal, settings=settings,
        webhooks=Waiters(first_poll=60.0, poll_every=180.0),
    )  # fmt: skip
    holder["app"] = router.webhook_app(secret=SECRET, clock=clock)
    polls: list[float] = []
    router.listeners.append(lambda e: polls.append(clock.now) if isinstance(e.payload, PollStartedEvent) else None)
    start = clock.now
    task = asyncio.ensure_future(
        router.generate(
            "x", model=f"openrouter/{MODEL}", duration=4, callback_url=HOOK, output=tmp_path / "o.mp4",
            poll_interval=10.0,
        )
    )  # fmt: skip
    await clock.until_sleeping(2)
    await clock.advance(5)
    result = await asyncio.wait_for(task, 30)
    assert result.polls == 1 and polls == [start + 5]
    await router.aclose()
