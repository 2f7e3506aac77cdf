"""The three outcomes of a submit, kept apart everywhere: they decide whether money may be spent twice.

- NOT_SENT: nothing left the process (no connection, no key, a local refusal). Safe to retry or
  fail over; the journal row holds no idempotency key.
- REFUSED: the server answered, definitely, that it made no job (a 4xx such as 400/401/402/429).
  Safe to fail over (and to retry a 429).
- UNKNOWN: the request may have reached the server and no readable answer came back (5xx, 524,
  a dropped connection, a timeout after sending, a 2xx whose body cannot be read, a kill). A job
  may exist and be billed: never retried, never failed over, the key stays held.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import MediaRouterError, ProtocolError, ProviderUnavailable
from .http.sending import SendProbe
from .http.statuses import UNAVAILABLE_STATUSES

__all__ = ["SubmitOutcome", "classify_submit_error"]


class SubmitOutcome(StrEnum):
    NOT_SENT = "not_sent"
    REFUSED = "refused"
    UNKNOWN = "unknown"


def classify_submit_error(error: MediaRouterError, probe: SendProbe | None) -> SubmitOutcome:
    """Which of the three outcomes a failed submit had, from the error and what the client saw."""
    if isinstance(error, ProviderUnavailable) and not error.sent:
        return SubmitOutcome.NOT_SENT
    if probe is not None and probe.provably_unsent:
        return SubmitOutcome.NOT_SENT
    status = error.status_code
    if isinstance(error, ProviderUnavailable | ProtocolError):
        return SubmitOutcome.UNKNOWN
    if status is not None and 400 <= status < 500 and status not in UNAVAILABLE_STATUSES:
        return SubmitOutcome.REFUSED
    if status is None and (probe is None or not probe.tracked):
        # Raised by the provider before any request of the shared client (no key, a body that
        # cannot be encoded): a local refusal.
        return SubmitOutcome.NOT_SENT
    return SubmitOutcome.UNKNOWN
