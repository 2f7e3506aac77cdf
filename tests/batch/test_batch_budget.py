"""The batch budget under failover: the router's own max_cost still caps each line, a line reserves the
dearest candidate it may fail over to, spending counts the candidate that ran, and a failed line whose
job may still bill counts its estimate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import Capabilities, OutputGone, ProviderUnavailable, RateLimited, VideoRequest
from mediarouter.batch import run_batch
from mediarouter.journal import JobRecord, MemoryJobStore, RecordState, fingerprint_request

from ..core.router_fakes import HANG, Fleet, Script, quiet_settings

CHEAP = Capabilities(durations=(4,), price_per_second=Decimal("0.10"))  # $0.40 for 4 s
DEAR = Capabilities(durations=(4,), price_per_second=Decimal("0.20"))  # $0.80 for 4 s
FAILS_OVER = ["p1/m1", "p2/dear"]


@pytest.fixture
def fleet(clock: FakeClock) -> Fleet:
    fleet = Fleet(clock, {"p1": {"m1": CHEAP, "m2": CHEAP}, "p2": {"dear": DEAR}})
    for ref, cost in [("p1/m1", "0.40"), ("p1/m2", "0.40"), ("p2/dear", "0.80")]:
        fleet.script(ref, Script(cost=Decimal(cost)))  # each reports what it was estimated at
    return fleet


def jsonl(*objects: dict[str, object]) -> list[str]:
    return [json.dumps(o) for o in objects]


def line(n: int, model: str | list[str], **extra: object) -> dict[str, object]:
    return {"prompt": f"video {n}", "model": model, "duration": 4, **extra}


async def test_the_routers_max_cost_still_caps_each_line_under_a_batch_budget(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/m1", Script(polls=["failed"]))
    async with fleet.router(journal=MemoryJobStore(), max_cost="0.50") as router:
        report = await run_batch(router, jsonl(line(1, FAILS_OVER)), output_dir=tmp_path, max_total_cost="10")
    assert "p2/dear" not in fleet.submits()  # $0.80 is over the router's $0.50 per call
    assert [r.error_type for r in report.failures] == ["AllCandidatesFailed"]


async def test_spending_counts_the_estimate_of_the_candidate_that_ran(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/m1", Script(polls=["failed"]))
    fleet.script("p2/dear", Script(cost=None))  # no reported cost: the estimate is what counts
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(router, jsonl(line(1, FAILS_OVER)), output_dir=tmp_path, max_total_cost="10")
    assert report.ok and report.results[0].model == "dear"
    assert report.results[0].estimated_cost == Decimal("0.80")
    assert report.totals.spent == Decimal("0.80")


async def test_a_line_reserves_the_dearest_candidate_it_may_fail_over_to(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/m1", Script(polls=["in_progress", "failed"]))  # line 1 fails over to $0.80 later
    lines = jsonl(line(1, FAILS_OVER), line(2, "p1/m2"))
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(router, lines, output_dir=tmp_path, concurrency=2, max_total_cost="1.00")
    assert report.totals.spent <= Decimal("1.00")
    # Line 1 holds $0.80 from the start, so line 2 ($0.40) does not fit beside it.
    assert [(r.line, r.status, r.error_type) for r in report.results] == [
        (1, "done", None),
        (2, "failed", "BudgetExceeded"),
    ]


@asynccontextmanager
async def _gone() -> AsyncIterator[Any]:
    raise OutputGone("the output is gone", status_code=410)
    yield


def gone_for_m1(provider: Any) -> None:
    """m1's paid output is gone (HTTP 410) when it is downloaded; the provider's other models download."""
    original = provider.open_download

    def open_download(job: Any, *args: Any, **kwargs: Any) -> Any:
        return _gone() if job.model == "m1" else original(job, *args, **kwargs)

    provider.open_download = open_download


def _unknown_row(journal: MemoryJobStore, key: str, prompt: str) -> None:
    request = VideoRequest.build(prompt=prompt, duration=4)
    journal.add(
        JobRecord(
            key="local-1", provider="p1", model="m1", idempotency_key=key, state=RecordState.UNKNOWN,
            request=request.redacted(), fingerprint=fingerprint_request(request, ["p1/m1"]),
        )
    )  # fmt: skip


@pytest.mark.parametrize("case", ["conflict", "unavailable_after_accept", "output_gone"])
async def test_a_failed_line_that_may_still_bill_counts_its_estimate(fleet: Fleet, tmp_path: Path, case: str) -> None:
    journal = MemoryJobStore()
    first = line(1, "p1/m1", idempotency_key="k")
    if case == "conflict":
        _unknown_row(journal, "k", "video 1")
    elif case == "unavailable_after_accept":
        fleet.script("p1/m1", Script(polls=[lambda: ProviderUnavailable("down", status_code=503)] * 20))
    else:
        gone_for_m1(fleet.providers["p1"])
    lines = jsonl(first, line(2, "p1/m2"), line(3, "p1/m2"))
    async with fleet.router(journal=journal) as router:
        report = await run_batch(router, lines, output_dir=tmp_path, concurrency=1, max_total_cost="1.00")
    failed = report.results[0]
    assert failed.status == "failed" and failed.spent == Decimal("0.40")
    # $0.40 may be billed for line 1: line 2 fits ($0.80), line 3 would pass $1.00.
    assert [r.status for r in report.results[1:]] == ["done", "failed"]
    assert report.results[2].error_type == "BudgetExceeded"
    assert report.totals.spent == Decimal("0.80")


async def test_a_line_whose_only_candidate_is_cooling_down_fails_with_the_cause_and_sends_nothing(
    fleet: Fleet, tmp_path: Path
) -> None:
    fleet.script("p1/m1", Script(submit_error=lambda: RateLimited("slow down", status_code=429)))
    async with fleet.router(journal=MemoryJobStore(), cooldown=60) as router:
        report = await run_batch(
            router, jsonl(line(1, "p1/m1"), line(2, "p1/m1")), output_dir=tmp_path, concurrency=1, max_total_cost="5"
        )
    assert [r.error_type for r in report.results] == ["RateLimited", "RateLimited"]
    assert "cooling down" in (report.results[1].error or "")
    assert fleet.submits() == ["p1/m1"] * 3  # line 1 and the engine's two retries of a 429; line 2 sends nothing


@pytest.mark.parametrize(("budget", "fails_over"), [("0.50", False), ("2.00", True)])
async def test_a_resumed_line_whose_job_fails_fails_over_only_within_its_reservation(
    fleet: Fleet, tmp_path: Path, budget: str, fails_over: bool
) -> None:
    """A rerun resumes line 1's running p1 job (reserving its $0.40); when that job ends failed, the call
    may fail over to $0.80 only when the budget left the line that much."""
    journal = MemoryJobStore()
    fleet.script("p1/m1", Script(polls=[HANG]))
    async with fleet.router(journal=journal, settings=quiet_settings(timeout=60)) as router:
        first = await run_batch(router, jsonl(line(1, FAILS_OVER)), output_dir=tmp_path)
        assert [r.error_type for r in first.failures] == ["JobTimeout"]
        fleet.providers["p1"]._jobs["p1-m1-job1"] = ["failed"]
        again = await run_batch(router, jsonl(line(1, FAILS_OVER)), output_dir=tmp_path, max_total_cost=budget)
    assert ("p2/dear" in fleet.submits()) is fails_over
    assert again.ok is fails_over
    assert again.totals.spent <= Decimal(budget)
