"""Never lose a paid video: real processes killed mid-job, then resumed from the journal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mediarouter.journal import SQLiteJobStore

from .conftest import FAST, MEDIAROUTER, VEO, Emulator

#: Polls the emulator answers before completing: long enough to kill the client while it waits.
LONG = ("--polls-before-completed", "30")


def start_generate(emu: Emulator, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MEDIAROUTER, "generate", "A golden retriever on a beach", "--model", VEO, *FAST, "-o", str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=emu.env,
    )


def wait_for_accepted_job(emu: Emulator, timeout: float = 30) -> str:
    """The job id, as soon as the journal has it (i.e. right after the submit was answered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(emu.journal_file):
            store = SQLiteJobStore(emu.journal_file)
            try:
                records = [r for r in store.list() if r.job_id]
            finally:
                store.close()
            if records:
                assert records[0].job_id is not None
                return records[0].job_id
        time.sleep(0.02)
    raise AssertionError("no job was journaled")


@pytest.fixture
def slow_emulator(emulator: Callable[..., Emulator], tmp_path: Path) -> Emulator:
    emu = emulator(*LONG)
    journal = tmp_path / "jobs.sqlite3"
    # Polling must not slow down past 0.1 s here, or the 30 polls would take minutes.
    return Emulator(
        emu.base_url, {**emu.env, "MEDIAROUTER_JOURNAL": str(journal), "MEDIAROUTER_MAX_POLL_INTERVAL": "0.1"}
    )


def submits(emu: Emulator) -> int:
    return len(emu.submits())


def test_kill_9_after_submit_then_resume_finishes_with_one_submit(slow_emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    proc = start_generate(slow_emulator, out)
    job_id = wait_for_accepted_job(slow_emulator)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert not out.exists()

    listing = slow_emulator.run("jobs", "list")
    assert listing.returncode == 0, listing.stderr
    assert job_id in listing.stdout
    shown = json.loads(slow_emulator.run("jobs", "list", "--json").stdout)
    assert shown[0]["job_id"] == job_id and shown[0]["state"] in ("pending", "in_progress")

    resumed = slow_emulator.run("jobs", "resume", job_id, "-o", str(out), *FAST)
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes()[4:8] == b"ftyp"
    assert submits(slow_emulator) == 1
    record = json.loads(slow_emulator.run("jobs", "show", job_id, "--json").stdout)
    assert record["state"] == "downloaded" and record["files"][0]["path"] == str(out)


def test_ctrl_c_exits_130_with_a_resume_hint_and_the_job_stays_resumable(
    slow_emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    proc = start_generate(slow_emulator, out)
    job_id = wait_for_accepted_job(slow_emulator)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130
    last = stderr.strip().splitlines()[-1]
    assert f"mediarouter jobs resume {job_id} -o {out}" in last
    assert "Traceback" not in stderr
    record = json.loads(slow_emulator.run("jobs", "show", job_id, "--json").stdout)
    assert record["state"] == "interrupted"

    resumed = slow_emulator.run("jobs", "resume", "--all", *FAST)
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes()[4:8] == b"ftyp"  # the original target
    assert submits(slow_emulator) == 1


def test_a_failed_download_leaves_no_file_and_jobs_download_completes_it(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator("--polls-before-completed", "1", "--inject", "content:502x4")
    out = tmp_path / "out.mp4"
    failed = emu.generate("--model", VEO, "-o", str(out))
    assert failed.returncode == 10, failed.stderr  # paid, not saved: `jobs download` gets it
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.mp4") and p.stat().st_size > 0]
    job_id = json.loads(emu.run("jobs", "list", "--json").stdout)[0]["job_id"]
    listing = emu.run("jobs", "list", "--state", "interrupted")
    assert job_id in listing.stdout

    done = emu.run("jobs", "download", job_id, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[4:8] == b"ftyp"
    assert len([s for s in emu.submits() if s[0] == "google/veo-3.1"]) == 1


def test_the_same_idempotency_key_never_pays_twice(emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = emulator("--polls-before-completed", "1")
    first = emu.generate("--model", VEO, "-o", str(tmp_path / "a.mp4"), "--idempotency-key", "order-42", "--json")
    second = emu.generate("--model", VEO, "-o", str(tmp_path / "b.mp4"), "--idempotency-key", "order-42", "--json")
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert json.loads(first.stdout)["job_id"] == json.loads(second.stdout)["job_id"]
    assert len(emu.submits()) == 1
    assert (tmp_path / "b.mp4").read_bytes() == (tmp_path / "a.mp4").read_bytes()


def test_the_journal_never_contains_the_api_key(emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    key = "sk-or-v1-JOURNAL-canary-7f3a9c"
    emu = emulator("--polls-before-completed", "1", "--signed-urls")
    emu = Emulator(emu.base_url, {**emu.env, "OPENROUTER_API_KEY": key, "MEDIAROUTER_JOURNAL": str(tmp_path / "j.db")})
    ok = emu.generate("--model", VEO, "-o", str(tmp_path / "a.mp4"))
    assert ok.returncode == 0, ok.stderr
    failed = emu.generate("--model", VEO, "-o", str(tmp_path / "b.mp4"), "--duration", "7")
    assert failed.returncode == 2
    files = [p for p in tmp_path.iterdir() if p.name.startswith("j.db")]
    assert files
    for path in files:
        assert key.encode() not in path.read_bytes(), path.name
    listed = emu.run("jobs", "list", "--json").stdout + emu.run("jobs", "list").stdout
    assert key not in listed
    assert "token=" not in listed  # signed URLs are secrets: never shown
