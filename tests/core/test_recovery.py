"""Recovery: resume every row past failures, 410 marks gone, absolute targets, one resume per job,
and unknown submits (adopt / forget)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mediarouter_contracts.clock import FakeClock

from mediarouter import Conflict, InvalidRequest, NotFound, OutputGone
from mediarouter.cli import cli, load_plugin_commands
from mediarouter.jobs import Job, JobOutput, JobState, JobStatus
from mediarouter.journal import JobRecord, RecordState, SQLiteJobStore
from mediarouter.provider import Download
from mediarouter.recovery import adopt, forget, resume_all
from mediarouter.router import Router

from ..cli.fake_provider import registered_as_fake
from .fakes import VIDEO, ScriptedProvider
from .router_fakes import quiet_settings
from .test_journal_concurrency import hold_lease

T0 = datetime(2025, 1, 1, tzinfo=UTC)


class ByJob(ScriptedProvider):
    """Every job completes at once, except those whose id says otherwise: `-404` is unknown upstream
    (poll 404), `-410` lost its output (download 410)."""

    async def poll(self, job: Job) -> JobStatus:
        self.calls.append(f"poll:{job.id}")
        if job.id.endswith("-404"):
            raise NotFound("no such job", status_code=404)
        return JobStatus(
            job_id=job.id,
            state=JobState.COMPLETED,
            outputs=(JobOutput(index=0, url=f"https://fake.test/{job.id}"),),
            cost=self.cost,
        )

    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        self.calls.append(f"download:{job.id}")
        if job.id.endswith("-410"):
            return self._download(OutputGone("the output is no longer available", status_code=410), offset)
        return self._download(VIDEO, offset)


@asynccontextmanager
async def _ranged(offset: int) -> AsyncIterator[Download]:
    """VIDEO from `offset` on, as a server that honours the Range request (a 206) sends it."""

    async def chunks() -> AsyncIterator[bytes]:
        yield VIDEO[offset:]

    yield Download(chunks=chunks(), content_type="video/mp4", content_length=len(VIDEO) - offset, resumed_from=offset)


def row(job_id: str | None, state: RecordState, age_h: int, target: Path | str | None, **kw: Any) -> JobRecord:
    created = T0 - timedelta(hours=age_h)
    key = job_id or f"local-{age_h}"
    return JobRecord(
        key=key,
        job_id=job_id,
        provider="fake",
        model="video-1",
        state=state,
        created_at=created,
        updated_at=created,
        target=str(target) if target is not None else None,
        **kw,
    )


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SQLiteJobStore]:
    path = tmp_path / "jobs.sqlite3"
    monkeypatch.setenv("MEDIAROUTER_JOURNAL", str(path))
    store = SQLiteJobStore(path)
    yield store
    store.close()


@pytest.fixture
def provider() -> Iterator[ByJob]:
    """One shared ByJob, installed as the `fake` plugin (for the CLI) and returned (for its call log)."""
    instance = ByJob()
    with registered_as_fake(instance, "fake-recovery"):
        yield instance


def run(*args: str) -> Any:
    load_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def router(clock: FakeClock, journal: SQLiteJobStore, provider: ScriptedProvider) -> Router:
    return Router(providers={"fake": provider}, journal=journal, settings=quiet_settings(), clock=clock)


def four_rows(journal: SQLiteJobStore, out: Path) -> None:
    journal.add(row("job-old", RecordState.INTERRUPTED, 40, out / "old.mp4"))
    journal.add(row("job-404", RecordState.PENDING, 30, out / "404.mp4"))
    journal.add(row("job-410", RecordState.COMPLETED, 20, out / "410.mp4"))
    journal.add(row("job-new", RecordState.IN_PROGRESS, 10, out / "new.mp4"))
    journal.add(row(None, RecordState.UNKNOWN, 5, out / "unk.mp4", idempotency_key="order-9"))


def test_resume_all_goes_on_past_a_404_and_a_410_and_reports_every_row(
    journal: SQLiteJobStore, provider: ByJob, tmp_path: Path
) -> None:
    four_rows(journal, tmp_path)
    result = run("jobs", "resume", "--all", "-q")
    assert result.exit_code == 1, result.output  # some rows failed
    lines = result.stdout.strip().splitlines()
    assert [line.split("  ")[:2] for line in lines] == [
        ["job-old", "downloaded"],
        ["job-404", "failed"],
        ["job-410", "gone"],
        ["job-new", "downloaded"],
        ["(local-5)", "unknown"],
    ]
    assert "jobs adopt order-9 JOB_ID" in lines[4] and "jobs forget order-9 --yes" in lines[4]
    assert (tmp_path / "old.mp4").read_bytes() == VIDEO and (tmp_path / "new.mp4").read_bytes() == VIDEO
    assert "submit" not in provider.calls


async def test_a_410_marks_the_row_gone_and_a_gone_row_sends_nothing_again(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    four_rows(journal, tmp_path)
    provider = ByJob()
    async with router(clock, journal, provider) as host:
        reports = await resume_all(host)
        assert {r.job_id: r.outcome for r in reports if r.job_id} == {
            "job-old": "downloaded",
            "job-404": "failed",
            "job-410": "gone",
            "job-new": "downloaded",
        }
        assert journal.get("job-410").state is RecordState.GONE  # type: ignore[union-attr]
        provider.calls.clear()
        with pytest.raises(OutputGone, match="no longer available"):
            await host.resume("job-410")
    assert provider.calls == []
    assert [r.job_id for r in journal.list(states=[RecordState.GONE])] == ["job-410"]


def test_resume_without_output_writes_to_the_journaled_absolute_path_never_the_cwd(
    journal: SQLiteJobStore, provider: ByJob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    journal.add(row("job-abs", RecordState.INTERRUPTED, 2, tmp_path / "a" / "out.mp4"))
    journal.add(row("job-rel", RecordState.INTERRUPTED, 1, "rel.mp4"))  # journaled by an older version
    monkeypatch.chdir(elsewhere)
    done = run("jobs", "resume", "job-abs", "-q")
    assert done.exit_code == 0, done.output
    assert (tmp_path / "a" / "out.mp4").read_bytes() == VIDEO
    refused = run("jobs", "resume", "job-rel", "-q")
    assert refused.exit_code == 2
    assert "relative target 'rel.mp4'" in refused.stderr and "-o FILE" in refused.stderr
    assert list(elsewhere.iterdir()) == []
    assert "poll:job-rel" not in provider.calls


async def test_a_relative_output_is_journaled_absolute(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with router(clock, journal, ScriptedProvider(polls=["completed"])) as host:
        await host.generate("a dog", model="fake/video-1", duration=8, output="rel.mp4")
    assert journal.get("job-1").target == str(tmp_path / "rel.mp4")  # type: ignore[union-attr]


def test_a_second_resume_of_a_job_is_refused_while_another_process_holds_it(
    clock: FakeClock, journal: SQLiteJobStore, provider: ByJob, tmp_path: Path
) -> None:
    journal.add(row("job-1", RecordState.INTERRUPTED, 1, tmp_path / "o.mp4"))
    holder = hold_lease(Path(journal.path))

    async def resume() -> None:
        async with router(clock, journal, provider) as host:
            await host.resume("job-1")

    try:
        with pytest.raises(Conflict) as info:
            asyncio.run(resume())
        said = f"job job-1 is being polled and downloaded by another process (pid {holder.pid})"
        assert str(info.value).startswith(said)
        cli_run = run("jobs", "resume", "job-1", "-q")
        assert cli_run.exit_code != 0
        assert cli_run.stderr.count("\n") == 1 and f"pid {holder.pid}" in cli_run.stderr
        assert provider.calls == [] and not (tmp_path / "o.mp4").exists()
    finally:
        holder.kill()
        holder.wait(10)
    assert run("jobs", "resume", "job-1", "-q").exit_code == 0  # the killed holder blocks nobody
    assert (tmp_path / "o.mp4").read_bytes() == VIDEO


def test_an_unknown_submit_is_listed_as_maybe_billed_and_resume_all_says_what_to_do(
    journal: SQLiteJobStore, provider: ByJob, tmp_path: Path
) -> None:
    # What a kill -9 during the submit leaves: intent recorded, no answer, no job id.
    journal.add(row(None, RecordState.SUBMITTING, 1, tmp_path / "o.mp4", idempotency_key="order-5"))
    listing = run("jobs", "list")
    assert "submitting" in listing.stdout and "MAY BE BILLED" in listing.stdout and "order-5" in listing.stdout
    resumed = run("jobs", "resume", "--all", "-q")
    assert resumed.exit_code == 0
    assert "Nothing to resume" not in resumed.stdout
    assert "may be billed" in resumed.stdout and "jobs adopt order-5 JOB_ID" in resumed.stdout
    shown = json.loads(run("jobs", "resume", "--all", "--json").stdout)
    assert shown[0]["outcome"] == "unknown" and shown[0]["state"] == "submitting"


def test_forget_needs_confirmation_and_frees_the_key(journal: SQLiteJobStore, provider: ByJob) -> None:
    journal.add(row(None, RecordState.UNKNOWN, 1, None, idempotency_key="order-6"))
    refused = run("jobs", "forget", "order-6")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert journal.find_idempotent("order-6").state is RecordState.UNKNOWN  # type: ignore[union-attr]
    done = run("jobs", "forget", "order-6", "--yes")
    assert done.exit_code == 0, done.output
    assert journal.get("local-1").state is RecordState.FORGOTTEN  # type: ignore[union-attr]
    assert journal.claim(JobRecord(key="local-new", provider="fake", model="m", idempotency_key="order-6")) is None
    journal.add(row("job-9", RecordState.PENDING, 1, None))
    with pytest.raises(InvalidRequest, match="only unknown or submitting"):
        forget(journal, "job-9", confirm=True)  # a row with a job is never forgotten


def test_adopt_turns_an_unknown_submit_into_a_job_that_resume_finishes(
    journal: SQLiteJobStore, provider: ByJob, tmp_path: Path
) -> None:
    journal.add(row(None, RecordState.UNKNOWN, 1, tmp_path / "o.mp4", idempotency_key="order-7"))
    adopted = run("jobs", "adopt", "order-7", "gen-123")
    assert adopted.exit_code == 0, adopted.output
    record = journal.get("gen-123")
    assert record is not None and record.state is RecordState.PENDING and record.idempotency_key == "order-7"
    assert run("jobs", "resume", "gen-123", "-q").exit_code == 0
    assert (tmp_path / "o.mp4").read_bytes() == VIDEO
    with pytest.raises(InvalidRequest, match="already has job gen-123"):
        adopt(journal, "order-7", "gen-456")


# -- journaled outputs, cancel requests ------------------------------------------------------------


async def test_a_completed_row_is_downloaded_from_its_journaled_outputs_without_a_poll(
    clock: FakeClock, journal: SQLiteJobStore, provider: ByJob, tmp_path: Path
) -> None:
    routed = router(clock, journal, provider)
    """A backend may drop a finished job's record long before its files (fal keeps results an hour):
    resuming a completed row downloads what the journal holds, and polls only if that is refused."""
    outputs = [{"index": 0, "url": "https://cdn.fake.test/job-done.mp4"}]
    journal.add(row("job-done", RecordState.COMPLETED, 1, tmp_path / "done.mp4", outputs=outputs))
    result = await routed.resume("job-done")
    assert provider.calls == ["download:job-done"]
    assert result.files[0].path == tmp_path / "done.mp4" and (tmp_path / "done.mp4").read_bytes() == VIDEO


async def test_refused_journaled_outputs_fall_back_to_a_poll_for_fresh_ones(
    clock: FakeClock, journal: SQLiteJobStore, provider: ByJob, tmp_path: Path
) -> None:
    routed = router(clock, journal, provider)
    outputs = [{"index": 0, "url": "https://cdn.fake.test/stale.mp4"}]
    journal.add(row("job-stale", RecordState.INTERRUPTED, 1, tmp_path / "s.mp4", outputs=outputs))
    original = provider.open_download
    refusals = [NotFound("gone from the CDN", status_code=404)]

    def open_download(job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        if refusals:
            provider.calls.append(f"download:{job.id}")
            return provider._download(refusals.pop(), offset)
        return original(job, status, output, offset=offset)

    provider.open_download = open_download  # type: ignore[method-assign]
    await routed.resume("job-stale")
    assert provider.calls == ["download:job-stale", "poll:job-stale", "download:job-stale"]
    assert (tmp_path / "s.mp4").read_bytes() == VIDEO


async def test_a_cancel_request_leaves_the_row_resumable_until_the_backend_says_cancelled(
    clock: FakeClock, journal: SQLiteJobStore, provider: ByJob, tmp_path: Path
) -> None:
    routed = router(clock, journal, provider)
    journal.add(row("job-c", RecordState.IN_PROGRESS, 1, tmp_path / "c.mp4"))

    async def cancel(job: Job) -> None:
        provider.calls.append(f"cancel:{job.id}")

    provider.cancel = cancel  # type: ignore[method-assign]
    await routed.cancel("job-c")
    record = journal.get("job-c")
    assert record is not None and record.state is RecordState.IN_PROGRESS and record.state.resumable
    assert record.error == "cancel requested by the caller"


# -- a submit in flight is never forgotten or adopted ------------------------------------------------


def _submitting(journal: SQLiteJobStore, tmp_path: Path) -> None:
    """A keyed submit another task or process is sending right now: its row, and its live submit lease."""
    journal.add(row(None, RecordState.SUBMITTING, 0, tmp_path / "o.mp4", idempotency_key="order-8"))
    assert journal.try_lease("submit:local-0", "another-task", 3600) is None


def test_forget_refuses_a_submit_still_in_flight_so_its_key_cannot_pay_twice(
    journal: SQLiteJobStore, provider: ByJob, tmp_path: Path
) -> None:
    _submitting(journal, tmp_path)
    with pytest.raises(Conflict) as info:
        forget(journal, "order-8", confirm=True)
    assert "order-8" in str(info.value) and "in flight" in str(info.value)
    assert info.value.hint is not None and "wait" in info.value.hint and "jobs resume" in info.value.hint
    refused = run("jobs", "forget", "order-8", "--yes")
    assert refused.exit_code != 0 and "in flight" in refused.stderr
    record = journal.get("local-0")
    assert record is not None and record.state is RecordState.SUBMITTING  # the key is still held
    assert journal.claim(JobRecord(key="local-new", provider="fake", model="m", idempotency_key="order-8")) is not None
    journal.release_lease("submit:local-0", "another-task")  # the submitter died (or finished): now it may go
    assert forget(journal, "order-8", confirm=True).state is RecordState.FORGOTTEN


def test_adopt_refuses_a_submit_still_in_flight_and_a_job_another_task_is_finishing(
    journal: SQLiteJobStore, provider: ByJob, tmp_path: Path
) -> None:
    _submitting(journal, tmp_path)
    with pytest.raises(Conflict, match="in flight"):
        adopt(journal, "order-8", "gen-1")
    refused = run("jobs", "adopt", "order-8", "gen-1")
    assert refused.exit_code != 0 and "in flight" in refused.stderr
    assert journal.get("local-0").job_id is None  # type: ignore[union-attr]
    # An unknown row whose job (found on the dashboard) another task is already polling under its lease.
    journal.add(row(None, RecordState.UNKNOWN, 2, tmp_path / "u.mp4", idempotency_key="order-10"))
    assert journal.try_lease("job:gen-2", "another-task", 3600) is None
    with pytest.raises(Conflict) as info:
        adopt(journal, "order-10", "gen-2")
    assert "gen-2" in str(info.value) and info.value.hint is not None and "jobs resume gen-2" in info.value.hint
    assert journal.get("local-2").job_id is None  # type: ignore[union-attr]
    journal.release_lease("job:gen-2", "another-task")
    assert adopt(journal, "order-10", "gen-2").state is RecordState.PENDING


async def test_a_refused_journaled_url_keeps_the_part_file_for_the_fresh_one(
    clock: FakeClock, journal: SQLiteJobStore, provider: ByJob, tmp_path: Path
) -> None:
    """The bytes an interrupted download left are good: a stale URL refused (404) before any byte of its
    body says nothing about them, so the fresh URL continues them with a Range request."""
    routed = router(clock, journal, provider)
    outputs = [{"index": 0, "url": "https://cdn.fake.test/stale.mp4"}]
    journal.add(row("job-part", RecordState.INTERRUPTED, 1, tmp_path / "p.mp4", outputs=outputs))
    part = tmp_path / ".p.mp4.job-part-0.part"
    part.write_bytes(VIDEO[:1000])  # what the interrupted run left
    offsets: list[int] = []
    refusals = [NotFound("gone from the CDN", status_code=404)]

    def open_download(job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        offsets.append(offset)
        if refusals:
            return provider._download(refusals.pop(), offset)
        return _ranged(offset)

    provider.open_download = open_download  # type: ignore[method-assign]
    await routed.resume("job-part")
    assert offsets == [1000, 1000]
    assert (tmp_path / "p.mp4").read_bytes() == VIDEO and not part.exists()


class _ForgetsAtOnce(SQLiteJobStore):
    """A row forgotten in the instant between a keyed submit's intent row and its submit lease: each keyed
    row, once claimed, is written `forgotten` before the engine can take the lease. `jobs forget` itself
    now refuses a row whose submitter is alive (test_unkeyed_submits.py); an older version's forget, or a
    hand edit, does not."""

    def claim(self, record: JobRecord) -> JobRecord | None:
        held = super().claim(record)
        if held is None and record.idempotency_key is not None:
            self.update(record.key, state=RecordState.FORGOTTEN, error="forgotten by the user")
        return held


async def test_a_submit_whose_row_was_forgotten_before_its_lease_sends_nothing(
    clock: FakeClock, tmp_path: Path, provider: ByJob
) -> None:
    """forget freed the key (a rerun may submit under it): this submit must not also pay for a job."""
    journal = _ForgetsAtOnce(tmp_path / "race.sqlite3")
    async with router(clock, journal, provider) as routed:
        with pytest.raises(Conflict) as info:
            await routed.generate("a cat", model="fake/video-1", output=tmp_path / "c.mp4", idempotency_key="k-1")
    assert "nothing was sent" in str(info.value)
    assert not [c for c in provider.calls if c.startswith("submit")]
    rows = journal.list()
    assert [r.state for r in rows] == [RecordState.FORGOTTEN]
    journal.close()


# -- cancel asks the provider only for a job that may still be running ----------------------------------


class _Cancels(ByJob):
    async def cancel(self, job: Job) -> None:
        self.calls.append(f"cancel:{job.id}")


@pytest.mark.parametrize(
    ("state", "hint"),
    [
        (RecordState.DOWNLOADED, "jobs show job-c"),
        (RecordState.COMPLETED, "jobs resume job-c"),
        (RecordState.FAILED, "jobs show job-c"),
        (RecordState.CANCELLED, "jobs show job-c"),
    ],
)
async def test_cancel_refuses_a_finished_job_and_asks_the_provider_nothing(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path, state: RecordState, hint: str
) -> None:
    provider = _Cancels()
    journal.add(row("job-c", state, 1, tmp_path / "c.mp4"))
    async with router(clock, journal, provider) as routed:
        with pytest.raises(InvalidRequest) as info:
            await routed.cancel("job-c")
    assert f"is {state.value}" in str(info.value) and "nothing was sent" in str(info.value)
    assert info.value.hint is not None and hint in info.value.hint
    assert provider.calls == []
    after = journal.get("job-c")
    assert after is not None and after.state is state and after.error is None


@pytest.mark.parametrize("state", [RecordState.PENDING, RecordState.IN_PROGRESS, RecordState.INTERRUPTED])
async def test_cancel_asks_the_provider_for_a_job_that_may_still_run_and_says_it_was_asked(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path, state: RecordState
) -> None:
    provider = _Cancels()
    journal.add(row("job-c", state, 1, tmp_path / "c.mp4"))
    async with router(clock, journal, provider) as routed:
        await routed.cancel("job-c")
    assert provider.calls == ["cancel:job-c"]
    after = journal.get("job-c")
    assert after is not None and after.state is state and after.error == "cancel requested by the caller"
