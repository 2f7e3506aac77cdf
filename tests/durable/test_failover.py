"""A durable line fails over as a local call does: a job that ended `failed` hands the line (and its key) to
the next candidate in a step of its own, never twice, within the line's reservation; a line whose failover
found nothing is not counted as billed; a completed job whose lease another process holds is waited for."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import Capabilities, VideoRequest
from mediarouter.batch import default_key
from mediarouter.durable import DurableSettings, workflows
from mediarouter.durable.runner import run_durable_batch
from mediarouter.errors import InvalidRequest, JobFailed
from mediarouter.jobs import Job, JobStatus
from mediarouter.journal import MemoryJobStore, RecordState, lease_owner
from mediarouter.retry import Backoff

from ..core.router_fakes import Fleet, Script, quiet_settings

FAST = 0.02


@pytest.fixture(autouse=True)
def unbind() -> Iterator[None]:
    yield
    workflows.bind_router(None)


def line(*models: str) -> str:
    return json.dumps({"prompt": "a lighthouse", "model": list(models), "duration": 4})


async def test_a_job_that_ended_failed_fails_over_to_the_next_candidates_and_the_key_follows(
    clock: FakeClock, settings: DurableSettings, tmp_path: Path
) -> None:
    fleet = Fleet(clock)
    fleet.script("p1/m1", Script(polls=["in_progress", "failed"]))
    fleet.script("p1/m2", Script(polls=["failed"]))
    journal = MemoryJobStore()
    text = line("p1/m1", "p1/m2", "p2/m1")
    async with fleet.router(journal=journal) as router:
        report = await run_durable_batch(router, [text], output_dir=tmp_path, settings=settings, poll_interval=FAST)
    [result] = report.results
    assert result.status == "done" and (result.provider, result.model) == ("p2", "m1")
    assert fleet.submits() == ["p1/m1", "p1/m2", "p2/m1"]
    assert result.file is not None and Path(result.file).read_bytes()
    key = default_key(json.loads(text))
    rows = {r.provider + "/" + r.model: r for r in journal.list()}
    assert rows["p2/m1"].idempotency_key == key and rows["p2/m1"].state is RecordState.DOWNLOADED
    for ref in ("p1/m1", "p1/m2"):  # the failed jobs let go of the key, which moved on with the line
        assert rows[ref].state is RecordState.FAILED and rows[ref].idempotency_key is None
        assert rows[ref].shadowed_key == key
    assert result.job_id == rows["p2/m1"].job_id and report.totals.spent == Decimal("1.00")


async def test_the_last_candidates_failure_ends_the_line_with_that_job_and_nothing_billed(
    clock: FakeClock, settings: DurableSettings, tmp_path: Path
) -> None:
    fleet = Fleet(clock)
    fleet.script("p1/m1", Script(polls=["failed"]))
    fleet.script("p2/m1", Script(polls=["failed"]))
    journal = MemoryJobStore()
    async with fleet.router(journal=journal) as router:
        report = await run_durable_batch(
            router, [line("p1/m1", "p2/m1")], output_dir=tmp_path, settings=settings, poll_interval=FAST
        )
        # A rerun is a new workflow attempt: the key sits on the last failed job, so nothing is sent again.
        rerun = await run_durable_batch(
            router, [line("p1/m1", "p2/m1")], output_dir=tmp_path, settings=settings, poll_interval=FAST
        )
    [result] = report.results
    last = next(r for r in journal.list() if r.provider == "p2")
    assert result.status == "failed" and result.error_type == "JobFailed" and result.job_id == last.job_id
    assert not result.may_bill and report.totals.spent == 0
    assert [r.error_type for r in rerun.results] == ["JobFailed"]
    assert fleet.submits() == ["p1/m1", "p2/m1"]


async def test_a_failover_that_finds_no_candidate_within_the_reservation_is_not_counted_as_billed(
    clock: FakeClock, settings: DurableSettings, tmp_path: Path
) -> None:
    cheap = Capabilities(durations=(4,), price_per_second=Decimal("0.10"))  # $0.40 for 4 s
    dear = Capabilities(durations=(4,), price_per_second=Decimal("0.20"))  # $0.80: over the line's reservation
    fleet = Fleet(clock, {"p1": {"m1": cheap}, "p2": {"dear": dear}})
    fleet.script("p1/m1", Script(polls=["failed"]))
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_durable_batch(
            router,
            [line("p1/m1", "p2/dear")],
            output_dir=tmp_path,
            settings=settings,
            poll_interval=FAST,
            max_total_cost="5",
        )
    [result] = report.results
    assert result.status == "failed" and result.error_type == "BudgetExceeded"
    assert result.job_id is None and not result.may_bill and report.totals.spent == 0
    assert fleet.submits() == ["p1/m1"]
    rows = [json.loads(t) for t in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert rows[0]["error_type"] == "BudgetExceeded" and rows[0]["job_id"] is None


async def test_a_failover_submit_repeated_after_a_crash_sends_nothing_twice(clock: FakeClock, tmp_path: Path) -> None:
    fleet = Fleet(clock)
    fleet.script("p1/m1", Script(polls=["failed"]))
    journal = MemoryJobStore()
    text = line("p1/m1", "p2/m1")
    async with fleet.router(journal=journal) as router:
        workflows.bind_router(router)
        spec = {"line": 1, "key": default_key(json.loads(text)), "text": text, "output": str(tmp_path / "a.mp4")}
        first = await workflows.submit_step(spec)
        assert (await workflows.poll_step(first["job_id"]))["ended"] is True
        # Stopped after the failed row let go of the key, before the next candidate's submit was journaled.
        journal.update(first["job_id"], idempotency_key=None, shadowed_key=spec["key"])
        taken = await workflows.submit_step(spec, first["job_id"])
        again = await workflows.submit_step(spec, first["job_id"])  # a recovered step runs again
    assert taken == again and taken["provider"] == "p2"
    assert fleet.submits() == ["p1/m1", "p2/m1"]


async def test_submit_after_a_job_that_has_not_ended_or_is_not_the_keys_is_refused_and_sends_nothing(
    clock: FakeClock,
) -> None:
    fleet = Fleet(clock)
    fleet.script("p1/m1", Script(polls=["in_progress"]))
    request = VideoRequest.build(prompt="a lighthouse", duration=4)
    async with fleet.router(journal=MemoryJobStore()) as router:
        record = await router.submit(request, idempotency_key="k1", model=["p1/m1", "p2/m1"])
        with pytest.raises(InvalidRequest, match="has not ended"):
            await router.submit(request, idempotency_key="k1", model=["p1/m1", "p2/m1"], after=record.job_id)
        with pytest.raises(InvalidRequest, match="not a job of idempotency key"):
            await router.submit(request, idempotency_key="k2", model=["p1/m1", "p2/m1"], after=record.job_id)
    assert fleet.submits() == ["p1/m1"]


async def test_submit_after_the_last_candidate_raises_that_jobs_failure(clock: FakeClock) -> None:
    fleet = Fleet(clock)
    fleet.script("p2/m1", Script(polls=["failed"]))
    request = VideoRequest.build(prompt="a lighthouse", duration=4)
    async with fleet.router(journal=MemoryJobStore()) as router:
        record = await router.submit(request, idempotency_key="k1", model=["p1/m1", "p2/m1"])
        assert record.provider == "p1"
        router.require_journal().update(record.key, state=RecordState.FAILED, error="boom")
        moved = await router.submit(request, idempotency_key="k1", model=["p1/m1", "p2/m1"], after=record.job_id)
        assert moved.provider == "p2"
        router.require_journal().update(moved.key, state=RecordState.FAILED, error="again")
        with pytest.raises(JobFailed, match="again") as raised:
            await router.submit(request, idempotency_key="k1", model=["p1/m1", "p2/m1"], after=moved.job_id)
    assert raised.value.job_id == moved.job_id and fleet.submits() == ["p1/m1", "p2/m1"]


@pytest.fixture
def quick_lease_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workflows, "_LEASE_BACKOFF", Backoff(initial=0.05, multiplier=2.0, maximum=0.2))


async def test_a_download_waits_while_another_process_holds_the_jobs_lease(
    clock: FakeClock, settings: DurableSettings, tmp_path: Path, quick_lease_waits: None
) -> None:
    fleet = Fleet(clock)
    journal = MemoryJobStore()
    holder = lease_owner()
    taken = asyncio.Event()
    real_poll = fleet.providers["p1"].poll

    async def poll_then_lock(job: Job) -> JobStatus:
        status = await real_poll(job)
        if status.state.value == "completed" and not taken.is_set():
            journal.try_lease(f"job:{job.id}", holder, 60)  # e.g. a `jobs resume` in another terminal
            taken.set()
        return status

    fleet.providers["p1"].poll = poll_then_lock  # type: ignore[method-assign]
    async with fleet.router(journal=journal) as router:
        task = asyncio.create_task(
            run_durable_batch(router, [line("p1/m1")], output_dir=tmp_path, settings=settings, poll_interval=FAST)
        )
        await asyncio.wait_for(taken.wait(), 30)
        await asyncio.sleep(0.5)  # the download step finds the lease held, several times
        assert not task.done()
        journal.release_lease(f"job:{journal.list()[0].job_id}", holder)
        report = await asyncio.wait_for(task, 60)  # a hang guard, not a speed target
    [result] = report.results
    assert result.status == "done" and result.file is not None and Path(result.file).read_bytes()
    assert fleet.submits() == ["p1/m1"] and journal.list()[0].state is RecordState.DOWNLOADED


async def test_a_lease_held_past_the_longest_hold_ends_the_line_naming_the_job(
    clock: FakeClock,
    settings: DurableSettings,
    tmp_path: Path,
    quick_lease_waits: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workflows, "LEASE_MARGIN", 0.3)
    fleet = Fleet(clock)
    journal = MemoryJobStore()
    real_poll = fleet.providers["p1"].poll

    async def poll_then_lock(job: Job) -> JobStatus:
        status = await real_poll(job)
        if status.state.value == "completed":
            journal.try_lease(f"job:{job.id}", lease_owner(), 3600)
        return status

    fleet.providers["p1"].poll = poll_then_lock  # type: ignore[method-assign]
    async with fleet.router(journal=journal, settings=quiet_settings(timeout=1.0)) as router:
        report = await run_durable_batch(
            router, [line("p1/m1")], output_dir=tmp_path, settings=settings, poll_interval=FAST
        )
    [result] = report.results
    assert result.status == "failed" and result.error_type == "Conflict" and result.may_bill
    [row] = journal.list()
    assert result.job_id == row.job_id and row.state is RecordState.COMPLETED  # still resumable
    assert result.error is not None and f"job {row.job_id} is being polled and downloaded" in result.error
