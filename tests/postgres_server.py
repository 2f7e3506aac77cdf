"""A real PostgreSQL server for the tests, started from the machine's binaries in a temporary directory.

PostgreSQL refuses to run as root, and CI runs as root: the server then runs as the `postgres` user
(Debian's package creates it) or `nobody`, in a directory owned by that user. Tests connect over
loopback TCP with trust authentication, so any client process (a worker, psql, psycopg) can reach it.

Without PostgreSQL binaries the tests that need it skip, unless MEDIAROUTER_REQUIRE_POSTGRES=1
(`.ci/run` sets it, after installing Debian's `postgresql`), where a missing server is a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_ENV = "MEDIAROUTER_REQUIRE_POSTGRES"
BIN_ENV = "MEDIAROUTER_PG_BIN"
USER = "mediarouter"


def find_bin_dir() -> Path | None:
    """The directory holding initdb/postgres: $MEDIAROUTER_PG_BIN, Debian's newest, or the PATH."""
    if os.environ.get(BIN_ENV):
        return Path(os.environ[BIN_ENV])
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name or 0))
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to drop to when running as root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int
    process: subprocess.Popen[bytes]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        subprocess.run(
            [str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name],
            check=True,
            capture_output=True,
        )
        return self.url(name)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: "smart" shutdown would wait for clients; use fast
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PostgresServer:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("no PostgreSQL binaries (initdb, postgres) on this machine")
    root = Path(tempfile.mkdtemp(prefix="mediarouter-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    owner = _run_as()
    if owner is not None:
        for path in (root, sockets):
            os.chown(path, *owner)

    def as_owner() -> None:
        if owner is not None:
            os.setgid(owner[1])
            os.setgroups([])
            os.setuid(owner[0])

    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
        preexec_fn=as_owner,
        env=env,
        cwd=root,
    )
    port = _free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - the server writes to it until stop()
    settings = ["listen_addresses=127.0.0.1", "fsync=off", "synchronous_commit=off", "full_page_writes=off"]
    command = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sockets)]
    for setting in [*settings, "max_connections=200"]:
        command += ["-c", setting]
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=as_owner,
        env=env,
        cwd=root,
    )
    server = PostgresServer(bin_dir, root, port, process)
    deadline = time.monotonic() + 30
    while True:
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", USER],
            capture_output=True,
        )
        if ready.returncode == 0:
            return server
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            text = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start (exit {process.poll()}): {text[-2000:]}")
        time.sleep(0.1)


@contextlib.contextmanager
def postgres_or_skip() -> Iterator[PostgresServer]:
    """A running server for the session; a skip (or, where required, a failure) without binaries."""
    try:
        server = start_server()
    except FileNotFoundError as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {exc}")
        pytest.skip(f"{exc}; install Debian's postgresql or set {BIN_ENV}")
    try:
        yield server
    finally:
        server.stop()
