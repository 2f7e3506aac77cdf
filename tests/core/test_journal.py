"""The job journal: every accepted job is on record before anything else happens."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sqlite3
import threading
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mediarouter_contracts.clock import FakeClock

from mediarouter import (
    Conflict,
    InsufficientCredits,
    JobFailed,
    JobTimeout,
    ProviderUnavailable,
    SubmitUnknown,
    VideoRequest,
)
from mediarouter.engine import JobEngine
from mediarouter.errors import ConfigurationError
from mediarouter.journal import (
    SCHEMA_VERSION,
    JobRecord,
    JobStore,
    Lease,
    MemoryJobStore,
    RecordState,
    SQLiteJobStore,
    absolute_target,
    compare_request,
    fingerprint_request,
    idempotency_mismatch,
    lease_owner,
    open_store,
)
from mediarouter.journal_writer import JournalWriter
from mediarouter.provider import Job, JobStatus

from .fakes import VIDEO, ScriptedProvider

REQ = VideoRequest(prompt="a dog", duration=8, image_url="data:image/png;base64," + "A" * 4000)


def engine(clock: FakeClock, store: object, **kwargs: object) -> JobEngine:
    return JobEngine(clock=clock, poll_interval=10.0, journal=store, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    """Every behaviour test runs against each store; postgres against a real server (skipped without one)."""
    if request.param == "memory":
        made: JobStore = MemoryJobStore()
    elif request.param == "sqlite":
        made = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    else:
        from mediarouter.journal_postgres import PostgresJobStore

        made = PostgresJobStore(request.getfixturevalue("postgres_url"))
    assert isinstance(made, JobStore)
    yield made
    made.close()


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


class _HooksTheJobIdWrite(MemoryJobStore):
    """A journal whose writes of an accepted job's id (plain or conditional) call `job_id_write` first,
    where a test injects its fault; every other write lands."""

    def job_id_write(self) -> None:
        pass

    def update(self, key: str, **fields: Any) -> JobRecord:
        if "job_id" in fields:
            self.job_id_write()
        return super().update(key, **fields)

    def update_if(self, key: str, states: Collection[RecordState], **fields: Any) -> JobRecord | None:
        if "job_id" in fields:
            self.job_id_write()
        return super().update_if(key, states, **fields)


class _JobIdWriteFails(_HooksTheJobIdWrite):
    """A journal whose write of the accepted job's id fails (disk full)."""

    def job_id_write(self) -> None:
        raise OSError("disk full")


async def test_a_failed_job_id_write_leaves_the_row_under_its_key_and_later_writes_land(
    clock: FakeClock, tmp_path: Path
) -> None:
    store = _JobIdWriteFails()
    run = engine(clock, store).start("fake", "video-1")
    result = await engine(clock, store).run(
        ScriptedProvider(polls=["completed"]), "video-1", REQ, output=tmp_path / "o.mp4", idempotency_key="k1", run=run
    )
    assert result.job_id == "job-1"
    [record] = store.list()
    assert run.record_key == record.key  # the key the row is stored under, not the unwritten job id
    assert record.state is RecordState.DOWNLOADED and record.files[0]["path"] == str(tmp_path / "o.mp4")
    assert store.find_idempotent("k1") == record  # the key stays held by this row


async def test_a_job_id_write_that_failed_once_is_written_at_the_next_poll(clock: FakeClock, tmp_path: Path) -> None:
    class FailsOnce(_HooksTheJobIdWrite):
        failed = False

        def job_id_write(self) -> None:
            if not self.failed:
                self.failed = True
                raise sqlite3.OperationalError("database is locked")

    store = FailsOnce()
    seen: list[str | None] = []  # the row's job id as each poll starts

    class Watching(ScriptedProvider):
        async def poll(self, job: Job) -> JobStatus:
            seen.append(store.list()[0].job_id)
            return await super().poll(job)

    provider = Watching(polls=["in_progress", "in_progress", "completed"])
    result = await engine(clock, store).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert store.failed and result.job_id == "job-1"
    assert seen == [None, "job-1", "job-1"]  # recorded right after the first poll, not at the end
    record = store.get("job-1")
    assert record is not None and record.key == "job-1" and record.state is RecordState.DOWNLOADED


async def test_a_cancel_during_the_job_id_write_keys_the_run_by_the_job_id_the_write_lands(
    clock: FakeClock, tmp_path: Path
) -> None:
    entered, release = threading.Event(), threading.Event()

    class Slow(_HooksTheJobIdWrite):
        def job_id_write(self) -> None:
            entered.set()
            release.wait(10)

    store = Slow()
    writer = JournalWriter(store, threaded=True)
    eng = engine(clock, store, writer=writer)
    run = eng.start("fake", "video-1")
    task = asyncio.create_task(eng.run(ScriptedProvider(), "video-1", REQ, output=tmp_path / "o.mp4", run=run))
    assert await asyncio.to_thread(entered.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    writer.flush()  # the shielded write still lands
    writer.close()
    assert run.job is not None and run.record_key == "job-1"
    record = store.get("job-1")
    assert record is not None and record.key == "job-1"
    assert record.state is RecordState.INTERRUPTED  # after the write it cut short, not `pending` for good


async def test_a_cancel_during_a_job_id_write_that_then_fails_still_journals_the_id(
    clock: FakeClock, tmp_path: Path
) -> None:
    entered, release = threading.Event(), threading.Event()

    class SlowThenFull(_HooksTheJobIdWrite):
        failed = False

        def job_id_write(self) -> None:
            if not self.failed:
                entered.set()
                release.wait(10)
                self.failed = True
                raise OSError("disk full")

    store = SlowThenFull()
    writer = JournalWriter(store, threaded=True)
    eng = engine(clock, store, writer=writer)
    task = asyncio.create_task(eng.run(ScriptedProvider(), "video-1", REQ, output=tmp_path / "o.mp4"))
    assert await asyncio.to_thread(entered.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    writer.close()
    assert store.failed
    [record] = store.list()
    assert record.key == record.job_id == "job-1"
    assert record.state is RecordState.INTERRUPTED


class _SlowJobLease(MemoryJobStore):
    """A journal whose first take of a job lease blocks until released (a slow disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def try_lease(self, name: str, owner: str, ttl: float, *, now: float | None = None) -> Lease | None:
        if name.startswith("job:") and not self.entered.is_set():
            self.entered.set()
            self.release.wait(10)
        return super().try_lease(name, owner, ttl, now=now)


@pytest.mark.parametrize("key", [None, "k1"], ids=["taken-by-complete", "handed-over-by-submit"])
async def test_a_cancel_while_the_job_lease_is_taken_journals_the_job_as_interrupted(
    clock: FakeClock, tmp_path: Path, key: str | None
) -> None:
    store = _SlowJobLease()
    writer = JournalWriter(store, threaded=True)
    eng = engine(clock, store, writer=writer)
    provider = ScriptedProvider()
    task = asyncio.create_task(eng.run(provider, "video-1", REQ, output=tmp_path / "o.mp4", idempotency_key=key))
    assert await asyncio.to_thread(store.entered.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    store.release.set()
    writer.close()
    assert provider.calls.count("submit") == 1 and "poll" not in provider.calls
    record = store.get("job-1")
    assert record is not None and record.state is RecordState.INTERRUPTED
    assert store.try_lease("job:job-1", lease_owner(), 60) is None  # nothing is left holding the job


async def test_a_cancelled_lease_take_leaves_a_job_another_process_holds_alone(clock: FakeClock) -> None:
    store = _SlowJobLease()
    store.add(JobRecord(key="job-1", provider="fake", model="video-1", job_id="job-1", state=RecordState.IN_PROGRESS))
    other = "elsewhere:1:abc"  # a holder on another host is live until its lease expires
    store.release.set()
    assert store.try_lease("job:job-1", other, 600) is None
    store.entered.clear()
    store.release.clear()
    writer = JournalWriter(store, threaded=True)
    job = Job(id="job-1", provider="fake", model="video-1", polling_url="https://fake/jobs/job-1")
    task = asyncio.create_task(engine(clock, store, writer=writer).complete(ScriptedProvider(), job))
    assert await asyncio.to_thread(store.entered.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    store.release.set()
    writer.close()
    assert store.get("job-1").state is RecordState.IN_PROGRESS  # type: ignore[union-attr]
    assert store.try_lease("job:job-1", other, 600) is None  # still the other process's


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


# -- states, claims, fingerprints, schema (issue #10) ----------------------------------------------

#: The schema exactly as files created before versioning (schema version 0) have it.
V0_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    job_id TEXT UNIQUE,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    state TEXT NOT NULL,
    idempotency_key TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_idem ON jobs(idempotency_key);
"""


def _v0_row(key: str, job_id: str | None, state: str, idem: str | None, created: str) -> tuple[object, ...]:
    data = {
        "key": key,
        "job_id": job_id,
        "provider": "fake",
        "model": "video-1",
        "polling_url": None,
        "state": state,
        "request": {"prompt": "a dog"},
        "idempotency_key": idem,
        "created_at": created,
        "updated_at": created,
        "polls": 0,
        "cost": None,
        "error": None,
        "outputs": [],
        "expires_at": None,
        "files": [],
        "target": "out.mp4",
    }
    return (key, job_id, "fake", "video-1", state, idem, created, created, json.dumps(data))


def test_unknown_and_gone_are_states_and_only_a_definite_no_frees_the_key() -> None:
    assert RecordState("unknown") is RecordState.UNKNOWN and RecordState("gone") is RecordState.GONE
    free = {s for s in RecordState if not s.holds_key}
    assert free == {RecordState.REFUSED, RecordState.NOT_SENT, RecordState.FORGOTTEN}
    assert RecordState.UNKNOWN.ambiguous and RecordState.SUBMITTING.ambiguous
    assert not RecordState.UNKNOWN.resumable and not RecordState.GONE.resumable


def test_a_v0_journal_is_migrated_and_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(V0_SCHEMA)
    rows = [
        _v0_row("job-a", "job-a", "downloaded", "k1", "2024-01-01T00:00:00+00:00"),
        # Two rows holding one key: what today's unlocked check-then-insert let two processes write.
        _v0_row("job-b", "job-b", "in_progress", "dup", "2024-01-02T00:00:00+00:00"),
        _v0_row("job-c", "job-c", "pending", "dup", "2024-01-03T00:00:00+00:00"),
        _v0_row("local-x", None, "refused", "k2", "2024-01-04T00:00:00+00:00"),
    ]
    conn.executemany("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()

    store = SQLiteJobStore(path)
    assert store.schema_version == SCHEMA_VERSION == 1
    assert {r.key for r in store.list()} == {"job-a", "job-b", "job-c", "local-x"}
    assert store.find_idempotent("dup").job_id == "job-c"  # type: ignore[union-attr]  # the newest keeps it
    shadowed = store.get("job-b")
    assert shadowed is not None and shadowed.idempotency_key is None and shadowed.shadowed_key == "dup"
    assert shadowed.state.resumable
    assert store.claim(JobRecord(key="local-new", provider="fake", model="m", idempotency_key="dup")) is not None
    assert store.claim(JobRecord(key="local-k2", provider="fake", model="m", idempotency_key="k2")) is None
    store.close()
    assert SQLiteJobStore(path).schema_version == 1  # opening again is a no-op


def test_a_journal_from_a_newer_version_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ConfigurationError, match="schema version 99"):
        SQLiteJobStore(path)


def test_claim_inserts_once_per_key_and_returns_the_holder(store: object) -> None:
    first = JobRecord(key="local-1", provider="fake", model="m", idempotency_key="order-1")
    assert store.claim(first) is None  # type: ignore[attr-defined]
    second = JobRecord(key="local-2", provider="fake", model="m", idempotency_key="order-1")
    holder = store.claim(second)  # type: ignore[attr-defined]
    assert holder is not None and holder.key == "local-1"
    assert store.get("local-2") is None  # type: ignore[attr-defined]  # nothing inserted
    with pytest.raises(Conflict, match="order-1"):
        store.add(second)  # type: ignore[attr-defined]


@pytest.mark.parametrize("state", [RecordState.REFUSED, RecordState.NOT_SENT, RecordState.FORGOTTEN])
def test_a_row_that_does_not_hold_its_key_lets_a_new_claim_in(store: object, state: RecordState) -> None:
    store.claim(JobRecord(key="local-1", provider="fake", model="m", idempotency_key="k"))  # type: ignore[attr-defined]
    store.update("local-1", state=state)  # type: ignore[attr-defined]
    assert store.claim(JobRecord(key="local-2", provider="fake", model="m", idempotency_key="k")) is None  # type: ignore[attr-defined]
    assert store.find_idempotent("k").key == "local-2"  # type: ignore[attr-defined]
    with pytest.raises(Conflict):  # the old row cannot take the key back while another holds it
        store.update("local-1", state=RecordState.UNKNOWN)  # type: ignore[attr-defined]


@pytest.mark.parametrize("state", [RecordState.SUBMITTING, RecordState.UNKNOWN, RecordState.GONE])
def test_an_ambiguous_or_finished_row_keeps_its_key(store: object, state: RecordState) -> None:
    store.claim(JobRecord(key="local-1", provider="fake", model="m", idempotency_key="k", state=state))  # type: ignore[attr-defined]
    holder = store.claim(JobRecord(key="local-2", provider="fake", model="m", idempotency_key="k"))  # type: ignore[attr-defined]
    assert holder is not None and holder.state is state


def test_a_reused_key_with_another_prompt_or_model_names_the_differences() -> None:
    base = VideoRequest(prompt="a dog", duration=8, image_url="data:image/png;base64," + "A" * 4000)
    fp = fingerprint_request(base, ["fake/video-1", "fake/video-2"])

    def record(fingerprint: object) -> JobRecord:
        return JobRecord(key="k", provider="fake", model="video-1", fingerprint=fingerprint)

    same = fingerprint_request(base.model_copy(), ["fake/video-1", "fake/video-2"])
    assert compare_request(record(fp), record(same)) == []
    other = fingerprint_request(base.model_copy(update={"prompt": "a cat"}), ["fake/video-2"])
    assert compare_request(record(fp), record(other)) == ["prompt", "model"]
    # Data URLs are shortened in the journaled request; the fingerprint still sees the difference.
    image = base.model_copy(update={"image_url": "data:image/png;base64," + "A" * 3999 + "B"})
    assert compare_request(record(fp), record(fingerprint_request(image, ["fake/video-1", "fake/video-2"]))) == [
        "image_url"
    ]
    error = idempotency_mismatch("order-7", record(fp), record(other))
    assert error is not None
    assert str(error).startswith("idempotency key 'order-7' was used for a different request: prompt differs, model")
    assert idempotency_mismatch("order-7", record(fp), record(same)) is None


def test_targets_are_journaled_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert absolute_target("out/../v.mp4") == str(tmp_path / "v.mp4")
    assert absolute_target("~/v.mp4") == str(Path.home() / "v.mp4")
    assert absolute_target(None) is None


def test_an_uncreatable_journal_location_is_one_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigurationError) as info:
        open_store(str(blocker / "jobs.sqlite3"))
    text = str(info.value)
    assert str(blocker / "jobs.sqlite3") in text and "MEDIAROUTER_JOURNAL" in text and "\n" not in text
    with pytest.raises(ConfigurationError, match="is a directory"):
        open_store(str(tmp_path))


def test_leases_exclude_a_second_owner_until_released_or_expired(store: object) -> None:
    assert store.try_lease("job:1", "a", 60, now=1000.0) is None  # type: ignore[attr-defined]
    holder = store.try_lease("job:1", "b", 60, now=1001.0)  # type: ignore[attr-defined]
    assert holder is not None and holder.owner == "a"
    assert store.try_lease("job:1", "a", 60, now=1002.0) is None  # type: ignore[attr-defined]  # renewal
    assert store.try_lease("job:1", "b", 60, now=1063.0) is None  # type: ignore[attr-defined]  # a's expired
    store.release_lease("job:1", "a")  # type: ignore[attr-defined]  # not a's any more: no effect
    assert store.try_lease("job:1", "c", 60, now=1064.0) is not None  # type: ignore[attr-defined]
    store.release_lease("job:1", "b")  # type: ignore[attr-defined]
    assert store.try_lease("job:1", "c", 60, now=1065.0) is None  # type: ignore[attr-defined]


def test_a_writer_closed_after_its_pool_refuses_work_still_writes_what_it_owes(tmp_path: Path) -> None:
    """At interpreter exit `concurrent.futures` takes no more work: `close` then settles on the calling
    thread, so a write owed by a failed one still lands."""
    from mediarouter.journal_writer import JournalWriter

    store = SQLiteJobStore(tmp_path / "j.sqlite3")
    store.add(JobRecord(key="k1", provider="p", model="m", state=RecordState.PENDING))
    writer = JournalWriter(store, threaded=True)
    writer.later(store.update, "k1", error="queued")
    writer.owe("k1", state=RecordState.INTERRUPTED)
    pool = writer._pool()
    pool.shutdown(wait=True)  # as concurrent.futures' exit hook leaves it
    writer.close()
    record = store.get("k1")
    store.close()
    assert record is not None and record.state is RecordState.INTERRUPTED and record.error == "queued"
