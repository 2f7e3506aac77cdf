"""Time as a dependency, so polling and deadlines are testable in zero wall time."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines, intervals)."""
        ...

    def time(self) -> float:
        """Wall-clock Unix seconds (expiry of signed URLs)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        import asyncio  # here, not at the top: `import mediarouter` stays free of asyncio (start-up)

        await asyncio.sleep(max(0.0, seconds))
