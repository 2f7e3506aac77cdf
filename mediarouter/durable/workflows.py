"""The request workflow: the core's stages as DBOS steps, so a dead worker's requests go on elsewhere.

A DBOS step runs at least once: a worker killed after a step's work but before DBOS recorded
its output runs that step again on recovery. Each step is therefore safe to repeat on its own:

- `plan` reads capabilities and prices (free) and submits nothing;
- `submit` goes through `Router.submit`, which journals the intent before the POST and, when a
  row already holds the idempotency key, returns its job (accepted) or raises Conflict (outcome
  unknown) instead of sending again: a recovered submit never POSTs twice;
- `poll` is one poll of an accepted job (free), journaled as the local engine does;
- `download` is `Router.resume` to the line's output file (no submit; a repeat re-downloads).

Between polls the workflow waits with `DBOS.recv(topic="webhook", timeout=delay)`: a durable sleep
that a webhook delivery (sent by `DurableWaiters`) ends early. Step inputs and outputs are plain
JSON-ready dicts (DBOS stores them); errors are returned as data, never raised across a step.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dbos import DBOS

from ..batch import BatchLine, parse_lines, request_fields
from ..engine import terminal_error
from ..errors import Conflict, InvalidRequest, MediaRouterError, OutputGone, ProtocolError, ProviderUnavailable
from ..jobs import Job, JobState
from ..journal import LEASE_MARGIN, JobRecord, JobStore, RecordState, update_while
from ..recovery import get_record
from ..retry import Backoff

if TYPE_CHECKING:
    from ..router import Router

__all__ = ["WEBHOOK_TOPIC", "WORKFLOW_NAME", "bind_router", "request_workflow"]

WORKFLOW_NAME = "mediarouter.request"
#: The DBOS message topic webhook deliveries are sent on (the poll loop waits on it).
WEBHOOK_TOPIC = "webhook"
#: Poll failures (429, 5xx, timeouts) in a row before the workflow gives up (the job stays resumable).
POLL_RETRIES = 5
_BACKOFF = Backoff(initial=1.0, multiplier=2.0, maximum=30.0)
_POLL_GROWTH = 1.25
#: Durable sleeps while another process holds a completed job's lease (at most a minute each).
_LEASE_BACKOFF = Backoff(initial=2.0, multiplier=2.0, maximum=60.0)


@dataclass
class _Runtime:
    router: Router


_runtime: _Runtime | None = None


def bind_router(router: Router | None) -> None:
    """The Router this process's workflow steps use (its providers, journal and settings)."""
    global _runtime
    _runtime = _Runtime(router) if router is not None else None


def _router() -> Router:
    if _runtime is None:
        raise RuntimeError("no Router is bound to the durable workflows (mediarouter.durable.runner.DurableEngine)")
    return _runtime.router


def _line(router: Router, spec: dict[str, Any]) -> BatchLine:
    """The request of a spec, parsed by the same rules as a local batch line."""
    good, bad = parse_lines(router, [spec["text"]])
    if bad:
        raise InvalidRequest(f"line {spec['line']}: {bad[0].message}")
    return good[0]


#: The error details that decide a line's exit code and money (`ambiguous_submit`: exit 9, a key whose submit
#: may have billed; `lease` / `holder_pid`: exit 11, another process has it), kept across the step boundary.
_KEPT_DETAILS = ("ambiguous_submit", "lease", "holder_pid")


def _error(exc: MediaRouterError) -> dict[str, Any]:
    kept = {name: exc.details[name] for name in _KEPT_DETAILS if name in exc.details}
    return {
        "details": kept or None,
        "error_type": type(exc).__name__,
        # A Conflict's hint is what the user does about a submit of unknown outcome (adopt or forget).
        "error": exc.message + (f" ({exc.hint})" if exc.hint and isinstance(exc, Conflict) else ""),
        "job_id": exc.job_id,
        "provider": exc.provider,
        "model": exc.model,
    }


# -- steps --------------------------------------------------------------------------------------------


@DBOS.step(name="mediarouter.plan")
async def plan_step(spec: dict[str, Any]) -> dict[str, Any]:
    """What the first usable candidate should cost; submits nothing. A key already holding an accepted
    job is not refused here (its job is resumed whatever its plan says now)."""
    router = _router()
    try:
        line = _line(router, spec)
        held = router.require_journal().find_idempotent(line.key)
        accepted = held is not None and held.state.holds_key and held.job_id is not None
        try:
            plan = await router.plan(model=line.model, **request_fields(line.request))
        except MediaRouterError:
            if accepted:
                return {"estimate": None}
            raise
        usable = [c for c in plan if c.usable]
        if not usable and not accepted:
            raise InvalidRequest(f"no candidate can serve line {spec['line']}: {plan[0].reason}")
    except MediaRouterError as exc:
        return {"failed": _error(exc)}
    estimate = usable[0].estimated_cost if usable else None
    # Every usable candidate's, so the result can carry the estimate of the one that ran after a failover.
    estimates = {c.ref: str(c.estimated_cost) for c in usable if c.estimated_cost is not None}
    return {"estimate": str(estimate) if estimate is not None else None, "estimates": estimates}


@DBOS.step(name="mediarouter.submit")
async def submit_step(spec: dict[str, Any], after: str | None = None) -> dict[str, Any]:
    """Submit once (failover up to acceptance); a repeat finds the journaled row and sends nothing.
    `after`: the line's job that ended failed, to fail over from (`Router.submit(after=)`)."""
    router = _router()
    try:
        line = _line(router, spec)
        record = await router.submit(
            line.request,
            idempotency_key=line.key,
            model=line.model,
            output=spec["output"],
            max_cost=spec.get("max_cost"),
            timeout=spec.get("timeout"),
            after=after,
        )
    except MediaRouterError as exc:
        return {"failed": _error(exc)}
    return {"job_id": record.job_id, "provider": record.provider, "model": record.model}


@DBOS.step(name="mediarouter.poll")
async def poll_step(job_id: str) -> dict[str, Any]:
    """One poll, journaled; `state` is the job's, or `retry` (a poll that may be repeated) or `failed`."""
    router = _router()
    try:
        journal = router.require_journal()
        record = get_record(journal, job_id)
        if (known := _journaled(record)) is not None:  # e.g. a webhook or a `jobs resume` recorded the end
            return known
        provider = router.provider(record.provider)
        job = Job(id=job_id, provider=record.provider, model=record.model, polling_url=record.polling_url)
        try:
            async with asyncio.timeout(router.settings.request_timeout):
                status = await provider.poll(job)
        except TimeoutError:
            raise ProviderUnavailable("poll timed out", job_id=job_id) from None
    except MediaRouterError as exc:
        error = exc.with_context(job_id=job_id)
        if exc.retryable or isinstance(exc, ProtocolError):
            return {"state": "retry", "retry_after": exc.retry_after, "failed": _error(error)}
        return {"state": "failed", "failed": _error(error)}
    polls = record.polls + 1
    if status.state is JobState.COMPLETED:
        if not status.outputs:
            error = ProtocolError("the job completed but lists no output to download", job_id=job_id)
            return {"state": "failed", "failed": _error(error)}
        moved = _write(
            journal,
            record,
            state=RecordState.COMPLETED,
            polls=polls,
            cost=status.cost,
            outputs=[o.model_dump(mode="json", exclude={"signed_url"}) for o in status.outputs],
            expires_at=min((o.expires_at for o in status.outputs if o.expires_at), default=None),
        )
        return moved or {"state": status.state.value}
    terminal = terminal_error(
        status.state.value, status.error or None, provider=record.provider, model=record.model, job_id=job_id
    )
    if terminal is not None:
        moved = _write(journal, record, state=RecordState(status.state.value), error=status.error or None, polls=polls)
        return moved or {"state": "failed", "failed": _error(terminal), "ended": True}
    if status.state in (JobState.PENDING, JobState.IN_PROGRESS):
        moved = _write(journal, record, state=RecordState(status.state.value), polls=polls)
        return moved or {"state": status.state.value}
    return {"state": status.state.value}


#: Rows a poll may write: as far as the journal knows, the job is still running upstream.
_POLLABLE = frozenset({RecordState.PENDING, RecordState.IN_PROGRESS, RecordState.INTERRUPTED})


def _journaled(record: JobRecord) -> dict[str, Any] | None:
    """The poll step's answer when the journal already knows the end (so nothing is polled), else None."""
    if record.state in (RecordState.COMPLETED, RecordState.DOWNLOADED):
        return {"state": JobState.COMPLETED.value}
    context: dict[str, Any] = {"provider": record.provider, "model": record.model, "job_id": record.job_id}
    if record.state is RecordState.GONE:  # nothing left to download: polling on would only fail later
        gone = OutputGone(f"job output gone: {record.error or 'HTTP 410'}", **context)
        return {"state": "failed", "failed": _error(gone)}
    known = terminal_error(record.state.value, record.error, **context)
    # `ended`: the job itself ended (failed, cancelled, expired): the workflow asks the router to fail over.
    return {"state": "failed", "failed": _error(known), "ended": True} if known is not None else None


def _write(journal: JobStore, record: JobRecord, **fields: Any) -> dict[str, Any] | None:
    """Journal what the poll saw, unless the row moved on while it ran (a webhook, a `jobs resume` finished
    it): the state is checked and written in one transaction (`update_if`), so a lagging poll never puts
    `in_progress` over `downloaded`, nor `failed` over `completed`. None when written, else the step's
    answer from the row as it is now."""
    if update_while(journal, record.key, _POLLABLE | {record.state}, **fields) is not None:
        return None
    return _journaled(get_record(journal, record.key))


@DBOS.step(name="mediarouter.download")
async def download_step(job_id: str, output: str) -> dict[str, Any]:
    """Download the completed job to the line's file (journaled `downloaded`); never submits. `busy`: another
    process holds the job's lease (a `jobs resume`, or a dead worker's until it expires): wait and repeat."""
    router = _router()
    try:
        video = await router.resume(job_id, output=output)
    except MediaRouterError as exc:
        busy = isinstance(exc, Conflict) and bool(exc.details.get("lease"))
        return {"failed": _error(exc.with_context(job_id=job_id)), "busy": busy}
    path = video.files[0].path if video.files and video.files[0].path else output
    return {"file": str(path), "cost": str(video.cost) if video.cost is not None else None}


# -- the workflow --------------------------------------------------------------------------------------


def _accepted(result: dict[str, Any], accepted: dict[str, Any], planned: dict[str, Any]) -> str:
    """Record the job a submit step returned on the line's result; its id."""
    result.update(job_id=accepted["job_id"], provider=accepted["provider"], model=accepted["model"])
    ran = planned.get("estimates", {}).get(f"{accepted['provider']}/{accepted['model']}")
    if ran is not None:  # the candidate that took the job, not the first one planned (failover)
        result["estimated_cost"] = ran
    return str(accepted["job_id"])


def _schedule(router: Router, spec: dict[str, Any]) -> tuple[float, float, float, bool]:
    """(first delay, poll interval, max interval, webhook-driven) like the local engine's schedule."""
    settings = router.settings
    interval = spec.get("poll_interval") or settings.poll_interval
    ceiling = max(interval, settings.max_poll_interval)
    if json.loads(spec["text"]).get("callback_url"):
        every = max(interval, router.webhooks.poll_every)
        return max(interval, router.webhooks.first_poll), interval, every, True
    return interval, interval, ceiling, False


@DBOS.workflow(name=WORKFLOW_NAME)
async def request_workflow(spec: dict[str, Any]) -> dict[str, Any]:
    """One request from plan to saved file; returns its results-file record (`LineResult.to_json`).

    `spec`: line (number), key (idempotency key), text (the JSONL line), output (absolute path),
    and optional max_cost, poll_interval, timeout. Time is counted from the delays slept, so a
    replayed workflow takes the same path as the original run.
    """
    result: dict[str, Any] = {
        "line": spec["line"],
        "idempotency_key": spec["key"],
        "status": "failed",
        "file": None,
        "cost": None,
        "estimated_cost": None,
        "job_id": None,
        "provider": None,
        "model": None,
        "error_type": None,
        "error": None,
    }

    def failed(error: dict[str, Any]) -> dict[str, Any]:
        result.update({k: v for k, v in error.items() if v is not None or k in ("error_type", "error")})
        return result

    planned = await plan_step(spec)
    if "failed" in planned:
        return failed(planned["failed"])
    result["estimated_cost"] = planned["estimate"]
    accepted = await submit_step(spec)
    if "failed" in accepted:
        return failed(accepted["failed"])

    router = _router()
    delay, interval, ceiling, webhook = _schedule(router, spec)
    budget = float(spec.get("timeout") or router.settings.timeout)
    grown = ceiling if webhook else interval
    waited = 0.0
    failures = 0
    job_id = _accepted(result, accepted, planned)
    while True:
        delay = min(delay, max(budget - waited, 0.0))
        woken = await DBOS.recv_async(WEBHOOK_TOPIC, timeout_seconds=delay) is not None if delay > 0 else False
        waited += delay
        polled = await poll_step(job_id)
        state = polled["state"]
        if state == JobState.COMPLETED.value:
            break
        if state == "failed":
            if not polled.get("ended") or waited >= budget:  # no time left for another paid job
                return failed(polled["failed"])
            # The job ended without output: the router fails over to the line's next candidate (its own
            # step, so a recovered workflow never submits it twice) or says why not.
            accepted = await submit_step(spec, job_id)
            if "failed" in accepted:
                # What the line ends with is this step's error; the failed job's id stays only when no
                # other candidate was tried (a failover that found none did not bill: `may_bill`).
                result.update(job_id=None, provider=None, model=None)
                return failed(accepted["failed"])
            job_id = _accepted(result, accepted, planned)
            delay, grown, failures = interval, (ceiling if webhook else interval), 0
            continue
        if state == "retry":
            failures += 1
            if failures > POLL_RETRIES:
                return failed(polled["failed"])
            delay = _BACKOFF.delay(failures, polled.get("retry_after"))
            continue
        failures = 0
        if waited >= budget:
            return failed(
                {
                    "error_type": "JobTimeout",
                    "error": f"no result within {budget:g}s while polling; job {job_id} may still be running "
                    f"(and billed): mediarouter jobs resume {job_id}",
                }
            )
        if not webhook:
            grown = min(ceiling, grown * _POLL_GROWTH)
        # Woken by a delivery the poll does not show yet: look again soon, as the local engine does.
        delay = interval if woken else grown
    saved = await download_step(job_id, spec["output"])
    # Another process holds the job's lease: wait for it, at most as long as a lease can be held.
    held, tries, limit = 0.0, 0, router.settings.timeout + LEASE_MARGIN
    while saved.get("busy") and held < limit:
        tries += 1
        pause = min(_LEASE_BACKOFF.delay(tries), limit - held)
        await DBOS.sleep_async(pause)
        held += pause
        saved = await download_step(job_id, spec["output"])
    if "failed" in saved:
        # This line's own accepted job (paid for): never "busy elsewhere, nothing sent", whoever holds it now.
        return failed({**saved["failed"], "details": None})
    cost = saved["cost"]
    result.update(status="done", file=saved["file"], cost=cost)
    if result["estimated_cost"] is None and cost is not None:
        result["estimated_cost"] = str(Decimal(cost))
    return result
