"""Running requests on DBOS: a worker (`DurableEngine`, `run_worker`) and a batch that enqueues its
lines as workflows and writes the same results file as the local batch (`run_durable_batch`).

Needs the `dbos` extra; nothing here is imported by `import mediarouter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from .. import errors as _errors
from ..batch import (
    BatchLine,
    BatchListener,
    BatchReport,
    BatchTotals,
    BatchUpdate,
    LineResult,
    ResultsFile,
    parse_lines,
    prepare_dirs,
    read_results,
    request_fields,
    saved_whole,
    settle_known_lines,
)
from ..errors import BudgetExceeded, ConfigurationError, InvalidRequest, MediaRouterError
from ..journal import JobStore, lease_owner
from ..pricing import format_usd
from ..webhooks.deliveries import Delivery, Waiters
from .settings import APP_VERSION, DurableSettings, attempt_id, queue_name, require_dbos, workflow_id

if TYPE_CHECKING:
    from dbos import DBOSClient, WorkflowStatus

    from ..router import Router

__all__ = ["DurableEngine", "DurableWaiters", "run_durable_batch", "run_worker"]

logger = logging.getLogger("mediarouter.durable")

#: Workflow states that are still going to produce a result.
_ACTIVE = ("ENQUEUED", "PENDING", "DELAYED")
_FINISHED = ("SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")
#: Seconds an executor id is held in the journal without renewal (a dead worker on another host
#: frees its id after this; one on this host at once).
EXECUTOR_LEASE_TTL = 30.0


class DurableEngine:
    """This process as a DBOS worker: launches DBOS on the running event loop (so workflows share the
    Router's HTTP clients), registers one queue per provider, and holds its executor id in the journal
    so two live processes never run under one id (recovery would run their workflows twice)."""

    def __init__(self, router: Router, settings: DurableSettings, *, update_queues: bool = True) -> None:
        self.router = router
        self.settings = settings
        #: Whether this process's queue settings replace those in the database (a worker's do; a batch's
        #: only for the providers it was given limits for, so it never drops a worker's limits).
        self.update_queues = update_queues
        self._owner = lease_owner()
        self._renew: asyncio.Task[None] | None = None
        self._launched = False

    @property
    def _lease_name(self) -> str:
        return f"dbos-executor:{self.settings.executor_id}"

    def _hold_executor_id(self) -> None:
        journal = self.router.require_journal()
        holder = journal.try_lease(self._lease_name, self._owner, EXECUTOR_LEASE_TTL)
        if holder is not None:
            where = f" on {holder.host}" if holder.host else ""
            raise ConfigurationError(
                f"worker id {self.settings.executor_id!r} is in use by a live process (pid {holder.pid}{where})",
                hint="give each worker its own --id (a dead worker's id is free again at once on this host, "
                f"else within {EXECUTOR_LEASE_TTL:g}s)",
            )

    async def _keep_executor_id(self) -> None:
        journal = self.router.require_journal()
        while True:
            await asyncio.sleep(EXECUTOR_LEASE_TTL / 3)
            try:
                journal.try_lease(self._lease_name, self._owner, EXECUTOR_LEASE_TTL)
            except Exception:
                logger.exception("could not renew worker id %s", self.settings.executor_id)

    async def launch(self) -> None:
        """Join the engine: from here on this process dequeues and runs request workflows, and first
        recovers the workflows its executor id left pending (a restart after a crash)."""
        require_dbos()
        from dbos import DBOS

        from . import workflows

        self._hold_executor_id()
        workflows.bind_router(self.router)
        try:
            # The limits first: `DBOS.launch` starts dequeuing at once, under what the database says, so a worker
            # restarted onto a backlog ran the enqueuer's limits (4 per worker) until its own were registered.
            await asyncio.to_thread(self._write_queues, self.router.provider_names())
            DBOS(config=cast(Any, self.settings.dbos_config()))
            DBOS.launch()  # on this loop's thread: queued async workflows then run on this loop
            self._launched = True
            await self.register_queues(self.router.provider_names())
        except BaseException:
            await self.shutdown(grace=0)
            raise
        self._renew = asyncio.create_task(self._keep_executor_id())

    async def register_queues(self, providers: Iterable[str]) -> None:
        from dbos import DBOS

        for name, options in self._queues(providers):
            await DBOS.register_queue_async(name, **options)

    def _write_queues(self, providers: Iterable[str]) -> None:
        """This worker's queue settings, written through a client before the engine launches (the same ones
        `register_queues` then registers in this process)."""
        client = client_for(self.settings)
        try:
            for name, options in self._queues(providers):
                client.register_queue(name, **options)
        finally:
            client.destroy()

    def _queues(self, providers: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
        """Each provider's queue name and options; this process's settings replace those in the database when
        it is a worker's (`update_queues`) or it was given limits for that provider."""
        return [
            (
                queue_name(provider),
                self.queue_options(provider, update=self.update_queues or provider in self.settings.provider_limits),
            )
            for provider in providers
        ]

    def queue_options(self, provider: str, *, update: bool) -> dict[str, Any]:
        """A provider's queue: per-worker concurrency, optional global limit and rate limit."""
        s = self.settings
        rate = s.provider_rates.get(provider)
        return {
            "worker_concurrency": s.concurrency,
            "global_concurrency": s.provider_limits.get(provider),
            "limiter": {"limit": rate[0], "period": rate[1]} if rate else None,
            "polling_interval_sec": s.queue_poll,
            "on_conflict": "always_update" if update else "never_update",
        }

    async def recover(self, executor_ids: Sequence[str]) -> int:
        """Take over the pending workflows of dead workers (their ids): DBOS re-enqueues them, and an
        atomic dequeue lets exactly one worker run each. Only for workers that are really gone."""
        from dbos import DBOS

        ids = [i for i in executor_ids if i]
        if not ids:
            return 0
        journal = self.router.require_journal()
        for executor in ids:
            name, owner = f"dbos-executor:{executor}", lease_owner()
            holder = journal.try_lease(name, owner, 1.0)
            if holder is not None:
                raise ConfigurationError(
                    f"worker {executor!r} is alive (pid {holder.pid} on {holder.host}); not taking over its workflows"
                )
            journal.release_lease(name, owner)
        handles = await asyncio.to_thread(DBOS._recover_pending_workflows, ids)
        return len(handles)

    async def shutdown(self, *, grace: float = 0.0) -> None:
        """Stop dequeuing, give running workflows `grace` seconds to finish, and leave the rest pending
        (a restart with the same id, or `worker --recover ID`, goes on with them)."""
        from dbos import DBOS

        if self._renew is not None:
            self._renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renew
            self._renew = None
        if self._launched:
            # Off the loop: DBOS waits for active workflows with blocking sleeps, and they run on this loop.
            # Workflows still running after the grace fail to reach the closed database, so they stay pending
            # for recovery, which is the point; DBOS would log each as an error.
            logging.getLogger("dbos").setLevel(logging.CRITICAL)
            await asyncio.to_thread(DBOS.destroy, workflow_completion_timeout_sec=int(grace))
            self._launched = False
            # DBOS made its own thread pool this loop's default executor, and has just shut it down.
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(thread_name_prefix="mediarouter"))
        from . import workflows

        workflows.bind_router(None)
        with contextlib.suppress(Exception):
            self.router.require_journal().release_lease(self._lease_name, self._owner)


class DurableWaiters(Waiters):
    """Webhook waiters that also wake durable workflows: a verified delivery for a job is sent as a
    DBOS message to the active workflow of the job's idempotency key, so its poll loop polls at once.

    Pass it to the receiver (`create_receiver(waiters=DurableWaiters(client, journal))`); the message is
    sent from a thread and a lost one costs at most one poll delay.
    """

    def __init__(self, client: DBOSClient, journal: Any, **options: Any) -> None:
        super().__init__(**options)
        self.client = client
        self.journal = journal

    def wake(self, delivery: Delivery) -> int:
        woke = super().wake(delivery)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.notify(delivery)
        else:
            loop.run_in_executor(None, self.notify, delivery)
        return woke

    def notify(self, delivery: Delivery) -> int:
        """Send the delivery to the active workflows of its job; how many were sent to."""
        from .workflows import WEBHOOK_TOPIC

        try:
            record = self.journal.get(delivery.job_id) if self.journal is not None else None
            if record is None or not record.idempotency_key:
                return 0
            sent = 0
            for status in _attempts(self.client, [record.idempotency_key]).get(record.idempotency_key, []):
                if status.status in _ACTIVE:
                    message = {"job_id": delivery.job_id, "status": delivery.status}
                    self.client.send(status.workflow_id, message, WEBHOOK_TOPIC)
                    sent += 1
            return sent
        except Exception:
            logger.exception("could not send the webhook for job %s to its workflow", delivery.job_id)
            return 0


async def run_worker(
    router: Router,
    settings: DurableSettings,
    *,
    stop: asyncio.Event,
    recover: Sequence[str] = (),
    grace: float = 10.0,
    ready: Callable[[], None] | None = None,
) -> None:
    """Run a worker until `stop` is set (SIGTERM/SIGINT in the CLI), then shut down gracefully. `ready` is
    called once the worker runs (its id claimed, any `recover` done), so "running" is never said too early."""
    engine = DurableEngine(router, settings)
    await engine.launch()
    try:
        if recover:
            count = await engine.recover(recover)
            logger.info("took over %d pending workflows of %s", count, ", ".join(recover))
        if ready is not None:
            ready()
        await stop.wait()
    finally:
        await engine.shutdown(grace=grace)


# -- batches -----------------------------------------------------------------------------------------


def client_for(settings: DurableSettings) -> DBOSClient:
    """A DBOS client: enqueues, reads results and sends messages without running any workflow."""
    require_dbos()
    from dbos import DBOS, DBOSClient

    try:
        DBOS.migrate(settings.database_url)  # a client never creates the schema itself
        return DBOSClient(system_database_url=settings.database_url, application_name="mediarouter")
    except Exception as exc:
        raise ConfigurationError(
            f"cannot open the DBOS database {settings.shown_database} ({type(exc).__name__}: {exc})",
            hint="check MEDIAROUTER_DBOS_DATABASE (sqlite:///FILE or postgresql://…)",
        ) from None


def _attempts(client: DBOSClient, keys: Sequence[str]) -> dict[str, list[WorkflowStatus]]:
    """Every workflow run so far for each key, oldest attempt first."""
    found: dict[str, list[WorkflowStatus]] = {k: [] for k in keys}
    for start in range(0, len(keys), 200):
        chunk = list(keys[start : start + 200])
        prefixes = [workflow_id(k) for k in chunk]
        by_base = dict(zip(prefixes, chunk, strict=True))
        for status in client.list_workflows(workflow_id_prefix=prefixes, load_input=False):
            base = status.workflow_id.split("#", 1)[0]
            if base in by_base and (status.workflow_id == base or status.workflow_id.startswith(base + "#")):
                found[by_base[base]].append(status)
    for statuses in found.values():
        statuses.sort(key=lambda s: attempt_id(s.workflow_id))
    return found


def _error_class(name: str | None) -> type[MediaRouterError] | None:
    found = getattr(_errors, name or "", None)
    return found if isinstance(found, type) and issubclass(found, MediaRouterError) else None


def line_result(data: Mapping[str, Any], line: BatchLine) -> LineResult:
    """A workflow's result as the results file's record (the exception rebuilt for exit codes)."""
    result = LineResult(
        line=line.number,
        idempotency_key=line.key,
        status="done" if data.get("status") == "done" else "failed",
        file=data.get("file"),
        cost=Decimal(data["cost"]) if data.get("cost") is not None else None,
        estimated_cost=Decimal(data["estimated_cost"]) if data.get("estimated_cost") is not None else None,
        job_id=data.get("job_id"),
        provider=data.get("provider") or line.provider,
        model=data.get("model"),
        error_type=data.get("error_type"),
        error=data.get("error"),
    )
    cls = _error_class(result.error_type)
    if result.status != "done" and cls is not None:
        with contextlib.suppress(Exception):
            details = data.get("details")  # what decides exit code 9 or 11 (`workflows._error`)
            result.exception = cls(
                result.error or result.error_type or "failed",
                job_id=result.job_id,
                details=dict(details) if isinstance(details, dict) else {},
            )
    return result


def _finished(
    status: WorkflowStatus, line: BatchLine, journal: JobStore | None = None, estimate: Decimal | None = None
) -> LineResult:
    """A finished workflow's line. One that ended without a result (cancelled, out of recovery attempts)
    may have had its job accepted, which goes on upstream and is paid for: the journal row holding the
    line's key names it, so the results file says which job to resume, and the budget counts `estimate`
    (what the line was reserved at) for it."""
    if status.status == "SUCCESS" and isinstance(status.output, dict):
        return line_result(status.output, line)
    error = status.error
    data: dict[str, Any] = {
        "status": "failed",
        "error_type": type(error).__name__ if error is not None else "WorkflowFailed",
        "error": f"workflow {status.workflow_id} ended {status.status}: {error or 'no result'}",
    }
    held = None
    with contextlib.suppress(Exception):  # the result must be written even if the journal cannot be read
        held = journal.find_idempotent(line.key) if journal is not None else None
    if held is not None and held.job_id is not None and held.state.holds_key:
        data.update(job_id=held.job_id, provider=held.provider, model=held.model)
        if estimate is not None:
            data["estimated_cost"] = str(estimate)
        if held.state.resumable:
            data["error"] += (
                f"; its job {held.job_id} was accepted and goes on (billed): mediarouter jobs resume {held.job_id}"
            )
    return line_result(data, line)


def _enqueue_all(client: DBOSClient, settings: DurableSettings, specs: Sequence[tuple[BatchLine, str, Any]]) -> None:
    """Register the queues the lines need (a worker's settings win) and enqueue one workflow per line."""
    from dbos import EnqueueOptions

    from .workflows import WORKFLOW_NAME

    providers = sorted({line.provider for line, _, _ in specs})
    for provider in providers:
        rate = settings.provider_rates.get(provider)
        client.register_queue(
            queue_name(provider),
            worker_concurrency=settings.concurrency,
            global_concurrency=settings.provider_limits.get(provider),
            limiter={"limit": rate[0], "period": rate[1]} if rate else None,
            polling_interval_sec=settings.queue_poll,
            on_conflict="always_update" if provider in settings.provider_limits else "never_update",
        )
    for line, wf_id, spec in specs:
        options = EnqueueOptions(
            workflow_name=WORKFLOW_NAME,
            queue_name=queue_name(line.provider),
            workflow_id=wf_id,
            app_version=APP_VERSION,
        )
        client.enqueue(options, spec)


def _statuses(client: DBOSClient, ids: Sequence[str]) -> list[WorkflowStatus]:
    found: list[WorkflowStatus] = []
    for start in range(0, len(ids), 500):
        found.extend(client.list_workflows(workflow_ids=list(ids[start : start + 500]), status=list(_FINISHED)))
    return found


def _succeeded(status: WorkflowStatus, line: BatchLine, journal: JobStore | None) -> LineResult | None:
    """A finished workflow's result when it saved the line's file and the file is still whole (`saved_whole`);
    else None: the line is enqueued again, and the new attempt resumes its journaled job (no second submit)."""
    if status.status != "SUCCESS" or not isinstance(status.output, dict):
        return None
    result = line_result(status.output, line)
    return result if result.status == "done" and saved_whole(journal, line.key, result.file) else None


class _DurableBatch:
    def __init__(self, listeners: Sequence[BatchListener], results: ResultsFile) -> None:
        self.listeners = list(listeners)
        self.results = results
        self.totals = BatchTotals()

    def notify(self, kind: str, line: int, result: LineResult | None = None) -> None:
        update = BatchUpdate(kind=kind, line=line, totals=self.totals, result=result)
        for listener in self.listeners:
            listener(update)

    def finish(self, result: LineResult, *, reserved: bool = False) -> None:
        self.totals.count(result)
        if not reserved:  # a reserved line's estimate was counted when it was enqueued
            self.totals.estimated += result.estimated_cost or Decimal(0)
        self.results.write(result)
        self.notify("finished", result.line, result)


async def _estimate(router: Router, line: BatchLine) -> Decimal | None:
    plan = await router.plan(model=line.model, **request_fields(line.request))
    usable = [c for c in plan if c.usable]
    if not usable:
        raise InvalidRequest(f"no candidate can serve line {line.number}: {plan[0].reason}")
    return usable[0].estimated_cost


async def run_durable_batch(
    router: Router,
    lines: Iterable[str],
    *,
    output_dir: str | os.PathLike[str],
    settings: DurableSettings | None = None,
    wait: bool = True,
    execute: bool = True,
    max_total_cost: Decimal | float | int | str | None = None,
    results_path: str | os.PathLike[str] | None = None,
    listeners: Sequence[BatchListener] = (),
    poll_interval: float | None = None,
    timeout: float | None = None,
    check_every: float = 0.5,
) -> BatchReport:
    """The local batch's rules on DBOS: every line validated first, done lines skipped, each other line
    enqueued as the workflow of its idempotency key (an active one is waited for, never enqueued twice;
    a finished failed one is run again as a new attempt, whose submit the journal still guards).

    `execute`: this process also runs workflows (a worker with `settings.executor_id`); `wait=False`
    only enqueues (the report's lines then are the ones enqueued, as `running`). The batch budget is
    reserved at enqueue time from each line's estimate, and each line may cost at most its reservation.
    """
    settings = settings or DurableSettings()
    if router.journal is None:
        raise ConfigurationError(
            "a batch needs the job journal (it is what makes a rerun submit nothing twice), which is off",
            hint="unset MEDIAROUTER_JOURNAL=off",
        )
    budget = Decimal(str(max_total_cost)) if max_total_cost is not None else None
    if budget is not None and (not budget.is_finite() or budget < 0):
        raise InvalidRequest(f"max_total_cost must be a non-negative amount in USD (got {max_total_cost!r})")
    out, path = prepare_dirs(output_dir, results_path)
    texts = list(lines)
    good, bad = parse_lines(router, texts, output_dir=out, results_path=path)
    previous = read_results(path)
    client = await asyncio.to_thread(client_for, settings)
    engine: DurableEngine | None = None
    # A write that fails mid-run is reported, not raised: the workflows go on in DBOS either way, and a rerun
    # collects them (the local batch does the same).
    results_file = ResultsFile(path, keep_going=True)
    batch = _DurableBatch(listeners, results_file)
    batch.totals.total = len(good) + len(bad)
    results: list[LineResult] = []
    try:
        todo = settle_known_lines(batch, bad, good, previous, results_file, results, journal=router.journal)

        attempts = await asyncio.to_thread(_attempts, client, [line.key for line in todo])
        waiting: dict[str, BatchLine] = {}
        to_enqueue: list[tuple[BatchLine, str]] = []
        for line in todo:
            runs = attempts[line.key]
            last = runs[-1] if runs else None
            if last is not None and last.status in _ACTIVE:
                waiting[last.workflow_id] = line  # enqueued by an earlier run: wait for it, never twice
            elif last is not None and (earlier := _succeeded(last, line, router.journal)) is not None:
                results.append(earlier)  # done, though the results file does not say so (lost, or --no-wait)
                batch.finish(earlier)
            else:
                to_enqueue.append((line, workflow_id(line.key, attempt_id(last.workflow_id) + 1 if last else 1)))

        specs: list[tuple[BatchLine, str, dict[str, Any]]] = []
        # What may still be billed besides what is spent: this run's reservations, and the estimates of the
        # lines an earlier run enqueued that are still running (their jobs bill whatever this run decides).
        reserved = Decimal(0)
        estimates: dict[str, Decimal] = {}  # by workflow id: what a line without a result still counts
        if budget is not None:
            for wf_id, line in waiting.items():
                with contextlib.suppress(MediaRouterError):
                    if (known := await _estimate(router, line)) is not None:
                        estimates[wf_id] = known
                        reserved += known
        for line, wf_id in to_enqueue:
            spec: dict[str, Any] = {
                "line": line.number,
                "key": line.key,
                "text": texts[line.number - 1],
                "output": str(out / line.output),
                "poll_interval": poll_interval,
                "timeout": timeout,
            }
            if budget is not None:
                try:
                    estimate = await _estimate(router, line)
                    if estimate is None:
                        raise BudgetExceeded(
                            f"line {line.number}'s cost cannot be estimated (no known price) and the batch has a "
                            "budget",
                            max_cost=budget,
                            hint="give a model with a published price, or drop --max-total-cost",
                        )
                    # Not totals.estimated: it also holds the done lines, which `spent` counts already.
                    committed = batch.totals.spent + reserved
                    if estimate > budget - committed:
                        raise BudgetExceeded(
                            f"line {line.number} (estimated {format_usd(estimate)}) would take the batch over its "
                            f"budget: {format_usd(committed)} spent or reserved of {format_usd(budget)}; not enqueued",
                            max_cost=budget,
                            hint="raise --max-total-cost and run the same command again: done lines are skipped",
                        )
                except MediaRouterError as exc:
                    failed = LineResult(
                        line=line.number, idempotency_key=line.key, status="failed", provider=line.provider,
                        error_type=type(exc).__name__, error=exc.message, exception=exc,
                    )  # fmt: skip
                    results.append(failed)
                    batch.finish(failed)
                    continue
                batch.totals.estimated += estimate
                reserved += estimate
                estimates[wf_id] = estimate
                spec["max_cost"] = str(estimate)
            else:  # no budget: estimated anyway, so the summary of an enqueued batch is not "$0"
                with contextlib.suppress(MediaRouterError):
                    if (guess := await _estimate(router, line)) is not None:
                        batch.totals.estimated += guess
                        estimates[wf_id] = guess
            specs.append((line, wf_id, spec))

        await asyncio.to_thread(_enqueue_all, client, settings, specs)
        enqueued = {wf_id for _, wf_id, _ in specs}
        for line, wf_id, _ in specs:
            waiting[wf_id] = line
            batch.totals.running += 1
            batch.notify("started", line.number)
        if not wait:  # the enqueued lines are `running` in the totals; a waiting rerun collects them
            batch.totals.running = len(waiting)
            results.sort(key=lambda r: r.line)
            return BatchReport(
                results=results, invalid=bad, totals=batch.totals, results_path=path,
                results_error=results_file.error, results_unwritten=results_file.unwritten,
            )  # fmt: skip
        if execute and waiting:
            engine = DurableEngine(router, settings, update_queues=False)
            await engine.launch()
        while waiting:
            statuses = await asyncio.to_thread(_statuses, client, list(waiting))
            for status in statuses:
                if status.status in _FINISHED and status.workflow_id in waiting:
                    line = waiting.pop(status.workflow_id)
                    batch.totals.running = max(0, batch.totals.running - 1)
                    result = _finished(status, line, router.journal, estimates.get(status.workflow_id))
                    results.append(result)
                    counted = status.workflow_id in enqueued and status.workflow_id in estimates
                    batch.finish(result, reserved=counted)
            if waiting:
                await asyncio.sleep(check_every)
    finally:
        results_file.close()
        if engine is not None:
            await engine.shutdown(grace=0)
        with contextlib.suppress(Exception):
            client.destroy()
    results.sort(key=lambda r: r.line)
    return BatchReport(
        results=results, invalid=bad, totals=batch.totals, results_path=path,
        results_error=results_file.error, results_unwritten=results_file.unwritten,
    )  # fmt: skip
