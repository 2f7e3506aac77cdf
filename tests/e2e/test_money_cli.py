"""Money rules a user meets at the command line: nothing is sent for a dry run or a bad output path,
and SIGTERM is handled like Ctrl-C (exit 143, with the resume hint for the accepted job)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mediarouter.journal import JobRecord, RecordState, SQLiteJobStore

from .conftest import FAST, MEDIAROUTER, VEO, WAN, Emulator
from .test_resume_cli import slow_emulator, submits, wait_for_accepted_job

pytestmark = pytest.mark.slow
__all__ = ["slow_emulator"]  # a fixture, imported for its side effect


def test_dry_run_prints_the_plan_and_submits_nothing(emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = emulator()
    before = submits(emu)
    proc = emu.run(
        "generate", "A fox", "--model", VEO, "--fallback", WAN, "--duration", "7", "--fit", "adjust",
        "--dry-run", "--json", "-o", str(tmp_path / "fox.mp4"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert [c["ref"] for c in plan["candidates"]] == [VEO, WAN]
    assert plan["candidates"][0]["adjustments"]["duration"] == {"requested": 7, "applied": 8}
    assert plan["candidates"][0]["estimated_cost"] is not None
    assert submits(emu) == before
    assert not (tmp_path / "fox.mp4").exists()


@pytest.mark.parametrize("where", ["directory", "under-a-file"])
def test_a_bad_output_path_fails_before_any_request(
    emulator: Callable[..., Emulator], tmp_path: Path, where: str
) -> None:
    emu = emulator()
    before = submits(emu)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    target = tmp_path if where == "directory" else blocker / "out.mp4"
    proc = emu.generate("--model", VEO, "-o", str(target))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "nothing was sent" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert submits(emu) == before


def test_sigterm_after_the_submit_exits_143_with_the_resume_hint(slow_emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "video.mp4"
    proc = subprocess.Popen(
        [MEDIAROUTER, "generate", "A golden retriever on a beach", "--model", VEO, *FAST, "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=slow_emulator.env,
    )
    job_id = wait_for_accepted_job(slow_emulator)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143, stderr
    last = stderr.strip().splitlines()[-1]
    assert "SIGTERM" in last and f"mediarouter jobs resume {job_id}" in last
    shown = json.loads(slow_emulator.run("jobs", "show", job_id, "--json").stdout)
    assert shown["state"] == "interrupted"
    assert submits(slow_emulator) == 1


def test_sigterm_during_a_batch_exits_143_and_the_rerun_resumes_without_a_new_submit(
    slow_emulator: Emulator, tmp_path: Path
) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps({"prompt": p, "model": VEO}) + "\n" for p in ("A cat", "A dog")))
    command = [MEDIAROUTER, "batch", str(requests), "-o", str(tmp_path / "out"), *FAST, "--concurrency", "2"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=slow_emulator.env)
    deadline = time.monotonic() + 30
    while len([r for r in _rows(slow_emulator) if r.job_id]) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, "the batch accepted no two jobs"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143, stderr
    assert "SIGTERM" in stderr.strip().splitlines()[-1]
    assert [r.state for r in _rows(slow_emulator)] == [RecordState.INTERRUPTED] * 2
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120, env=slow_emulator.env, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "batch: 2 of 2 done" in rerun.stderr
    assert submits(slow_emulator) == 2


def _rows(emu: Emulator) -> list[JobRecord]:
    if not Path(emu.journal_file).exists():
        return []
    store = SQLiteJobStore(emu.journal_file)
    try:
        return store.list()
    finally:
        store.close()
