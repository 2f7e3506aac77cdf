"""Volume rules: work beyond the per-provider limits queues (it never fails for it), listings are
coalesced, a queued submit never leaves a `submitting` row, the submit intent is committed before
the POST leaves, and `mediarouter.generate()` reuses the loop's default router."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from mediarouter_openrouter.emulator import EMULATOR_BASE_URL, EmulatorConfig, emulator_transport
from mediarouter_openrouter.provider import OpenRouterVideoProvider

import mediarouter
from mediarouter import Router
from mediarouter.journal import RecordState, SQLiteJobStore
from mediarouter.router import default_router
from mediarouter.settings import load_settings

MODEL = "openrouter/alibaba/wan-2.6"


class Counting(httpx.AsyncBaseTransport):
    """Wraps the emulator: counts requests in flight (and their peak), each held for `hold` seconds."""

    def __init__(self, inner: Any, *, hold: float = 0.0, on_submit: Any = None) -> None:
        self.inner = inner
        self.hold = hold
        self.on_submit = on_submit
        self.in_flight = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if request.method == "POST" and self.on_submit is not None:
                await self.on_submit(request)
            if self.hold:
                await asyncio.sleep(self.hold)
            response = await self.inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.in_flight -= 1


def _router(tmp_path: Path, transport: Any, **settings: Any) -> Router:
    provider = OpenRouterVideoProvider(api_key="k", base_url=EMULATOR_BASE_URL, transport=transport)
    options = {"poll_interval": 0.01, "max_poll_interval": 0.01, "cooldown": 0, **settings}
    journal = str(tmp_path / "journal.sqlite")
    return Router(settings=load_settings(journal=journal, **options), providers={"openrouter": provider})


async def test_calls_beyond_the_request_limit_queue_and_all_complete(tmp_path: Path) -> None:
    emulator = emulator_transport(EmulatorConfig(polls_before_in_progress=1, polls_before_completed=1))
    transport = Counting(emulator, hold=0.02)
    # 20 jobs x 4 requests x 20 ms through 2 slots queue for ~0.8 s, far beyond the 0.1 s request timeout:
    # the queue wait must not count against it.
    async with _router(tmp_path, transport, max_concurrent_requests=2, request_timeout=0.1) as router:
        results = await asyncio.gather(
            *(router.generate(f"q {i}", model=MODEL, duration=5, output=tmp_path / f"{i}.mp4") for i in range(20))
        )
        states = {r.state for r in router.require_journal().list()}
    assert len(results) == 20 and all(Path(r.files[0].path).stat().st_size > 0 for r in results)
    assert transport.peak <= 2
    assert states == {RecordState.DOWNLOADED}


async def test_jobs_beyond_max_concurrent_jobs_wait_before_their_submit(tmp_path: Path) -> None:
    emulator = emulator_transport(EmulatorConfig(polls_before_in_progress=0, polls_before_completed=1))
    async with _router(tmp_path, Counting(emulator), max_concurrent_jobs=3) as router:
        await asyncio.gather(
            *(router.generate(f"j {i}", model=MODEL, duration=5, output=tmp_path / f"{i}.mp4") for i in range(12))
        )
        slots = router.limits.jobs("openrouter")
    assert slots.peak == 3 and slots.in_flight == 0


async def test_a_thousand_concurrent_calls_read_the_model_listing_once(tmp_path: Path) -> None:
    emulator = emulator_transport()
    async with _router(tmp_path, emulator) as router:
        plans = await asyncio.gather(*(router.plan(f"p {i}", model=MODEL, duration=5) for i in range(1000)))
    assert all(p[0].usable for p in plans)
    assert [e["phase"] for e in emulator.emulator.requests].count("models") == 1


async def test_submits_still_queued_at_the_deadline_are_not_sent_never_submitting(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def first_submit_hangs(request: httpx.Request) -> None:
        if not release.is_set():
            release.set()
            await asyncio.sleep(3600)

    transport = Counting(emulator_transport(), on_submit=first_submit_hangs)
    async with _router(tmp_path, transport, max_concurrent_requests=1, timeout=0.3) as router:
        # The first call's submit holds the only slot (hanging) until its own, longer deadline; the nine
        # calls started behind it reach their 0.3 s deadlines while still queued.
        first = asyncio.ensure_future(router.generate("d 0", model=MODEL, duration=5, timeout=2.0))
        await release.wait()
        queued = await asyncio.gather(
            *(router.generate(f"d {i}", model=MODEL, duration=5) for i in range(1, 10)), return_exceptions=True
        )
        outcomes = [*(await asyncio.gather(first, return_exceptions=True)), *queued]
        rows = router.require_journal().list()
    kinds = [type(o).__name__ for o in outcomes]
    assert kinds == ["SubmitUnknown"] + ["JobTimeout"] * 9  # only the one that was sent may exist
    states = [r.state.value for r in rows]
    assert sorted(states) == ["not_sent"] * 9 + ["unknown"]
    never_sent = queued
    assert all("nothing was submitted" in str(o) for o in never_sent)


async def test_a_submit_cancelled_in_the_queue_is_journaled_not_sent(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def hold_first(request: httpx.Request) -> None:
        if not gate.is_set():
            gate.set()
            await asyncio.sleep(3600)

    transport = Counting(emulator_transport(), on_submit=hold_first)
    async with _router(tmp_path, transport, max_concurrent_requests=1) as router:
        first = asyncio.create_task(router.generate("first", model=MODEL, duration=5))
        await gate.wait()
        queued = asyncio.create_task(router.generate("queued", model=MODEL, duration=5))
        while router.limits.requests("openrouter").waiting == 0:  # noqa: ASYNC110  (a counter, not an event)
            await asyncio.sleep(0.001)
        queued.cancel()
        first.cancel()
        await asyncio.gather(first, queued, return_exceptions=True)
        rows = {r.request["prompt"]: r.state for r in router.require_journal().list()}
    assert rows == {"first": RecordState.UNKNOWN, "queued": RecordState.NOT_SENT}


async def test_the_submit_intent_is_committed_before_the_post_reaches_the_transport(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    async def read_journal_from_another_connection(request: httpx.Request) -> None:
        other = SQLiteJobStore(tmp_path / "journal.sqlite")
        try:
            seen.append([r.state.value for r in other.list()])
        finally:
            other.close()

    transport = Counting(emulator_transport(), on_submit=read_journal_from_another_connection)
    async with _router(tmp_path, transport) as router:
        await router.generate("durable", model=MODEL, duration=5, output=tmp_path / "d.mp4")
        await router.generate("durable 2", model=MODEL, duration=5, output=tmp_path / "d2.mp4")
    assert seen == [["submitting"], ["submitting", "downloaded"]]


def test_generate_reuses_the_loops_default_router_and_closes_it_at_loop_shutdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIAROUTER_JOURNAL", str(tmp_path / "journal.sqlite"))
    monkeypatch.setenv("MEDIAROUTER_POLL_INTERVAL", "0.01")
    monkeypatch.setenv("MEDIAROUTER_MAX_POLL_INTERVAL", "0.01")
    emulator = emulator_transport(EmulatorConfig(polls_before_in_progress=0, polls_before_completed=1))
    used: list[Router] = []

    async def main() -> None:
        router = await default_router()
        router._providers["openrouter"] = OpenRouterVideoProvider(
            api_key="k", base_url=EMULATOR_BASE_URL, transport=emulator
        )
        for i in range(3):
            await mediarouter.generate(f"g {i}", model=MODEL, duration=5, output=tmp_path / f"{i}.mp4")
        used.append(await default_router())
        assert used[0] is router
        assert router.journal is not None and len(router.journal.list()) == 3

    asyncio.run(main())
    assert [e["phase"] for e in emulator.emulator.requests].count("models") == 1  # one router, one listing
    assert used[0]._journal is None  # closed when asyncio.run shut the loop down

    async def other_loop() -> Router:
        return await default_router()

    assert asyncio.run(other_loop()) is not used[0]
