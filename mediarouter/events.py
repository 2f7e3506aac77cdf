"""Lifecycle events the job engine and router emit, for progress displays, logs and journals.

Listeners are plain callables; a failing listener is logged and never breaks a paid job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "Listener", "emit"]

logger = logging.getLogger("mediarouter")


@dataclass(frozen=True)
class Event:
    """`name` is one of: job.submitting, job.submitted, job.status_changed, job.polled, job.poll_retry,
    job.completed, job.failed, job.timeout, download.started, download.progress, download.retry,
    download.finished, router.attempt, router.failover, router.skipped."""

    name: str
    provider: str | None = None
    model: str | None = None
    job_id: str | None = None
    elapsed: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]


def emit(listeners: Iterable[Listener], event: Event) -> None:
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # a progress bar must never lose a paid job
            logger.exception("event listener failed on %s", event.name)
