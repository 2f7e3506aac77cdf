"""Idempotency keys and per-job leases hold across real processes sharing one journal: one SQLite
file, or one PostgreSQL database (a real server; skipped without one)."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mediarouter.journal import JobRecord, JobStore, SQLiteJobStore, open_store

ROUNDS = 10


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the processes' shared journal is: what they would be given in MEDIAROUTER_JOURNAL."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "jobs.sqlite3")


def _open(location: str) -> JobStore:
    store = open_store(location)
    assert store is not None
    return store


def _claimer(location: str, name: str, barrier: Any, results: Any) -> None:
    store = _open(location)
    for round_ in range(ROUNDS):
        record = JobRecord(key=f"local-{name}-{round_}", provider="fake", model="m", idempotency_key=f"order-{round_}")
        barrier.wait(30)  # both processes claim the same key at the same moment
        results.put((round_, name, store.claim(record) is None))
    store.close()


def test_two_processes_claiming_one_key_get_exactly_one_winner_each_time(location: str) -> None:
    _open(location).close()
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(location, name, barrier, results)) for name in ("a", "b")]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in range(2 * ROUNDS)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    for round_ in range(ROUNDS):
        winners = [name for r, name, won in outcomes if r == round_ and won]
        assert len(winners) == 1, f"round {round_}: winners {winners}"
    store = _open(location)
    rows = store.list()
    assert len(rows) == ROUNDS and len({r.idempotency_key for r in rows}) == ROUNDS


HOLDER = """
import sys, time
from mediarouter.journal import open_store
store = open_store(sys.argv[1])
assert store.try_lease("job:job-1", "holder", 3600) is None
print("held", flush=True)
time.sleep(600)
"""


def hold_lease(location: str | Path) -> subprocess.Popen[str]:
    """A real process holding the lease of job-1 for an hour (until it is killed)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(location)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_lease_held_by_a_killed_process_is_taken_over(location: str) -> None:
    proc = hold_lease(location)
    store = _open(location)
    try:
        holder = store.try_lease("job:job-1", "me", 60)
        assert holder is not None and holder.pid == proc.pid  # alive: refused
    finally:
        proc.kill()
        proc.wait(10)
    assert store.try_lease("job:job-1", "me", 60) is None  # kill -9'd: blocks nobody


def _foreign_lease(store: JobStore, expires_at: float) -> None:
    """A lease row written by a holder on another machine sharing the journal: its pid means nothing here."""
    if isinstance(store, SQLiteJobStore):
        with store._transaction() as cur:
            cur.execute("INSERT INTO leases VALUES ('job:job-1', 'elsewhere', 1, 'other-host', ?)", (expires_at,))
        return
    with store._transaction() as pg:  # type: ignore[attr-defined]
        pg.execute(
            "INSERT INTO mediarouter_leases VALUES ('job:job-1', 'elsewhere', 1, 'other-host', %s)", (expires_at,)
        )


def test_a_lease_of_another_host_blocks_only_until_its_ttl(location: str) -> None:
    store = _open(location)
    now = time.time()
    _foreign_lease(store, now + 60)
    assert store.try_lease("job:job-1", "me", 60, now=now) is not None
    assert store.try_lease("job:job-1", "me", 60, now=now + 61) is None
