"""Job engine rules, on a fake clock and a scripted provider."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import (
    Capabilities,
    CapabilityMismatch,
    InsufficientCredits,
    JobCancelled,
    JobExpired,
    JobFailed,
    JobTimeout,
    NotFound,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
    SubmitUnknown,
    VideoRequest,
)
from mediarouter.engine import JobEngine
from mediarouter.events import Event
from mediarouter.jobs import Job, JobStatus
from mediarouter.journal import JobRecord, RecordState, SQLiteJobStore

from .fakes import VIDEO, ScriptedProvider


def engine(clock: FakeClock, **kwargs: object) -> JobEngine:
    kwargs.setdefault("poll_interval", 10.0)
    return JobEngine(clock=clock, **kwargs)  # type: ignore[arg-type]


REQ = VideoRequest(prompt="a dog", duration=8)


async def test_completed_job_saves_exact_bytes_and_reports_cost(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=["pending", "in_progress", "completed"])
    events: list[Event] = []
    result = await engine(clock, listeners=[events.append]).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert result.files[0].path == tmp_path / "o.mp4"
    assert (tmp_path / "o.mp4").read_bytes() == VIDEO
    assert result.files[0].size == len(VIDEO)
    assert result.cost is not None and str(result.cost) == "1.60"
    assert str(result.estimated_cost) == "3.20"
    assert result.job_id == "job-1"
    assert result.polls == 3
    assert provider.calls.count("submit") == 1
    names = [e.name for e in events]
    assert names[:2] == ["job.submitting", "job.submitted"]
    changes = [e.data["status"] for e in events if e.name == "job.status_changed"]
    assert changes == ["pending", "in_progress", "completed"]
    assert not list(tmp_path.glob(".*part"))


async def test_poll_interval_grows_and_is_capped(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=["in_progress"] * 6 + ["completed"])
    eng = engine(clock, poll_interval=10.0, poll_growth=2.0, max_poll_interval=30.0)
    await eng.run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert clock.sleeps == [10.0, 20.0, 30.0, 30.0, 30.0, 30.0, 30.0]


async def test_poll_errors_are_retried_with_backoff_and_retry_after(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(
        polls=[ProviderUnavailable("boom", status_code=500), RateLimited("slow down", retry_after=7.0), "completed"]
    )
    result = await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert result.files[0].size == len(VIDEO)
    # first poll after the interval, then backoff 1 s (first retry), then the server's Retry-After.
    assert clock.sleeps == [10.0, 1.0, 7.0]
    assert provider.calls.count("submit") == 1


async def test_poll_errors_give_up_after_the_retry_budget_with_job_id(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=[ProviderUnavailable("down", status_code=503)] * 10)
    with pytest.raises(ProviderUnavailable) as info:
        await engine(clock, poll_retries=2).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert info.value.job_id == "job-1"
    assert provider.calls.count("poll") == 3
    assert provider.calls.count("submit") == 1


async def test_non_retryable_poll_error_raises_at_once(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=[NotFound("no such job", status_code=404)])
    with pytest.raises(NotFound) as info:
        await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert info.value.job_id == "job-1"
    assert provider.calls == ["submit", "poll"]


async def test_submit_429_is_retried_honouring_retry_after(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(submit=[RateLimited("busy", retry_after=3.0)], polls=["completed"])
    await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert provider.calls.count("submit") == 2
    assert clock.sleeps[0] == 3.0


async def test_submit_connect_failure_is_retried_but_a_sent_5xx_is_not(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(submit=[ProviderUnavailable("refused", sent=False)], polls=["completed"])
    await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "a.mp4")
    assert provider.calls.count("submit") == 2

    provider = ScriptedProvider(submit=[ProviderUnavailable("500", status_code=500, sent=True)])
    with pytest.raises(SubmitUnknown):
        await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "b.mp4")
    assert provider.calls == ["submit"]


async def test_an_unknown_submit_names_its_row_and_the_commands_that_settle_it(
    clock: FakeClock, tmp_path: Path
) -> None:
    journal = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    provider = ScriptedProvider(submit=[ProviderUnavailable("500", status_code=500, sent=True)])
    with pytest.raises(SubmitUnknown) as info:
        await engine(clock, journal=journal).run(provider, "video-1", REQ, output=tmp_path / "b.mp4")
    [row] = journal.list()
    assert row.state is RecordState.UNKNOWN
    hint = info.value.hint or ""
    assert f"jobs adopt {row.key} JOB_ID" in hint and f"jobs forget {row.key} --yes" in hint  # as `forget` wants
    journal.close()


async def test_submit_402_is_not_retried(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(submit=[InsufficientCredits("no money", status_code=402)])
    with pytest.raises(InsufficientCredits) as info:
        await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert provider.calls == ["submit"]
    assert info.value.provider == "fake" and info.value.model == "video-1"


async def test_deadline_raises_job_timeout_at_the_right_time_with_job_id(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=["in_progress"] * 1000)
    start = clock.monotonic()
    with pytest.raises(JobTimeout) as info:
        await engine(clock, timeout=100.0, poll_growth=1.0).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert clock.monotonic() - start == pytest.approx(100.0)
    assert info.value.job_id == "job-1"
    assert "job-1" in str(info.value)
    calls = len(provider.calls)
    await asyncio.sleep(0)
    assert len(provider.calls) == calls
    assert provider.calls.count("poll") == 9  # polls at 10..90 s; none at or after the deadline
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("ended", [RecordState.FAILED, RecordState.CANCELLED, RecordState.EXPIRED])
async def test_a_call_that_times_out_keeps_the_end_another_writer_recorded_meanwhile(
    clock: FakeClock, tmp_path: Path, ended: RecordState
) -> None:
    """A webhook delivery in another process records the job's end while this call still waits (its polls
    see the job running, e.g. a lagging status endpoint); the timeout must not put `interrupted` over it."""
    journal = SQLiteJobStore(tmp_path / "jobs.sqlite3")

    class EndedElsewhere(ScriptedProvider):
        async def poll(self, job: Job) -> JobStatus:
            if len(self.calls) == 3:
                journal.update(job.id, state=ended, error="ended upstream (delivered)")
            return await super().poll(job)

    provider = EndedElsewhere(polls=["in_progress"] * 1000)
    with pytest.raises(JobTimeout):
        await engine(clock, timeout=100.0, journal=journal).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    record = journal.get("job-1")
    assert record is not None and record.state is ended and record.error == "ended upstream (delivered)"

    provider = ScriptedProvider(polls=["in_progress"] * 1000)  # nobody else wrote: resumable, as before
    provider.submit_script = [Job(id="job-2", provider="fake", model="video-1")]
    with pytest.raises(JobTimeout):
        await engine(clock, timeout=100.0, journal=journal).run(provider, "video-1", REQ, output=tmp_path / "p.mp4")
    record = journal.get("job-2")
    assert record is not None and record.state is RecordState.INTERRUPTED
    journal.close()


@pytest.mark.parametrize(
    ("state", "error"), [("failed", JobFailed), ("cancelled", JobCancelled), ("expired", JobExpired)]
)
async def test_terminal_states_raise_matching_error_with_server_message(
    clock: FakeClock, tmp_path: Path, state: str, error: type[Exception]
) -> None:
    provider = ScriptedProvider(polls=["pending", state])
    with pytest.raises(error) as info:
        await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert info.value.server_message == "the provider said no"  # type: ignore[attr-defined]
    assert "the provider said no" in str(info.value)
    assert info.value.job_id == "job-1"  # type: ignore[attr-defined]
    assert provider.calls.count("submit") == 1
    assert not any(c.startswith("download") for c in provider.calls)


async def test_unknown_status_is_treated_as_still_running(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=["unknown", "completed"])
    result = await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert result.polls == 2


async def test_capability_mismatch_is_found_before_any_request(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider()
    with pytest.raises(CapabilityMismatch) as info:
        await engine(clock).run(provider, "video-1", VideoRequest(prompt="x", duration=7), output=tmp_path / "o.mp4")
    assert provider.calls == []
    assert info.value.field == "duration"
    assert info.value.supported == [4, 6, 8]
    assert "4s, 6s, 8s" in str(info.value)


async def test_truncated_download_is_retried_and_text_bodies_are_refused(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=["completed"], downloads=[ProviderUnavailable("reset"), VIDEO])
    result = await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert (tmp_path / "o.mp4").read_bytes() == VIDEO
    assert [c for c in provider.calls if c.startswith("download")] == ["download:0:0", "download:0:0"]
    assert result.files[0].sha256 is not None

    provider = ScriptedProvider(polls=["completed"], downloads=[b'{"error": "nope"}'] * 10)
    with pytest.raises(ProtocolError) as info:
        await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "p.mp4")
    assert info.value.job_id == "job-1"
    assert not (tmp_path / "p.mp4").exists()
    assert not list(tmp_path.glob(".p.mp4*"))


async def test_empty_download_is_a_protocol_error(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=["completed"], downloads=[b""] * 10, content_length=False)
    with pytest.raises(ProtocolError, match="empty"):
        await engine(clock, download_retries=0).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()


async def test_several_outputs_are_all_saved(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=["completed"], outputs=3)
    result = await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert [f.path.name for f in result.files if f.path] == ["o.mp4", "o-1.mp4", "o-2.mp4"]


async def test_a_plugin_bug_becomes_protocol_error_keeping_the_job_id(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=[KeyError("status")] * 10)  # type: ignore[list-item]
    with pytest.raises(ProtocolError) as info:
        await engine(clock, poll_retries=0).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert info.value.job_id == "job-1"
    assert info.value.details["unexpected"] is True


async def test_cancelling_while_polling_leaves_nothing_behind(clock: FakeClock, tmp_path: Path) -> None:
    polling = asyncio.Event()

    class HangingProvider(ScriptedProvider):
        async def poll(self, job):  # type: ignore[no-untyped-def]
            self.calls.append("poll")
            polling.set()
            await asyncio.Event().wait()  # a poll that never answers

    provider = HangingProvider()
    task = asyncio.create_task(engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4"))
    await polling.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert provider.calls.count("submit") == 1
    assert list(tmp_path.iterdir()) == []


async def test_no_download_without_outputs_is_a_protocol_error(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=["completed"], outputs=0)
    with pytest.raises(ProtocolError, match="no output"):
        await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")


def test_engine_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        JobEngine(poll_interval=0)
    with pytest.raises(ValueError, match="timeout"):
        JobEngine(timeout=-1)


async def test_null_capabilities_never_block(clock: FakeClock, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=["completed"], capabilities=Capabilities())
    request = VideoRequest(prompt="x", duration=7, resolution="1080p", seed=3, generate_audio=True)
    result = await engine(clock).run(provider, "video-1", request, output=tmp_path / "o.mp4")
    assert result.estimated_cost is None


async def test_a_416_on_a_resumed_download_starts_the_output_over(clock: FakeClock, tmp_path: Path) -> None:
    from mediarouter import InvalidRequest

    cut = (VIDEO[:5000], len(VIDEO))  # the connection drops after 5000 bytes
    provider = ScriptedProvider(
        polls=["completed"], downloads=[cut, InvalidRequest("range not satisfiable", status_code=416), VIDEO]
    )
    result = await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert result.files[0].path.read_bytes() == VIDEO  # type: ignore[union-attr]
    downloads = [c for c in provider.calls if c.startswith("download")]
    assert downloads == ["download:0:0", "download:0:5000", "download:0:0"]


async def test_a_plugin_bug_while_downloading_becomes_protocol_error_keeping_the_job_id(
    clock: FakeClock, tmp_path: Path
) -> None:
    provider = ScriptedProvider(polls=["completed"], downloads=[KeyError("url")] * 5)
    with pytest.raises(ProtocolError) as info:
        await engine(clock).run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert info.value.job_id == "job-1"
    assert info.value.details["unexpected"] is True
    assert not (tmp_path / "o.mp4").exists()


async def test_a_cancel_while_downloaded_is_written_leaves_the_row_downloaded(clock: FakeClock, tmp_path: Path) -> None:
    """The video is saved; a cancel that lands while the journal records it must not turn the row back
    into `interrupted` (a resume would then download, and maybe pay for fetching, it again)."""
    entered, release = threading.Event(), threading.Event()

    class SlowStore(SQLiteJobStore):
        def update(self, key: str, **fields: Any) -> JobRecord:
            if fields.get("state") is RecordState.DOWNLOADED:
                entered.set()
                release.wait(30)  # a guard against a hang, not a timing
            return super().update(key, **fields)

    store = SlowStore(tmp_path / "jobs.sqlite3")
    provider = ScriptedProvider(polls=["completed"])
    task = asyncio.create_task(engine(clock, journal=store).run(provider, "video-1", REQ, output=tmp_path / "o.mp4"))
    await asyncio.to_thread(entered.wait, 30)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = store.get("job-1")
    assert record is not None and record.state is RecordState.DOWNLOADED
    assert record.files[0]["path"] == str(tmp_path / "o.mp4") and (tmp_path / "o.mp4").read_bytes() == VIDEO
    store.close()


async def test_a_multi_output_job_cancelled_mid_download_journals_the_files_already_saved(
    clock: FakeClock, tmp_path: Path
) -> None:
    """Output 0 is saved when a cancel lands during output 1: the interrupted row still lists it."""
    second = asyncio.Event()

    class StallsOnTheSecond(ScriptedProvider):
        def open_download(self, job, status, output, *, offset=0):  # type: ignore[no-untyped-def]
            if output.index == 1:
                return self._stall()
            return super().open_download(job, status, output, offset=offset)

        @contextlib.asynccontextmanager
        async def _stall(self):  # type: ignore[no-untyped-def]
            second.set()
            await asyncio.Event().wait()  # the CDN goes quiet
            yield

    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    provider = StallsOnTheSecond(polls=["completed"], outputs=2)
    task = asyncio.create_task(engine(clock, journal=store).run(provider, "video-1", REQ, output=tmp_path / "o.mp4"))
    await second.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = store.get("job-1")
    assert record is not None and record.state is RecordState.INTERRUPTED
    assert [f["path"] for f in record.files] == [str(tmp_path / "o.mp4")]
    assert (tmp_path / "o.mp4").read_bytes() == VIDEO
    store.close()
