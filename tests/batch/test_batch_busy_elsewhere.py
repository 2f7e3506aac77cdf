"""A batch rerun while the first run still holds its lines: each such line is refused with nothing sent, and
its job's money is the other run's to report, not "may have been billed" here. A key whose own submit has an
unknown outcome still is."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from mediarouter_contracts.clock import FakeClock

from mediarouter import VideoRequest
from mediarouter.batch import run_batch
from mediarouter.journal import JobRecord, JobStore, RecordState, SQLiteJobStore, fingerprint_request, submit_lease_name
from mediarouter.router import Router

from ..cli.fake_provider import ScriptedProvider, invoke, use_provider
from ..core.router_fakes import quiet_settings

__all__ = ["use_provider"]  # the fixture, imported for its side effect

ELSEWHERE = "elsewhere:1:another-host"  # a live holder on another machine: its lease is never taken over
PROMPTS = {"k-polled": "a cat", "k-submitting": "a dog", "k-unknown": "a fox"}


def _lines() -> list[str]:
    return [
        json.dumps({"prompt": prompt, "model": "fake/video-1", "duration": 4, "idempotency_key": key})
        for key, prompt in PROMPTS.items()
    ]


def _hold(journal: JobStore) -> None:
    """Another run's rows: a job it is polling (job lease), a submit it is sending (submit lease), and a submit
    of unknown outcome nobody holds (`unknown`: this key may have billed, whoever sent it)."""
    states = {
        "k-polled": RecordState.IN_PROGRESS,
        "k-submitting": RecordState.SUBMITTING,
        "k-unknown": RecordState.UNKNOWN,
    }
    for n, (key, prompt) in enumerate(PROMPTS.items(), 1):
        request = VideoRequest.build(prompt=prompt, duration=4)
        job_id = "job-polled" if key == "k-polled" else None
        journal.add(
            JobRecord(
                key=f"row-{n}", provider="fake", model="video-1", idempotency_key=key, state=states[key], job_id=job_id,
                request=request.redacted(), fingerprint=fingerprint_request(request, ["fake/video-1"]),
            )
        )  # fmt: skip
    assert journal.try_lease("job:job-polled", ELSEWHERE, 3600.0) is None
    assert journal.try_lease(submit_lease_name("row-2"), ELSEWHERE, 3600.0) is None


def _held_by_another_run(use_provider: Callable[..., None]) -> ScriptedProvider:
    """The CLI's provider, and the user's journal holding another run's rows (`_hold`)."""
    provider = ScriptedProvider()
    use_provider(lambda **_: provider)
    journal = SQLiteJobStore(os.environ["MEDIAROUTER_JOURNAL"])
    try:
        _hold(journal)
    finally:
        journal.close()
    return provider


async def test_lines_busy_in_another_process_are_not_counted_as_may_have_been_billed(tmp_path: Path) -> None:
    journal = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    _hold(journal)
    provider = ScriptedProvider()
    router = Router(providers={"fake": provider}, journal=journal, settings=quiet_settings(), clock=FakeClock())
    async with router:
        report = await run_batch(router, _lines(), output_dir=tmp_path / "out")
    assert provider.calls == []  # nothing sent: no submit, no poll of the other run's job
    assert all(r.error_type == "Conflict" for r in report.results)
    totals = report.totals
    # Only the unknown submit's estimate (4 s at $0.40/s) may have been billed; spent is nothing.
    assert (totals.billed, totals.may_have_billed, totals.spent) == (0, Decimal("1.60"), Decimal("1.60"))
    busy = {r.idempotency_key: r.busy_elsewhere for r in report.results}
    assert busy == {"k-polled": True, "k-submitting": True, "k-unknown": False}
    assert (totals.failed, totals.busy) == (3, 2)


def test_the_cli_summary_names_the_busy_lines_apart_and_keeps_the_unknown_submit(
    use_provider: Callable[..., None], tmp_path: Path
) -> None:
    provider = _held_by_another_run(use_provider)
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(t + "\n" for t in _lines()))

    result = invoke("batch", str(requests), "-o", str(tmp_path / "out"))
    assert result.exit_code == 9, result.output  # the unknown submit's exit code: its outcome is not known
    summary = next(t for t in result.stderr.splitlines() if t.startswith("batch: "))
    assert "3 failed (2 busy in another process: nothing sent by this run)" in summary
    assert "spent $0.00 " in summary and "$1.60 more may have been billed" in summary

    as_json = invoke("batch", str(requests), "-o", str(tmp_path / "again"), "--json")
    totals = json.loads(as_json.stdout)["totals"]
    assert (totals["failed"], totals["busy"]) == (3, 2)
    assert (totals["spent"], totals["may_have_been_billed"]) == ("0.00", "1.60")
    assert provider.calls == []


def test_a_command_refused_because_another_process_has_the_job_exits_11(
    use_provider: Callable[..., None], tmp_path: Path
) -> None:
    """`generate` with the key of a job another process is polling, or a batch whose only failures are such
    lines: exit 11 (busy), not 1, so a script can tell "someone else is doing it" from a crash."""
    provider = _held_by_another_run(use_provider)
    one = invoke("generate", "a cat", "-m", "fake/video-1", "--duration", "4", "--idempotency-key", "k-polled",
                 "-o", str(tmp_path / "cat.mp4"))  # fmt: skip
    assert one.exit_code == 11, one.output
    assert "nothing was sent" in one.stderr and "Traceback" not in one.stderr

    requests = tmp_path / "busy.jsonl"
    requests.write_text(_lines()[0] + "\n" + _lines()[1] + "\n")  # the two busy lines, not the unknown submit
    batch = invoke("batch", str(requests), "-o", str(tmp_path / "out"))
    assert batch.exit_code == 11, batch.output
    assert provider.calls == []
