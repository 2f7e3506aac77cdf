"""The DBOS batch's budget at enqueue: a line done in an earlier run counts once (what it cost), and lines
an earlier run enqueued that are still running hold their estimate."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter.durable import DurableSettings
from mediarouter.durable.runner import run_durable_batch
from mediarouter.journal import MemoryJobStore

from ..core.router_fakes import Fleet, Script
from ..durable.conftest import settings

__all__ = ["settings"]  # the fixture, used by name

FAST = 0.02


@pytest.fixture
def fleet(clock: FakeClock) -> Fleet:
    fleet = Fleet(clock)
    fleet.script("p1/m1", Script(cost=Decimal("0.40")))  # 4 s x $0.10: cost and estimate agree
    return fleet


def lines(*numbers: int) -> list[str]:
    return [json.dumps({"prompt": f"video {n}", "model": "p1/m1", "duration": 4}) for n in numbers]


async def test_a_line_done_in_an_earlier_run_counts_once_against_the_budget(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    async with fleet.router(journal=MemoryJobStore()) as router:
        first = await run_durable_batch(router, lines(1), output_dir=tmp_path, settings=settings, poll_interval=FAST)
        assert first.ok
        # $0.40 spent of $0.80: line 2 ($0.40) fits.
        report = await run_durable_batch(
            router, lines(1, 2), output_dir=tmp_path, settings=settings, max_total_cost="0.80", poll_interval=FAST
        )
    assert report.ok and report.totals.skipped == 1
    assert report.totals.spent == Decimal("0.80")
    assert fleet.submits() == ["p1/m1", "p1/m1"]


async def test_lines_still_running_from_an_earlier_run_hold_their_estimate(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    async with fleet.router(journal=MemoryJobStore()) as router:
        # Enqueued only: lines 1 and 2 reserve $0.80 of $1.00, line 3 does not fit.
        enqueued = await run_durable_batch(
            router, lines(1, 2, 3), output_dir=tmp_path, settings=settings, max_total_cost="1.00", wait=False
        )
        assert enqueued.totals.running == 2
        report = await run_durable_batch(
            router, lines(1, 2, 3), output_dir=tmp_path, settings=settings, max_total_cost="1.00", poll_interval=FAST
        )
    by_line = {r.line: r for r in report.results}
    assert [by_line[n].status for n in (1, 2, 3)] == ["done", "done", "failed"]
    assert by_line[3].error_type == "BudgetExceeded"
    assert fleet.submits() == ["p1/m1", "p1/m1"]


async def test_a_durable_line_whose_output_is_the_results_file_is_invalid_and_nothing_else_is_lost(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    texts = [json.dumps({"prompt": "a cat", "model": "p1/m1", "duration": 4, "output": "results.jsonl"}), *lines(2)]
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_durable_batch(router, texts, output_dir=tmp_path, settings=settings, poll_interval=FAST)
    assert [b.number for b in report.invalid] == [1] and "results file" in report.invalid[0].message
    records = [json.loads(t) for t in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sorted(r["status"] for r in records) == ["done", "invalid"]
    assert len(fleet.submits()) == 1
