"""A caller repeating an idempotency key while another process is still submitting it is told to wait,
never to forget the row (forgetting it and retrying could pay twice)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import Conflict, JobTimeout, VideoRequest
from mediarouter.cli.errors import BUSY, exit_code_for
from mediarouter.journal import (
    JobRecord,
    MemoryJobStore,
    RecordState,
    SQLiteJobStore,
    fingerprint_request,
    submit_lease_name,
)
from mediarouter.provider import Job, JobStatus
from mediarouter.router import Router

from .fakes import ScriptedProvider
from .router_fakes import quiet_settings


async def test_a_key_being_submitted_elsewhere_says_wait_and_a_dead_submit_says_adopt_or_forget(
    tmp_path: Path,
) -> None:
    journal = SQLiteJobStore(tmp_path / "jobs.sqlite3")  # on disk: the advice names the `jobs` commands
    fingerprint = fingerprint_request(VideoRequest.build(prompt="a dog"), ["fake/video-1"])
    row = JobRecord(key="local-1", provider="fake", model="video-1", idempotency_key="order-7", fingerprint=fingerprint)
    journal.add(row)
    journal.try_lease(submit_lease_name(row.key), "elsewhere:1:x", 60.0)
    provider = ScriptedProvider()
    router = Router(providers={"fake": provider}, journal=journal, settings=quiet_settings(), clock=FakeClock())
    with pytest.raises(Conflict) as busy:
        await router.generate("a dog", model="fake/video-1", output=tmp_path / "o.mp4", idempotency_key="order-7")
    assert "being submitted right now by another process" in str(busy.value)
    assert "forget" not in str(busy.value)

    journal.release_lease(submit_lease_name(row.key), "elsewhere:1:x")  # its process died mid-submit
    with pytest.raises(Conflict) as dead:
        await router.generate("a dog", model="fake/video-1", output=tmp_path / "o.mp4", idempotency_key="order-7")
    assert "jobs adopt" in str(dead.value) and "jobs forget" in str(dead.value)
    assert provider.calls == []
    # The CLI: the dead submit's key exits 9 (outcome unknown, as the submit did); one still in flight exits 1.
    assert (exit_code_for(dead.value), exit_code_for(busy.value)) == (9, BUSY)
    assert journal.get("local-1").state is RecordState.SUBMITTING  # type: ignore[union-attr]


async def test_the_engine_holds_the_submit_lease_only_while_submitting(tmp_path: Path) -> None:
    journal = MemoryJobStore()
    router = Router(
        providers={"fake": ScriptedProvider(polls=["completed"])}, journal=journal, settings=quiet_settings(),
        clock=FakeClock(),
    )  # fmt: skip
    result = await router.generate("a dog", model="fake/video-1", output=tmp_path / "o.mp4", idempotency_key="k")
    record = journal.get(result.job_id)
    assert record is not None
    assert journal.try_lease(submit_lease_name(record.key), "me", 1.0) is None  # released after the submit


async def test_repeating_the_key_of_an_accepted_job_resumes_it_on_the_calls_poll_interval_and_timeout(
    tmp_path: Path,
) -> None:
    journal = SQLiteJobStore(tmp_path / "jobs.sqlite3")  # on disk: the advice names the `jobs` commands
    fingerprint = fingerprint_request(VideoRequest.build(prompt="a dog"), ["fake/video-1"])
    journal.add(
        JobRecord(
            key="job-1", provider="fake", model="video-1", job_id="job-1", idempotency_key="order-7",
            fingerprint=fingerprint, state=RecordState.INTERRUPTED,
        )
    )  # fmt: skip
    clock = FakeClock()
    polled_at: list[float] = []

    class NeverDone(ScriptedProvider):
        async def poll(self, job: Job) -> JobStatus:
            polled_at.append(clock.monotonic())
            return await super().poll(job)

    provider = NeverDone(polls=[])
    settings = quiet_settings(poll_growth=1.0)  # a steady cadence, so every gap is the interval asked for
    router = Router(providers={"fake": provider}, journal=journal, settings=settings, clock=clock)
    start = clock.monotonic()
    with pytest.raises(JobTimeout):
        await router.generate(
            "a dog", model="fake/video-1", output=tmp_path / "o.mp4", idempotency_key="order-7",
            poll_interval=2.0, timeout=30.0,
        )  # fmt: skip
    assert "submit" not in provider.calls
    assert clock.monotonic() - start == pytest.approx(30.0)  # the call's timeout, not the default 600 s
    gaps = [b - a for a, b in itertools.pairwise(polled_at)]
    assert len(gaps) >= 10 and all(gap == pytest.approx(2.0) for gap in gaps)  # its interval, not 10 s
