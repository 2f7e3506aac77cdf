"""The job journal: every accepted job is on record before anything else happens."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mediarouter_contracts.clock import FakeClock

from mediarouter import InsufficientCredits, JobFailed, JobTimeout, ProviderUnavailable, SubmitUnknown, VideoRequest
from mediarouter.engine import JobEngine
from mediarouter.journal import JobRecord, MemoryJobStore, RecordState, SQLiteJobStore, open_store

from .fakes import VIDEO, ScriptedProvider

REQ = VideoRequest(prompt="a dog", duration=8, image_url="data:image/png;base64," + "A" * 4000)


def engine(clock: FakeClock, store: object, **kwargs: object) -> JobEngine:
    return JobEngine(clock=clock, poll_interval=10.0, journal=store, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    return MemoryJobStore() if request.param == "memory" else SQLiteJobStore(tmp_path / "jobs.sqlite3")


async def test_a_completed_job_is_journaled_through_to_its_file(
    clock: FakeClock, store: object, tmp_path: Path
) -> None:
    provider = ScriptedProvider(polls=["pending", "in_progress", "completed"])
    result = await engine(clock, store).run(provider, "video-1", REQ, output=tmp_path / "o.mp4", idempotency_key="k1")
    record = store.get("job-1")  # type: ignore[attr-defined]
    assert record is not None
    assert record.state is RecordState.DOWNLOADED
    assert record.provider == "fake" and record.model == "video-1"
    assert record.idempotency_key == "k1"
    assert record.files[0]["path"] == str(tmp_path / "o.mp4")
    assert record.files[0]["sha256"] == result.files[0].sha256
    assert record.files[0]["size"] == len(VIDEO)
    assert str(record.cost) == "1.60"
    assert len(str(record.request)) < 400  # data URLs are shortened
    assert store.find_idempotent("k1").job_id == "job-1"  # type: ignore[attr-defined]


async def test_the_job_is_on_record_before_the_first_poll(clock: FakeClock, tmp_path: Path) -> None:
    store = MemoryJobStore()
    seen: list[JobRecord | None] = []

    class Spy(ScriptedProvider):
        async def poll(self, job):  # type: ignore[no-untyped-def]
            seen.append(store.get(job.id))
            return await super().poll(job)

    await engine(clock, store).run(Spy(polls=["completed"]), "video-1", REQ, output=tmp_path / "o.mp4")
    assert seen[0] is not None and seen[0].state is RecordState.PENDING


async def test_refused_submit_is_journaled_as_refused(clock: FakeClock, store: object, tmp_path: Path) -> None:
    provider = ScriptedProvider(submit=[InsufficientCredits("no credits", status_code=402)])
    with pytest.raises(InsufficientCredits):
        await engine(clock, store).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    [record] = store.list()  # type: ignore[attr-defined]
    assert record.state is RecordState.REFUSED and record.job_id is None


async def test_unanswered_submit_stays_submitting(clock: FakeClock, store: object, tmp_path: Path) -> None:
    provider = ScriptedProvider(submit=[ProviderUnavailable("read timeout", sent=True)])
    with pytest.raises(SubmitUnknown):
        await engine(clock, store).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    [record] = store.list()  # type: ignore[attr-defined]
    assert record.state is RecordState.UNKNOWN  # it may exist upstream: not marked refused


async def test_timeout_leaves_the_job_resumable_and_resume_never_submits(
    clock: FakeClock, store: object, tmp_path: Path
) -> None:
    provider = ScriptedProvider(polls=["in_progress"] * 5 + ["completed"])
    with pytest.raises(JobTimeout):
        await engine(clock, store, timeout=35.0, poll_growth=1.0).run(
            provider, "video-1", REQ, output=tmp_path / "o.mp4"
        )
    record = store.get("job-1")  # type: ignore[attr-defined]
    assert record.state is RecordState.INTERRUPTED and record.state.resumable

    from mediarouter import Job

    job = Job(id=record.job_id, provider=record.provider, model=record.model, polling_url=record.polling_url)
    result = await engine(clock, store).complete(provider, job, output=tmp_path / "o.mp4", first_poll_delay=0)
    assert result.files[0].path.read_bytes() == VIDEO  # type: ignore[union-attr]
    assert provider.calls.count("submit") == 1
    assert store.get("job-1").state is RecordState.DOWNLOADED  # type: ignore[attr-defined]


async def test_failed_job_is_journaled_with_the_server_message(clock: FakeClock, store: object, tmp_path: Path) -> None:
    with pytest.raises(JobFailed):
        await engine(clock, store).run(ScriptedProvider(polls=["failed"]), "video-1", REQ, output=tmp_path / "o.mp4")
    record = store.get("job-1")  # type: ignore[attr-defined]
    assert record.state is RecordState.FAILED and record.error == "the provider said no"


async def test_cancelled_wait_is_journaled_as_interrupted(clock: FakeClock, tmp_path: Path) -> None:
    store = MemoryJobStore()
    polling = asyncio.Event()

    class Hanging(ScriptedProvider):
        async def poll(self, job):  # type: ignore[no-untyped-def]
            polling.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(engine(clock, store).run(Hanging(), "video-1", REQ, output=tmp_path / "o.mp4"))
    await polling.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.get("job-1").state is RecordState.INTERRUPTED  # type: ignore[union-attr]


def test_open_store_locations(tmp_path: Path) -> None:
    assert open_store("off") is None and open_store("") is None
    assert isinstance(open_store(":memory:"), MemoryJobStore)
    path = tmp_path / "sub" / "j.sqlite3"
    assert isinstance(open_store(str(path)), SQLiteJobStore)
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600


def _writer(path: str, prefix: str, count: int) -> None:
    store = SQLiteJobStore(path)
    for i in range(count):
        key = f"{prefix}-{i}"
        store.add(JobRecord(key=key, provider="p", model="m"))
        store.update(key, job_id=f"job-{key}", state=RecordState.PENDING)
        store.update(f"job-{key}", state=RecordState.COMPLETED, polls=i)
    store.close()


def test_two_processes_writing_one_journal_lose_no_row(tmp_path: Path) -> None:
    path = str(tmp_path / "jobs.sqlite3")
    SQLiteJobStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, name, 150)) for name in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    rows = SQLiteJobStore(path).list()
    assert len(rows) == 300
    assert {r.state for r in rows} == {RecordState.COMPLETED}
    assert len({r.job_id for r in rows}) == 300


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(list(RecordState)), min_size=1, max_size=6))
def test_updates_keep_every_other_field(states: list[RecordState]) -> None:
    store = MemoryJobStore()
    store.add(JobRecord(key="local-1", provider="p", model="m", idempotency_key="k"))
    store.update("local-1", job_id="job-9")
    for state in states:
        store.update("job-9", state=state)
    record = store.get("job-9")
    assert record is not None and record.state is states[-1]
    assert record.idempotency_key == "k" and record.provider == "p"
    assert store.get("local-1") is None


async def test_resuming_a_failed_job_raises_its_error_and_sends_nothing() -> None:
    from mediarouter import Router

    store = MemoryJobStore()
    store.add(
        JobRecord(key="job-9", job_id="job-9", provider="fake", model="m", state=RecordState.FAILED, error="nsfw")
    )
    async with Router(journal=store) as router:
        with pytest.raises(JobFailed) as info:
            await router.resume("job-9")
        assert router._providers == {}  # no provider was even built
    assert info.value.server_message == "nsfw" and info.value.job_id == "job-9"
    assert str(info.value).startswith("job failed: nsfw")
