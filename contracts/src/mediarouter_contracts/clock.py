"""A fake clock for the job engine: polling and deadlines run in zero wall time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["FakeClock"]


class FakeClock:
    """Implements `mediarouter.Clock`; `sleep` advances time instantly and records the delay.

    `sleeps` lists every delay the engine asked for, in order, which is what the timing rules
    are checked against. `advance()` moves time without a sleep (a slow server). `on_sleep`, when
    set, is called as `on_sleep(n, seconds)` after the n-th sleep (1-based) has advanced the
    clock and before the sleeper resumes: the contract suite cancels jobs there.
    """

    def __init__(self, start: float = 1000.0, wall: float = 1_800_000_000.0) -> None:
        self._now = start
        self._start = start
        self._wall = wall
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[int, float], None] | None = None

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._wall + (self._now - self._start)

    @property
    def elapsed(self) -> float:
        """Seconds since the clock was made."""
        return self._now - self._start

    def advance(self, seconds: float) -> None:
        """Move time forward without sleeping (a slow server, a delayed response)."""
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._now += max(0.0, seconds)
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps), seconds)
        await asyncio.sleep(0)
