"""OpenTelemetry metrics from the event stream (API only; a no-op until a host installs an SDK).

Instruments (attribute keys in brackets; the full table is in docs/observability.md):

- `mediarouter.jobs` counter {job} [mediarouter.outcome, gen_ai.provider.name, gen_ai.request.model]
- `gen_ai.client.operation.duration` histogram s [gen_ai.operation.name, gen_ai.provider.name,
  gen_ai.request.model, server.address, server.port, error.type]
- `mediarouter.job.polls` histogram {poll} [gen_ai.provider.name, gen_ai.request.model, mediarouter.outcome]
- `mediarouter.cost` counter USD [gen_ai.provider.name, gen_ai.request.model]
- `mediarouter.download.bytes` counter By [gen_ai.provider.name, gen_ai.request.model]
- `mediarouter.calls` counter {call} [mediarouter.outcome, error.type]
- `mediarouter.failovers` counter {failover} [mediarouter.from, mediarouter.to, error.type]
- `mediarouter.webhook.deliveries` counter {delivery} [mediarouter.outcome, gen_ai.provider.name, error.type]

`mediarouter.outcome` of a job: completed | failed | cancelled | expired | timeout | error | submit_failed.
One job (one engine run) counts once, at its terminal event.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import Counter, Histogram, Meter, MeterProvider

from .events import (
    DownloadFinishedEvent,
    Event,
    JobCompletedEvent,
    JobErrorEvent,
    JobFailedEvent,
    JobPolledEvent,
    JobStatusChangedEvent,
    JobSubmitFailedEvent,
    RouterAttemptFinishedEvent,
    RouterAttemptStartedEvent,
    RouterCallFinishedEvent,
    RouterFailoverEvent,
    WebhookAcceptedEvent,
    WebhookDuplicateEvent,
    WebhookRejectedEvent,
)
from .tracing import OPERATION_NAME, server_attributes, usd_amount

__all__ = ["MetricsRecorder", "JOB_OUTCOMES"]

JOB_OUTCOMES = ("completed", "failed", "cancelled", "expired", "timeout", "error", "submit_failed")

#: Video jobs take seconds to many minutes.
_DURATION_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1200.0, 1800.0)
_POLL_BUCKETS = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0, 89.0, 144.0)
#: job.failed already counted these; the job.error that follows must not count them twice.
_TERMINAL_ERRORS = frozenset({"JobFailed", "JobCancelled", "JobExpired"})

_RunKey = tuple[Any, ...]


@dataclass(frozen=True)
class _Instruments:
    jobs: Counter
    duration: Histogram
    polls: Histogram
    cost: Counter
    download_bytes: Counter
    calls: Counter
    failovers: Counter
    webhooks: Counter

    @classmethod
    def create(cls, meter: Meter) -> _Instruments:
        return cls(
            jobs=meter.create_counter("mediarouter.jobs", unit="{job}", description="Jobs by outcome."),
            duration=meter.create_histogram(
                "gen_ai.client.operation.duration",
                unit="s",
                description="GenAI operation duration: one video job, submit to download.",
                explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            ),
            polls=meter.create_histogram(
                "mediarouter.job.polls",
                unit="{poll}",
                description="Status polls per job.",
                explicit_bucket_boundaries_advisory=_POLL_BUCKETS,
            ),
            cost=meter.create_counter("mediarouter.cost", unit="USD", description="Cost reported by providers."),
            download_bytes=meter.create_counter(
                "mediarouter.download.bytes", unit="By", description="Bytes of saved outputs."
            ),
            calls=meter.create_counter("mediarouter.calls", unit="{call}", description="Routed calls by outcome."),
            failovers=meter.create_counter(
                "mediarouter.failovers", unit="{failover}", description="Failovers from one candidate to the next."
            ),
            webhooks=meter.create_counter(
                "mediarouter.webhook.deliveries",
                unit="{delivery}",
                description="Webhook deliveries by outcome (accepted, rejected, duplicate).",
            ),
        )


_global: _Instruments | None = None
_global_lock = threading.Lock()


def _global_instruments() -> _Instruments:
    """One set of instruments on the global meter (a proxy until a host installs an SDK)."""
    global _global
    with _global_lock:
        if _global is None:
            _global = _Instruments.create(metrics.get_meter("mediarouter"))
        return _global


class MetricsRecorder:
    """Listener: records the instruments above. Pass `meter_provider` in tests; the global one otherwise."""

    def __init__(self, *, meter_provider: MeterProvider | None = None, max_open_runs: int = 1024) -> None:
        self._instruments = (
            _Instruments.create(metrics.get_meter("mediarouter", meter_provider=meter_provider))
            if meter_provider is not None
            else _global_instruments()
        )
        self.max_open_runs = max_open_runs
        self._servers: OrderedDict[_RunKey, dict[str, Any]] = OrderedDict()
        self._polls: OrderedDict[_RunKey, int] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        match event.payload:
            case RouterAttemptStartedEvent(server_address=address):
                with self._lock:
                    self._remember(self._servers, _run_key(event), server_attributes(address))
            case JobPolledEvent(polls=polls) | JobStatusChangedEvent(polls=polls):
                with self._lock:
                    self._remember(self._polls, _run_key(event), polls)
            case JobCompletedEvent(cost=cost, polls=polls):
                self._job(event, "completed", None, polls)
                amount = usd_amount(cost)
                if amount is not None:
                    self._instruments.cost.add(amount, _model_attributes(event))
            case JobFailedEvent(status=status):
                outcome = status if status in ("failed", "cancelled", "expired") else "failed"
                error = {"cancelled": "JobCancelled", "expired": "JobExpired"}.get(status, "JobFailed")
                self._job(event, outcome, error)
            case JobErrorEvent(error=error):
                error = error or "error"
                if error not in _TERMINAL_ERRORS:
                    self._job(event, "timeout" if error == "JobTimeout" else "error", error)
            case JobSubmitFailedEvent(error=error):
                self._job(event, "submit_failed", error or "error")
            case DownloadFinishedEvent(size=size):
                if size > 0:
                    self._instruments.download_bytes.add(size, _model_attributes(event))
            case RouterCallFinishedEvent(outcome=outcome, error_type=error_type):
                self._instruments.calls.add(1, _clean({"mediarouter.outcome": outcome, "error.type": error_type}))
            case RouterFailoverEvent(from_ref=from_ref, to_ref=to_ref, error_type=error_type):
                self._instruments.failovers.add(
                    1, _clean({"mediarouter.from": from_ref, "mediarouter.to": to_ref, "error.type": error_type})
                )
            case WebhookAcceptedEvent() | WebhookDuplicateEvent():
                outcome = "accepted" if isinstance(event.payload, WebhookAcceptedEvent) else "duplicate"
                self._instruments.webhooks.add(
                    1, _clean({"mediarouter.outcome": outcome, "gen_ai.provider.name": event.provider})
                )
            case WebhookRejectedEvent(reason=reason):
                self._instruments.webhooks.add(
                    1,
                    _clean(
                        {
                            "mediarouter.outcome": "rejected",
                            "gen_ai.provider.name": event.provider,
                            "error.type": reason,
                        }
                    ),
                )
            case RouterAttemptFinishedEvent():
                with self._lock:
                    self._servers.pop(_run_key(event), None)
            case _:
                pass

    def _job(self, event: Event, outcome: str, error_type: str | None, polls_done: int | None = None) -> None:
        """Count one job at its terminal event; `polls_done` when the event itself says how many polls."""
        key = _run_key(event)
        with self._lock:
            server = self._servers.get(key, {})
            polls = self._polls.pop(key, None)
            if event.call_id is None:
                self._servers.pop(key, None)
        model = _model_attributes(event)
        i = self._instruments
        i.jobs.add(1, {**model, "mediarouter.outcome": outcome})
        if event.elapsed is not None:
            attributes = {**model, **server, "gen_ai.operation.name": OPERATION_NAME}
            if error_type is not None:
                attributes["error.type"] = error_type
            i.duration.record(max(0.0, event.elapsed), attributes)
        if outcome != "submit_failed":
            count = polls_done if polls_done is not None else polls
            i.polls.record(count or 0, {**model, "mediarouter.outcome": outcome})

    def _remember(self, store: OrderedDict[_RunKey, Any], key: _RunKey, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > self.max_open_runs:
            store.popitem(last=False)


def _run_key(event: Event) -> _RunKey:
    if event.call_id is not None:
        return (event.call_id, event.attempt, event.provider, event.model)
    return (None, event.provider, event.model, event.job_id)  # the engine without a router: by job id


def _model_attributes(event: Event) -> dict[str, Any]:
    return _clean({"gen_ai.provider.name": event.provider, "gen_ai.request.model": event.model})


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}
