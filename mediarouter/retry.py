"""Backoff and Retry-After arithmetic, shared by every stage of the job engine."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with optional jitter; a server's Retry-After always wins."""

    initial: float = 1.0
    multiplier: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay before retry number `attempt` (1-based)."""
        if retry_after is not None and retry_after >= 0:
            return retry_after
        base = min(self.maximum, self.initial * self.multiplier ** max(0, attempt - 1))
        if self.jitter:
            base += random.uniform(0, self.jitter)
        return base
