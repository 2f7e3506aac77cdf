"""Two jobs finishing at once onto one path, in two processes sharing a journal (here: two routers, each with
its own connection to one SQLite journal, so the lease and the row lookups go through the database as
between processes): one video is saved at the path, the other beside it, and each row's `files` names
the file that really holds its video. Without the `save:` lease both found the path free and the second
rename replaced the first job's paid video."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter.engine import _SAVE_WAIT, SAVE_LEASE_TTL, JobEngine
from mediarouter.jobs import Job, JobOutput, JobState, JobStatus
from mediarouter.journal import JobStore, RecordState, SQLiteJobStore, lease_owner, save_lease_name
from mediarouter.request import VideoRequest
from mediarouter.router import Router
from tests.core.fakes import VIDEO, ScriptedProvider
from tests.core.router_fakes import quiet_settings


def video_of(job_id: str) -> bytes:
    return VIDEO + job_id.encode() * 40


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Studio(ScriptedProvider):
    """Each submit is a new job named `PREFIX-N`, completed at the first poll, with its own bytes."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.count = 0

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        self.count += 1
        return Job(id=f"{self.prefix}-{self.count}", provider=self.name, model=model_id)

    async def poll(self, job: Job) -> JobStatus:
        output = JobOutput(index=0, url=f"https://fake.test/{job.id}")
        return JobStatus(job_id=job.id, state=JobState.COMPLETED, outputs=(output,))

    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        return self._download(video_of(job.id), offset)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SQLiteJobStore, SQLiteJobStore]]:
    path = tmp_path / "jobs.sqlite3"
    one, two = SQLiteJobStore(path), SQLiteJobStore(path)
    yield one, two
    one.close()
    two.close()


def router(clock: FakeClock, journal: JobStore, prefix: str) -> Router:
    return Router(providers={"fake": Studio(prefix)}, journal=journal, settings=quiet_settings(), clock=clock)


async def generate(host: Router, target: Path) -> Any:
    return await host.generate("a dog", model="fake/video-1", duration=8, output=target)


def files_of(journal: JobStore, job_id: str) -> list[tuple[str, str]]:
    record = journal.get(job_id)
    assert record is not None
    return [(f["path"], f["sha256"]) for f in record.files]


async def test_two_jobs_finishing_onto_one_path_at_once_keep_both_paid_videos(
    clock: FakeClock,
    stores: tuple[SQLiteJobStore, SQLiteJobStore],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "x.mp4"
    a_checked, a_may_go = asyncio.Event(), asyncio.Event()
    looked = JobEngine._saved_by_another

    async def slow_for_a(self: JobEngine, run: Any, job: Job, path: Path) -> str | None:
        # Job a-1 has found the path free and is about to rename its video there when b-1 arrives.
        holder = await looked(self, run, job, path)
        if job.id == "a-1" and not a_may_go.is_set():
            a_checked.set()
            await a_may_go.wait()
        return holder

    monkeypatch.setattr(JobEngine, "_saved_by_another", slow_for_a)
    async with router(clock, stores[0], "a") as first, router(clock, stores[1], "b") as second:
        a = asyncio.create_task(generate(first, target))
        await asyncio.wait_for(a_checked.wait(), 10)
        b = asyncio.create_task(generate(second, target))
        waits = len(clock.sleeps)
        for _ in range(100_000):  # until b-1 waits for the path (a 0.2 s look at the lease), or is done
            await asyncio.sleep(0)
            if _SAVE_WAIT in clock.sleeps[waits:] or b.done():
                break
        assert not b.done(), "b-1 saved its video while a-1 was saving at the same path"
        a_may_go.set()
        one, two = await asyncio.wait_for(asyncio.gather(a, b), 10)

    beside = tmp_path / "x.b-1.mp4"
    assert one.files[0].path == target and two.files[0].path == beside
    assert target.read_bytes() == video_of("a-1") and beside.read_bytes() == video_of("b-1")
    for journal in stores:  # each process's view of the journal says where each video really is
        assert files_of(journal, "a-1") == [(str(target), sha(video_of("a-1")))]
        assert files_of(journal, "b-1") == [(str(beside), sha(video_of("b-1")))]
    assert stores[0].try_lease(save_lease_name(target), lease_owner(), 1.0) is None  # released


async def test_a_save_lease_left_by_a_dead_process_is_taken_over_at_once(
    clock: FakeClock, stores: tuple[SQLiteJobStore, SQLiteJobStore], tmp_path: Path
) -> None:
    target = tmp_path / "x.mp4"
    dead = _dead_pid()
    stores[1].try_lease(save_lease_name(target), "gone", SAVE_LEASE_TTL)
    stores[1]._conn.execute("UPDATE leases SET pid = ? WHERE owner = 'gone'", (dead,))
    stores[1]._conn.commit()
    async with router(clock, stores[0], "a") as host:
        result = await generate(host, target)
    assert result.files[0].path == target and target.read_bytes() == video_of("a-1")
    assert _SAVE_WAIT not in clock.sleeps  # no wait for it


async def test_a_save_lease_never_let_go_delays_the_save_by_its_lifetime_then_the_video_is_saved(
    clock: FakeClock, stores: tuple[SQLiteJobStore, SQLiteJobStore], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A live holder that never releases (here: this process, another owner; the fake clock never lets the
    lease expire): the saver waits out the lease's lifetime, then saves, by the journal's rules as before."""
    target = tmp_path / "x.mp4"
    assert stores[1].try_lease(save_lease_name(target), "stuck", 10 * SAVE_LEASE_TTL) is None
    with caplog.at_level(logging.INFO, logger="mediarouter"):
        async with router(clock, stores[0], "a") as host:
            result = await generate(host, target)
    assert result.files[0].path == target and target.read_bytes() == video_of("a-1")
    waited = [s for s in clock.sleeps if s == _SAVE_WAIT]
    assert SAVE_LEASE_TTL <= sum(waited) < SAVE_LEASE_TTL + 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("waiting to save" in m and str(target) in m for m in messages)
    assert any("saving without waiting" in m for m in messages)
    record = stores[0].get("a-1")
    assert record is not None and record.state is RecordState.DOWNLOADED


def _dead_pid() -> int:
    """A pid no process of this host has (a child that has exited and been reaped)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


class Killed(BaseException):
    """The process dying (kill -9) at the write that would say `downloaded`: nothing after it runs."""


async def test_a_process_killed_after_the_rename_leaves_the_resume_its_file_and_nothing_to_download(
    clock: FakeClock, stores: tuple[SQLiteJobStore, SQLiteJobStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediarouter.recovery import resume_job

    target = tmp_path / "x.mp4"
    update = JobEngine._journal_update

    async def dies_at_downloaded(self: JobEngine, run: Any, **fields: Any) -> bool:
        if fields.get("state") is RecordState.DOWNLOADED:
            raise Killed
        return await update(self, run, **fields)

    with monkeypatch.context() as patch:
        patch.setattr(JobEngine, "_journal_update", dies_at_downloaded)
        async with router(clock, stores[0], "a") as host:
            with pytest.raises(Killed):
                await generate(host, target)
    record = stores[1].get("a-1")
    assert record is not None and record.state is not RecordState.DOWNLOADED
    assert files_of(stores[1], "a-1") == [(str(target), sha(video_of("a-1")))]

    studio = Studio("a")
    async with Router(providers={"fake": studio}, journal=stores[1], settings=quiet_settings(), clock=clock) as host:
        downloads: list[int] = []
        opened = studio.open_download
        studio.open_download = lambda *a, **k: downloads.append(1) or opened(*a, **k)  # type: ignore[method-assign]
        result = await resume_job(host, "a-1")
    assert downloads == [] and result.files[0].path == target
    assert target.read_bytes() == video_of("a-1")
    record = stores[1].get("a-1")
    assert record is not None and record.state is RecordState.DOWNLOADED


async def test_a_video_renamed_into_place_by_a_process_killed_at_once_is_never_replaced(
    clock: FakeClock, stores: tuple[SQLiteJobStore, SQLiteJobStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row names the file before the rename: killed right after it (before any other write), the video at
    the path is still known as job a-1's, so job b-1 asked for the same path is saved beside it."""
    from mediarouter.downloads import PartFile

    target = tmp_path / "x.mp4"
    commit = PartFile.commit

    def killed_after(self: PartFile, to: Path | None = None) -> Path:
        commit(self, to)
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(PartFile, "commit", killed_after)
        async with router(clock, stores[0], "a") as host:
            with pytest.raises(Killed):
                await generate(host, target)
    assert target.read_bytes() == video_of("a-1")
    async with router(clock, stores[1], "b") as host:
        result = await generate(host, target)
    assert result.files[0].path == tmp_path / "x.b-1.mp4"
    assert target.read_bytes() == video_of("a-1")


async def test_a_process_killed_before_the_rename_leaves_an_entry_no_check_trusts(
    clock: FakeClock, stores: tuple[SQLiteJobStore, SQLiteJobStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between the row's entry and the rename: the entry names a path whose file is not that video
    (here: a file of the user's), so the next job replaces the file as before, and the killed job's resume
    saves its video beside that job's."""
    from mediarouter.downloads import PartFile
    from mediarouter.recovery import resume_job

    target = tmp_path / "x.mp4"
    target.write_bytes(b"the user's own file")

    def killed_before(self: PartFile, to: Path | None = None) -> Path:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(PartFile, "commit", killed_before)
        async with router(clock, stores[0], "a") as host:
            with pytest.raises(Killed):
                await generate(host, target)
    assert files_of(stores[1], "a-1") == [(str(target), sha(video_of("a-1")))]  # written, not yet true
    assert target.read_bytes() == b"the user's own file"
    async with router(clock, stores[1], "b") as host:
        assert (await generate(host, target)).files[0].path == target  # not a-1's video: replaced
    assert target.read_bytes() == video_of("b-1")
    studio = Studio("a")
    async with Router(providers={"fake": studio}, journal=stores[1], settings=quiet_settings(), clock=clock) as host:
        result = await resume_job(host, "a-1")
    assert result.files[0].path == tmp_path / "x.a-1.mp4"  # b-1's video is whole at x.mp4 now
    assert (tmp_path / "x.a-1.mp4").read_bytes() == video_of("a-1")
    assert target.read_bytes() == video_of("b-1")


@pytest.mark.parametrize("keyed", [False, True])
async def test_a_job_taken_over_by_another_process_right_after_its_submit_is_not_said_unsent(
    clock: FakeClock, stores: tuple[SQLiteJobStore, SQLiteJobStore], tmp_path: Path, keyed: bool
) -> None:
    """Another process (`jobs resume JOB`, a `resume --all` that found the new row) takes the job's lease between
    the accepted submit and this call's own take: the error says the job is paid for and being finished
    elsewhere, never "nothing was sent", and it is not "busy" (exit 11) but may have been billed."""
    from mediarouter import Conflict
    from mediarouter.cli.errors import exit_code_for
    from mediarouter.errors import held_elsewhere

    class Quick(Studio):
        async def submit(self, model_id: str, request: VideoRequest) -> Job:
            job = await super().submit(model_id, request)
            assert stores[1].try_lease(f"job:{job.id}", "resume-elsewhere", 3600.0) is None
            return job

    options = {"idempotency_key": "k-1"} if keyed else {}
    async with Router(
        providers={"fake": Quick("a")}, journal=stores[0], settings=quiet_settings(), clock=clock
    ) as host:
        with pytest.raises(Conflict) as info:
            await host.generate("a dog", model="fake/video-1", duration=8, output=tmp_path / "x.mp4", **options)
    error = info.value
    assert error.job_id == "a-1" and "accepted for this call and is paid for" in error.message
    assert "nothing was sent" not in error.message + (error.hint or "")
    assert not held_elsewhere(error) and exit_code_for(error) == 1
    record = stores[1].get("a-1")
    assert record is not None and record.job_id == "a-1"  # journaled: the other process finishes it
