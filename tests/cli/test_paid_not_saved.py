"""Exit code 10: the job completed and is billed, but its video is not at the target.

Rule: a download that fails after the job is paid, or a video that could not be written to its target,
must not look like "retry the call" (6) or "bad input, nothing sent" (2): scripts that retry those would pay
again. The message names the job, says it is paid for and gives the exact command that gets the video.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediarouter import JobStatus, OutputGone, ProviderUnavailable
from mediarouter.batch import BatchReport, BatchTotals, LineResult
from mediarouter.cli.batch import exit_code
from mediarouter.cli.errors import PAID_NOT_SAVED, exit_code_for
from mediarouter.errors import JobTimeout, OutputNotSaved, SubmitUnknown

from ..e2e.conftest import FAST, VEO, WAN, Emulator, emulator
from .fake_provider import VIDEO, ScriptedProvider, instant_retries, invoke, use_provider

__all__ = ["emulator", "instant_retries", "use_provider"]  # fixtures, imported for their side effect


def _download_command(stderr: str, job_id: str) -> list[str]:
    """The `mediarouter jobs download …` command the message gives, as argv."""
    last = stderr.strip().splitlines()[-1]
    start = last.index(f"mediarouter jobs download {shlex.quote(job_id)}")
    return shlex.split(last[start:])


@pytest.mark.slow
def test_a_download_failing_after_its_retries_exits_10_with_the_command_that_gets_the_paid_video(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator("--polls-before-completed", "1", "--inject", "content:500:alibaba/wan-2.6x4")
    out = tmp_path / "my videos" / "c d.mp4"  # quoting matters
    out.parent.mkdir()
    failed = emu.generate("--model", WAN, "-o", str(out))
    assert failed.returncode == PAID_NOT_SAVED, failed.stderr
    assert "Traceback" not in failed.stderr and not out.exists()
    [row] = json.loads(emu.run("jobs", "list", "--json").stdout)
    job_id = row["job_id"]
    last = failed.stderr.strip().splitlines()[-1]
    assert job_id in last and "paid for" in last
    assert f"mediarouter jobs download {job_id} -o {shlex.quote(str(out))}" in last

    argv = _download_command(failed.stderr, job_id)
    got = emu.run(*argv[1:])
    assert got.returncode == 0, got.stderr
    assert out.read_bytes()[4:8] == b"ftyp"
    assert len(emu.submits()) == 1


@pytest.mark.slow
def test_the_json_of_a_paid_but_unsaved_video_says_so_and_gives_the_command(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator("--polls-before-completed", "1", "--retry-after", "0", "--inject", "content:503:alibaba/wan-2.6x4")
    out = tmp_path / "out.mp4"
    failed = emu.generate("--model", WAN, "-o", str(out), "--json")
    assert failed.returncode == PAID_NOT_SAVED, failed.stderr
    data = json.loads(failed.stdout)
    job_id = data["error"]["job_id"]
    assert data["ok"] is False and data["paid_not_saved"] is True
    assert data["download_command"] == f"mediarouter jobs download {job_id} -o {out}"


def test_a_download_cut_short_every_time_exits_10(use_provider: Any, instant_retries: None, tmp_path: Path) -> None:
    """The engine's own error (a truncated body) names no request phase: the job was seen completing."""
    truncated = (VIDEO[:100], len(VIDEO))
    use_provider(lambda **kw: ScriptedProvider(polls=["completed"], downloads=[truncated] * 10))
    out = tmp_path / "o.mp4"
    result = invoke("generate", "a dog", "--model", "fake/video-1", "-o", str(out), "--poll-interval", "0.01")
    assert result.exit_code == PAID_NOT_SAVED, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert "truncated" in last and "job-1" in last and "paid for" in last
    assert f"mediarouter jobs download job-1 -o {out}" in last


class _TargetTakenWhilePolling(ScriptedProvider):
    """The target path becomes a directory while the job runs: the paid video cannot be written there."""

    def __init__(self, target: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target

    async def poll(self, job: Any) -> JobStatus:
        status = await super().poll(job)
        self.target.mkdir(exist_ok=True)
        return status


def test_a_completed_video_that_cannot_be_written_to_its_target_exits_10_not_2(
    use_provider: Any, tmp_path: Path
) -> None:
    out = tmp_path / "o.mp4"
    use_provider(lambda **kw: _TargetTakenWhilePolling(out, polls=["completed"]))
    result = invoke("generate", "a dog", "--model", "fake/video-1", "-o", str(out), "--poll-interval", "0.01")
    assert result.exit_code == PAID_NOT_SAVED, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert "paid for" in last and f"mediarouter jobs download job-1 -o {out}" in last
    kept = re.search(r"the paid video is kept at (\S+\.mp4)", last)
    assert kept is not None, last
    assert Path(kept.group(1)).read_bytes() == VIDEO  # nothing lost


def _downloading(**details: Any) -> ProviderUnavailable:
    return ProviderUnavailable("OpenRouter download failed: HTTP 500", job_id="job-1", details=details)


@pytest.mark.parametrize(
    ("error", "seen", "code"),
    [
        (_downloading(phase="download"), (), PAID_NOT_SAVED),
        (_downloading(phase="poll"), ("job-1",), 6),  # a poll of a resumed job: not past its completion
        (ProviderUnavailable("connect failed", sent=False), (), 6),  # no job yet
        (_downloading(), ("job-1",), PAID_NOT_SAVED),  # the engine's own error, after the job completed
        (_downloading(), (), 6),
        (JobTimeout("no result within 60s while downloading", job_id="job-1"), ("job-1",), PAID_NOT_SAVED),
        (JobTimeout("no result within 60s while polling", job_id="job-1"), (), 8),
        (OutputNotSaved("could not save the video", job_id="job-1"), (), PAID_NOT_SAVED),
        # Gone upstream: `jobs download` cannot get it; it stays "job expired".
        (OutputGone("gone", job_id="job-1", details={"phase": "download"}), ("job-1",), 7),
        (SubmitUnknown("no answer"), (), 9),
    ],
)
def test_exit_code_10_is_decided_from_what_the_error_carries(
    error: Exception, seen: tuple[str, ...], code: int
) -> None:
    assert exit_code_for(error, downloading=seen) == code


def test_a_batch_exits_with_the_highest_line_code_and_10_counts() -> None:
    def failed(line: int, exc: Exception) -> LineResult:
        return LineResult(line=line, idempotency_key=f"k{line}", status="failed", exception=exc)

    lines = [failed(1, SubmitUnknown("no answer")), failed(2, _downloading(phase="download"))]
    report = BatchReport(results=lines, invalid=[], totals=BatchTotals(), results_path=Path("r.jsonl"))
    assert exit_code(report) == PAID_NOT_SAVED


@pytest.mark.slow
def test_a_batch_line_whose_download_fails_exits_10_and_says_how_to_get_the_video(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator("--polls-before-completed", "1", "--retry-after", "0", "--inject", "content:503:alibaba/wan-2.6x4")
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        json.dumps({"prompt": "A cat", "model": VEO, "output": "cat.mp4"})
        + "\n"
        + json.dumps({"prompt": "A dog", "model": WAN, "output": "dog.mp4"})
        + "\n"
    )
    out = tmp_path / "out"
    proc = emu.run("batch", str(requests), "-o", str(out), "--concurrency", "1", *FAST)
    assert proc.returncode == PAID_NOT_SAVED, proc.stderr
    assert "Traceback" not in proc.stderr
    # The job of line 2 as the results file records it (the emulator's journal may hold other tests' jobs).
    records = [json.loads(t) for t in (out / "results.jsonl").read_text().splitlines()]
    [job_id] = [r["job_id"] for r in records if r["line"] == 2]
    [line] = [t for t in proc.stderr.splitlines() if t.startswith("line 2:")]
    assert "paid for" in line and f"mediarouter jobs download {job_id} -o {out / 'dog.mp4'}" in line

    again = emu.run("batch", str(requests), "-o", str(out), *FAST)  # the rerun downloads it, paying nothing
    assert again.returncode == 0, again.stderr
    assert (out / "dog.mp4").read_bytes()[4:8] == b"ftyp"
    assert len(emu.submits()) == 2
