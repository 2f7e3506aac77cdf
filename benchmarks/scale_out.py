"""Many emulated requests: `mediarouter batch` in one process versus DBOS with two `mediarouter worker`s.

Serves the OpenRouter emulator on loopback (its own process, not counted), then runs N requests
(1,000 by default) twice:

- local: one `mediarouter batch FILE -o DIR --concurrency C` process;
- dbos: two `mediarouter worker` processes (concurrency C/2 each), `batch --engine dbos --no-wait`
  to enqueue and `batch --engine dbos --collect-only` to wait for the results file.

Prints wall time, requests per second, CPU milliseconds per request (user + system of every
mediarouter process of that side, from wait4) and peak RSS per process. Asserts nothing.

    uv run python benchmarks/scale_out.py                 # 1,000 requests, DBOS on SQLite
    uv run python benchmarks/scale_out.py -n 200 --postgres
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MEDIAROUTER = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))
POLL = "0.05"


@dataclass
class Side:
    name: str
    wall: float = 0.0
    cpu: float = 0.0
    rss_mib: dict[str, float] = field(default_factory=dict)
    done: int = 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reap(process: subprocess.Popen[bytes], side: Side, label: str) -> int:
    """Wait for a child and add its CPU time and peak RSS to `side` (wait4: this child only)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    side.cpu += usage.ru_utime + usage.ru_stime
    side.rss_mib[label] = usage.ru_maxrss / 1024  # KiB on Linux
    return process.returncode


def _run(command: list[str], env: dict[str, str], side: Side, label: str) -> None:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    code = _reap(process, side, label)
    if code != 0:
        raise SystemExit(
            f"{label} failed with {code}: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
        )


def _count_done(results: Path) -> int:
    final = {}
    for text in results.read_text().splitlines():
        record = json.loads(text)
        final[record["idempotency_key"]] = record["status"]
    return sum(1 for status in final.values() if status == "done")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16, help="local batch concurrency (each worker: half)")
    parser.add_argument("--postgres", action="store_true", help="DBOS on a PostgreSQL started for the run")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mediarouter-scale-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "MEDIAROUTER_"))}
    port = _free_port()
    env.update(
        MEDIAROUTER_CONFIG="",
        MEDIAROUTER_LOG_LEVEL="error",
        OPENROUTER_API_KEY="sk-or-bench",
        OPENROUTER_BASE_URL=f"http://127.0.0.1:{port}/api/v1",
        MEDIAROUTER_POLL_INTERVAL=POLL,
    )
    emulator = subprocess.Popen(
        [MEDIAROUTER, "emulator", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = None
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/_emulator/requests", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        requests = work / "requests.jsonl"
        requests.write_text(
            "".join(
                json.dumps({"prompt": f"clip {n}", "model": "openrouter/alibaba/wan-2.6", "duration": 5}) + "\n"
                for n in range(args.requests)
            )
        )
        sides: list[Side] = []

        local = Side("local batch, 1 process")
        local_env = {**env, "MEDIAROUTER_JOURNAL": str(work / "local" / "jobs.sqlite3")}
        (work / "local").mkdir()
        t0 = time.perf_counter()
        batch = [MEDIAROUTER, "batch", str(requests), "-q", "--poll-interval", POLL]
        _run([*batch, "-o", str(work / "local" / "out"), "--concurrency", str(args.concurrency)],
             local_env, local, "batch")  # fmt: skip
        local.wall = time.perf_counter() - t0
        local.done = _count_done(work / "local" / "out" / "results.jsonl")
        sides.append(local)

        if args.postgres:
            sys.path.insert(0, str(ROOT))
            from tests.postgres_server import start_server

            server = start_server()
            database = server.create_database()
        else:
            database = f"sqlite:///{work / 'dbos' / 'dbos.sqlite3'}"
        durable = Side(f"dbos, 2 workers ({'PostgreSQL' if args.postgres else 'SQLite'})")
        (work / "dbos").mkdir()
        dbos_env = {**env, "MEDIAROUTER_JOURNAL": str(work / "dbos" / "jobs.sqlite3"),
                    "MEDIAROUTER_DBOS_DATABASE": database}  # fmt: skip
        half = str(max(1, args.concurrency // 2))
        workers = [
            subprocess.Popen(
                [MEDIAROUTER, "worker", "--id", f"bench-{i}", "--concurrency", half, "--queue-poll-interval", "0.05"],
                env=dbos_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in (1, 2)
        ]
        time.sleep(3)  # both workers launched (their start-up is not part of the run)
        out = str(work / "dbos" / "out")
        t0 = time.perf_counter()
        _run([*batch, "-o", out, "--engine", "dbos", "--no-wait"], dbos_env, durable, "enqueue")
        _run([*batch, "-o", out, "--engine", "dbos", "--collect-only"], dbos_env, durable, "collect")
        durable.wall = time.perf_counter() - t0
        for i, worker in enumerate(workers, 1):
            worker.send_signal(signal.SIGTERM)
            _reap(worker, durable, f"worker {i}")
        durable.done = _count_done(work / "dbos" / "out" / "results.jsonl")
        sides.append(durable)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    n = args.requests
    print(f"{n} emulated requests (alibaba/wan-2.6, poll interval {POLL} s), concurrency {args.concurrency}")
    print(f"{'side':<34} {'done':>5} {'wall s':>8} {'req/s':>7} {'CPU ms/req':>11}  peak RSS MiB")
    for side in sides:
        rss = ", ".join(f"{k} {v:.0f}" for k, v in side.rss_mib.items())
        print(
            f"{side.name:<34} {side.done:>5} {side.wall:>8.1f} {n / side.wall:>7.1f} "
            f"{1000 * side.cpu / n:>11.1f}  {rss}"
        )


if __name__ == "__main__":
    main()
