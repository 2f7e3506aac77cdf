"""Lifecycle events the job engine and router emit, for progress displays, logs, traces and metrics.

An `Event` is an envelope (who, which job, when, which routed call) around a typed *payload*,
one frozen dataclass per kind of event (`JobSubmittedEvent`, `RouterFailoverEvent`, …). Consumers
read fields (``match event.payload: case JobPolledEvent(status=s): …``), never string keys, so a
renamed field is a type error, not a silently empty log column. Every payload class carries its
event name as `name` (a ClassVar); the classes are named for the event with an ``Event`` suffix
(``job.failed`` → `JobFailedEvent`), which also keeps them apart from the error classes.

Listeners are plain callables; a failing listener is logged and never breaks a paid job.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, ClassVar, TypeAlias

__all__ = [
    "PAYLOAD_TYPES",
    "DownloadFinishedEvent",
    "DownloadProgressEvent",
    "DownloadRetryEvent",
    "DownloadStartedEvent",
    "Event",
    "EventPayload",
    "JobCompletedEvent",
    "JobErrorEvent",
    "JobFailedEvent",
    "JobPollRetryEvent",
    "JobPolledEvent",
    "JobStatusChangedEvent",
    "JobSubmitFailedEvent",
    "JobSubmitNotSentEvent",
    "JobSubmitRetryEvent",
    "JobSubmitUnknownEvent",
    "JobSubmittedEvent",
    "JobSubmittingEvent",
    "JobTimeoutEvent",
    "Listener",
    "PollStartedEvent",
    "RouterAttemptFinishedEvent",
    "RouterAttemptStartedEvent",
    "RouterCallFinishedEvent",
    "RouterCallStartedEvent",
    "RouterCooldownEvent",
    "RouterEstimateEvent",
    "RouterFailoverEvent",
    "RouterSkippedEvent",
    "WebhookAcceptedEvent",
    "WebhookDuplicateEvent",
    "WebhookRejectedEvent",
    "emit",
    "payload_fields",
    "with_context",
]

logger = logging.getLogger("mediarouter")


def _money(value: Decimal | str | int | float | None) -> Decimal | None:
    """Costs travel as Decimal (exact); a producer may still hand over the decimal string."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


# -- engine: submit ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSubmittingEvent:
    """A submit request is about to be sent; `attempt` counts from 1 (retries of a refused submit)."""

    name: ClassVar[str] = "job.submitting"
    attempt: int


@dataclass(frozen=True)
class JobSubmitRetryEvent:
    """A submit that was not accepted (rate limited, or nothing sent) is retried after `delay` seconds."""

    name: ClassVar[str] = "job.submit_retry"
    attempt: int
    delay: float
    error: str  #: the error's class name


@dataclass(frozen=True)
class JobSubmitFailedEvent:
    """The submit failed for good; `error` is the error's class name, `status_code` the HTTP status if any."""

    name: ClassVar[str] = "job.submit_failed"
    error: str
    status_code: int | None


@dataclass(frozen=True)
class JobSubmitUnknownEvent:
    """The submit may have reached the server, and its answer is unreadable or absent: a job may exist (and bill)."""

    name: ClassVar[str] = "job.submit_unknown"
    error: str
    status_code: int | None


@dataclass(frozen=True)
class JobSubmitNotSentEvent:
    """The submit failed before anything left the process: no job exists, retrying is safe."""

    name: ClassVar[str] = "job.submit_not_sent"
    error: str


@dataclass(frozen=True)
class JobSubmittedEvent:
    """The provider accepted the job (the envelope's `job_id` is set from here on)."""

    name: ClassVar[str] = "job.submitted"
    polling_url: str | None


# -- engine: polling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollStartedEvent:
    """A status poll is about to be sent; `poll` counts every poll of this run from 1, retries included."""

    name: ClassVar[str] = "poll.started"
    poll: int


@dataclass(frozen=True)
class JobPolledEvent:
    """A poll answered with the same state as before; `polls` counts successful polls."""

    name: ClassVar[str] = "job.polled"
    status: str
    polls: int
    #: Where the job stands in the provider's queue, when it says (fal).
    queue_position: int | None = None


@dataclass(frozen=True)
class JobStatusChangedEvent:
    """A poll answered with a new state (`previous` is None on the first poll); `raw_status` is the provider's word."""

    name: ClassVar[str] = "job.status_changed"
    status: str
    previous: str | None
    raw_status: str | None
    polls: int
    queue_position: int | None = None


@dataclass(frozen=True)
class JobPollRetryEvent:
    """A poll failed with a retryable error and is retried after `delay` seconds."""

    name: ClassVar[str] = "job.poll_retry"
    attempt: int
    delay: float
    error: str


@dataclass(frozen=True)
class JobFailedEvent:
    """The job reached a terminal state other than completed (`status`: failed | cancelled | expired)."""

    name: ClassVar[str] = "job.failed"
    status: str
    error: str | None  #: the server's message, when it gave one


@dataclass(frozen=True)
class JobErrorEvent:
    """The run after the submit ended with an error (`error`: its class name); the job may still exist."""

    name: ClassVar[str] = "job.error"
    error: str
    status_code: int | None


@dataclass(frozen=True)
class JobTimeoutEvent:
    """The run's deadline passed while `stage` (submitting | polling | downloading …)."""

    name: ClassVar[str] = "job.timeout"
    stage: str


@dataclass(frozen=True)
class JobCompletedEvent:
    """The job completed and every output is saved; `cost` as the provider reported it."""

    name: ClassVar[str] = "job.completed"
    cost: Decimal | None
    polls: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "cost", _money(self.cost))


# -- engine: downloads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadStartedEvent:
    """Output `index` is being fetched from `origin` (an origin only, never a signed URL), from byte `offset`."""

    name: ClassVar[str] = "download.started"
    index: int
    origin: str | None
    content_length: int | None
    offset: int


@dataclass(frozen=True)
class DownloadProgressEvent:
    """`bytes` of output `index` are on disk (throttled by the engine)."""

    name: ClassVar[str] = "download.progress"
    index: int
    bytes: int


@dataclass(frozen=True)
class DownloadRetryEvent:
    """A download failed with a retryable error and is retried (resumed where possible) after `delay` seconds."""

    name: ClassVar[str] = "download.retry"
    attempt: int
    delay: float
    error: str


@dataclass(frozen=True)
class DownloadFinishedEvent:
    """Output `index` is saved at `path` (`size` bytes)."""

    name: ClassVar[str] = "download.finished"
    path: str
    size: int
    index: int


# -- router -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouterCallStartedEvent:
    """A routed call begins; `candidates` are the refs in the order they will be tried."""

    name: ClassVar[str] = "router.call_started"
    candidates: Sequence[str]
    duration: int | None  #: seconds, as requested


@dataclass(frozen=True)
class RouterEstimateEvent:
    """The cost estimate for `ref`, shown before its submit; `price_rule` says which price applied."""

    name: ClassVar[str] = "router.estimate"
    ref: str
    estimated_cost: Decimal | None
    price_rule: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "estimated_cost", _money(self.estimated_cost))


@dataclass(frozen=True)
class RouterAttemptStartedEvent:
    """Candidate `index` (`ref`) is tried; `adjustments` maps a field to {requested, applied}."""

    name: ClassVar[str] = "router.attempt_started"
    ref: str
    index: int
    estimated_cost: Decimal | None
    duration: int | None  #: seconds, as sent to this candidate
    adjustments: Mapping[str, Mapping[str, Any]]
    server_address: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "estimated_cost", _money(self.estimated_cost))


@dataclass(frozen=True)
class RouterAttemptFinishedEvent:
    """Candidate `ref` is done: `outcome` succeeded | failed | skipped | cooldown."""

    name: ClassVar[str] = "router.attempt_finished"
    ref: str
    outcome: str
    error_type: str | None
    status_code: int | None
    cost: Decimal | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cost", _money(self.cost))


@dataclass(frozen=True)
class RouterFailoverEvent:
    """The router moves on from `from_ref` to `to_ref` after an error of type `error_type`."""

    name: ClassVar[str] = "router.failover"
    from_ref: str | None
    to_ref: str
    error_type: str | None


@dataclass(frozen=True)
class RouterSkippedEvent:
    """Candidate `ref` is not tried, for `reason` (a capability mismatch, a cooldown, the budget…)."""

    name: ClassVar[str] = "router.skipped"
    ref: str
    reason: str


@dataclass(frozen=True)
class RouterCooldownEvent:
    """Candidate `ref` is cooled down for `seconds` after its failure."""

    name: ClassVar[str] = "router.cooldown"
    ref: str
    seconds: float


@dataclass(frozen=True)
class RouterCallFinishedEvent:
    """The routed call is over: `outcome` succeeded | failed | cancelled; `ref` the last candidate tried."""

    name: ClassVar[str] = "router.call_finished"
    outcome: str
    ref: str | None
    error_type: str | None


# -- webhooks: one event per delivery the receiver answers -------------------------------------------


@dataclass(frozen=True)
class WebhookAcceptedEvent:
    """A signed delivery was accepted: `recorded` when the journal took its terminal `status`, `woke` how
    many jobs waiting in this process it woke (an unknown job or event type is accepted and ignored)."""

    name: ClassVar[str] = "webhook.accepted"
    event_type: str
    status: str
    recorded: bool
    woke: int


@dataclass(frozen=True)
class WebhookRejectedEvent:
    """A delivery was refused: `reason` is a short code (missing_signature, malformed_signature,
    stale_signature, bad_signature, unreadable_body, too_large, journal_error), never the signature."""

    name: ClassVar[str] = "webhook.rejected"
    reason: str
    status_code: int


@dataclass(frozen=True)
class WebhookDuplicateEvent:
    """A delivery already accepted (same idempotency key) came again: acknowledged, nothing done."""

    name: ClassVar[str] = "webhook.duplicate"
    event_type: str
    status: str


EventPayload: TypeAlias = (
    JobSubmittingEvent
    | JobSubmitRetryEvent
    | JobSubmitFailedEvent
    | JobSubmitUnknownEvent
    | JobSubmitNotSentEvent
    | JobSubmittedEvent
    | PollStartedEvent
    | JobPolledEvent
    | JobStatusChangedEvent
    | JobPollRetryEvent
    | JobFailedEvent
    | JobErrorEvent
    | JobTimeoutEvent
    | JobCompletedEvent
    | DownloadStartedEvent
    | DownloadProgressEvent
    | DownloadRetryEvent
    | DownloadFinishedEvent
    | RouterCallStartedEvent
    | RouterEstimateEvent
    | RouterAttemptStartedEvent
    | RouterAttemptFinishedEvent
    | RouterFailoverEvent
    | RouterSkippedEvent
    | RouterCooldownEvent
    | RouterCallFinishedEvent
    | WebhookAcceptedEvent
    | WebhookRejectedEvent
    | WebhookDuplicateEvent
)

#: Every payload class by its event name.
PAYLOAD_TYPES: Mapping[str, type[EventPayload]] = {
    cls.name: cls
    for cls in (
        JobSubmittingEvent,
        JobSubmitRetryEvent,
        JobSubmitFailedEvent,
        JobSubmitUnknownEvent,
        JobSubmitNotSentEvent,
        JobSubmittedEvent,
        PollStartedEvent,
        JobPolledEvent,
        JobStatusChangedEvent,
        JobPollRetryEvent,
        JobFailedEvent,
        JobErrorEvent,
        JobTimeoutEvent,
        JobCompletedEvent,
        DownloadStartedEvent,
        DownloadProgressEvent,
        DownloadRetryEvent,
        DownloadFinishedEvent,
        RouterCallStartedEvent,
        RouterEstimateEvent,
        RouterAttemptStartedEvent,
        RouterAttemptFinishedEvent,
        RouterFailoverEvent,
        RouterSkippedEvent,
        RouterCooldownEvent,
        RouterCallFinishedEvent,
        WebhookAcceptedEvent,
        WebhookRejectedEvent,
        WebhookDuplicateEvent,
    )
}


def payload_fields(payload: EventPayload) -> dict[str, Any]:
    """The payload's fields by name, in declaration order (a shallow dict: values are not copied)."""
    return {f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)}


def _payload_from(name: str, data: Mapping[str, Any]) -> EventPayload:
    """Build the payload for `name` from a producer's keyword data; any unknown or missing key is a TypeError."""
    cls = PAYLOAD_TYPES.get(name)
    if cls is None:
        raise TypeError(f"unknown event name {name!r}; known events: {', '.join(sorted(PAYLOAD_TYPES))}")
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(allowed))
    missing = [key for key in allowed if key not in data]
    if unknown or missing:
        problems = []
        if unknown:
            problems.append(f"unknown field(s) {', '.join(unknown)}")
        if missing:
            problems.append(f"missing field(s) {', '.join(missing)}")
        raise TypeError(f"event {name!r}: {'; '.join(problems)}; its fields are: {', '.join(allowed) or '(none)'}")
    return cls(**data)


@dataclass(frozen=True, init=False)
class Event:
    """One step of a routed call: the common context plus a typed `payload`.

    Build it with a payload (``Event(payload=JobPolledEvent(status="queued", polls=1), job_id=…)``);
    ``Event(name="job.polled", data={...})`` still works while producers move over: the payload is
    built from the name and data, and an unknown name, an unknown key or a missing key raises
    TypeError. `name` is always the payload's event name; `data` is the payload's fields as a dict
    (kept for old readers: read `payload` instead).

    `call_id` ties every event of one routed call together; `attempt` is the candidate's index.
    """

    name: str
    provider: str | None
    model: str | None
    job_id: str | None
    elapsed: float | None
    data: Mapping[str, Any] = field(repr=False, compare=False)
    call_id: str | None
    attempt: int | None
    payload: EventPayload

    def __init__(
        self,
        name: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        job_id: str | None = None,
        elapsed: float | None = None,
        data: Mapping[str, Any] | None = None,
        call_id: str | None = None,
        attempt: int | None = None,
        payload: EventPayload | None = None,
    ) -> None:
        if payload is None:
            if name is None:
                raise TypeError("Event needs a payload (or, for now, a name and its data)")
            payload = _payload_from(name, data or {})
        else:
            if not isinstance(payload, tuple(PAYLOAD_TYPES.values())):
                raise TypeError(f"Event payload must be one of the payload types, not {type(payload).__name__}")
            if name is not None and name != payload.name:
                raise TypeError(f"Event name {name!r} does not match its payload's {payload.name!r}")
            if data and dict(data) != payload_fields(payload):  # `replace()` passes both back in
                raise TypeError("Event: give the payload or name+data, not both")
        set_ = object.__setattr__
        set_(self, "name", payload.name)
        set_(self, "provider", provider)
        set_(self, "model", model)
        set_(self, "job_id", job_id)
        set_(self, "elapsed", elapsed)
        set_(self, "data", payload_fields(payload))
        set_(self, "call_id", call_id)
        set_(self, "attempt", attempt)
        set_(self, "payload", payload)


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
