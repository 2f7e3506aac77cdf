"""OpenTelemetry spans from the event stream (OpenTelemetry *API* only: no SDK is imported here).

One routed call is one trace::

    generate_content google/veo-3.1      INTERNAL  the routed call (router.call_started … call_finished)
    ├── generate_content google/veo-3.1  CLIENT    candidate 0 (router.attempt_started … attempt_finished)
    │   ├── submit                                 job.submitting → job.submitted / job.submit_retry / job.submit_failed
    │   ├── poll                                   poll.started → job.polled / job.status_changed / job.poll_retry
    │   └── download                               download.started → download.finished / download.retry
    └── generate_content alibaba/wan-2.6 CLIENT    candidate 1 …

Span names follow the GenAI conventions, ``{gen_ai.operation.name} {gen_ai.request.model}``
(the model as the provider knows it; the provider is ``gen_ai.provider.name``, the full ref
``mediarouter.candidate``). The CLIENT spans are the inference spans, one per candidate; the
INTERNAL root is the router's choice among them.

Without a router (the engine used directly, or a journaled job resumed) the first engine event
of a run opens a root span for the job, and the job's terminal event ends it. Parents are
passed explicitly (never through the ambient context), so concurrent calls never mix, and every
span still open is ended by the next terminal event, so none leaks.

Attributes follow the OpenTelemetry GenAI semantic conventions where they fit
(``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.id`` = the job id, ``gen_ai.response.model``, ``gen_ai.output.type``,
``server.address``, ``server.port``, ``error.type``, ``http.response.status_code``); the rest
are ``mediarouter.*`` (see docs/observability.md). No span carries a URL query, a key or a
server message: only ids, refs, numbers and error *types*.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from .events import (
    DownloadFinishedEvent,
    DownloadProgressEvent,
    DownloadRetryEvent,
    DownloadStartedEvent,
    Event,
    JobCompletedEvent,
    JobErrorEvent,
    JobFailedEvent,
    JobPolledEvent,
    JobPollRetryEvent,
    JobStatusChangedEvent,
    JobSubmitFailedEvent,
    JobSubmitRetryEvent,
    JobSubmittedEvent,
    JobSubmittingEvent,
    JobTimeoutEvent,
    PollStartedEvent,
    RouterAttemptFinishedEvent,
    RouterAttemptStartedEvent,
    RouterCallFinishedEvent,
    RouterCallStartedEvent,
    RouterCooldownEvent,
    RouterFailoverEvent,
    RouterSkippedEvent,
    WebhookAcceptedEvent,
    WebhookDuplicateEvent,
    WebhookRejectedEvent,
)
from .redact import redact_url

__all__ = ["SpanRecorder", "OPERATION_NAME", "server_attributes", "span_name"]

#: The GenAI well-known operation for multimodal content generation (the conventions have no "video").
OPERATION_NAME = "generate_content"
#: `gen_ai.output.type`: a custom value (the well-known ones are text, json, image, speech).
OUTPUT_TYPE = "video"

_KeyT = tuple[str, ...]


@cache
def _scope_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("mediarouter")
    except Exception:
        return None


def server_attributes(address: str | None) -> dict[str, Any]:
    """`server.address` / `server.port` from `host:port` or a URL's origin."""
    if not address:
        return {}
    text = address if "://" in address else f"//{address}"
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        return {}
    attributes: dict[str, Any] = {}
    if host:
        attributes["server.address"] = host
    if port is None and parts.scheme in ("http", "https"):
        port = 443 if parts.scheme == "https" else 80
    if port is not None:
        attributes["server.port"] = port
    return attributes


def usd_amount(value: Any) -> float | None:
    """A cost as the float OpenTelemetry wants, from a Decimal, number or string; None when not a number."""
    if value is None:
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def _split_ref(ref: str | None) -> tuple[str | None, str | None]:
    if not ref:
        return None, None
    provider, _, model = ref.partition("/")
    return provider or None, model or None


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attribute values OpenTelemetry accepts: None dropped, sequences as lists of str."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            out[key] = [str(v) for v in value]
        elif isinstance(value, (str, bool, int, float)):
            out[key] = value
        else:
            out[key] = str(value)
    return out


@dataclass
class _Attempt:
    span: Span
    #: True when this is the engine-only root itself (no router, no separate attempt span).
    is_root: bool = False
    submit: Span | None = None
    poll: Span | None = None
    downloads: dict[int, Span] = field(default_factory=dict)
    download_bytes: int = 0
    job_id: str | None = None
    cost: float | None = None
    error_type: str | None = None

    def children(self) -> list[Span]:
        return [s for s in (self.submit, self.poll, *self.downloads.values()) if s is not None]

    def clear_children(self) -> None:
        self.submit = self.poll = None
        self.downloads.clear()


@dataclass
class _Call:
    root: Span
    #: Opened by an engine event (no router): the job's terminal event ends it.
    engine_only: bool = False
    attempts: dict[int | None, _Attempt] = field(default_factory=dict)
    skip_reasons: dict[int | None, str] = field(default_factory=dict)
    served: _Attempt | None = None
    count: int = 0


class SpanRecorder:
    """Listener: turns events into spans. Pass `tracer_provider` in tests; the global one otherwise.

    `poll_spans=False` drops the per-poll spans (a job polled every 10 s for ten minutes makes 60);
    the poll count is on the attempt span either way.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        poll_spans: bool = True,
        max_open_calls: int = 1024,
    ) -> None:
        self._tracer = trace.get_tracer("mediarouter", _scope_version(), tracer_provider=tracer_provider)
        self.poll_spans = poll_spans
        self.max_open_calls = max_open_calls
        self._calls: OrderedDict[_KeyT, _Call] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        match event.payload:
            case RouterCallStartedEvent() as p:
                self._call_started(event, p)
            case RouterAttemptStartedEvent() as p:
                self._attempt_started(event, p)
            case RouterSkippedEvent() as p:
                self._skipped(event, p)
            case RouterAttemptFinishedEvent() as p:
                self._attempt_finished(event, p)
            case RouterFailoverEvent() as p:
                self._failover(event, p)
            case RouterCooldownEvent() as p:
                self._cooldown(event, p)
            case RouterCallFinishedEvent() as p:
                self._call_finished(event, p)
            case JobSubmittingEvent() as p:
                self._submitting(event, p)
            case JobSubmitRetryEvent() as p:
                self._submit_retry(event, p)
            case JobSubmitFailedEvent() as p:
                self._submit_failed(event, p)
            case JobSubmittedEvent():
                self._submitted(event)
            case PollStartedEvent() as p:
                self._poll_started(event, p)
            case JobPolledEvent() | JobStatusChangedEvent() as p:
                self._polled(event, p)
            case JobPollRetryEvent() as p:
                self._poll_retry(event, p)
            case JobFailedEvent() as p:
                self._job_failed(event, p)
            case JobTimeoutEvent() as p:
                self._job_timeout(event, p)
            case JobErrorEvent() as p:
                self._job_error(event, p)
            case JobCompletedEvent() as p:
                self._job_completed(event, p)
            case DownloadStartedEvent() as p:
                self._download_started(event, p)
            case DownloadProgressEvent() as p:
                self._download_progress(event, p)
            case DownloadRetryEvent() as p:
                self._download_retry(event, p)
            case DownloadFinishedEvent() as p:
                self._download_finished(event, p)
            case WebhookAcceptedEvent() | WebhookRejectedEvent() | WebhookDuplicateEvent() as p:
                self._webhook(event, p)
            case _:  # submit_unknown / submit_not_sent / router.estimate: the terminal events that follow tell
                pass

    @property
    def open_calls(self) -> int:
        """Calls whose root span is still open (0 once every call has finished)."""
        return len(self._calls)

    # -- bookkeeping -------------------------------------------------------------------------------

    @staticmethod
    def _key(event: Event) -> _KeyT:
        if event.call_id is not None:
            return ("call", event.call_id)
        # No router: a run is told apart by its job id once it has one (a resumed job has it from the start).
        return ("engine", event.provider or "", event.model or "", event.job_id or "")

    def _start(self, name: str, parent: Span | None, kind: SpanKind, attributes: Mapping[str, Any]) -> Span:
        context = trace.set_span_in_context(parent) if parent is not None else None
        return self._tracer.start_span(name, context=context, kind=kind, attributes=_clean(attributes))

    def _open_call(self, key: _KeyT, name: str, attributes: Mapping[str, Any], *, engine_only: bool) -> _Call:
        stale = self._calls.pop(key, None)
        if stale is not None:
            self._abandon(stale)
        while len(self._calls) >= self.max_open_calls:
            _, oldest = self._calls.popitem(last=False)
            self._abandon(oldest)
        root = self._start(name, None, SpanKind.CLIENT if engine_only else SpanKind.INTERNAL, attributes)
        call = _Call(root=root, engine_only=engine_only)
        self._calls[key] = call
        return call

    def _abandon(self, call: _Call) -> None:
        """A call that never finished (a cancelled engine run without a router): end what is open."""
        for attempt in call.attempts.values():
            _end_children(attempt, "abandoned")
            if not attempt.is_root:
                _end(attempt.span, "abandoned")
        _end(call.root, "abandoned")

    def _attempt(self, event: Event) -> _Attempt:
        """The attempt this engine event belongs to, opened implicitly when there is none."""
        key = self._key(event)
        call = self._calls.get(key)
        if call is None:
            ref = f"{event.provider}/{event.model}" if event.provider else event.model
            attributes = {
                **_genai(event.provider, event.model),
                "mediarouter.candidate": ref,
                "mediarouter.call_id": event.call_id,
                "mediarouter.attempt": event.attempt,
                "gen_ai.response.id": event.job_id,  # a resumed job has its id from the first event
            }
            name = span_name(event.model)
            call = self._open_call(key, name, attributes, engine_only=event.call_id is None)
        attempt = call.attempts.get(event.attempt)
        if attempt is None:
            # Engine events without attempt_started (a router that did not announce it) get a span of their own.
            attempt = _Attempt(span=call.root, is_root=True) if call.engine_only else self._new_attempt(call, event)
            call.attempts[event.attempt] = attempt
        return attempt

    def _new_attempt(
        self,
        call: _Call,
        event: Event,
        started: RouterAttemptStartedEvent | None = None,
        ref: str | None = None,
    ) -> _Attempt:
        """The attempt span: from the router's plan (`started`) when there is one, else from the event."""
        if started is not None:
            ref = started.ref
        ref = ref or (f"{event.provider}/{event.model}" if event.provider else None)
        provider, model = _split_ref(ref) if ref else (event.provider, event.model)
        attributes: dict[str, Any] = {
            **_genai(provider, model),
            "mediarouter.candidate": ref,
            "mediarouter.attempt": event.attempt,
        }
        if started is not None:
            attributes.update(server_attributes(started.server_address))
            attributes["mediarouter.estimated_cost_usd"] = usd_amount(started.estimated_cost)
            attributes.update(_durations(started))
        call.count += 1
        span = self._start(span_name(model), call.root, SpanKind.CLIENT, attributes)
        return _Attempt(span=span)

    # -- router events -----------------------------------------------------------------------------

    def _call_started(self, event: Event, p: RouterCallStartedEvent) -> None:
        candidates = list(p.candidates)
        first = candidates[0] if candidates else None
        provider, model = _split_ref(first)
        attributes = {
            **_genai(provider, model),
            "mediarouter.call_id": event.call_id,
            "mediarouter.candidates": candidates,
            "mediarouter.duration.requested": p.duration,
        }
        self._open_call(self._key(event), span_name(model), attributes, engine_only=False)

    def _attempt_started(self, event: Event, p: RouterAttemptStartedEvent) -> None:
        call = self._calls.get(self._key(event))
        if call is None:
            return
        old = call.attempts.pop(event.attempt, None)
        if old is not None and not old.is_root:
            _end_children(old, "abandoned")
            _end(old.span, "abandoned")
        call.attempts[event.attempt] = self._new_attempt(call, event, started=p)

    def _skipped(self, event: Event, p: RouterSkippedEvent) -> None:
        call = self._calls.get(self._key(event))
        if call is not None and p.reason:
            call.skip_reasons[event.attempt] = p.reason[:200]

    def _attempt_finished(self, event: Event, p: RouterAttemptFinishedEvent) -> None:
        call = self._calls.get(self._key(event))
        if call is None:
            return
        attempt = call.attempts.pop(event.attempt, None)
        if attempt is None or attempt.is_root:  # skipped, cooldown, refused while planning: a span says why
            attempt = self._new_attempt(call, event, ref=p.ref)
        outcome = p.outcome
        error_type = p.error_type or attempt.error_type
        job_id = event.job_id or attempt.job_id
        attempt.cost = usd_amount(p.cost) or attempt.cost
        span = attempt.span
        if span.is_recording():
            span.set_attributes(
                _clean(
                    {
                        "mediarouter.outcome": outcome,
                        "gen_ai.response.id": job_id,
                        "mediarouter.cost_usd": attempt.cost,
                        "http.response.status_code": p.status_code,
                        "mediarouter.skip_reason": call.skip_reasons.pop(event.attempt, None),
                    }
                )
            )
        _end_children(attempt, error_type or "abandoned")
        if outcome == "succeeded":
            call.served = attempt
            attempt.job_id = job_id
            span.end()
        elif outcome == "failed":
            _end(span, error_type or "failed")
        else:
            span.end()

    def _failover(self, event: Event, p: RouterFailoverEvent) -> None:
        call = self._calls.get(self._key(event))
        if call is not None and call.root.is_recording():
            call.root.add_event(
                "mediarouter.failover", _clean({"from": p.from_ref, "to": p.to_ref, "error.type": p.error_type})
            )

    def _cooldown(self, event: Event, p: RouterCooldownEvent) -> None:
        call = self._calls.get(self._key(event))
        if call is not None and call.root.is_recording():
            call.root.add_event("mediarouter.cooldown", _clean({"candidate": p.ref, "seconds": p.seconds}))

    def _call_finished(self, event: Event, p: RouterCallFinishedEvent) -> None:
        call = self._calls.pop(self._key(event), None)
        if call is None:
            return
        outcome = p.outcome
        error_type = p.error_type
        for attempt in call.attempts.values():
            _end_children(attempt, error_type or "abandoned")
            if not attempt.is_root:
                _end(attempt.span, error_type or "abandoned")
        root = call.root
        if root.is_recording():
            attributes: dict[str, Any] = {"mediarouter.outcome": outcome, "mediarouter.attempts": call.count}
            served = call.served
            ref = p.ref
            if outcome == "succeeded":
                _, model = _split_ref(ref)
                attributes.update(
                    {
                        "mediarouter.candidate": ref,
                        "gen_ai.response.model": model,
                        "gen_ai.response.id": served.job_id if served else None,
                        "mediarouter.cost_usd": served.cost if served else None,
                    }
                )
            root.set_attributes(_clean(attributes))
        if outcome == "succeeded":
            root.end()
        else:
            _end(root, error_type or outcome or "failed")

    # -- engine events -----------------------------------------------------------------------------

    def _submitting(self, event: Event, p: JobSubmittingEvent) -> None:
        attempt = self._attempt(event)
        if attempt.submit is not None:
            _end(attempt.submit, "abandoned")
        attempt.submit = self._start("submit", attempt.span, SpanKind.INTERNAL, {"mediarouter.submit.try": p.attempt})

    def _submit_retry(self, event: Event, p: JobSubmitRetryEvent) -> None:
        attempt = self._attempt(event)
        if attempt.submit is not None:
            if attempt.submit.is_recording():
                attempt.submit.set_attribute("mediarouter.retry.delay_s", float(p.delay or 0.0))
            _end(attempt.submit, p.error or "retry")
            attempt.submit = None

    def _submit_failed(self, event: Event, p: JobSubmitFailedEvent) -> None:
        attempt = self._attempt(event)
        error_type = p.error or "failed"
        attempt.error_type = error_type
        if attempt.submit is not None:
            _set(attempt.submit, {"http.response.status_code": p.status_code})
            _end(attempt.submit, error_type)
            attempt.submit = None
        _set(attempt.span, {"http.response.status_code": p.status_code})
        self._finish_engine_run(event, attempt, error_type)

    def _submitted(self, event: Event) -> None:
        if event.call_id is None and event.job_id:  # the engine-only run is known by its job id from now on
            pending = self._calls.pop(("engine", event.provider or "", event.model or "", ""), None)
            if pending is not None:
                self._calls[self._key(event)] = pending
        attempt = self._attempt(event)
        attempt.job_id = event.job_id
        if attempt.submit is not None:
            _set(attempt.submit, {"gen_ai.response.id": event.job_id})
            attempt.submit.end()
            attempt.submit = None
        _set(attempt.span, {"gen_ai.response.id": event.job_id})

    def _poll_started(self, event: Event, p: PollStartedEvent) -> None:
        attempt = self._attempt(event)
        if not self.poll_spans:
            return
        if attempt.poll is not None:
            _end(attempt.poll, "abandoned")
        attempt.poll = self._start(
            "poll",
            attempt.span,
            SpanKind.INTERNAL,
            {"mediarouter.poll": p.poll, "gen_ai.response.id": event.job_id},
        )

    def _polled(self, event: Event, p: JobPolledEvent | JobStatusChangedEvent) -> None:
        attempt = self._attempt(event)
        status = p.status
        if attempt.poll is not None:
            _set(attempt.poll, {"mediarouter.job.status": status})
            attempt.poll.end()
            attempt.poll = None
        _set(attempt.span, {"mediarouter.job.status": status, "mediarouter.job.polls": p.polls})
        if isinstance(p, JobStatusChangedEvent) and attempt.span.is_recording():
            attempt.span.add_event(
                "mediarouter.status_changed", _clean({"status": status, "previous": p.previous, "raw": p.raw_status})
            )

    def _poll_retry(self, event: Event, p: JobPollRetryEvent) -> None:
        attempt = self._attempt(event)
        if attempt.poll is not None:
            _end(attempt.poll, p.error or "retry")
            attempt.poll = None
        if attempt.span.is_recording():
            attempt.span.add_event("mediarouter.poll_retry", _clean({"error.type": p.error, "delay_s": p.delay}))

    def _job_failed(self, event: Event, p: JobFailedEvent) -> None:
        attempt = self._attempt(event)
        status = p.status or "failed"
        attempt.error_type = {"cancelled": "JobCancelled", "expired": "JobExpired"}.get(status, "JobFailed")
        _set(attempt.span, {"mediarouter.job.status": status})

    def _job_timeout(self, event: Event, p: JobTimeoutEvent) -> None:
        attempt = self._attempt(event)
        attempt.error_type = "JobTimeout"
        _end_children(attempt, "JobTimeout")
        _set(attempt.span, {"mediarouter.timeout.stage": p.stage})

    def _job_error(self, event: Event, p: JobErrorEvent) -> None:
        attempt = self._attempt(event)
        error_type = p.error or attempt.error_type or "error"
        attempt.error_type = error_type
        _end_children(attempt, error_type)
        _set(attempt.span, {"http.response.status_code": p.status_code})
        self._finish_engine_run(event, attempt, error_type)

    def _job_completed(self, event: Event, p: JobCompletedEvent) -> None:
        attempt = self._attempt(event)
        attempt.cost = usd_amount(p.cost)
        _end_children(attempt, "abandoned")
        _set(
            attempt.span,
            {
                "mediarouter.cost_usd": attempt.cost,
                "mediarouter.job.polls": p.polls,
                "mediarouter.download.bytes": attempt.download_bytes or None,
            },
        )
        self._finish_engine_run(event, attempt, None)

    def _finish_engine_run(self, event: Event, attempt: _Attempt, error_type: str | None) -> None:
        """End the implicit root of an engine-only run; a router's attempt waits for attempt_finished."""
        key = self._key(event)
        call = self._calls.get(key)
        if call is None or not call.engine_only:
            return
        del self._calls[key]
        if error_type is None:
            _set(call.root, {"mediarouter.outcome": "succeeded"})
            call.root.end()
        else:
            _set(call.root, {"mediarouter.outcome": "failed"})
            _end(call.root, error_type)

    def _download_started(self, event: Event, p: DownloadStartedEvent) -> None:
        attempt = self._attempt(event)
        index = p.index
        old = attempt.downloads.pop(index, None)
        if old is not None:
            _end(old, "abandoned")
        origin = p.origin
        attributes: dict[str, Any] = {
            "mediarouter.download.index": index,
            "mediarouter.download.origin": redact_url(origin, signed=True) if origin else None,
            "mediarouter.download.content_length": p.content_length,
            "mediarouter.download.offset": p.offset or None,
            "gen_ai.response.id": event.job_id,
            **server_attributes(origin),
        }
        attempt.downloads[index] = self._start("download", attempt.span, SpanKind.INTERNAL, attributes)

    def _download_progress(self, event: Event, p: DownloadProgressEvent) -> None:
        attempt = self._attempt(event)
        span = attempt.downloads.get(p.index)
        if span is not None:
            _set(span, {"mediarouter.download.bytes": p.bytes})

    def _download_retry(self, event: Event, p: DownloadRetryEvent) -> None:
        attempt = self._attempt(event)
        for span in attempt.downloads.values():
            _end(span, p.error or "retry")
        attempt.downloads.clear()

    def _download_finished(self, event: Event, p: DownloadFinishedEvent) -> None:
        attempt = self._attempt(event)
        size = p.size
        attempt.download_bytes += size
        span = attempt.downloads.pop(p.index, None)
        if span is not None:
            _set(span, {"mediarouter.download.bytes": size})
            span.end()

    # -- webhook deliveries --------------------------------------------------------------------------

    def _webhook(self, event: Event, p: WebhookAcceptedEvent | WebhookRejectedEvent | WebhookDuplicateEvent) -> None:
        """One SERVER span per delivery the receiver answered, on its own trace (the sender's request)."""
        outcome = {"webhook.accepted": "accepted", "webhook.rejected": "rejected"}.get(p.name, "duplicate")
        attributes: dict[str, Any] = {
            "gen_ai.provider.name": event.provider,
            "gen_ai.response.id": event.job_id,
            "mediarouter.webhook.outcome": outcome,
            "http.response.status_code": p.status_code if isinstance(p, WebhookRejectedEvent) else 204,
        }
        if isinstance(p, WebhookRejectedEvent):
            span = self._start("webhook", None, SpanKind.SERVER, attributes)
            _end(span, p.reason)
            return
        attributes.update({"mediarouter.webhook.event_type": p.event_type, "mediarouter.job.status": p.status})
        if isinstance(p, WebhookAcceptedEvent):
            attributes.update({"mediarouter.webhook.recorded": p.recorded, "mediarouter.webhook.woke": p.woke})
        self._start(f"webhook {p.event_type or p.status}", None, SpanKind.SERVER, attributes).end()


def span_name(model: str | None) -> str:
    """`{gen_ai.operation.name} {gen_ai.request.model}`, or the operation alone when the model is unknown."""
    return f"{OPERATION_NAME} {model}" if model else OPERATION_NAME


def _genai(provider: str | None, model: str | None) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": OPERATION_NAME,
        "gen_ai.output.type": OUTPUT_TYPE,
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
    }


def _durations(started: RouterAttemptStartedEvent) -> dict[str, Any]:
    """`mediarouter.duration.requested` / `.applied` (seconds) from the router's plan of a candidate."""
    applied = started.duration
    adjustments = started.adjustments
    change = adjustments.get("duration")
    requested = change.get("requested") if change is not None else applied
    out: dict[str, Any] = {"mediarouter.duration.requested": requested, "mediarouter.duration.applied": applied}
    if adjustments:
        out["mediarouter.adjusted"] = sorted(str(k) for k in adjustments)
    return out


def _set(span: Span, attributes: Mapping[str, Any]) -> None:
    if span.is_recording():
        span.set_attributes(_clean(attributes))


def _end(span: Span, error_type: str) -> None:
    """End `span` as failed with `error.type` (the error's class name, or a short reason)."""
    if span.is_recording():
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR, error_type))
    span.end()


def _end_children(attempt: _Attempt, error_type: str) -> None:
    for span in attempt.children():
        _end(span, error_type)
    attempt.clear_children()
