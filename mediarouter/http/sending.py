"""Whether a request left the process: the fact that separates a safe retry from a possible double payment.

The engine opens a `SendProbe` around a submit; the shared provider client reports into it
(through httpcore's `trace` hook on a real network transport, or just before delegating to an
in-process one). When the submit then fails without an answer, the engine reads the probe:
a request that never started sending its headers (waiting for a pooled connection, refused
connect) cannot have created a job, so it may be retried or failed over; anything else may
have, so it is an *unknown* outcome and is never repeated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["SendProbe", "current_probe", "probe_sends"]


@dataclass
class SendProbe:
    """`tracked` once a toolkit client took the request; `sent` once its first byte may have left."""

    tracked: bool = False
    sent: bool = False

    @property
    def provably_unsent(self) -> bool:
        """True only when a client that reports sends said the request never started to go out."""
        return self.tracked and not self.sent


_probe: ContextVar[SendProbe | None] = ContextVar("mediarouter_send_probe", default=None)


def current_probe() -> SendProbe | None:
    return _probe.get()


@contextmanager
def probe_sends() -> Iterator[SendProbe]:
    """Collect send facts of the requests made inside this block (same task)."""
    probe = SendProbe()
    token = _probe.set(probe)
    try:
        yield probe
    finally:
        _probe.reset(token)
