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


@pytest.mark.parametrize(
    ("details", "code"),
    [
        ({"ambiguous_submit": True}, 9),  # a key held by a submit of unknown outcome: it may have billed
        ({"lease": "job:j1", "holder_pid": 7, "holder_host": "h"}, 11),  # another process has the job
        ({}, 1),
    ],
)
def test_a_durable_lines_conflict_keeps_what_decides_its_exit_code_and_money(
    details: dict[str, object], code: int
) -> None:
    """A step's error crosses DBOS as a dict: the details that make exit code 9 or 11 (and keep a busy line out of
    "may have been billed") survive it, as in the local batch."""
    from mediarouter import Conflict
    from mediarouter.batch import BatchLine
    from mediarouter.cli.errors import exit_code_for
    from mediarouter.durable.runner import line_result

    error = workflows._error(Conflict("held", job_id="j1", details={**details, "noise": object()}))
    line = BatchLine(number=1, key="k", request=VideoRequest(prompt="a dog"), model=None, output="o.mp4", provider="p")
    result = line_result({"status": "failed", **error}, line)
    assert result.exception is not None and exit_code_for(result.exception) == code
    assert result.busy_elsewhere is (code == 11)
    assert "noise" not in result.exception.details
