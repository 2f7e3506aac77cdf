"""Cooldowns: a circuit breaker per candidate, so a dead backend does not cost every call a round trip.

A candidate (ref) that failed with a cooling error (429, 5xx, 402 by default) is skipped by
later calls on the same router until its cooldown ends; the skip shows up in
`result.attempts` as outcome `cooldown`. Time comes from the router's clock.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

from .clock import Clock
from .errors import MediaRouterError

__all__ = ["Cooldown", "Cooldowns"]

logger = logging.getLogger("mediarouter.router")


@dataclass(frozen=True)
class Cooldown:
    """One candidate cooling down: until when (on the router's monotonic clock) and why."""

    ref: str
    until: float
    error: MediaRouterError

    def remaining(self, now: float) -> float:
        return max(0.0, self.until - now)

    def skip_error(self, now: float) -> MediaRouterError:
        """An error of the same class as the cause (so exit codes still say what went wrong), saying it is a skip."""
        error = copy.copy(self.error)
        error.message = (
            f"cooling down for {self.remaining(now):.0f}s more after {type(self.error).__name__}: {self.error.message}"
        )
        error.details = dict(error.details, cooldown_until=self.until)
        return error


class Cooldowns:
    """Cooldowns by ref. `seconds=0` turns them off."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("cooldown must be >= 0 seconds")
        self.clock = clock
        self.seconds = seconds
        self._entries: dict[str, Cooldown] = {}

    def start(self, ref: str, error: MediaRouterError) -> float:
        """Cool `ref` down; a server's Retry-After longer than the configured time wins. Returns the seconds."""
        if self.seconds <= 0:
            return 0.0
        seconds = max(self.seconds, error.retry_after or 0.0)
        until = self.clock.monotonic() + seconds
        current = self._entries.get(ref)
        if current is None or current.until < until:
            self._entries[ref] = Cooldown(ref=ref, until=until, error=error)
        logger.info("cooling down %s for %.0fs after %s", ref, seconds, type(error).__name__)
        return seconds

    def active(self, ref: str) -> Cooldown | None:
        """The cooldown `ref` is in, or None (an ended one is forgotten)."""
        entry = self._entries.get(ref)
        if entry is None:
            return None
        if entry.until <= self.clock.monotonic():
            del self._entries[ref]
            return None
        return entry

    def clear(self, ref: str | None = None) -> None:
        """End one candidate's cooldown, or all of them (e.g. after an operator fixed the account)."""
        if ref is None:
            self._entries.clear()
        else:
            self._entries.pop(ref, None)

    def snapshot(self) -> dict[str, float]:
        """ref → seconds left, for status pages and logs."""
        now = self.clock.monotonic()
        return {ref: entry.remaining(now) for ref in list(self._entries) if (entry := self.active(ref)) is not None}
