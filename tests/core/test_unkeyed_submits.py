"""A submit in flight is never forgotten or adopted, keyed or not, and an accepted job always has a row.

An unkeyed submit takes no submit lease (two more commits before every POST); its intent row names its
sender instead (`JobRecord.submitter`), written in the same commit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import Conflict
from mediarouter.jobs import Job
from mediarouter.journal import JobRecord, Lease, RecordState, SQLiteJobStore, submit_in_flight, submitter_lease
from mediarouter.recovery import adopt, forget
from mediarouter.request import VideoRequest
from mediarouter.router import Router

from .fakes import VIDEO, ScriptedProvider
from .router_fakes import quiet_settings


@pytest.fixture
def journal(tmp_path: Path) -> SQLiteJobStore:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    yield store  # type: ignore[misc]
    store.close()


def _router(clock: FakeClock, journal: SQLiteJobStore, provider: ScriptedProvider) -> Router:
    return Router(providers={"fake": provider}, journal=journal, settings=quiet_settings(), clock=clock)


class _Held(ScriptedProvider):
    """A submit that is on the wire until the test lets it answer."""

    def __init__(self) -> None:
        super().__init__(polls=["completed"])
        self.sent, self.answer = asyncio.Event(), asyncio.Event()

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        self.sent.set()
        await self.answer.wait()
        return await super().submit(model_id, request)


async def test_forget_and_adopt_refuse_an_unkeyed_submit_this_process_is_sending(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    provider = _Held()
    async with _router(clock, journal, provider) as routed:
        task = asyncio.create_task(routed.generate("a cat", model="fake/video-1", output=tmp_path / "c.mp4"))
        await provider.sent.wait()
        [row] = journal.list()
        assert row.state is RecordState.SUBMITTING and row.idempotency_key is None
        assert row.submitter is not None and row.submitter.pid == os.getpid()
        for attempt in (lambda: forget(journal, row.key, confirm=True), lambda: adopt(journal, row.key, "job-x")):
            with pytest.raises(Conflict) as info:
                attempt()
            assert "in flight" in str(info.value) and "nothing was changed" in str(info.value)
        provider.answer.set()
        result = await task
    [row] = journal.list()
    assert row.job_id == result.job_id == "job-1" and row.state is RecordState.DOWNLOADED
    assert (tmp_path / "c.mp4").read_bytes() == VIDEO


def _row(submitter: Lease | None, state: RecordState = RecordState.SUBMITTING) -> JobRecord:
    return JobRecord(key="local-1", provider="fake", model="video-1", state=state, submitter=submitter)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_row_is_in_flight_while_its_sender_may_still_get_the_answer() -> None:
    mine = submitter_lease("local-1", 600)
    assert not submit_in_flight(_row(mine))  # this process, but no call of it is sending the row
    other = Lease(mine.name, "parent", os.getppid(), mine.host, mine.expires_at)
    assert submit_in_flight(_row(other))  # a live process of this host
    assert not submit_in_flight(_row(other, RecordState.UNKNOWN))  # its answer came (or never will)
    assert not submit_in_flight(_row(Lease(mine.name, "gone", _dead_pid(), mine.host, mine.expires_at)))
    remote = Lease(mine.name, "far", 1, "another-host.invalid", time.time() + 60)
    assert submit_in_flight(_row(remote))  # its process cannot be seen: until its lease ends
    assert not submit_in_flight(_row(remote), now=time.time() + 61)
    assert not submit_in_flight(_row(None))  # written by a version that did not name the sender


def test_forget_waits_for_another_live_process_and_goes_ahead_once_it_is_dead(journal: SQLiteJobStore) -> None:
    lease = submitter_lease("local-1", 600)
    journal.add(_row(Lease(lease.name, "parent", os.getppid(), lease.host, lease.expires_at)))
    with pytest.raises(Conflict, match="in flight in another process"):
        forget(journal, "local-1", confirm=True)
    journal.update("local-1", submitter=Lease(lease.name, "gone", _dead_pid(), lease.host, lease.expires_at))
    assert forget(journal, "local-1", confirm=True).state is RecordState.FORGOTTEN


class _ChangedMidSubmit(ScriptedProvider):
    """A provider whose answer arrives after another command already changed the submit's row (a hand
    edit, an older version's `jobs forget` / `adopt`, another host whose submitter lease expired)."""

    def __init__(self, journal: SQLiteJobStore, change: Callable[[JobRecord], None]) -> None:
        super().__init__(polls=["completed"])
        self.journal, self.change = journal, change

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        [row] = [r for r in self.journal.list() if r.state is RecordState.SUBMITTING]
        self.change(row)
        return await super().submit(model_id, request)


@pytest.mark.parametrize("key", [None, "order-1"], ids=["unkeyed", "keyed"])
async def test_a_job_accepted_after_its_row_was_forgotten_gets_a_row_of_its_own(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path, key: str | None
) -> None:
    def forgotten(row: JobRecord) -> None:
        journal.update(row.key, state=RecordState.FORGOTTEN, error="forgotten by the user")

    async with _router(clock, journal, _ChangedMidSubmit(journal, forgotten)) as routed:
        result = await routed.generate("a cat", model="fake/video-1", output=tmp_path / "c.mp4", idempotency_key=key)
    job = journal.get("job-1")
    assert job is not None and job.state is RecordState.DOWNLOADED and result.job_id == "job-1"
    assert job.idempotency_key == key and job.target == str(tmp_path / "c.mp4")  # the key is its again
    assert "forgotten or adopted" in (job.error or "")
    [old] = [r for r in journal.list() if r.key != "job-1"]
    assert old.state is RecordState.FORGOTTEN and old.job_id is None  # what the user did is kept


async def test_a_job_accepted_while_another_row_took_the_freed_key_keeps_it_shadowed(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    def forgotten_and_retaken(row: JobRecord) -> None:
        journal.update(row.key, state=RecordState.FORGOTTEN)
        journal.add(JobRecord(key="job-0", job_id="job-0", provider="fake", model="video-1", idempotency_key="k"))

    async with _router(clock, journal, _ChangedMidSubmit(journal, forgotten_and_retaken)) as routed:
        await routed.generate("a cat", model="fake/video-1", output=tmp_path / "c.mp4", idempotency_key="k")
    job = journal.get("job-1")
    assert job is not None and job.state is RecordState.DOWNLOADED
    assert job.idempotency_key is None and job.shadowed_key == "k"
    assert journal.find_idempotent("k") == journal.get("job-0")


@pytest.mark.parametrize("adopted_id", ["job-1", "job-other"], ids=["this-job", "another-job"])
async def test_a_job_accepted_after_its_row_was_adopted_is_still_finished_and_journaled(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path, adopted_id: str
) -> None:
    def adopted(row: JobRecord) -> None:
        journal.update(row.key, job_id=adopted_id, state=RecordState.PENDING)

    async with _router(clock, journal, _ChangedMidSubmit(journal, adopted)) as routed:
        await routed.generate("a cat", model="fake/video-1", output=tmp_path / "c.mp4")
    job = journal.get("job-1")
    assert job is not None and job.state is RecordState.DOWNLOADED  # not left pending, not in memory only
    assert job.files and job.files[0]["path"] == str(tmp_path / "c.mp4")
    if adopted_id != "job-1":
        other = journal.get(adopted_id)
        assert other is not None and other.state is RecordState.PENDING  # untouched: `jobs resume` finishes it
    assert len(journal.list()) == (1 if adopted_id == "job-1" else 2)
