"""One absolute deadline: when it passes before a job is accepted, the call is a JobTimeout (exit 8)
that says nothing was submitted, never a ProviderUnavailable (exit 6)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import MEDIAROUTER, VEO

pytestmark = pytest.mark.slow


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers: the model listing hangs forever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)  # read nothing, answer nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.parametrize("attempt", range(3))
def test_a_deadline_passing_while_the_listing_never_answers_exits_8(
    silent_server: str, tmp_path: Path, attempt: int
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "MEDIAROUTER_"))}
    env.update(
        OPENROUTER_BASE_URL=silent_server,
        OPENROUTER_API_KEY="sk-or-deadline",
        MEDIAROUTER_CONFIG="",
        MEDIAROUTER_JOURNAL=str(tmp_path / "jobs.sqlite3"),
    )
    proc = subprocess.run(
        [MEDIAROUTER, "generate", "A fox", "--model", VEO, "--timeout", "1", "-q", "-o", str(tmp_path / "f.mp4")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode == 8, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "nothing was submitted" in last
