"""Lifecycle events the job engine and router emit, for progress displays, logs and journals.

Listeners are plain callables; a failing listener is logged and never breaks a paid job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Event", "Listener", "emit", "with_context"]

logger = logging.getLogger("mediarouter")


@dataclass(frozen=True)
class Event:
    """One step of a routed call. Names (and their `data` keys):

    Engine: `job.submitting` (attempt), `job.submit_retry` (attempt, delay, error),
    `job.submit_failed` (error, status_code), `job.submitted` (polling_url), `poll.started` (poll),
    `job.polled` / `job.status_changed` (status, previous, raw_status, polls), `job.poll_retry`
    (attempt, delay, error), `job.failed` (status, error), `job.error` (error, status_code),
    `job.timeout` (stage), `job.completed` (cost, polls), `download.started` (index, origin,
    content_length, offset), `download.progress` (index, bytes), `download.retry` (attempt, delay,
    error), `download.finished` (path, size, index).

    Router: `router.call_started` (candidates), `router.attempt_started` (ref, index),
    `router.attempt_finished` (ref, outcome, error_type, status_code, cost), `router.failover`
    (from_ref, to_ref, error_type), `router.skipped` (ref, reason), `router.cooldown` (ref, seconds),
    `router.call_finished` (outcome, ref, error_type).

    `call_id` ties every event of one routed call together; `attempt` is the candidate's index.
    """

    name: str
    provider: str | None = None
    model: str | None = None
    job_id: str | None = None
    elapsed: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None
    attempt: int | None = None


Listener = Callable[[Event], None]


def with_context(listeners: Iterable[Listener], *, call_id: str, attempt: int | None = None) -> list[Listener]:
    """Listeners that see every event stamped with this call's id and attempt index."""
    targets = list(listeners)

    def stamped(event: Event) -> None:
        emit(targets, replace(event, call_id=call_id, attempt=attempt))

    return [stamped] if targets else []


def emit(listeners: Iterable[Listener], event: Event) -> None:
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # a progress bar must never lose a paid job
            logger.exception("event listener failed on %s", event.name)
