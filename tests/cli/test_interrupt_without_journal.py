"""Ctrl-C with MEDIAROUTER_JOURNAL=off: there is no row to resume, so the hint must not offer `jobs resume`.

Rule: the billed job's id is printed with where else its video can be had (the provider's dashboard or API).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ..e2e.conftest import FAST, MEDIAROUTER, WAN, Emulator, emulator

pytestmark = pytest.mark.slow
__all__ = ["emulator"]  # a fixture, imported for its side effect


def _wait_for_a_poll(emu: Emulator, timeout: float = 30) -> str:
    """The accepted job's id, once the client polls it (so it has taken the submit's answer in)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        polled = [r["job_id"] for r in emu.journal() if r["method"] == "GET" and r.get("phase") == "poll"]
        if polled:
            return str(polled[0])
        time.sleep(0.02)
    raise AssertionError("no job was polled")


def test_ctrl_c_with_the_journal_off_names_the_job_and_where_to_get_it_not_a_resume_that_cannot_work(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    served = emulator("--polls-before-completed", "1000")
    env = {**served.env, "MEDIAROUTER_JOURNAL": "off", "MEDIAROUTER_MAX_POLL_INTERVAL": "0.1"}
    proc = subprocess.Popen(
        [MEDIAROUTER, "generate", "A fox", "--model", WAN, *FAST, "-o", str(tmp_path / "fox.mp4")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        job_id = _wait_for_a_poll(served)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert job_id in last and "billed" in last
    assert "journal is off" in last and "dashboard" in last
    assert "jobs resume" not in last
