"""Journal calls off the event loop: any `JobStore`, called from one worker thread, in order.

A SQLite commit at synchronous=FULL waits for the disk (~0.5 ms or more); six of them per job
on the event loop stall every other job in the process. The writer runs each store call on one
dedicated thread, so calls apply in the order they were made, and the engine *awaits* the ones
money depends on (the submit intent before the POST, the job id before polling, `downloaded`
after the file is saved): durability is what the store gives (WAL, synchronous=FULL), unchanged.
Calls nothing waits on (a status change, a lease release) are queued with `later` and still
apply in order.

An awaited call is shielded: a cancelled caller stops waiting, but its write still lands (a job
id accepted by the provider must reach the journal whatever happens to the task).

Batched commits: the thread drains whatever has queued up while it was busy (up to `MAX_BATCH`
calls) and, for a store with `batch()` (`SQLiteJobStore`), runs them in one transaction, each in
its own savepoint: one commit and one fsync for many jobs' writes, and one wake-up of the event
loop for all their waiters. No call is reported done before the commit that covers it, so "durable
before the POST" and "the job id before polling" hold as for one call per commit; a kill -9 loses
only calls nobody has been told are done. A store without `batch()` gets one call per transaction.

The `JobStore` protocol stays synchronous, so a host's own store needs nothing new; it must only
tolerate being called from a thread other than the one that built it (the bundled ones do).
`MemoryJobStore` has no I/O to wait for and is called inline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from .journal import (
    JobRecord,
    JobStore,
    Lease,
    MemoryJobStore,
    holding_lease,
    lease_conflict,
    lease_held_here,
    lease_owner,
)

__all__ = ["JournalWriter", "as_writer"]

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger("mediarouter.journal")


#: Most store calls one commit covers (a batch holds the SQLite write lock while it runs).
MAX_BATCH = 64


class JournalWriter:
    """`await writer.update(key, state=...)`: the store's call, made on the writer thread."""

    def __init__(self, store: JobStore, *, threaded: bool | None = None) -> None:
        self.store = store
        self.threaded = not isinstance(store, MemoryJobStore) if threaded is None else threaded
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        #: Calls queued for the writer thread, in order: (the call, its waiter or None).
        self._pending: list[tuple[Callable[[], Any], _Waiter | None]] = []
        self._draining = False
        batch = getattr(store, "batch", None)
        self._batch: Callable[[], contextlib.AbstractContextManager[object]] | None = batch if callable(batch) else None

    def _submit(self, fn: Callable[[], Any], waiter: _Waiter | None) -> None:
        """Queue one call; the writer thread drains the queue in order, a batch at a time."""
        with self._lock:
            if self._pid != os.getpid():  # a forked child: its own thread, none of the parent's queue
                self._executor, self._pending, self._draining = None, [], False
                self._pid = os.getpid()
            self._pending.append((fn, waiter))
            if self._draining:
                return
            self._draining = True
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mediarouter-journal")
            executor = self._executor
        executor.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                if not batch:
                    self._draining = False
                    return
            try:
                _settle(batch, self._apply(batch))
            except Exception:  # pragma: no cover  (never leave the queue without a drainer)
                logger.exception("the journal writer failed to report a batch")

    def _apply(self, batch: list[tuple[Callable[[], Any], _Waiter | None]]) -> list[tuple[bool, Any]]:
        """Run the calls in order: several in one store transaction (one commit, one fsync) when the store
        offers `batch()`, each rolled back alone if it raises. Nothing is reported before that commit;
        if the batch itself fails (the commit, say), it is rolled back and the calls run one by one."""
        if self._batch is not None and len(batch) > 1:
            try:
                with self._batch():
                    outcomes = [_run(fn) for fn, _ in batch]
                return outcomes
            except Exception:
                logger.debug("a batched journal commit failed; running its calls one by one", exc_info=True)
        return [_run(fn) for fn, _ in batch]

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one store call (in order with every other) and wait until it is committed; cancelling the
        caller does not cancel the write."""
        if not self.threaded:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._submit(functools.partial(fn, *args, **kwargs), (loop, future))
        return await future

    def later(self, fn: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
        """Queue a call nothing waits for; a failure is logged (it must never cost the job)."""
        if not self.threaded:
            try:
                fn(*args, **kwargs)
            except Exception:
                logger.exception("a journal write failed")
            return
        self._submit(functools.partial(fn, *args, **kwargs), None)

    def flush(self) -> None:
        """Block until every queued call has run (for shutdown and tests); not on the writer thread."""
        if self._executor is not None and self.threaded:
            done: Future[None] = Future()
            self._submit(lambda: None, done)
            done.result()

    def close(self) -> None:
        """Finish the queued calls and stop the thread (the store itself stays open: its owner closes it)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    # -- the JobStore calls the engine makes ----------------------------------------------------

    async def add(self, record: JobRecord) -> None:
        await self.call(self.store.add, record)

    async def claim(self, record: JobRecord) -> JobRecord | None:
        return await self.call(self.store.claim, record)

    async def update(self, key: str, **fields: Any) -> JobRecord:
        return await self.call(functools.partial(self.store.update, key, **fields))

    async def get(self, key_or_job_id: str) -> JobRecord | None:
        return await self.call(self.store.get, key_or_job_id)

    async def try_lease(self, name: str, owner: str, ttl: float) -> Lease | None:
        return await self.call(self.store.try_lease, name, owner, ttl)

    @contextlib.asynccontextmanager
    async def job_lease(
        self, job_id: str, *, ttl: float, doing: str = "resumed", taken: str | None = None
    ) -> AsyncIterator[str]:
        """`journal.job_lease` with its store calls on the writer thread (same rules: re-entrant in a task,
        a live holder elsewhere is a Conflict). `taken`: the owner of a lease already taken for this task
        (the engine's submit hands one over), held and released here."""
        name = f"job:{job_id}"
        mine = lease_held_here(name)
        if mine is not None:
            yield mine
            return
        owner = taken or lease_owner()
        if taken is None:
            try:
                holder = await self.try_lease(name, owner, ttl)
            except (asyncio.CancelledError, KeyboardInterrupt):
                self.later(self.store.release_lease, name, owner)  # the shielded take may still land: undo it
                raise
            if holder is not None:
                raise lease_conflict(job_id, holder, doing)
        try:
            with holding_lease(name, owner):
                yield owner
        finally:
            # Awaited: a call made right after this one (same key, a resume) must find the lease free.
            with contextlib.suppress(Exception):
                await self.call(self.store.release_lease, name, owner)


#: Who waits for a call: an event loop's future (`call`), a thread's (`flush`), or nobody (`later`: None).
_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]"] | Future[Any]


def _run(fn: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        return True, fn()
    except Exception as exc:
        return False, exc


def _settle(batch: list[tuple[Callable[[], Any], _Waiter | None]], outcomes: list[tuple[bool, Any]]) -> None:
    """Hand each outcome to its waiter: one wake-up per event loop for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for (_, waiter), (ok, value) in zip(batch, outcomes, strict=True):
        if waiter is None:
            if not ok:
                logger.error("a journal write failed", exc_info=value)
        elif isinstance(waiter, Future):
            if ok:
                waiter.set_result(value)
            else:
                waiter.set_exception(value)
        else:
            by_loop.setdefault(waiter[0], []).append((waiter[1], ok, value))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to tell (the writes landed)
            loop.call_soon_threadsafe(_resolve, settled)


def _resolve(settled: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in settled:
        if future.done():  # the caller was cancelled; its write landed all the same
            if not ok:
                logger.error("a journal write failed", exc_info=value)
        elif ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def as_writer(journal: JobStore | JournalWriter | None) -> JournalWriter | None:
    """The writer for `journal` (a bare store gets a fresh one)."""
    if journal is None or isinstance(journal, JournalWriter):
        return journal
    return JournalWriter(journal)
