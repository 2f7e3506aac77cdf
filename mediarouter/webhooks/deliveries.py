"""What a webhook delivery does: it records the job's terminal state and wakes a job waiting here.

A delivery is a *hint*, never the whole truth: the journal learns that the job ended (so `jobs
list` and a later `jobs resume` see it), and a job the engine is waiting for in this process is
woken and polls once at once (the poll also brings the download URLs). A job waited for in
another process completes at its next safety-net poll or `jobs resume`.

`Waiters` is the in-process registry: job id → the `Watch` of each engine waiting for it. A
receiver may run on another thread (or event loop) than the engine, so waking goes through
`loop.call_soon_threadsafe`. Watches are held weakly: an engine that stops waiting (completed,
timed out, cancelled) simply drops its watch, and a late delivery finds nobody to wake. A delivery
that arrives before the engine starts waiting (a fast job) is remembered, so the watch made
afterwards starts already woken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ..clock import Clock
from ..jobs import JobState
from ..journal import JobStore, RecordState, update_while

__all__ = [
    "EVENT_TYPES",
    "Delivery",
    "DeliveryError",
    "DeliveryOutcome",
    "Waiters",
    "Watch",
    "journal_delivery",
    "record_delivery",
    "sleep_or_event",
]

logger = logging.getLogger("mediarouter.webhooks")

#: OpenRouter's video event types, by the terminal status they report.
EVENT_TYPES: Mapping[str, JobState] = {
    "video.generation.completed": JobState.COMPLETED,
    "video.generation.failed": JobState.FAILED,
    "video.generation.cancelled": JobState.CANCELLED,
    "video.generation.expired": JobState.EXPIRED,
}
_TERMINAL = {state.value: state for state in EVENT_TYPES.values()}
#: Journal states a delivery may move on; a row already further (downloaded, failed, …) is left alone.
_OPEN_STATES = frozenset({RecordState.PENDING, RecordState.IN_PROGRESS, RecordState.INTERRUPTED})


class DeliveryError(ValueError):
    """An envelope that cannot be read; the message names the field."""


@dataclass(frozen=True)
class Delivery:
    """One delivery's content: ``{type, created_at, data: {id, status, generation_id?, model?, …}}``.

    `state` is None for an event type or status this version does not know (acknowledged, ignored).
    `generation_id` and `model` are null on early failures.
    """

    job_id: str
    event_type: str
    status: str
    state: JobState | None
    idempotency_key: str
    generation_id: str | None = None
    model: str | None = None
    cost: Decimal | None = None
    error: str | None = None
    unsigned_urls: tuple[str, ...] = ()

    @classmethod
    def from_envelope(cls, envelope: Any, *, idempotency_key: str | None = None) -> Delivery:
        """Read an envelope (parsed JSON); DeliveryError naming the field when it is not one."""
        if not isinstance(envelope, dict):
            raise DeliveryError("the body must be a JSON object {type, created_at, data}")
        data = envelope.get("data")
        if not isinstance(data, dict):
            raise DeliveryError("data must be an object with id and status")
        job_id, status = data.get("id"), data.get("status")
        if not isinstance(job_id, str) or not job_id:
            raise DeliveryError("data.id must be a non-empty string (the job id)")
        if not isinstance(status, str) or not status:
            raise DeliveryError(f"data.status must be one of: {', '.join(_TERMINAL)}")
        event_type = envelope.get("type")
        event_type = event_type if isinstance(event_type, str) else ""
        state = _TERMINAL.get(status)
        if event_type in EVENT_TYPES and EVENT_TYPES[event_type] is not state:
            state = None  # type and status disagree: not something to record
        return cls(
            job_id=job_id,
            event_type=event_type,
            status=status,
            state=state,
            idempotency_key=idempotency_key or f"{job_id}-{status}",
            generation_id=_text(data.get("generation_id")),
            model=_text(data.get("model")),
            cost=_cost(data.get("usage")),
            error=_error(data.get("error")),
            unsigned_urls=tuple(u for u in data.get("unsigned_urls") or () if isinstance(u, str)),
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _cost(usage: Any) -> Decimal | None:
    value = usage.get("cost") if isinstance(usage, dict) else None
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _error(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("message")
    return value[:500] if isinstance(value, str) and value else None


#: What `journal_delivery` did: recorded it; no row has the job id (yet: a submit not journaled so far);
#: the row is another provider's; the row was already past it; or nothing to do (no journal, unknown event).
DeliveryOutcome = Literal["recorded", "unknown_job", "other_provider", "settled", "ignored"]


def record_delivery(journal: JobStore | None, delivery: Delivery, *, provider: str = "openrouter") -> bool:
    """Write the delivery's terminal state into the journal; False when it records nothing (`journal_delivery`)."""
    return journal_delivery(journal, delivery, provider=provider) == "recorded"


def journal_delivery(journal: JobStore | None, delivery: Delivery, *, provider: str = "openrouter") -> DeliveryOutcome:
    """Write the delivery's terminal state into the journal, and say what became of it.

    A job the journal does not know (another journal, a job submitted elsewhere) is acknowledged
    and logged, not an error: the sender must not retry it forever. A row already past the point
    a delivery can tell (downloaded, failed, gone) is left as it is, also when the engine moves it
    there while this runs: the state is checked and written in one journal transaction
    (`update_if`), so a delivery never puts `completed` over `downloaded` nor `failed` over `completed`.
    """
    if journal is None or delivery.state is None:
        return "ignored"
    record = journal.get(delivery.job_id)
    if record is None or record.job_id != delivery.job_id:
        logger.info("webhook for job %s: not in the journal; acknowledged, nothing recorded", delivery.job_id)
        return "unknown_job"
    if record.provider != provider:
        logger.warning(
            "webhook signed by %s for job %s, a %s job; acknowledged, nothing recorded",
            provider,
            delivery.job_id,
            record.provider,
        )
        return "other_provider"
    if record.state not in _OPEN_STATES:
        return "settled"
    fields: dict[str, Any]
    if delivery.state is JobState.COMPLETED:
        fields = {"state": RecordState.COMPLETED}
        if delivery.cost is not None:
            fields["cost"] = delivery.cost
        if delivery.unsigned_urls:
            fields["outputs"] = [{"index": i, "url": url} for i, url in enumerate(delivery.unsigned_urls)]
    else:
        # An end without a video is only a hint until a poll confirms it: the row stays open (a resume, the
        # waiting engine or a durable poll step asks the provider), so a delivery the provider's own answer
        # contradicts never strands a running, billed job as `failed`, nor starts a failover to a second one.
        said = delivery.error or "no reason given"
        fields = {"reported": f"a webhook reported the job {delivery.status} ({said}); not yet confirmed by a poll"}
    return "recorded" if update_while(journal, record.key, _OPEN_STATES, **fields) is not None else "settled"


async def sleep_or_event(clock: Clock, delay: float, event: asyncio.Event) -> bool:
    """Sleep `delay` seconds on `clock`, or less if `event` is set first; True when the event is set.

    `asyncio.wait_for(event.wait(), delay)` would sleep on the loop's real clock; this races the
    injected clock's sleep against the event instead, and cancels whichever loses.
    """
    if event.is_set():
        return True
    if delay <= 0:
        return False
    sleeper = asyncio.ensure_future(clock.sleep(delay))
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((sleeper, waiter), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, waiter):
            task.cancel()
    return event.is_set()


class Watch:
    """One engine waiting for one job: woken (from any thread) by a delivery for it.

    `first_poll` and `poll_every` are the safety-net schedule the engine polls on meanwhile.
    """

    def __init__(self, job_id: str, *, first_poll: float, poll_every: float) -> None:
        self.job_id = job_id
        self.first_poll = first_poll
        self.poll_every = poll_every
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    @property
    def woken(self) -> bool:
        return self._event.is_set()

    def wake(self) -> None:
        """Thread-safe: set the event on the loop the engine waits on (a closed loop is ignored)."""
        with contextlib.suppress(RuntimeError):  # the engine's loop is gone: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._event.set)

    async def sleep(self, clock: Clock, delay: float) -> bool:
        """Sleep until `delay` passes or a delivery wakes this watch; True (and re-armed) when woken."""
        woken = await sleep_or_event(clock, delay, self._event)
        if woken:
            self._event.clear()
        return woken


class Waiters:
    """The in-process registry deliveries wake jobs through; pass one to `JobEngine(webhooks=…)`.

    The safety-net schedule of a job submitted with a `callback_url`: the first poll after
    `max(poll_interval, first_poll)` seconds, then one every `poll_every` seconds, so a webhook
    that never comes costs at most `poll_every` seconds of lag (plus the first poll's delay).
    """

    def __init__(self, *, first_poll: float = 60.0, poll_every: float = 180.0, remember: int = 1024) -> None:
        if first_poll <= 0 or poll_every <= 0:
            raise ValueError("first_poll and poll_every must be > 0 seconds")
        self.first_poll = first_poll
        self.poll_every = poll_every
        self._remember = remember
        self._watches: dict[str, weakref.WeakSet[Watch]] = {}
        self._delivered: OrderedDict[str, Delivery] = OrderedDict()
        self._lock = threading.Lock()

    def watch(self, job_id: str) -> Watch:
        """A watch for `job_id` (call on the engine's loop); already woken if a delivery came first."""
        watch = Watch(job_id, first_poll=self.first_poll, poll_every=self.poll_every)
        with self._lock:
            self._watches.setdefault(job_id, weakref.WeakSet()).add(watch)
            early = job_id in self._delivered
        if early:
            watch.wake()
        return watch

    def watch_job(self, job_id: str, *, journal: JobStore | None, record_key: str | None) -> Watch | None:
        """A watch when the journaled request of this job carries a `callback_url`, else None.

        Without a journal the engine cannot tell, and polls as usual. A journal that fails to
        answer must not cost the job: that is logged and the job is polled as usual.
        """
        if journal is None or record_key is None:
            return None
        try:
            record = journal.get(record_key)
        except Exception:
            logger.exception("could not read the journal for job %s; polling as usual", job_id)
            return None
        if record is None or not record.request.get("callback_url"):
            return None
        return self.watch(job_id)

    def wake(self, delivery: Delivery) -> int:
        """Wake every engine waiting for the delivery's job; how many were woken."""
        with self._lock:
            self._delivered[delivery.job_id] = delivery
            self._delivered.move_to_end(delivery.job_id)
            while len(self._delivered) > self._remember:
                self._delivered.popitem(last=False)
            watches = list(self._watches.get(delivery.job_id, ()))
            for job_id in [k for k, v in self._watches.items() if not v]:
                del self._watches[job_id]
        for watch in watches:
            watch.wake()
        return len(watches)

    def delivery(self, job_id: str) -> Delivery | None:
        """The last delivery seen for `job_id` in this process (None if none is remembered)."""
        with self._lock:
            return self._delivered.get(job_id)

    def waiting(self, job_id: str) -> int:
        """How many engines are waiting for `job_id` right now."""
        with self._lock:
            return len(self._watches.get(job_id, ()))
