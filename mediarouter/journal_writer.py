"""Journal calls off the event loop: any `JobStore`, called from one worker thread, in order.

A SQLite commit at synchronous=FULL waits for the disk (~0.5 ms or more); six of them per job
on the event loop stall every other job in the process. The writer runs each store call on one
dedicated thread, so calls apply in the order they were made, and the engine *awaits* the ones
money depends on (the submit intent before the POST, the job id before polling, `downloaded`
after the file is saved): durability is what the store gives (WAL, synchronous=FULL), unchanged.
Calls nothing waits on (a status change, a lease release) are queued with `later` and still
apply in order. A write the engine awaited that failed (a locked database, a disk briefly full) and
that must not be lost, such as `downloaded` with its files, is `owe`d: tried again before every later
call and at `flush`/`close`, until it lands.

An awaited call is shielded: a cancelled caller stops waiting, but its write still lands (a job
id accepted by the provider must reach the journal whatever happens to the task).

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


class JournalWriter:
    """`await writer.update(key, state=...)`: the store's call, made on the writer thread."""

    def __init__(self, store: JobStore, *, threaded: bool | None = None) -> None:
        self.store = store
        self.threaded = not isinstance(store, MemoryJobStore) if threaded is None else threaded
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        #: Fields failed writes still owe their rows (row key -> fields), settled on the writer thread.
        self._owed: dict[str, dict[str, Any]] = {}

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._pid != os.getpid():  # a forked child gets its own thread
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mediarouter-journal")
                self._pid = os.getpid()
            return self._executor

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one store call (in order with every other) and wait for it; cancelling the caller does not
        cancel the write."""
        if not self.threaded:
            self._settle()
            return fn(*args, **kwargs)
        waiting = asyncio.wrap_future(self._pool().submit(self._after_owed, functools.partial(fn, *args, **kwargs)))
        try:
            return await asyncio.shield(waiting)
        except (asyncio.CancelledError, KeyboardInterrupt):
            waiting.add_done_callback(_log_failure)  # nobody awaits the write now: its failure is logged here
            raise

    def later(self, fn: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
        """Queue a call nothing waits for; a failure is logged (it must never cost the job)."""
        if not self.threaded:
            try:
                self._settle()
                fn(*args, **kwargs)
            except Exception:
                logger.exception("a journal write failed")
            return
        future: Future[Any] = self._pool().submit(self._after_owed, functools.partial(fn, *args, **kwargs))
        future.add_done_callback(_log_failure)

    def flush(self) -> None:
        """Block until every queued call has run, and the owed writes were tried again (for shutdown and tests)."""
        if not self.threaded:
            self._settle()
        elif self._executor is not None or self._owed:
            self._pool().submit(self._settle).result()

    def close(self) -> None:
        """Finish the queued calls, try the owed writes a last time (an error names what the journal still
        lacks) and stop the thread (the store itself stays open: its owner closes it)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            try:
                executor.submit(self._settle)
            except RuntimeError:  # the interpreter is exiting: the pool takes no work, so settle here, after it
                executor.shutdown(wait=True)
                self._settle()
            else:
                executor.shutdown(wait=True)
        elif self._owed:
            self._settle()
        for key, fields in self._owed.items():
            logger.error(
                "the journal never recorded %s for row %s (%s); the row is out of date",
                ", ".join(sorted(fields)),
                key,
                _describe(fields),
            )

    # -- writes owed by failed ones -------------------------------------------------------------

    @property
    def owes(self) -> bool:
        """Whether a failed write is still to be made again (see `owe`)."""
        return bool(self._owed)

    def owe(self, key: str, **fields: Any) -> None:
        """Remember `fields` for row `key` after its awaited write failed: they are written again before
        the next call this writer makes, and at `flush`/`close`, until they land (newer fields win)."""
        with self._lock:
            self._owed[key] = {**self._owed.get(key, {}), **fields}

    def _after_owed(self, fn: Callable[[], T]) -> T:
        self._settle()
        return fn()

    def _settle(self) -> None:
        """On the writer thread (in order with every call): write what is owed; keep what fails again."""
        if not self._owed:
            return
        with self._lock:
            owed, self._owed = self._owed, {}
        for key, fields in owed.items():
            try:
                self.store.update(key, **fields)
            except Exception as exc:
                logger.warning(
                    "the journal still lacks %s of row %s: %s: %s",
                    ", ".join(sorted(fields)),
                    key,
                    type(exc).__name__,
                    exc,
                )
                with self._lock:  # fields owed meanwhile are newer
                    self._owed[key] = {**fields, **self._owed.get(key, {})}

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
        self,
        job_id: str,
        *,
        ttl: float,
        doing: str = "resumed",
        taken: str | None = None,
        cut: Callable[[], object] | None = None,
        paid_here: bool = False,
    ) -> AsyncIterator[str]:
        """`journal.job_lease` with its store calls on the writer thread (same rules: re-entrant in a task,
        a live holder elsewhere is a Conflict). `taken`: the owner of a lease already taken for this task
        (the engine's submit hands one over), held and released here. `cut`: a store call for a caller
        cancelled while the lease was being taken; it runs on the writer thread only if the lease is then
        this caller's (so no other process is at the job), before it is released. `paid_here`: the caller's
        own submit had the job accepted (`lease_conflict` says so)."""
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
                self.later(self.undo_take, name, owner, ttl, cut)  # the shielded take may still land
                raise
            if holder is not None:
                raise lease_conflict(job_id, holder, doing, paid_here=paid_here)
        try:
            with holding_lease(name, owner):
                yield owner
        finally:
            # Awaited: a call made right after this one (same key, a resume) must find the lease free.
            with contextlib.suppress(Exception):
                await self.call(self.store.release_lease, name, owner)

    def undo_take(self, name: str, owner: str, ttl: float, cut: Callable[[], object] | None = None) -> None:
        """On the writer thread, after a lease take whose caller was cancelled: run `cut` if the lease is
        `owner`'s (no one else is at the job), then let it go."""
        try:
            if cut is not None and self.store.try_lease(name, owner, ttl) is None:  # ours (renewed or taken)
                cut()
        finally:
            self.store.release_lease(name, owner)


def _describe(fields: dict[str, Any]) -> str:
    """The owed state and saved files, for the message (paths, never request fields)."""
    parts = [f"state {fields['state']}"] if "state" in fields else []
    paths = [str(f.get("path")) for f in fields.get("files") or () if isinstance(f, dict)]
    if paths:
        parts.append("saved at " + ", ".join(paths))
    return "; ".join(parts) or "fields " + ", ".join(sorted(fields))


def _log_failure(future: Future[Any] | asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("a journal write failed", exc_info=future.exception())


def as_writer(journal: JobStore | JournalWriter | None) -> JournalWriter | None:
    """The writer for `journal` (a bare store gets a fresh one)."""
    if journal is None or isinstance(journal, JournalWriter):
        return journal
    return JournalWriter(journal)
