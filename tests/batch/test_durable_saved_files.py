"""The DBOS batch's done lines follow the local batch's rule: a line whose file is no longer the video its
journal row recorded is run again (a new attempt, which resumes the journaled job: nothing is submitted
twice), whether the results file or only the finished workflow says it was done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter.batch import read_results
from mediarouter.durable import DurableSettings
from mediarouter.durable.runner import run_durable_batch
from mediarouter.journal import MemoryJobStore

from ..core.router_fakes import Fleet
from ..durable.conftest import settings

__all__ = ["settings"]  # the fixture, used by name
from .test_batch_saved_files import OwnVideos, video_of

FAST = 0.02


@pytest.fixture
def fleet(clock: FakeClock) -> Fleet:
    fleet = Fleet(clock)
    fleet.providers["p1"] = OwnVideos("p1", clock=clock, log=fleet.log)
    return fleet


LINES = [json.dumps({"prompt": "a dog", "model": "p1/m1", "duration": 4, "output": "dog.mp4"})]


@pytest.mark.parametrize("results_kept", [True, False], ids=["results file", "workflow only"])
async def test_a_durable_line_whose_file_was_damaged_is_downloaded_again_not_submitted(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path, results_kept: bool
) -> None:
    out = tmp_path / "videos"
    async with fleet.router(journal=MemoryJobStore()) as router:
        first = await run_durable_batch(router, LINES, output_dir=out, settings=settings, poll_interval=FAST)
        assert first.ok
        [done] = first.results
        assert done.job_id is not None and done.file == str(out / "dog.mp4")
        (out / "dog.mp4").write_bytes(b"garbage\n")
        if not results_kept:  # only the finished workflow says the line was done
            (out / "results.jsonl").unlink()
        rerun = await run_durable_batch(router, LINES, output_dir=out, settings=settings, poll_interval=FAST)
    assert rerun.ok and rerun.totals.skipped == 0
    assert (out / "dog.mp4").read_bytes() == video_of(done.job_id)
    assert fleet.submits() == ["p1/m1"]
    [record] = read_results(out / "results.jsonl").values()
    assert record["status"] == "done" and record["job_id"] == done.job_id and record["file"] == done.file
