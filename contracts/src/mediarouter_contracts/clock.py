"""A fake clock for the job engine: polling and deadlines run in zero wall time."""

from __future__ import annotations

import asyncio

__all__ = ["FakeClock"]


class FakeClock:
    """Implements `mediarouter.Clock`; `sleep` advances time instantly and records the delay."""

    def __init__(self, start: float = 1000.0, wall: float = 1_800_000_000.0) -> None:
        self._now = start
        self._start = start
        self._wall = wall
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._wall + (self._now - self._start)

    @property
    def elapsed(self) -> float:
        return self._now - self._start

    def advance(self, seconds: float) -> None:
        """Move time forward without sleeping (a slow server, a delayed response)."""
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._now += max(0.0, seconds)
        await asyncio.sleep(0)
