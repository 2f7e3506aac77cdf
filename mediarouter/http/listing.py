"""A TTL cache for a provider's model listing, with one request in flight however many calls wait.

A listing is small and changes rarely, but every routed call needs it before its submit: a
thousand concurrent calls must cost one request, and a listing that fails must not be asked
for again by each of them. A fallback (a built-in catalog) is served for a shorter time, so
the live listing is tried again soon.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from ..clock import Clock
from ..errors import MediaRouterError

__all__ = ["ListingCache"]

T = TypeVar("T")


class ListingCache(Generic[T]):
    """`await cache.get(fetch)`: a fresh value, the cached one, or the fallback when `fetch` fails."""

    def __init__(
        self,
        *,
        ttl: float,
        fallback: Callable[[MediaRouterError], T] | None = None,
        fallback_ttl: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        self.ttl = ttl
        self.fallback = fallback
        self.fallback_ttl = min(fallback_ttl, ttl)
        self._clock = clock
        self._value: T | None = None
        self._expires_at = 0.0
        self._inflight: asyncio.Future[T] | None = None
        #: Why the last fetch fell back (None when the value is live).
        self.last_error: MediaRouterError | None = None

    def _now(self) -> float:
        return self._clock.monotonic() if self._clock is not None else time.monotonic()

    def invalidate(self) -> None:
        self._value, self._expires_at = None, 0.0

    async def get(self, fetch: Callable[[], Awaitable[T]]) -> T:
        if self._value is not None and self._now() < self._expires_at:
            return self._value
        if self._inflight is not None:
            return await asyncio.shield(self._inflight)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight = future
        try:
            value, ttl = await self._fetch(fetch)
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        else:
            self._value, self._expires_at = value, self._now() + ttl
            future.set_result(value)
            return value
        finally:
            self._inflight = None

    async def _fetch(self, fetch: Callable[[], Awaitable[T]]) -> tuple[T, float]:
        try:
            value = await fetch()
        except MediaRouterError as exc:
            if self.fallback is None:
                raise
            self.last_error = exc
            return self.fallback(exc), self.fallback_ttl
        self.last_error = None
        return value, self.ttl
