"""Per-provider queues: how many HTTP exchanges (and jobs) run at once; the rest wait their turn.

At volume the failure was the client, not the provider: a thousand calls handed to a pool of a
hundred connections waited *inside* their request timeouts, failed as if the server were down,
and a submit that never left the process looked "maybe accepted". The engine takes a slot
before it starts a request's timeout, so a queued request is late, never failed; only the call's
own deadline bounds the wait. With `max_concurrent_requests` below the provider client's pool
size, httpx's pool never has waiters (its bookkeeping is quadratic in them).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["ProviderLimits", "Slots"]


class Slots:
    """A FIFO counting semaphore that works on any event loop (one queue per loop).

    A Router may be used from several `asyncio.run` calls; an `asyncio.Semaphore` is bound to
    the first loop that waits on it, so each loop gets its own.
    """

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("a slot limit must be >= 1 (or None: unlimited)")
        self.limit = limit
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        #: Held now / waiting now (on every loop): for tests and metrics.
        self.in_flight = 0
        self.waiting = 0
        #: The most ever held at once.
        self.peak = 0

    def _semaphore(self) -> asyncio.Semaphore | None:
        if self.limit is None:
            return None
        loop = asyncio.get_running_loop()
        semaphore = self._per_loop.get(loop)
        if semaphore is None:
            semaphore = self._per_loop[loop] = asyncio.Semaphore(self.limit)
        return semaphore

    async def acquire(self) -> None:
        semaphore = self._semaphore()
        if semaphore is not None:
            self.waiting += 1
            try:
                await semaphore.acquire()
            finally:
                self.waiting -= 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)

    def release(self) -> None:
        self.in_flight -= 1
        semaphore = self._semaphore()
        if semaphore is not None:
            semaphore.release()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()


class ProviderLimits:
    """The request and job queues of each provider (by name), created on first use."""

    def __init__(self, *, max_requests: int | None = 64, max_jobs: int | None = None) -> None:
        self.max_requests = max_requests
        self.max_jobs = max_jobs
        self._requests: dict[str, Slots] = {}
        self._jobs: dict[str, Slots] = {}

    def requests(self, provider: str) -> Slots:
        """HTTP exchanges in flight (submit, poll, download) for `provider`."""
        slots = self._requests.get(provider)
        if slots is None:
            slots = self._requests[provider] = Slots(self.max_requests)
        return slots

    def jobs(self, provider: str) -> Slots:
        """Jobs between their submit and their download for `provider`."""
        slots = self._jobs.get(provider)
        if slots is None:
            slots = self._jobs[provider] = Slots(self.max_jobs)
        return slots
