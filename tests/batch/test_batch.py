"""`run_batch` over fake providers: validation first, the batch budget, concurrency limits, the results
file, and the rerun rule (nothing submitted twice)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import JobFailed, VideoRequest
from mediarouter.batch import BatchUpdate, default_key, run_batch
from mediarouter.journal import JobRecord, MemoryJobStore, RecordState, fingerprint_request

from ..core.router_fakes import Fleet, LogEntry, Script


@pytest.fixture
def fleet(clock: FakeClock) -> Fleet:
    return Fleet(clock)


def jsonl(*objects: object) -> list[str]:
    return [o if isinstance(o, str) else json.dumps(o) for o in objects]


def line(n: int, model: str = "p1/m1", **extra: object) -> dict[str, object]:
    return {"prompt": f"video {n}", "model": model, "duration": 4, **extra}


def max_in_flight(log: list[LogEntry], provider: str | None = None) -> int:
    """Most jobs accepted and not yet terminal at once, from the backends' shared log."""
    running = peak = 0
    for entry in log:
        if provider is not None and not entry.ref.startswith(provider + "/"):
            continue
        if entry.kind == "accepted":
            running += 1
            peak = max(peak, running)
        elif entry.kind == "terminal":
            running -= 1
    return peak


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(t) for t in path.read_text().splitlines()]


async def test_bad_lines_are_reported_with_their_number_before_anything_is_submitted(
    fleet: Fleet, tmp_path: Path
) -> None:
    submits_seen: list[tuple[str, int, int]] = []

    def watch(update: BatchUpdate) -> None:
        submits_seen.append((update.kind, update.line, len(fleet.submits())))

    lines = jsonl(line(1), "{not json", {"prompt": "x", "colour": "red"}, {"prompt": "y", "model": 3}, line(5))
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(router, lines, output_dir=tmp_path, listeners=[watch])

    assert [(b.number, b.error_type) for b in report.invalid] == [
        (2, "InvalidRequest"),
        (3, "InvalidRequest"),
        (4, "InvalidRequest"),
    ]
    assert "not JSON" in report.invalid[0].message
    assert "colour" in report.invalid[1].message and "accepted fields" in report.invalid[1].message
    assert [(k, n) for k, n, submits in submits_seen if k == "invalid" and submits == 0] == [
        ("invalid", 2),
        ("invalid", 3),
        ("invalid", 4),
    ]
    assert len(fleet.submits()) == 2 and not report.ok
    assert [r["status"] for r in read(tmp_path / "results.jsonl")].count("invalid") == 3


async def test_a_line_no_candidate_could_run_is_invalid_before_the_batch_runs(fleet: Fleet, tmp_path: Path) -> None:
    no_prompt = {k: v for k, v in line(2).items() if k != "prompt"}
    two_first_frames = line(
        3,
        image_url="https://example.com/a.png",
        frame_images=[{"image_url": {"url": "https://example.com/b.png"}, "frame_type": "first_frame"}],
    )
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(router, jsonl(line(1), no_prompt, two_first_frames), output_dir=tmp_path)
    assert [(b.number, b.error_type) for b in report.invalid] == [(2, "CapabilityMismatch"), (3, "InvalidRequest")]
    assert "prompt" in report.invalid[0].message and "first frame" in report.invalid[1].message
    assert len(fleet.submits()) == 1  # only line 1 ran
    assert [r["status"] for r in read(tmp_path / "results.jsonl")].count("invalid") == 2


async def test_budget_counts_in_flight_estimates_before_each_submit(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/m1", Script(cost=Decimal("0.40")))  # estimate: 4 s x $0.10 = $0.40
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(
            router, jsonl(*(line(n) for n in range(1, 5))), output_dir=tmp_path, concurrency=4, max_total_cost="1.00"
        )
    # Two lines reserve $0.80 while in flight; a third would pass $1.00 even though nothing is spent yet.
    assert len(fleet.submits()) == 2
    assert [r.error_type for r in report.failures] == ["BudgetExceeded", "BudgetExceeded"]
    assert report.totals.spent == Decimal("0.80")


async def test_budget_counts_the_reported_cost_once_known(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/m1", Script(cost=Decimal("0.10")))  # cheaper than the $0.40 estimate
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(
            router, jsonl(*(line(n) for n in range(1, 5))), output_dir=tmp_path, concurrency=1, max_total_cost="1.00"
        )
    assert report.ok and len(fleet.submits()) == 4
    assert report.totals.spent == Decimal("0.40")


async def test_global_concurrency_limit_bounds_jobs_in_flight(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/m1", Script(polls=["in_progress"] * 4 + ["completed"]))
    fleet.script("p2/m1", Script(polls=["in_progress"] * 4 + ["completed"]))
    lines = jsonl(*(line(n, "p1/m1" if n % 2 else "p2/m1") for n in range(1, 9)))
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(router, lines, output_dir=tmp_path, concurrency=3, poll_interval=0.01)
    assert report.ok and len(fleet.submits()) == 8
    assert max_in_flight(fleet.log) == 3


async def test_per_provider_limit_bounds_that_provider_only(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/m1", Script(polls=["in_progress"] * 4 + ["completed"]))
    fleet.script("p2/m1", Script(polls=["in_progress"] * 4 + ["completed"]))
    lines = jsonl(*(line(n, "p1/m1" if n <= 4 else "p2/m1") for n in range(1, 9)))
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(
            router, lines, output_dir=tmp_path, concurrency=8, per_provider={"p1": 1}, poll_interval=0.01
        )
    assert report.ok
    assert max_in_flight(fleet.log, "p1") == 1
    assert max_in_flight(fleet.log, "p2") == 4


async def test_results_file_has_one_record_per_line_with_file_cost_and_job(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p2/m1", Script(submit_error=lambda: JobFailed("no")))
    lines = jsonl(line(1, output="one.mp4"), line(2, "p2/m1", idempotency_key="order-2"))
    results = tmp_path / "r" / "results.jsonl"
    async with fleet.router(journal=MemoryJobStore()) as router:
        await run_batch(router, lines, output_dir=tmp_path / "out", results_path=results)
    done, failed = sorted(read(results), key=lambda r: int(str(r["line"])))
    assert done == {
        "line": 1,
        "idempotency_key": default_key(line(1, output="one.mp4")),
        "status": "done",
        "file": str(tmp_path / "out" / "one.mp4"),
        "cost": "1.00",
        "estimated_cost": "0.40",
        "job_id": "p1-m1-job1",
        "provider": "p1",
        "model": "m1",
        "error_type": None,
        "error": None,
    }
    assert Path(str(done["file"])).read_bytes()
    assert failed["idempotency_key"] == "order-2" and failed["status"] == "failed"
    assert failed["error_type"] == "JobFailed" and failed["file"] is None and failed["provider"] == "p2"


async def test_a_key_held_by_an_unknown_submit_is_recorded_as_conflict_and_never_resubmitted(
    fleet: Fleet, tmp_path: Path
) -> None:
    journal = MemoryJobStore()
    request = VideoRequest.build(prompt="video 1", duration=4)
    journal.add(
        JobRecord(
            key="local-1",
            provider="p1",
            model="m1",
            idempotency_key="k",
            state=RecordState.UNKNOWN,
            request=request.redacted(),
            fingerprint=fingerprint_request(request, ["p1/m1"]),
        )
    )
    async with fleet.router(journal=journal) as router:
        report = await run_batch(router, jsonl(line(1, idempotency_key="k")), output_dir=tmp_path)
    assert fleet.submits() == []
    assert [r.error_type for r in report.failures] == ["Conflict"]
    assert read(tmp_path / "results.jsonl")[0]["error_type"] == "Conflict"


async def test_rerun_after_an_interrupted_run_submits_only_the_rest_and_resumes_accepted_jobs(
    fleet: Fleet, tmp_path: Path
) -> None:
    fleet.script("p1/m1", Script(polls=["in_progress"] * 6 + ["completed"]))
    journal = MemoryJobStore()
    lines = jsonl(*(line(n) for n in range(1, 7)))
    finished: list[int] = []

    async with fleet.router(journal=journal) as router:
        main = asyncio.current_task()
        assert main is not None

        def interrupt_after_two(update: BatchUpdate) -> None:
            if update.kind == "finished":
                finished.append(update.line)
                if len(finished) == 2:
                    main.cancel()  # as Ctrl-C does

        with pytest.raises(asyncio.CancelledError):
            await run_batch(
                router,
                lines,
                output_dir=tmp_path,
                concurrency=3,
                poll_interval=0.01,
                listeners=[interrupt_after_two],
            )
        main.uncancel()
    first_submits = len(fleet.submits())
    first_accepted = {e.job_id for e in fleet.accepted()}
    # Lines that finish in the same loop turn as the second one are done too; at least one accepted job was left.
    assert len(finished) >= 2 and len(finished) < first_submits < 6

    async with fleet.router(journal=journal) as router:
        report = await run_batch(router, lines, output_dir=tmp_path, concurrency=3, poll_interval=0.01)
    assert report.ok and report.totals.skipped == len(finished)
    assert len(fleet.submits()) == 6  # one submit per line, over both runs
    resumed = {r.job_id for r in report.results} & first_accepted
    assert len(resumed) == first_submits  # those done before, and the ones accepted but interrupted
    assert len(read(tmp_path / "results.jsonl")) == 6
