"""`mediarouter batch` with an output directory or results file it cannot write.

Rules: before anything is sent, an unwritable OUTDIR or --results is one error line naming the path, exit 2.
A results file that fails mid-run does not cancel the paid jobs in flight: they run to the end, the failure is
reported and the exit code is non-zero; the journal lets a rerun record every line without a second submit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ..e2e.conftest import FAST, VEO, WAN, Emulator, emulator

pytestmark = pytest.mark.slow
__all__ = ["emulator"]  # a fixture, imported for its side effect

#: `mediarouter` with every append to a file named results.jsonl going to /dev/full: each write of the results
#: file fails with ENOSPC, as on a full disk (opening it still works, as it would before the disk filled up).
RESULTS_DISK_FULL = """
import pathlib, sys
real_open = pathlib.Path.open
def full_open(self, mode="r", *args, **kwargs):
    if self.name == "results.jsonl" and "a" in mode:
        return real_open(pathlib.Path("/dev/full"), mode, *args, **kwargs)
    return real_open(self, mode, *args, **kwargs)
pathlib.Path.open = full_open
from mediarouter.cli import main
sys.argv = ["mediarouter", *sys.argv[1:]]
main()
"""


def _requests(tmp_path: Path, count: int = 1) -> Path:
    models = [VEO, WAN, WAN]
    path = tmp_path / "requests.jsonl"
    path.write_text(
        "".join(json.dumps({"prompt": f"A cat, take {n}", "model": models[n]}) + "\n" for n in range(count))
    )
    return path


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mediarouter: error: ")
    return lines[0]


def test_an_output_dir_under_a_regular_file_is_one_error_line_and_exit_2_before_any_request(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator()
    (tmp_path / "a-file").write_text("x")
    out = tmp_path / "a-file" / "videos"
    proc = emu.run("batch", str(_requests(tmp_path)), "-o", str(out), *FAST)
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert str(out) in line and "nothing was sent" in line
    assert emu.journal() == []


def test_a_results_file_under_a_regular_file_is_one_error_line_and_exit_2_before_any_request(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator()
    (tmp_path / "a-file").write_text("x")
    results = tmp_path / "a-file" / "results.jsonl"
    proc = emu.run("batch", str(_requests(tmp_path)), "-o", str(tmp_path / "out"), "--results", str(results), *FAST)
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert str(results) in line and "nothing was sent" in line
    assert emu.journal() == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_a_read_only_output_dir_is_one_error_line_and_exit_2(emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = emulator()
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        proc = emu.run("batch", str(_requests(tmp_path)), "-o", str(locked / "videos"), *FAST)
    finally:
        locked.chmod(0o700)
    assert proc.returncode == 2
    assert str(locked / "videos") in _one_error_line(proc)
    assert emu.journal() == []


def test_a_results_file_failing_mid_run_lets_the_paid_jobs_finish_and_a_rerun_records_them_without_a_submit(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator("--polls-before-completed", "1")
    requests, out = _requests(tmp_path, 3), tmp_path / "out"
    args = ["batch", str(requests), "-o", str(out), "--concurrency", "3", *FAST]
    full = subprocess.run(
        [sys.executable, "-c", RESULTS_DISK_FULL, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=emu.env,
        check=False,
    )
    assert full.returncode != 0, full.stderr
    assert "Traceback" not in full.stderr
    [reported] = [line for line in full.stderr.splitlines() if line.startswith("mediarouter: error: ")]
    assert str(out / "results.jsonl") in reported and "No space left on device" in reported
    videos = sorted(out.glob("*.mp4"))
    assert len(videos) == 3 and all(v.read_bytes()[4:8] == b"ftyp" for v in videos)  # none cancelled
    assert len(emu.submits()) == 3

    rerun = emu.run(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert len(emu.submits()) == 3  # every line came from the journal
    records = [json.loads(t) for t in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["line"] for r in records) == [1, 2, 3] and all(r["status"] == "done" for r in records)
    assert sorted(r["file"] for r in records) == [str(v) for v in videos]
