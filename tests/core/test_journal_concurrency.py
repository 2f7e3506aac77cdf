"""Idempotency keys and per-job leases hold across real processes sharing one journal file."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mediarouter.journal import JobRecord, SQLiteJobStore

ROUNDS = 10


def _claimer(path: str, name: str, barrier: Any, results: Any) -> None:
    store = SQLiteJobStore(path)
    for round_ in range(ROUNDS):
        record = JobRecord(key=f"local-{name}-{round_}", provider="fake", model="m", idempotency_key=f"order-{round_}")
        barrier.wait(30)  # both processes claim the same key at the same moment
        results.put((round_, name, store.claim(record) is None))
    store.close()


def test_two_processes_claiming_one_key_get_exactly_one_winner_each_time(tmp_path: Path) -> None:
    path = str(tmp_path / "jobs.sqlite3")
    SQLiteJobStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(path, name, barrier, results)) for name in ("a", "b")]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in range(2 * ROUNDS)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    for round_ in range(ROUNDS):
        winners = [name for r, name, won in outcomes if r == round_ and won]
        assert len(winners) == 1, f"round {round_}: winners {winners}"
    store = SQLiteJobStore(path)
    rows = store.list()
    assert len(rows) == ROUNDS and len({r.idempotency_key for r in rows}) == ROUNDS


HOLDER = """
import sys, time
from mediarouter.journal import SQLiteJobStore
store = SQLiteJobStore(sys.argv[1])
assert store.try_lease("job:job-1", "holder", 3600) is None
print("held", flush=True)
time.sleep(600)
"""


def hold_lease(path: Path) -> subprocess.Popen[str]:
    """A real process holding the lease of job-1 for an hour (until it is killed)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_lease_held_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    proc = hold_lease(path)
    store = SQLiteJobStore(path)
    try:
        holder = store.try_lease("job:job-1", "me", 60)
        assert holder is not None and holder.pid == proc.pid  # alive: refused
    finally:
        proc.kill()
        proc.wait(10)
    assert store.try_lease("job:job-1", "me", 60) is None  # kill -9'd: blocks nobody


def test_a_lease_of_another_host_blocks_only_until_its_ttl(tmp_path: Path) -> None:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    now = time.time()
    with store._transaction() as cur:  # a holder on another machine sharing the file: its pid means nothing here
        cur.execute("INSERT INTO leases VALUES ('job:job-1', 'elsewhere', 1, 'other-host', ?)", (now + 60,))
    assert store.try_lease("job:job-1", "me", 60, now=now) is not None
    assert store.try_lease("job:job-1", "me", 60, now=now + 61) is None
