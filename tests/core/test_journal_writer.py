"""The journal writer's batched commits: several calls per SQLite transaction, none reported done before
the commit that covers it (so what a caller was told is durable survives a kill -9)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediarouter.errors import Conflict
from mediarouter.journal import JobRecord, RecordState, SQLiteJobStore
from mediarouter.journal_writer import JournalWriter


def record(key: str) -> JobRecord:
    return JobRecord(key=key, provider="openrouter", model="alibaba/wan-2.6", state=RecordState.SUBMITTING)


def others_see(path: Path, key: str) -> bool:
    """Whether a separate connection (another process's view) finds the row."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT 1 FROM jobs WHERE key = ?", (key,)).fetchone() is not None
    finally:
        conn.close()


def test_a_batch_commits_once_and_a_failing_call_is_undone_alone(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    store = SQLiteJobStore(path)
    store.add(record("taken"))
    with store.batch():
        store.add(record("a"))
        with pytest.raises(Conflict):
            store.add(record("taken"))  # its savepoint is rolled back, the batch goes on
        store.update("a", state=RecordState.PENDING, job_id="job-a")
        assert store.get("job-a") is not None  # the batch reads its own writes
        assert not others_see(path, "job-a")  # nothing is durable before the block ends
    assert others_see(path, "job-a")
    assert [r.key for r in store.list()].count("taken") == 1


def test_a_batch_that_raises_leaves_nothing(tmp_path: Path) -> None:
    store = SQLiteJobStore(tmp_path / "j.sqlite")
    with pytest.raises(RuntimeError), store.batch():
        store.add(record("a"))
        raise RuntimeError("boom")
    assert store.get("a") is None
    store.add(record("b"))  # the store is usable afterwards
    assert store.get("b") is not None


@contextlib.contextmanager
def held(writer: JournalWriter) -> Iterator[threading.Event]:
    """Keep the writer thread busy so the calls made meanwhile queue up and go in one batch."""
    release, busy = threading.Event(), threading.Event()

    def block() -> None:
        busy.set()
        release.wait(30)

    writer.later(block)
    assert busy.wait(30)
    try:
        yield release
    finally:
        release.set()


class CountingStore(SQLiteJobStore):
    """Counts batches; `fail_commits` makes that many batches fail when they end (a failed COMMIT)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches = 0
        self.fail_commits = 0

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        self.batches += 1
        with super().batch():
            yield
            if self.fail_commits:
                self.fail_commits -= 1
                raise sqlite3.OperationalError("disk I/O error")


def test_queued_calls_share_one_commit_and_each_caller_gets_its_own_outcome(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "j.sqlite")
    store.add(record("taken"))
    writer = JournalWriter(store)

    async def main() -> list[object]:
        with held(writer) as release:
            calls = [asyncio.ensure_future(writer.add(record(f"k{i}"))) for i in range(5)]
            calls.append(asyncio.ensure_future(writer.add(record("taken"))))
            calls.append(asyncio.ensure_future(writer.update("k0", state=RecordState.PENDING, job_id="job-0")))
            await asyncio.sleep(0)
            release.set()
            return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(main())
    writer.close()
    assert store.batches == 1
    assert outcomes[:5] == [None] * 5
    assert isinstance(outcomes[5], Conflict)
    assert isinstance(outcomes[6], JobRecord) and outcomes[6].key == "job-0"
    assert sorted(r.key for r in store.list()) == ["job-0", "k1", "k2", "k3", "k4", "taken"]


def test_a_failed_batch_commit_runs_its_calls_one_by_one(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "j.sqlite")
    writer = JournalWriter(store)
    store.fail_commits = 1

    async def main() -> list[object]:
        with held(writer) as release:
            calls = [asyncio.ensure_future(writer.add(record(f"k{i}"))) for i in range(3)]
            await asyncio.sleep(0)
            release.set()
            return await asyncio.gather(*calls, return_exceptions=True)

    assert asyncio.run(main()) == [None, None, None]  # each applied once: no Conflict from a double insert
    writer.close()
    assert sorted(r.key for r in store.list()) == ["k0", "k1", "k2"]


def test_a_cancelled_caller_s_write_still_lands(tmp_path: Path) -> None:
    store = SQLiteJobStore(tmp_path / "j.sqlite")
    writer = JournalWriter(store)

    async def main() -> None:
        with held(writer):
            call = asyncio.ensure_future(writer.add(record("k")))
            await asyncio.sleep(0)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    asyncio.run(main())
    writer.flush()
    assert store.get("k") is not None
    writer.close()


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from mediarouter.journal import JobRecord, RecordState, SQLiteJobStore
    from mediarouter.journal_writer import JournalWriter

    writer = JournalWriter(SQLiteJobStore(sys.argv[1]))

    async def job(i: int) -> None:
        for n in range(10_000):
            key = f"k{i}-{n}"
            await writer.add(JobRecord(key=key, provider="p", model="m", state=RecordState.SUBMITTING))
            print(key, flush=True)  # told: durable

    async def main() -> None:
        await asyncio.gather(*(job(i) for i in range(40)))

    asyncio.run(main())
    """
)


def test_every_write_a_caller_was_told_of_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    SQLiteJobStore(path).close()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, bufsize=1)
    assert child.stdout is not None
    acked = []
    for line in child.stdout:
        acked.append(line.strip())
        if len(acked) == 2_000:  # mid-stream: many batches committed, more in flight
            child.send_signal(signal.SIGKILL)
            break
    acked += [line.strip() for line in child.stdout]  # what was printed before the kill
    child.wait(30)
    assert child.returncode == -signal.SIGKILL
    store = SQLiteJobStore(path)
    try:
        present = {r.key for r in store.list()}
    finally:
        store.close()
    assert set(acked) <= present
