"""End to end: two `mediarouter worker` processes on one real PostgreSQL, the OpenRouter emulator served
on loopback, 50 requests enqueued with `batch --engine dbos --no-wait`, one worker killed with SIGKILL
mid-run and restarted with the same id. Every request is delivered once, with one submit each."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dbos import DBOSClient

from mediarouter.journal import RecordState
from mediarouter.journal_postgres import PostgresJobStore

from ..e2e.conftest import MEDIAROUTER, WAN, Emulator

pytestmark = pytest.mark.slow

REQUESTS = 50


@pytest.fixture
def workers() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str], name: str, log: Path) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [MEDIAROUTER, "worker", "--id", name, "--concurrency", "4", "--queue-poll-interval", "0.05"],
            stdout=subprocess.DEVNULL,
            stderr=log.open("a"),
            env=env,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_two_workers_one_killed_every_request_delivered_once_with_one_submit(
    emulator: Callable[..., Emulator],
    postgres_url: str,
    workers: Callable[..., subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    emu = emulator("--polls-before-completed", "8")
    # One PostgreSQL for both: DBOS's system tables and the job journal every worker (and `jobs`) shares.
    env = {
        **emu.env,
        "MEDIAROUTER_DBOS_DATABASE": postgres_url,
        "MEDIAROUTER_JOURNAL": postgres_url,
        "MEDIAROUTER_POLL_INTERVAL": "0.05",
    }
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        "".join(json.dumps({"prompt": f"clip {n}", "model": WAN, "duration": 5}) + "\n" for n in range(REQUESTS))
    )
    out = tmp_path / "out"
    batch = [MEDIAROUTER, "batch", str(requests), "-o", str(out), "--engine", "dbos", "--poll-interval", "0.05"]

    enqueued = subprocess.run([*batch, "--no-wait", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert enqueued.returncode == 0, enqueued.stderr
    assert json.loads(enqueued.stdout)["totals"]["enqueued"] == REQUESTS

    journal = PostgresJobStore(postgres_url)
    try:
        a = workers(env, "worker-a", tmp_path / "a.log")
        workers(env, "worker-b", tmp_path / "b.log")

        def downloaded() -> int:
            return sum(1 for r in journal.list() if r.state is RecordState.DOWNLOADED)

        client = DBOSClient(system_database_url=postgres_url)
        try:

            def running_on_a() -> int:
                return len(client.list_workflows(executor_id="worker-a", status="PENDING", load_input=False))

            # Mid-run, with workflows in flight on worker-a (between or inside steps): its restart must finish them.
            _wait_for(lambda: downloaded() >= 12 and running_on_a() > 0, 40, "downloads and work on worker-a")
            a.send_signal(signal.SIGKILL)
            a.wait(timeout=10)
            assert downloaded() < REQUESTS and running_on_a() > 0
        finally:
            client.destroy()
        workers(env, "worker-a", tmp_path / "a.log")  # the same id: its pending workflows go on

        collected = subprocess.run([*batch, "--json", "--worker-id", "collector"], env=env,
                                   capture_output=True, text=True, timeout=90)  # fmt: skip
        report = json.loads(collected.stdout)
        unknown = [r for r in report["results"] if r["status"] != "done"]
        # A kill between a POST and its journal update leaves an unknown submit: settle it the documented way.
        if unknown:
            assert all(r["error_type"] == "Conflict" for r in unknown), unknown
            known = {r.job_id for r in journal.list() if r.job_id}
            orphans = [s["job_id"] for s in emu.journal() if s["phase"] == "submit" and s["job_id"] not in known]
            for row, job_id in zip(unknown, orphans + [None] * len(unknown), strict=False):
                command = ["adopt", row["idempotency_key"], job_id] if job_id else ["forget", row["idempotency_key"]]
                settled = subprocess.run([MEDIAROUTER, "jobs", *command, *(["--yes"] if not job_id else [])],
                                         env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
                assert settled.returncode == 0, settled.stderr
            collected = subprocess.run([*batch, "--json", "--worker-id", "collector"], env=env,
                                       capture_output=True, text=True, timeout=90)  # fmt: skip
            report = json.loads(collected.stdout)
        assert collected.returncode == 0, collected.stderr + (tmp_path / "a.log").read_text()[-2000:]
    finally:
        journal.close()

    assert report["totals"]["done"] == REQUESTS and report["ok"]
    files = sorted(out.glob("*.mp4"))
    assert len(files) == REQUESTS and all(f.stat().st_size > 0 for f in files)
    final = {}
    for text in (out / "results.jsonl").read_text().splitlines():
        record = json.loads(text)
        final[record["idempotency_key"]] = record
    assert len(final) == REQUESTS and all(r["status"] == "done" for r in final.values())
    assert len({r["job_id"] for r in final.values()}) == REQUESTS
    submits = [s for s in emu.submits() if s[1] == 202]
    assert len(submits) == REQUESTS, f"{len(submits)} submits for {REQUESTS} requests"
    assert os.path.getsize(out / "results.jsonl") > 0
