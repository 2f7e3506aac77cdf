"""`mediarouter generate` against a real emulator that misbehaves: exit codes, server text, one submit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import VEO, Emulator


@pytest.mark.parametrize(
    ("inject", "code", "server_text"),
    [
        ("submit:400", 2, "Invalid request"),
        ("submit:401", 3, "No auth credentials found"),
        ("submit:402", 4, "Insufficient credits"),
        ("submit:429", 5, "Rate limit exceeded"),
        ("submit:500", 9, "Internal Server Error"),
        ("poll:failed", 7, "Emulated failure"),
    ],
)
def test_injected_failures_give_their_exit_code_and_the_servers_text_in_one_line(
    emulator: Callable[..., Emulator], tmp_path: Path, inject: str, code: int, server_text: str
) -> None:
    emu = emulator("--polls-before-completed", "1", "--inject", inject, "--retry-after", "0")
    out = tmp_path / "out.mp4"
    proc = emu.generate("--model", VEO, "-o", str(out), "--quiet")
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mediarouter: error: ") and server_text in lines[0]
    assert not out.exists()
    submits = emu.submits()
    # 429 is the one refusal that proves no job was made: it alone is retried (2 retries by default).
    assert len(submits) == (3 if inject == "submit:429" else 1)


def test_a_500_on_a_poll_is_retried_and_the_job_still_completes_with_one_submit(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator("--polls-before-completed", "2", "--inject", "poll:500x1")
    out = tmp_path / "out.mp4"
    proc = emu.generate("--model", VEO, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "retrying" in proc.stderr
    assert out.read_bytes()[4:8] == b"ftyp"
    polls = [r["status"] for r in emu.journal() if r["method"] == "GET" and "/videos/gen-vid-" in r["path"]]
    assert polls[0] == 500 and polls[-1] == 200
    assert len(emu.submits()) == 1


def test_the_key_never_reaches_a_foreign_download_host(emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = emulator("--polls-before-completed", "1", "--signed-urls")
    proc = emu.generate("--model", VEO, "-o", str(tmp_path / "out.mp4"))
    assert proc.returncode == 0, proc.stderr
    downloads = [r for r in emu.journal() if "/_emulator/signed/" in r["path"]]
    assert downloads and not any(r["authorized"] for r in downloads)
