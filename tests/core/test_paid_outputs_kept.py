"""A paid video is never replaced by another job's: a target the journal records as another row's saved
output, still whole, keeps it, and the new video is saved beside it (`NAME.JOB.mp4`); the result, the
`download.finished` event and the row say where. The row's own earlier copy, a file no row saves and a
saved file that is no longer whole are replaced, as before."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import JobTimeout
from mediarouter.events import DownloadFinishedEvent, Event
from mediarouter.jobs import Job, JobOutput, JobState, JobStatus
from mediarouter.journal import JobRecord, JobStore, MemoryJobStore, RecordState, SQLiteJobStore
from mediarouter.recovery import resume_all, resume_job
from mediarouter.request import VideoRequest
from mediarouter.router import Router

from .fakes import VIDEO, ScriptedProvider
from .router_fakes import quiet_settings


def video_of(job_id: str, index: int = 0) -> bytes:
    """Each job's output is its own bytes, so a file says whose video it is."""
    return VIDEO + f"{job_id}/{index}".encode() * 20


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Studio(ScriptedProvider):
    """Every submit is a new job (job-1, job-2, …) with its own video; a job in `hang` never finishes."""

    def __init__(self, *, outputs: int = 1) -> None:
        super().__init__(outputs=outputs)
        self.count = 0
        self.hang: set[str] = set()

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        self.calls.append("submit")
        self.count += 1
        return Job(id=f"job-{self.count}", provider=self.name, model=model_id)

    async def poll(self, job: Job) -> JobStatus:
        self.calls.append("poll")
        if job.id in self.hang:
            return JobStatus(job_id=job.id, state=JobState.IN_PROGRESS)
        outputs = tuple(JobOutput(index=i, url=f"https://fake.test/{job.id}/{i}") for i in range(self.outputs))
        return JobStatus(job_id=job.id, state=JobState.COMPLETED, outputs=outputs, cost=self.cost)

    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        self.calls.append(f"download:{job.id}:{output.index}")
        return self._download(video_of(job.id, output.index), offset)

    def downloads(self) -> list[str]:
        return [c for c in self.calls if c.startswith("download")]


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SQLiteJobStore]:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    yield store
    store.close()


@pytest.fixture
def studio() -> Studio:
    return Studio()


def router(clock: FakeClock, journal: JobStore, provider: Studio, events: list[Event] | None = None) -> Router:
    listeners = [events.append] if events is not None else []
    return Router(
        providers={"fake": provider}, journal=journal, settings=quiet_settings(), clock=clock, listeners=listeners
    )


async def generate(host: Router, target: Path, **kw: Any) -> Any:
    return await host.generate("a dog", model="fake/video-1", duration=8, output=target, **kw)


async def interrupted_job(host: Router, studio: Studio, target: Path) -> str:
    """A job stopped while it runs (as by Ctrl-C or a deadline): its row is `interrupted`, target `target`."""
    studio.hang.add(f"job-{studio.count + 1}")
    with pytest.raises(JobTimeout) as info:
        await generate(host, target, timeout=30)
    job_id = info.value.job_id
    assert job_id is not None
    studio.hang.discard(job_id)
    return job_id


def saved(journal: JobStore, job_id: str) -> list[tuple[str, str]]:
    record = journal.get(job_id)
    assert record is not None
    return [(f["path"], f["sha256"]) for f in record.files]


def finished(events: list[Event]) -> list[str]:
    return [e.payload.path for e in events if isinstance(e.payload, DownloadFinishedEvent)]


# -- the QA repro: `jobs resume --all` and ping-pong ---------------------------------------------------


async def test_resuming_an_interrupted_job_keeps_the_video_another_job_saved_at_its_target(
    clock: FakeClock, journal: SQLiteJobStore, studio: Studio, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "x.mp4"
    events: list[Event] = []
    async with router(clock, journal, studio, events) as host:
        a = await interrupted_job(host, studio, target)
        b = (await generate(host, target)).job_id  # the same command again: a second paid job, saved at x.mp4
        assert target.read_bytes() == video_of(b)
        with caplog.at_level(logging.WARNING, logger="mediarouter"):
            reports = await resume_all(host)
        beside = tmp_path / f"x.{a}.mp4"
        assert [(r.job_id, r.outcome, r.path) for r in reports] == [(a, "downloaded", str(beside))]
        assert target.read_bytes() == video_of(b)  # B's paid video is still there
        assert beside.read_bytes() == video_of(a)
        assert saved(journal, b) == [(str(target), sha(video_of(b)))]
        assert saved(journal, a) == [(str(beside), sha(video_of(a)))]
        assert finished(events)[-1] == str(beside)
        warning = [
            r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and str(beside) in r.getMessage()
        ]
        assert len(warning) == 1 and str(target) in warning[0] and b in warning[0]

        # No ping-pong: each resume finds its own video whole and downloads nothing.
        before = studio.downloads()
        again_b = await resume_job(host, b)
        again_a = await resume_job(host, a)
    assert studio.downloads() == before
    assert again_b.files[0].path == target and again_a.files[0].path == beside
    assert target.read_bytes() == video_of(b) and beside.read_bytes() == video_of(a)
    assert studio.calls.count("submit") == 2


async def test_a_second_paid_job_asked_for_the_same_file_is_saved_beside_the_first(
    clock: FakeClock, journal: SQLiteJobStore, studio: Studio, tmp_path: Path
) -> None:
    target = tmp_path / "x.mp4"
    async with router(clock, journal, studio) as host:
        first = await generate(host, target)
        second = await generate(host, target)
    assert first.files[0].path == target and target.read_bytes() == video_of("job-1")
    assert second.files[0].path == tmp_path / "x.job-2.mp4"
    assert second.files[0].sha256 == sha(video_of("job-2")) == sha((tmp_path / "x.job-2.mp4").read_bytes())
    assert saved(journal, "job-2") == [(str(tmp_path / "x.job-2.mp4"), sha(video_of("job-2")))]


async def test_every_output_of_a_job_with_several_goes_beside_the_files_another_job_saved(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    studio = Studio(outputs=2)
    target = tmp_path / "x.mp4"
    async with router(clock, journal, studio) as host:
        await generate(host, target)
        result = await generate(host, target)
    assert [f.path for f in result.files] == [tmp_path / "x.job-2.mp4", tmp_path / "x-1.job-2.mp4"]
    assert target.read_bytes() == video_of("job-1", 0) and (tmp_path / "x-1.mp4").read_bytes() == video_of("job-1", 1)
    assert (tmp_path / "x-1.job-2.mp4").read_bytes() == video_of("job-2", 1)
    assert [p for p, _ in saved(journal, "job-2")] == [str(tmp_path / "x.job-2.mp4"), str(tmp_path / "x-1.job-2.mp4")]


async def test_a_job_id_unsafe_for_a_file_name_is_made_safe_in_the_name_beside(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    class Slashed(Studio):
        async def submit(self, model_id: str, request: VideoRequest) -> Job:
            job = await super().submit(model_id, request)
            return job.model_copy(update={"id": f"queue/{job.id}.v2"})

    target = tmp_path / "x.mp4"
    async with router(clock, journal, Slashed()) as host:
        await generate(host, target)
        result = await generate(host, target)
    assert result.files[0].path == tmp_path / "x.queue_job-2_v2.mp4"
    assert sorted(p.name for p in tmp_path.glob("x*.mp4")) == ["x.mp4", "x.queue_job-2_v2.mp4"]


# -- what is still replaced -------------------------------------------------------------------------


async def test_the_rows_own_earlier_copy_is_replaced_in_place(
    clock: FakeClock, journal: SQLiteJobStore, studio: Studio, tmp_path: Path
) -> None:
    target = tmp_path / "x.mp4"
    async with router(clock, journal, studio) as host:
        await generate(host, target)
        again = await host.download("job-1", output=target)  # a forced re-download of the same job
    assert studio.downloads() == ["download:job-1:0", "download:job-1:0"]
    assert again.files[0].path == target and target.read_bytes() == video_of("job-1")
    assert sorted(p.name for p in tmp_path.glob("x*")) == ["x.mp4"]


async def test_a_file_no_row_saves_is_replaced(
    clock: FakeClock, journal: SQLiteJobStore, studio: Studio, tmp_path: Path
) -> None:
    target = tmp_path / "x.mp4"
    target.write_bytes(b"an old file of the user's")
    async with router(clock, journal, studio) as host:
        result = await generate(host, target)
    assert result.files[0].path == target and target.read_bytes() == video_of("job-1")
    assert sorted(p.name for p in tmp_path.glob("x*")) == ["x.mp4"]


@pytest.mark.parametrize("damage", ["changed", "truncated"])
async def test_a_file_another_row_saved_that_is_no_longer_whole_is_replaced(
    clock: FakeClock, journal: SQLiteJobStore, studio: Studio, tmp_path: Path, damage: str
) -> None:
    target = tmp_path / "x.mp4"
    async with router(clock, journal, studio) as host:
        a = await interrupted_job(host, studio, target)
        await generate(host, target)
        data = target.read_bytes()
        target.write_bytes(data[:-1] + b"!" if damage == "changed" else data[:100])
        result = await resume_job(host, a)
    assert result.files[0].path == target and target.read_bytes() == video_of(a)
    assert saved(journal, a) == [(str(target), sha(video_of(a)))]


# -- copies of saved files, and a journal that cannot say ---------------------------------------------


async def test_a_saved_video_copied_to_a_target_another_job_saved_goes_beside_it_once(
    clock: FakeClock, journal: SQLiteJobStore, studio: Studio, tmp_path: Path
) -> None:
    target = tmp_path / "x.mp4"
    async with router(clock, journal, studio) as host:
        await generate(host, tmp_path / "a.mp4")  # job-1
        await generate(host, target)  # job-2 at x.mp4
        first = await resume_job(host, "job-1", output=target)  # job-1 wanted at x.mp4 too
        second = await resume_job(host, "job-1", output=target)
    beside = tmp_path / "x.job-1.mp4"
    assert studio.downloads() == ["download:job-1:0", "download:job-2:0"]  # copies, never a download
    assert first.files[0].path == second.files[0].path == beside
    assert beside.read_bytes() == video_of("job-1") and target.read_bytes() == video_of("job-2")
    assert saved(journal, "job-1") == [(str(beside), sha(video_of("job-1")))]


class Unreadable(MemoryJobStore):
    """A journal whose saved-files lookup fails (a locked database, a dropped connection)."""

    def find_saved(self, path: object) -> list[JobRecord]:
        raise OSError("database is locked")


async def test_when_the_journal_cannot_say_whose_file_it_is_the_file_is_kept(
    clock: FakeClock, studio: Studio, tmp_path: Path
) -> None:
    target = tmp_path / "x.mp4"
    target.write_bytes(b"a file")
    async with router(clock, Unreadable(), studio) as host:
        result = await generate(host, target)
    assert target.read_bytes() == b"a file"
    assert result.files[0].path == tmp_path / "x.job-1.mp4"


class HostStore:
    """A host's own store written before `find_saved`: the JobStore methods only, delegated."""

    def __init__(self) -> None:
        self._store = MemoryJobStore()

    def add(self, record: JobRecord) -> None:
        self._store.add(record)

    def claim(self, record: JobRecord) -> JobRecord | None:
        return self._store.claim(record)

    def update(self, key: str, **fields: Any) -> JobRecord:
        return self._store.update(key, **fields)

    def get(self, key_or_job_id: str) -> JobRecord | None:
        return self._store.get(key_or_job_id)

    def find_idempotent(self, idempotency_key: str) -> JobRecord | None:
        return self._store.find_idempotent(idempotency_key)

    def list(self, *, states: list[RecordState] | None = None, limit: int | None = None) -> list[JobRecord]:
        return self._store.list(states=states, limit=limit)

    def try_lease(self, name: str, owner: str, ttl: float, *, now: float | None = None) -> Any:
        return self._store.try_lease(name, owner, ttl, now=now)

    def release_lease(self, name: str, owner: str) -> None:
        self._store.release_lease(name, owner)

    def close(self) -> None:
        pass


async def test_a_host_store_without_the_lookup_still_keeps_another_jobs_video(
    clock: FakeClock, studio: Studio, tmp_path: Path
) -> None:
    store = HostStore()
    assert isinstance(store, JobStore) and not hasattr(store, "find_saved")
    target = tmp_path / "x.mp4"
    async with router(clock, store, studio) as host:
        await generate(host, target)
        second = await generate(host, target)
    assert target.read_bytes() == video_of("job-1") and second.files[0].path == tmp_path / "x.job-2.mp4"
