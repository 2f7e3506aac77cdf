"""Failover under an idempotency key: a job that ended `failed` lets go of the key, so the next candidate
submits under it; a rerun with the key finds the latest job and never submits again while it runs or is done."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import JobFailed, JobTimeout, RateLimited
from mediarouter.journal import JobStore, MemoryJobStore, RecordState, SQLiteJobStore

from .router_fakes import HANG, Fleet, Script

CHAIN = ["p1/m1", "p2/m1"]


@pytest.fixture(params=["memory", "sqlite"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> JobStore:
    return MemoryJobStore() if request.param == "memory" else SQLiteJobStore(tmp_path / "jobs.sqlite3")


async def test_a_failed_job_releases_the_key_so_the_next_candidate_submits_under_it(
    clock: FakeClock, tmp_path: Path, journal: JobStore
) -> None:
    fleet = Fleet(clock)
    fleet.script("p1/m1", Script(polls=["in_progress", "failed"]))
    async with fleet.router(journal=journal) as router:
        result = await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4", idempotency_key="order-7")
        assert result.ref == "p2/m1"
        failed, done = journal.get("p1-m1-job1"), journal.get("p2-m1-job1")
        assert failed is not None and done is not None
        assert failed.state is RecordState.FAILED
        assert (failed.idempotency_key, failed.shadowed_key) == (None, "order-7")
        assert done.idempotency_key == "order-7"

        again = await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4", idempotency_key="order-7")
    assert again.job_id == "p2-m1-job1"
    assert fleet.submits() == ["p1/m1", "p2/m1"]


async def test_a_rerun_resumes_the_running_failover_job_and_submits_nothing(clock: FakeClock, tmp_path: Path) -> None:
    fleet = Fleet(clock)
    fleet.script("p1/m1", Script(polls=["failed"]))
    fleet.script("p2/m1", Script(polls=[HANG]))
    journal = MemoryJobStore()
    async with fleet.router(journal=journal) as router:
        with pytest.raises(JobTimeout) as first:
            await router.generate(
                "a dog", model=CHAIN, output=tmp_path / "o.mp4", idempotency_key="order-7", timeout=60
            )
        assert first.value.job_id == "p2-m1-job1"
        fleet.script("p2/m1", Script())
        fleet.providers["p2"]._jobs["p2-m1-job1"] = ["completed"]
        again = await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4", idempotency_key="order-7")
    assert again.job_id == "p2-m1-job1"
    assert fleet.submits() == ["p1/m1", "p2/m1"]


async def test_the_key_stays_on_a_failed_job_when_no_later_candidate_submits(clock: FakeClock, tmp_path: Path) -> None:
    """The key moves only when the next candidate submits: with nothing after it, a rerun gets the failure
    (it is the latest job for the key) and submits nothing."""
    fleet = Fleet(clock)
    fleet.script("p1/m1", Script(polls=["failed"]))
    journal = MemoryJobStore()
    async with fleet.router(journal=journal) as router:
        with pytest.raises(JobFailed):
            await router.generate("a dog", model="p1/m1", output=tmp_path / "o.mp4", idempotency_key="order-7")
        failed = journal.get("p1-m1-job1")
        assert failed is not None and failed.idempotency_key == "order-7"
        with pytest.raises(JobFailed) as again:
            await router.generate("a dog", model="p1/m1", output=tmp_path / "o.mp4", idempotency_key="order-7")
    assert fleet.submits() == ["p1/m1"]
    assert again.value.hint is not None and "nothing was sent" in again.value.hint and "new key" in again.value.hint


async def test_a_rerun_whose_resumed_job_fails_fails_over_to_the_next_candidate(
    clock: FakeClock, tmp_path: Path, journal: JobStore
) -> None:
    """The first call ran out of time with p1's job still running (no failover: it may bill). The rerun
    resumes it; when it ends `failed` the rerun goes on to p2, as the first call would have, under the key."""
    fleet = Fleet(clock)
    fleet.script("p1/m1", Script(polls=[HANG]))
    async with fleet.router(journal=journal) as router:
        with pytest.raises(JobTimeout):
            await router.generate(
                "a dog", model=CHAIN, output=tmp_path / "o.mp4", idempotency_key="order-7", timeout=60
            )
        assert fleet.submits() == ["p1/m1"]
        fleet.providers["p1"]._jobs["p1-m1-job1"] = ["failed"]
        result = await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4", idempotency_key="order-7")
        assert result.ref == "p2/m1"
        assert [(a.ref, a.outcome) for a in result.attempts] == [("p1/m1", "failed"), ("p2/m1", "succeeded")]
        failed, done = journal.get("p1-m1-job1"), journal.get("p2-m1-job1")
        assert failed is not None and done is not None
        assert (failed.state, failed.idempotency_key, failed.shadowed_key) == (RecordState.FAILED, None, "order-7")
        assert done.idempotency_key == "order-7"
        again = await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4", idempotency_key="order-7")
    assert again.job_id == "p2-m1-job1"
    assert fleet.submits() == ["p1/m1", "p2/m1"]


async def test_a_rerun_whose_resumed_job_fails_on_the_last_candidate_submits_nothing(
    clock: FakeClock, tmp_path: Path
) -> None:
    fleet = Fleet(clock)
    fleet.script("p2/m1", Script(submit_error=lambda: RateLimited("slow down")))
    fleet.script("p1/m1", Script(polls=[HANG]))
    journal = MemoryJobStore()
    async with fleet.router(journal=journal) as router:
        with pytest.raises(JobTimeout):
            await router.generate(
                "a dog", model=["p2/m1", "p1/m1"], output=tmp_path / "o.mp4", idempotency_key="order-7", timeout=60
            )
        before = fleet.submits()
        assert before[-1] == "p1/m1"
        fleet.providers["p1"]._jobs["p1-m1-job1"] = ["failed"]
        with pytest.raises(JobFailed):
            await router.generate(
                "a dog", model=["p2/m1", "p1/m1"], output=tmp_path / "o.mp4", idempotency_key="order-7"
            )
    assert fleet.submits() == before
