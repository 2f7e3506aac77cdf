"""One slow-submit emulator on loopback for the real-process suites, and how to run the CLI at it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

MEDIAROUTER = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))
VEO = "openrouter/google/veo-3.1"
#: Seconds a submit waits at the server before the job is made, and after, before the answer goes out.
PRE, POST = 0.25, 0.25


@dataclass
class SlowServer:
    """`slow_server.py` in a subprocess: its URL, its event files, and the jobs it created."""

    port: int
    events: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def jobs(self) -> dict[str, str]:
        """job id -> tag (the API key of the client that submitted it)."""
        jobs: dict[str, str] = httpx.get(f"http://127.0.0.1:{self.port}/_money/jobs", timeout=10).json()
        return jobs

    def jobs_of(self, tag: str) -> list[str]:
        return [job for job, owner in self.jobs().items() if owner == tag]

    def sha256(self, job_id: str) -> str:
        digest: str = httpx.get(f"http://127.0.0.1:{self.port}/_money/sha256/{job_id}", timeout=10).json()
        return digest

    def seen(self, tag: str, event: str) -> bool:
        return (self.events / f"{tag}.{event}").exists()

    def env(self, tag: str, journal: Path, home: Path) -> dict[str, str]:
        """A clean environment for a client that identifies itself as `tag`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "MEDIAROUTER_"))}
        env.update(
            MEDIAROUTER_CONFIG="",
            MEDIAROUTER_JOURNAL=str(journal),
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_DATA_HOME=str(home / "data"),
            OPENROUTER_BASE_URL=self.base_url,
            OPENROUTER_API_KEY=tag,
        )
        return env

    def run(self, tag: str, journal: Path, home: Path, *args: str, timeout: float = 60) -> Any:
        return subprocess.run(
            [MEDIAROUTER, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(tag, journal, home),
            check=False,
        )


@pytest.fixture(scope="package")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlowServer]:
    events = tmp_path_factory.mktemp("events")
    script = Path(__file__).with_name("slow_server.py")
    process = subprocess.Popen(
        [sys.executable, str(script), str(events), str(PRE), str(POST)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        server = SlowServer(port, events)
        deadline = time.monotonic() + 20
        while True:
            try:
                server.jobs()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the slow emulator did not start (exit code {process.poll()})") from None
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class Child:
    """One CLI process forked by the fork server."""

    pid: int
    out: Path
    server: ForkServer

    def done(self) -> bool:
        return self.out.with_suffix(".exit").exists()

    def kill(self, signum: int = 9) -> bool:
        """SIGKILL (or `signum`), unless it already ended (the fork server checks, so a reused pid is never hit)."""
        return self.server.kill(self.pid, signum)

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while not self.done():
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"mediarouter process {self.pid} still running after {timeout}s")
            time.sleep(0.005)
        return int(self.out.with_suffix(".exit").read_text())

    @property
    def stdout(self) -> str:
        return self.out.with_suffix(".stdout").read_text()

    @property
    def stderr(self) -> str:
        return self.out.with_suffix(".stderr").read_text()


@dataclass
class ForkServer:
    """Client of `forkserver.py`: `spawn` starts a real `mediarouter` process without paying for imports."""

    process: subprocess.Popen[str]
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self._lock:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
            answer: dict[str, Any] = json.loads(self.process.stdout.readline())
            return answer

    def spawn(self, argv: list[str], env: dict[str, str], out_dir: Path) -> Child:
        with self._lock:
            self._count += 1
            out = out_dir / f"proc-{self._count}"
        return Child(self._ask({"op": "spawn", "argv": argv, "env": env, "out": str(out)})["pid"], out, self)

    def kill(self, pid: int, signum: int = 9) -> bool:
        return bool(self._ask({"op": "kill", "pid": pid, "signal": signum})["killed"])


@pytest.fixture(scope="package")
def fork_server() -> Iterator[ForkServer]:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("forkserver.py"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "MEDIAROUTER_CONFIG": ""},
    )
    assert process.stdout is not None
    if "ready" not in json.loads(process.stdout.readline() or "{}"):
        raise RuntimeError("the fork server did not start")
    try:
        yield ForkServer(process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
