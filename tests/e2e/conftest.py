"""A real `mediarouter emulator` process on loopback, and the installed command pointed at it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

MEDIAROUTER = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))
VEO = "openrouter/google/veo-3.1"
WAN = "openrouter/alibaba/wan-2.6"
#: Fast polling: the emulator answers at once, and these tests should take seconds, not minutes.
FAST = ("--poll-interval", "0.05")


@dataclass
class Emulator:
    base_url: str
    env: dict[str, str]

    def journal(self) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = httpx.get(
            self.base_url.removesuffix("/api/v1") + "/_emulator/requests"
        ).json()["requests"]
        return requests

    def submits(self) -> list[tuple[str, int]]:
        """(model, HTTP status) of every POST /videos, in order."""
        return [
            (r["model"], r["status"]) for r in self.journal() if r["method"] == "POST" and r["path"].endswith("/videos")
        ]

    @property
    def journal_file(self) -> str:
        return self.env["MEDIAROUTER_JOURNAL"]

    def generate(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("generate", "A golden retriever on a beach", *FAST, *args)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The installed `mediarouter` command with this emulator's environment."""
        return subprocess.run(
            [MEDIAROUTER, *args], capture_output=True, text=True, timeout=timeout, env=self.env, check=False
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Emulator]]:
    """Start an emulator with the given `mediarouter emulator` options; every one is stopped at the end."""
    home = tmp_path_factory.mktemp("home")
    processes: list[subprocess.Popen[bytes]] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "MEDIAROUTER_"))}
    env.update(
        MEDIAROUTER_CONFIG="",  # never the user's aliases or defaults
        MEDIAROUTER_JOURNAL=str(home / "jobs.sqlite3"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
    )

    def start(*options: str) -> Emulator:
        port = _free_port()
        process = subprocess.Popen(
            [MEDIAROUTER, "emulator", "--port", str(port), "--log-level", "warning", *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        processes.append(process)
        base_url = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_emulator/requests", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not start (exit code {process.poll()})") from None
                time.sleep(0.05)
        return Emulator(base_url, {**env, "OPENROUTER_BASE_URL": base_url, "OPENROUTER_API_KEY": "sk-or-e2e"})

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
