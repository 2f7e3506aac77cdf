"""Volume rules: work beyond the per-provider limits queues (it never fails for it), listings are
coalesced, a queued submit never leaves a `submitting` row, the submit intent is committed before
the POST leaves, and `mediarouter.generate()` reuses the loop's default router."""

from __future__ import annotations

import asyncio
import threading
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
    # 20 jobs x 3 requests x 20 ms through 2 slots (and their downloads through 1) queue for ~0.6 s, far
    # beyond the 0.1 s request timeout: the queue wait must not count against it.
    limits = {"max_concurrent_requests": 2, "max_concurrent_downloads": 1}
    async with _router(tmp_path, transport, request_timeout=0.1, **limits) as router:
        # The model listing first, alone and outside the router's 0.1 s lookup limit: on a loaded machine
        # the in-process emulator can take longer than that to build it, which is not what this test is
        # about (the queue wait is). The provider caches it for the calls below.
        await router.provider("openrouter").list_models()
        results = await asyncio.gather(
            *(router.generate(f"q {i}", model=MODEL, duration=5, output=tmp_path / f"{i}.mp4") for i in range(20))
        )
        states = {r.state for r in router.require_journal().list()}
    assert len(results) == 20 and all(Path(r.files[0].path).stat().st_size > 0 for r in results)
    assert transport.peak <= 3  # 2 requests + 1 download
    assert router.limits.requests("openrouter").peak == 2 and router.limits.downloads("openrouter").peak == 1
    assert states == {RecordState.DOWNLOADED}
    assert [e["phase"] for e in emulator.emulator.requests].count("models") == 1


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


# -- per-provider limits, the download queue, generate_sync ------------------------------------------


async def test_a_provider_concurrency_override_applies_to_that_provider_only(tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    from mediarouter_fal.emulator import EmulatorConfig as FalConfig
    from mediarouter_fal.emulator import emulator_transport as fal_transport
    from mediarouter_fal.provider import FalVideoProvider

    fal = FalVideoProvider(emulator=True, transport=fal_transport(FalConfig(polls_before_completed=1)))
    openrouter = OpenRouterVideoProvider(
        api_key="k",
        base_url=EMULATOR_BASE_URL,
        transport=emulator_transport(EmulatorConfig(polls_before_in_progress=0, polls_before_completed=1)),
    )
    settings = load_settings(
        journal=":memory:",
        poll_interval=0.01,
        max_poll_interval=0.01,
        cooldown=0,
        max_concurrent_jobs=5,
        provider_concurrency={"fal": {"jobs": 2, "requests": 3}},
    )
    async with Router(settings=settings, providers={"fal": fal, "openrouter": openrouter}) as router:
        await asyncio.gather(
            *(router.generate(f"f {i}", model="fal/fal-ai/veo3", output=tmp_path / f"f{i}.mp4") for i in range(6)),
            *(router.generate(f"o {i}", model=MODEL, duration=5, output=tmp_path / f"o{i}.mp4") for i in range(6)),
        )
        limits = router.limits
    assert limits.jobs("fal").peak == 2 and limits.requests("fal").peak <= 3
    assert limits.jobs("openrouter").peak == 5  # the default, not fal's override
    assert limits.requests("openrouter").limit == 64 and limits.downloads("fal").limit == 8


async def test_a_download_in_progress_does_not_hold_the_request_slot_a_poll_needs(tmp_path: Path) -> None:
    first_download = asyncio.Event()
    release = asyncio.Event()

    class HoldFirstDownload(Counting):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/content") and not first_download.is_set():
                first_download.set()
                await release.wait()
            return await super().handle_async_request(request)

    emulator = emulator_transport(EmulatorConfig(polls_before_in_progress=0, polls_before_completed=1))
    async with _router(tmp_path, HoldFirstDownload(emulator), max_concurrent_requests=1) as router:
        a = asyncio.create_task(router.generate("a", model=MODEL, duration=5, output=tmp_path / "a.mp4"))
        async with asyncio.timeout(30):  # a hang here is the failure (B queued behind A's download)
            await first_download.wait()
            # A's transfer is stalled mid-download; B submits, polls and downloads through the one request slot.
            b = await router.generate("b", model=MODEL, duration=5, output=tmp_path / "b.mp4")
        assert not a.done()
        release.set()
        a_result = await a
    assert Path(b.files[0].path).stat().st_size > 0 and Path(a_result.files[0].path).stat().st_size > 0
    assert router.limits.requests("openrouter").peak == 1 and router.limits.downloads("openrouter").peak == 2


def test_bad_provider_concurrency_is_a_configuration_error_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[router.provider_concurrency.fal]\nrequests = 8\nrequest = 2\njobs = 0\n")
    with pytest.raises(mediarouter.ConfigurationError) as caught:
        load_settings(config_file=config)
    message = str(caught.value)
    assert f"provider_concurrency in [router] of {config}" in message
    assert "fal.request: unknown field (allowed: requests, jobs, downloads)" in message
    assert "fal.jobs must be a whole number >= 1" in message

    monkeypatch.setenv("MEDIAROUTER_PROVIDER_CONCURRENCY", '{"fal": 8}')
    with pytest.raises(mediarouter.ConfigurationError, match=r"MEDIAROUTER_PROVIDER_CONCURRENCY=.*fal must be a table"):
        load_settings(config_file="")

    monkeypatch.setenv("MEDIAROUTER_PROVIDER_CONCURRENCY", '{"fal": {"downloads": 4}}')
    limits = Router(settings=load_settings(config_file="")).limits
    assert limits.downloads("fal").limit == 4 and limits.requests("fal").limit == 64


async def test_a_provider_concurrency_entry_for_no_installed_provider_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    transport = Counting(emulator_transport(EmulatorConfig()))
    async with _router(tmp_path, transport, provider_concurrency={"openroutr": {"jobs": 1}}) as router:
        with pytest.raises(mediarouter.ConfigurationError) as caught:
            await router.generate("a typo", model=MODEL, duration=5, output=tmp_path / "o.mp4")
    message = str(caught.value)
    assert "provider_concurrency names 'openroutr'" in message and "installed: " in message
    assert "openrouter" in message.split("installed: ")[1]
    assert transport.peak == 0  # the limit meant to apply was not silently skipped: nothing was sent


def test_a_provider_concurrency_limit_is_a_number_not_a_boolean(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[router.provider_concurrency.fal]\njobs = true\n")
    with pytest.raises(mediarouter.ConfigurationError, match=r"fal\.jobs must be a whole number >= 1.*got True"):
        load_settings(config_file=config)


def test_limits_reject_an_unknown_queue_kind() -> None:
    from mediarouter.limits import KINDS, ProviderLimits
    from mediarouter.settings import ProviderConcurrency

    assert tuple(ProviderConcurrency.model_fields) == KINDS  # the settings table names exactly these queues

    with pytest.raises(ValueError, match="allowed: requests, jobs, downloads"):
        ProviderLimits(per_provider={"fal": {"request": 2}})


def test_generate_sync_reuses_one_default_router_across_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mediarouter.router import _close_sync_loop, _sync_loop

    monkeypatch.setenv("MEDIAROUTER_JOURNAL", str(tmp_path / "journal.sqlite"))
    monkeypatch.setenv("MEDIAROUTER_POLL_INTERVAL", "0.01")
    monkeypatch.setenv("MEDIAROUTER_MAX_POLL_INTERVAL", "0.01")
    monkeypatch.setenv("MEDIAROUTER_CONFIG", "")
    emulator = emulator_transport(EmulatorConfig(polls_before_in_progress=0, polls_before_completed=1))
    _close_sync_loop()
    try:
        router = _sync_loop().run(default_router())
        router._providers["openrouter"] = OpenRouterVideoProvider(
            api_key="k", base_url=EMULATOR_BASE_URL, transport=emulator
        )
        for i in range(2):
            mediarouter.generate_sync(f"s {i}", model=MODEL, duration=5, output=tmp_path / f"s{i}.mp4")
        assert _sync_loop().run(default_router()) is router
        assert router.journal is not None and len(router.journal.list()) == 2
    finally:
        _close_sync_loop()
    assert [e["phase"] for e in emulator.emulator.requests].count("models") == 1  # one router, one listing
    assert router._journal is None  # closed with the loop, as asyncio.run would


def test_ctrl_c_in_generate_sync_cancels_the_call_and_waits_for_it_to_unwind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule: as with asyncio.run, an interrupted blocking call is cancelled and finishes its cleanup (the
    journal row of the interrupted job) before KeyboardInterrupt reaches the caller."""
    from mediarouter.router import _SyncLoop

    started = threading.Event()
    unwound: list[str] = []

    async def call() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0)  # cleanup that needs the loop still runs
            unwound.append("cleaned up")
            raise

    real_wait = _SyncLoop._wait
    interrupts: list[int] = []

    def ctrl_c_once(outcome: Any) -> Any:
        if not interrupts:
            interrupts.append(1)
            started.wait(30)
            raise KeyboardInterrupt
        return real_wait(outcome)

    monkeypatch.setattr(_SyncLoop, "_wait", staticmethod(ctrl_c_once))
    sync = _SyncLoop()
    try:
        with pytest.raises(KeyboardInterrupt):
            sync.run(call())
        assert unwound == ["cleaned up"]
    finally:
        sync.close()
    assert not sync.thread.is_alive()


def test_the_provider_concurrency_variable_merges_over_the_file_field_by_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[router.provider_concurrency.fal]\njobs = 2\nrequests = 4\n")
    monkeypatch.setenv("MEDIAROUTER_PROVIDER_CONCURRENCY", '{"fal": {"requests": 8}}')
    limits = Router(settings=load_settings(config_file=config)).limits
    assert (limits.requests("fal").limit, limits.jobs("fal").limit) == (8, 2)


_EXITS_WITHOUT_CLOSING = """
import sys
from mediarouter_openrouter.emulator import EMULATOR_BASE_URL, EmulatorConfig, emulator_transport
from mediarouter_openrouter.provider import OpenRouterVideoProvider
import mediarouter
from mediarouter.router import _sync_loop, default_router

router = _sync_loop().run(default_router())
emulator = emulator_transport(EmulatorConfig(polls_before_in_progress=0, polls_before_completed=1))
router._providers["openrouter"] = OpenRouterVideoProvider(api_key="k", base_url=EMULATOR_BASE_URL, transport=emulator)
result = mediarouter.generate_sync("a cat", model=sys.argv[1], duration=5, output=sys.argv[2])
router._writer.later(router._journal.update, result.job_id, error="written at exit")  # still queued at exit
print(result.job_id)
"""


def test_a_script_ending_after_generate_sync_closes_the_default_router_cleanly(tmp_path: Path) -> None:
    """The README's script: `generate_sync` and the end of the file. At exit the shared router closes while
    thread pools still take work: no traceback, and a journal write still queued then lands."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "MEDIAROUTER_JOURNAL": str(tmp_path / "j.sqlite3"), "MEDIAROUTER_CONFIG": ""}
    env.update(MEDIAROUTER_POLL_INTERVAL="0.01", MEDIAROUTER_MAX_POLL_INTERVAL="0.01", MEDIAROUTER_FIRST_POLL="0.01")
    done = subprocess.run(
        [sys.executable, "-c", _EXITS_WITHOUT_CLOSING, MODEL, str(tmp_path / "cat.mp4")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    store = SQLiteJobStore(tmp_path / "j.sqlite3")
    try:
        record = store.get(done.stdout.strip())
    finally:
        store.close()
    assert record is not None and record.state is RecordState.DOWNLOADED and record.error == "written at exit"
