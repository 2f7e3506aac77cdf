"""The workflow's steps run on their own (as a recovered step does): a poll step never moves a row back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import VideoRequest
from mediarouter.durable import workflows
from mediarouter.journal import MemoryJobStore, RecordState

from ..core.router_fakes import HANG, Fleet, Script
from ..webhooks.helpers import RacingStore


@pytest.fixture
def fleet(clock: FakeClock) -> Fleet:
    return Fleet(clock)


@pytest.fixture(autouse=True)
def unbind() -> Iterator[None]:
    yield
    workflows.bind_router(None)


@pytest.mark.parametrize("moved_to", [RecordState.DOWNLOADED, RecordState.COMPLETED])
async def test_a_poll_racing_a_resume_that_finished_the_job_leaves_the_row_finished(
    fleet: Fleet, moved_to: RecordState, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet.script("p1/m1", Script(polls=[HANG]))  # the poll lags: it still says in_progress
    journal = MemoryJobStore()
    async with fleet.router(journal=journal) as router:
        record = await router.submit(VideoRequest.build(prompt="a", duration=4), idempotency_key="k1", model="p1/m1")
        job_id = record.job_id or ""
        files = [{"path": "/videos/a.mp4", "size": 3, "sha256": "x"}]
        # `jobs resume` (or a webhook) finishes the row between the step's read and its write.
        racing = RacingStore(journal, state=moved_to, files=files)
        monkeypatch.setattr(router, "require_journal", lambda: racing)
        workflows.bind_router(router)
        polled = await workflows.poll_step(job_id)
    row = journal.get(job_id)
    assert row is not None and row.state is moved_to and row.files == files
    assert polled["state"] == "completed" and fleet.submits() == ["p1/m1"]


async def test_a_poll_of_a_row_whose_output_is_gone_ends_the_line_without_polling(fleet: Fleet) -> None:
    journal = MemoryJobStore()
    async with fleet.router(journal=journal) as router:
        record = await router.submit(VideoRequest.build(prompt="a", duration=4), idempotency_key="k1", model="p1/m1")
        job_id = record.job_id or ""
        journal.update(job_id, state=RecordState.GONE, error="410 gone")
        workflows.bind_router(router)
        polled = await workflows.poll_step(job_id)
    assert polled["state"] == "failed" and polled["failed"]["error_type"] == "OutputGone"
    assert fleet.providers["p1"]._jobs[job_id] == ["in_progress", "completed"]  # never polled
    assert journal.get(job_id).state is RecordState.GONE  # type: ignore[union-attr]
