"""A webhook's `failed` (or `cancelled`, `expired`) is a hint; the provider's poll is the truth. A delivery
that the polls contradict (the job goes on and completes) never strands the running, billed job as
`failed`: the waiting engine downloads it, a call that timed out leaves it resumable, and the row keeps no
stale error once the video is saved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import JobTimeout, VideoRequest
from mediarouter.engine import JobEngine
from mediarouter.jobs import Job
from mediarouter.journal import RecordState, SQLiteJobStore
from mediarouter.webhooks import Delivery, record_delivery
from tests.core.fakes import ScriptedProvider

from .helpers import envelope

REQ = VideoRequest(prompt="a dog", duration=8)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SQLiteJobStore]:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    yield store
    store.close()


def wrong_failure_at(clock: FakeClock, journal: SQLiteJobStore, sleep: int) -> None:
    """A signed `failed` delivery for job-1, recorded (by the receiver) while the engine sleeps its n-th sleep."""

    def deliver(n: int, _: float) -> None:
        if n == sleep:
            failed = Delivery.from_envelope(envelope("job-1", "failed", error="webhook says failed"))
            assert record_delivery(journal, failed, provider="fake") is True

    clock.on_sleep = deliver


async def test_a_failed_delivery_the_polls_contradict_does_not_stop_the_download(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    provider = ScriptedProvider(polls=["in_progress", "in_progress", "in_progress", "completed"])
    wrong_failure_at(clock, journal, 2)
    result = await JobEngine(clock=clock, poll_interval=10.0, journal=journal).run(
        provider, "video-1", REQ, output=tmp_path / "o.mp4"
    )
    assert result.files[0].path == tmp_path / "o.mp4" and (tmp_path / "o.mp4").stat().st_size > 0
    row = journal.get("job-1")
    assert row is not None and row.state is RecordState.DOWNLOADED and row.reported is None
    assert row.cost == provider.cost  # the poll's, not a delivery's


async def test_a_call_that_times_out_after_a_failed_delivery_leaves_the_job_resumable(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    provider = ScriptedProvider(polls=["in_progress"] * 50)
    wrong_failure_at(clock, journal, 1)
    engine = JobEngine(clock=clock, poll_interval=10.0, journal=journal, timeout=45.0)
    with pytest.raises(JobTimeout):
        await engine.run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    row = journal.get("job-1")
    assert row is not None and row.state is RecordState.INTERRUPTED  # not `failed`: nothing confirmed it

    provider.poll_script = ["completed"]  # the job went on upstream and completed
    clock.on_sleep = None
    job = Job(id="job-1", provider="fake", model="video-1")
    result = await engine.complete(provider, job, output=tmp_path / "o.mp4")
    assert result.files[0].path == tmp_path / "o.mp4"
    row = journal.get("job-1")
    assert row is not None and row.state is RecordState.DOWNLOADED and row.reported is None
    assert provider.calls.count("submit") == 1


async def test_a_failed_delivery_a_poll_confirms_ends_the_job_failed(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    from mediarouter import JobFailed

    provider = ScriptedProvider(polls=["in_progress", "in_progress", "failed"])
    wrong_failure_at(clock, journal, 1)
    with pytest.raises(JobFailed):
        await JobEngine(clock=clock, poll_interval=10.0, journal=journal).run(
            provider, "video-1", REQ, output=tmp_path / "o.mp4"
        )
    row = journal.get("job-1")
    assert row is not None and row.state is RecordState.FAILED


def test_jobs_list_and_show_say_a_webhook_reported_an_end_no_poll_confirmed(
    journal: SQLiteJobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediarouter.journal import JobRecord
    from tests.cli.fake_provider import invoke

    journal.add(JobRecord(key="job-1", job_id="job-1", provider="fake", model="video-1", state=RecordState.IN_PROGRESS))
    failed = Delivery.from_envelope(envelope("job-1", "failed", error="policy"))
    assert record_delivery(journal, failed, provider="fake") is True
    monkeypatch.setenv("MEDIAROUTER_JOURNAL", str(tmp_path / "jobs.sqlite3"))
    listed = invoke("jobs", "list")
    assert listed.exit_code == 0 and "in_progress" in listed.output
    assert "webhook reported an end: unconfirmed" in listed.output
    shown = invoke("jobs", "show", "job-1")
    assert "reported: a webhook reported the job failed (policy); not yet confirmed by a poll" in shown.output
