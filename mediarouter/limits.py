"""Per-provider queues: how many HTTP exchanges, downloads (and jobs) run at once; the rest wait their turn.

At volume the failure was the client, not the provider: a thousand calls handed to a pool of a
hundred connections waited *inside* their request timeouts, failed as if the server were down,
and a submit that never left the process looked "maybe accepted". The engine takes a slot
before it starts a request's timeout, so a queued request is late, never failed; only the call's
own deadline bounds the wait. Downloads have a queue of their own (`max_concurrent_downloads`):
a transfer can take minutes, and holding a request slot for it would starve the polls and submits
of the same provider. With `max_concurrent_requests` plus `max_concurrent_downloads` below the
provider client's pool size, httpx's pool never has waiters (its bookkeeping is quadratic in them).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

__all__ = ["KINDS", "ProviderLimits", "Slots"]


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


#: The queues each provider has; `provider_concurrency` in the settings may set any of them per provider.
KINDS: tuple[str, ...] = ("requests", "jobs", "downloads")


class ProviderLimits:
    """The request, download and job queues of each provider (by name), created on first use.

    `max_*` apply to every provider; `per_provider` overrides some of them for one provider, e.g.
    `{"fal": {"requests": 8, "jobs": 2}}` (a missing or None value keeps the default).
    """

    def __init__(
        self,
        *,
        max_requests: int | None = 64,
        max_jobs: int | None = None,
        max_downloads: int | None = 8,
        per_provider: Mapping[str, Mapping[str, int | None]] | None = None,
    ) -> None:
        self.max_requests = max_requests
        self.max_jobs = max_jobs
        self.max_downloads = max_downloads
        self.per_provider: dict[str, dict[str, int | None]] = {}
        for name, values in (per_provider or {}).items():
            unknown = sorted(set(values) - set(KINDS))
            if unknown:
                raise ValueError(f"unknown limit(s) {', '.join(unknown)} for {name!r}; allowed: {', '.join(KINDS)}")
            self.per_provider[name] = dict(values)
        self._slots: dict[tuple[str, str], Slots] = {}

    def limit(self, provider: str, kind: str) -> int | None:
        """The limit of `provider`'s `kind` queue (None: unlimited): its own override, else the default."""
        defaults = {"requests": self.max_requests, "jobs": self.max_jobs, "downloads": self.max_downloads}
        own = self.per_provider.get(provider, {}).get(kind)
        return own if own is not None else defaults[kind]

    def _queue(self, provider: str, kind: str) -> Slots:
        slots = self._slots.get((provider, kind))
        if slots is None:
            slots = self._slots[(provider, kind)] = Slots(self.limit(provider, kind))
        return slots

    def requests(self, provider: str) -> Slots:
        """HTTP exchanges in flight (submit, poll) for `provider`."""
        return self._queue(provider, "requests")

    def downloads(self, provider: str) -> Slots:
        """Downloads in flight for `provider`: their own queue, so a long transfer never holds a request
        slot that the provider's polls and submits wait for."""
        return self._queue(provider, "downloads")

    def jobs(self, provider: str) -> Slots:
        """Jobs between their submit and their download for `provider`."""
        return self._queue(provider, "jobs")
