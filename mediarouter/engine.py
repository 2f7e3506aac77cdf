"""The job engine: one lifecycle (submit once, poll, download) for every provider.

Providers speak their wire format; the engine owns everything that costs money when it
goes wrong: the overall deadline, per-request timeouts, which stage may be retried, and
keeping the job id on every error raised after a job was accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shlex
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .capabilities import Capabilities
from .clock import Clock, SystemClock
from .downloads import (
    PartChanged,
    PartFile,
    PartWriteError,
    beside,
    complete_length,
    copy_whole,
    holds,
    output_path,
    part_path,
    rescue,
    still_whole,
)
from .errors import (
    AuthenticationFailed,
    ConfigurationError,
    Conflict,
    InvalidRequest,
    JobCancelled,
    JobError,
    JobExpired,
    JobFailed,
    JobTimeout,
    MediaRouterError,
    NotFound,
    OutputGone,
    OutputNotSaved,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
    SubmitUnknown,
)
from .events import (
    DownloadFinishedEvent,
    DownloadProgressEvent,
    DownloadRetryEvent,
    DownloadStartedEvent,
    Event,
    EventPayload,
    JobCompletedEvent,
    JobErrorEvent,
    JobFailedEvent,
    JobPolledEvent,
    JobPollRetryEvent,
    JobStatusChangedEvent,
    JobSubmitFailedEvent,
    JobSubmitNotSentEvent,
    JobSubmitRetryEvent,
    JobSubmittedEvent,
    JobSubmittingEvent,
    JobSubmitUnknownEvent,
    JobTimeoutEvent,
    Listener,
    PollStartedEvent,
    emit,
)
from .http.sending import probe_sends
from .jobs import Job, JobState, JobStatus
from .journal import (
    LEASE_MARGIN,
    JobRecord,
    JobStore,
    Lease,
    MemoryJobStore,
    RecordState,
    RequestFingerprint,
    absolute_target,
    find_saved,
    fingerprint_request,
    lease_owner,
    outputs_dir,
    save_lease_name,
    saves,
    sending,
    submit_lease_name,
    submitter_lease,
    update_while,
)
from .journal_writer import JournalWriter, as_writer
from .limits import ProviderLimits, Slots
from .outcomes import SubmitOutcome, classify_submit_error
from .provider import Provider
from .request import VideoRequest
from .results import MediaFile, VideoResult
from .retry import Backoff
from .validation import validate_request

if TYPE_CHECKING:
    from .webhooks.deliveries import Waiters

__all__ = ["JobEngine", "EngineRun"]

T = TypeVar("T")

logger = logging.getLogger("mediarouter")

_TERMINAL_ERRORS: dict[JobState, type[JobError]] = {
    JobState.FAILED: JobFailed,
    JobState.CANCELLED: JobCancelled,
    JobState.EXPIRED: JobExpired,
}


def terminal_error(state: str, server_message: str | None, **context: Any) -> JobError | None:
    """The error for a job that ended `failed`/`cancelled`/`expired` (None for any other state)."""
    try:
        error_type = _TERMINAL_ERRORS.get(JobState(state))
    except ValueError:  # a journal state such as "interrupted"
        return None
    if error_type is None:
        return None
    message = f"job {state}: {server_message}" if server_message else f"job {state}"
    return error_type(message, server_message=server_message, **context)


#: How often one download of an output starts over because the output changed on the server (`PartChanged`);
#: an origin that changes again after that ends the download with a ProtocolError rather than a loop.
_MAX_RESTARTS = 1
#: How many names beside a target (`downloads.beside`) are tried before one with a random tail.
_MAX_BESIDE = 20
#: Seconds a `save:` lease is held at most (`JobEngine._saving_at`): a rename, one journal write, at most the
#: hash of a file already at the target; a holder that died on another host is waited for this long.
SAVE_LEASE_TTL = 120.0
#: Seconds between looks at a `save:` lease another process holds.
_SAVE_WAIT = 0.2
#: The fields of a failed journal write that are sent again until they land (EngineRun.owed).
_OWED = ("job_id", "polling_url")
#: The rows a call that stopped on an error may mark `interrupted`: the job may still be going on.
_STILL_OURS = frozenset(
    {
        RecordState.SUBMITTING,  # the accepted job's id is still owed to a row its write failed to re-key
        RecordState.PENDING,
        RecordState.IN_PROGRESS,
        RecordState.COMPLETED,
        RecordState.INTERRUPTED,
    }
)
#: The rows a poll's `pending` / `in_progress` may be written to: not past them (a webhook delivery in
#: another process may have recorded the job's end since that poll).
_NOT_ENDED = _STILL_OURS - {RecordState.COMPLETED}


@dataclass
class EngineRun:
    """Book-keeping of one job's run (also what a journal records)."""

    provider: str
    model: str
    job: Job | None = None
    started: float = 0.0
    deadline: float = 0.0
    #: The caller's timeout in seconds (what messages name; the deadline may be a share of a longer call).
    budget: float = 0.0
    polls: int = 0
    last_state: JobState | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: This run's submit was accepted (the job is paid for): a lease conflict after it is not "nothing was sent".
    accepted_here: bool = False
    #: Journal row of this job (None when no journal is configured).
    record_key: str | None = None
    #: The state last written to that row (a poll that repeats it writes nothing).
    journaled: RecordState | None = None
    #: Whether the request carried a callback_url (None: not known here, e.g. a resumed job).
    callback: bool | None = None
    #: The job lease the submit took over from its submit lease (its owner), for `complete` to hold.
    job_lease_owner: str | None = None
    #: What a failed journal write still owes the row (the accepted job's id and polling URL): written again
    #: with the next awaited write and after every poll until it lands, so a paid job does not stay keyed
    #: only by its intent because one write failed (a locked database, a disk briefly full).
    owed: dict[str, Any] = field(default_factory=dict)
    #: Why the journal does not (yet) record this job's download, although its files are saved (see
    #: `VideoResult.journal_error`); None once it does.
    journal_error: str | None = None


class JobEngine:
    """Runs jobs to the end on an injectable clock.

    Retry rules: polls and downloads are retried (they cannot create a second job); a
    submit is retried only when the server provably did not accept it (429, or a
    connection that failed before anything was sent).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        poll_interval: float = 10.0,
        max_poll_interval: float | None = None,
        poll_growth: float = 1.25,
        first_poll: float | None = None,
        timeout: float = 600.0,
        request_timeout: float = 120.0,
        submit_retries: int = 2,
        poll_retries: int = 5,
        download_retries: int = 3,
        backoff: Backoff | None = None,
        listeners: Sequence[Listener] = (),
        journal: JobStore | None = None,
        webhooks: Waiters | None = None,
        limits: ProviderLimits | None = None,
        writer: JournalWriter | None = None,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be > 0 seconds")
        if timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        self.clock: Clock = clock or SystemClock()
        self.poll_interval = poll_interval
        self.max_poll_interval = max(poll_interval, max_poll_interval if max_poll_interval is not None else 60.0)
        self.poll_growth = max(1.0, poll_growth)
        #: Seconds before the first poll when it differs from poll_interval (no job finishes sooner).
        self.first_poll = first_poll if first_poll is not None and first_poll > 0 else None
        self.timeout = timeout
        self.request_timeout = request_timeout
        self.submit_retries = submit_retries
        self.poll_retries = poll_retries
        self.download_retries = download_retries
        self.backoff = backoff or Backoff(initial=1.0, multiplier=2.0, maximum=30.0)
        self.listeners: list[Listener] = list(listeners)
        self.journal = journal
        #: The journal's calls, made off the event loop (one writer thread, in order; see journal_writer.py).
        self.writer = writer if writer is not None and writer.store is journal else as_writer(journal)
        #: Per-provider request queues: a request waits for its slot outside its request timeout (limits.py).
        self.limits = limits
        #: Where webhook deliveries wake jobs submitted with a `callback_url` (see `wait`); None: poll only.
        self.webhooks = webhooks

    # -- public API ---------------------------------------------------------------------

    async def run(
        self,
        provider: Provider,
        model_id: str,
        request: VideoRequest,
        *,
        output: str | Path | None = None,
        validate: bool = True,
        capabilities: Capabilities | None = None,
        idempotency_key: str | None = None,
        run: EngineRun | None = None,
        estimate: Decimal | None = None,
        fingerprint: RequestFingerprint | None = None,
    ) -> VideoResult:
        """Validate, submit once, wait for a terminal state, download. The deadline covers all of it.

        Pass `run` (from `start`) to share a caller's absolute deadline and to read what happened
        (the accepted job) whatever way the call ends.
        """
        run = run or self.start(provider, model_id)
        if capabilities is None:
            capabilities = await self._timed(run, provider.capabilities(model_id), stage="capabilities")
        if validate:
            validate_request(request, capabilities, model=model_id, provider=provider.name)
        job = await self.submit(
            provider,
            model_id,
            request,
            run=run,
            keep_lease=True,
            idempotency_key=idempotency_key,
            target=output,
            fingerprint=fingerprint,
        )
        result = await self.complete(provider, job, output=output, run=run)
        result.estimated_cost = estimate if estimate is not None else capabilities.estimate_cost(request)
        return result

    def start(
        self, provider: Provider | str, model_id: str, *, deadline: float | None = None, budget: float | None = None
    ) -> EngineRun:
        """The book-keeping of one job run: an absolute `deadline` on this engine's clock (default: now +
        timeout) and the `budget` in seconds that messages name (the caller's own timeout)."""
        now = self.clock.monotonic()
        name = provider if isinstance(provider, str) else provider.name
        return EngineRun(
            provider=name,
            model=model_id,
            started=now,
            deadline=deadline if deadline is not None else now + self.timeout,
            budget=budget if budget is not None else self.timeout,
        )

    async def submit(
        self,
        provider: Provider,
        model_id: str,
        request: VideoRequest,
        *,
        run: EngineRun,
        idempotency_key: str | None = None,
        target: str | Path | None = None,
        fingerprint: RequestFingerprint | None = None,
        keep_lease: bool = False,
    ) -> Job:
        """Create the job at most once: the intent is journaled before the POST, the job id right after.

        `keep_lease`: the caller completes the job next (`run`), so the submit lease is swapped for the
        job's lease in one journal step: a call repeating the key in between finds the job held, never free.

        A failed submit has one of three outcomes (see `outcomes.py`): *not sent* and a 429
        *refusal* are retried within the deadline; any other refusal is raised as is; an
        *unknown* outcome (the job may exist) is raised as `SubmitUnknown` and never repeated.
        """
        if idempotency_key is not None and fingerprint is None:
            fingerprint = fingerprint_request(request, [f"{provider.name}/{model_id}"])
        run.callback = bool(request.callback_url)
        key = f"local-{uuid.uuid4().hex}"
        intent = JobRecord(
            key=key,
            provider=provider.name,
            model=model_id,
            request=request.redacted(),
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            target=absolute_target(target),
            # Every row names its sender (no extra commit): `jobs forget` / `adopt` leave it alone while
            # that process may still get the job id back, keyed or not.
            submitter=submitter_lease(key, max(self._remaining(run), 1.0) + LEASE_MARGIN),
        )
        with sending(key):
            return await self._submit_sending(provider, model_id, request, run, intent, keep_lease=keep_lease)

    async def _submit_sending(
        self,
        provider: Provider,
        model_id: str,
        request: VideoRequest,
        run: EngineRun,
        intent: JobRecord,
        *,
        keep_lease: bool,
    ) -> Job:
        idempotency_key = intent.idempotency_key
        run.record_key = await self._journal_intent(intent)
        try:
            # Unkeyed submits take none: two more fsynced commits on the journal's one thread, before every POST
            # (docs/jobs.md), to guard rows no rerun can pay for twice (no key to free).
            lease = await self._hold_submit_lease(run) if idempotency_key is not None else None
        except (asyncio.CancelledError, KeyboardInterrupt):
            self._submit_interrupted(run, SubmitOutcome.NOT_SENT)
            raise
        job: Job | None = None
        try:
            job = await self._submit_attempts(provider, model_id, request, run, intent)
            run.accepted_here = True
            return job
        finally:
            if lease is not None and self.writer is not None:
                with contextlib.suppress(Exception):
                    if job is not None and keep_lease:
                        run.job_lease_owner = await self._hand_over(run, lease, job)
                    else:
                        await self.writer.call(self.writer.store.release_lease, *lease)

    async def _hand_over(self, run: EngineRun, lease: tuple[str, str], job: Job) -> str | None:
        """Swap the submit lease for the accepted job's (see `_hand_over`). Cancelled meanwhile, the job goes
        on upstream: once the shielded swap lands, the row says interrupted and the job lease is let go."""
        assert self.writer is not None
        store, owner = self.writer.store, lease_owner()
        ttl = max(self._remaining(run), 0.0) + LEASE_MARGIN
        try:
            return await self.writer.call(_hand_over, store, lease, job.id, owner, ttl)
        except (asyncio.CancelledError, KeyboardInterrupt):
            fields = {**run.owed, "state": RecordState.INTERRUPTED, "error": "interrupted"}
            cut = functools.partial(store.update, run.record_key or job.id, **fields)
            self.writer.later(self.writer.undo_take, f"job:{job.id}", owner, ttl, cut)
            raise

    async def _hold_submit_lease(self, run: EngineRun) -> tuple[str, str] | None:
        """Mark the row as being submitted by this process, so a caller repeating the key is told to wait
        (and `jobs forget` / `adopt` not to touch a row whose submit is still in flight). Only a keyed row is
        looked up that way."""
        if self.writer is None or run.record_key is None:
            return None
        name, owner = submit_lease_name(run.record_key), lease_owner()
        ttl = max(self._remaining(run), 1.0) + LEASE_MARGIN
        try:  # one writer step: take the lease, then read the row under it
            holder, row = await self.writer.call(_lease_and_read, self.writer.store, name, owner, ttl, run.record_key)
        except Exception:
            logger.exception("could not mark the submit of %s as in flight", run.record_key)
            return None
        if holder is None and row is not None and row.state is RecordState.SUBMITTING:
            return name, owner
        # `jobs forget` / `jobs adopt` took this row between its intent and the lease (they change a row only
        # under its submit lease): the key may be free for another submit, so this one must not be sent.
        if holder is None:
            await self.writer.call(self.writer.store.release_lease, name, owner)
        who = f" (pid {holder.pid})" if holder is not None else ""
        state = row.state.value if row is not None else "gone"
        run.record_key = None  # the row is another command's now: this call writes nothing more to it
        raise Conflict(
            f"the journal row of this submit was changed by another command{who} before the request was sent "
            f"(now {state}, e.g. by `mediarouter jobs forget` / `adopt`); nothing was sent",
            provider=run.provider,
            model=run.model,
            hint="check `mediarouter jobs list`, then run the same command again if no job holds the key",
        )

    async def _submit_attempts(
        self, provider: Provider, model_id: str, request: VideoRequest, run: EngineRun, intent: JobRecord
    ) -> Job:
        attempt = 0
        while True:
            if attempt:
                try:
                    await self._journal_update(run, state=RecordState.SUBMITTING, error=None)
                except (asyncio.CancelledError, KeyboardInterrupt):
                    self._submit_interrupted(run, SubmitOutcome.NOT_SENT)
                    raise
            self._emit(run, JobSubmittingEvent(attempt=attempt + 1))
            t0 = self.clock.monotonic()
            try:
                job = await self._submit_once(provider, model_id, request, run)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise  # _submit_once journaled what is known
            except MediaRouterError as exc:
                outcome = exc.details.get("submit_outcome")
                # Not sent, and it may pass next time (no connection): a local refusal such as a missing key
                # (AuthenticationFailed) is the same on every attempt, so it fails at once.
                retry = (outcome == SubmitOutcome.NOT_SENT and _retryable(exc)) or isinstance(exc, RateLimited)
                if retry and not isinstance(exc, JobTimeout) and attempt < self.submit_retries:
                    attempt += 1
                    delay = self.backoff.delay(attempt, exc.retry_after)
                    if self.clock.monotonic() + delay < run.deadline:
                        self._emit(run, JobSubmitRetryEvent(attempt=attempt, delay=delay, error=type(exc).__name__))
                        await self.clock.sleep(delay)
                        continue
                raise exc.with_context(provider=provider.name, model=model_id) from None
            # The job id goes to the journal before anything else looks at the answer; the event follows
            # even when a signal lands in between, so the caller is told a job was accepted (and its id).
            settled = False
            try:
                await self._journal_accept(run, job, intent)
                settled = True  # record_key is the row's key: its job id, or the old key if the write failed
            finally:
                run.job = job
                if not settled:
                    self._journal_cut_accept(run, job)
                run.timings["submit"] = self.clock.monotonic() - t0
                self._emit(run, JobSubmittedEvent(polling_url=job.polling_url))
            return job

    async def _submit_once(self, provider: Provider, model_id: str, request: VideoRequest, run: EngineRun) -> Job:
        """Wait for a request slot (outside the request timeout), then submit. A submit still queued at the
        deadline, or cancelled in the queue, was never sent: its row says `not_sent`, never `submitting`."""
        try:
            slots = await self._take_turn(run, "submitting")
        except JobTimeout as error:
            await self._submit_failed(run, error, SubmitOutcome.NOT_SENT)
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            self._submit_interrupted(run, SubmitOutcome.NOT_SENT)
            raise
        try:
            return await self._submit_now(provider, model_id, request, run)
        finally:
            if slots is not None:
                slots.release()

    async def _submit_now(self, provider: Provider, model_id: str, request: VideoRequest, run: EngineRun) -> Job:
        """One submit under the per-request timeout and the deadline; every failure carries its outcome."""
        remaining = self._remaining(run)
        if remaining <= 0:
            error: MediaRouterError = self._timeout(run, "submitting")
            await self._submit_failed(run, error, SubmitOutcome.NOT_SENT)
            raise error
        with probe_sends() as probe:
            try:
                async with asyncio.timeout(min(self.request_timeout, remaining)):
                    return await provider.submit(model_id, request)
            except TimeoutError:
                deadline_passed = self._remaining(run) <= 0
                if probe.provably_unsent:
                    if deadline_passed:
                        error = self._timeout(run, "submitting")
                    else:
                        error = ProviderUnavailable(
                            f"the submit could not be sent within {self.request_timeout:g}s (no connection)",
                            sent=False,
                            hint="nothing was sent; retrying is safe",
                        )
                    await self._submit_failed(run, error, SubmitOutcome.NOT_SENT)
                    raise error from None
                waited = f"the call's {run.budget:g}s" if deadline_passed else f"{self.request_timeout:g}s"
                error = SubmitUnknown(
                    f"the submit got no answer within {waited}; the job may have been accepted (and billed)",
                    hint=self._unknown_hint(run),
                )
                await self._submit_failed(run, error, SubmitOutcome.UNKNOWN)
                raise error from None
            except MediaRouterError as exc:
                outcome = classify_submit_error(exc, probe)
                error = exc
                if outcome is SubmitOutcome.UNKNOWN:
                    error = SubmitUnknown(
                        f"{exc.message}; the job may have been accepted (and billed)",
                        status_code=exc.status_code,
                        server_message=exc.server_message,
                        retry_after=exc.retry_after,
                        hint=self._unknown_hint(run),
                        details={**exc.details, "cause": type(exc).__name__},
                    )
                await self._submit_failed(run, error, outcome)
                raise error from None
            except (asyncio.CancelledError, KeyboardInterrupt):
                outcome = SubmitOutcome.NOT_SENT if probe.provably_unsent else SubmitOutcome.UNKNOWN
                self._submit_interrupted(run, outcome)
                raise
            except Exception as exc:  # a plugin bug: it may have sent the request already
                outcome = SubmitOutcome.NOT_SENT if probe.provably_unsent else SubmitOutcome.UNKNOWN
                text = f"provider {run.provider} raised {type(exc).__name__} during submit: {exc}"
                error = ProtocolError(text) if outcome is SubmitOutcome.NOT_SENT else SubmitUnknown(text)
                error.details["unexpected"] = True
                if outcome is SubmitOutcome.UNKNOWN:
                    error.hint = self._unknown_hint(run)
                await self._submit_failed(run, error, outcome)
                raise error from exc

    def _unknown_hint(self, run: EngineRun) -> str:
        key = run.record_key or "KEY"
        if isinstance(self.journal, MemoryJobStore):  # e.g. --emulator: no later command sees this row
            from .recovery import memory_journal_advice  # recovery imports this module

            return memory_journal_advice(run.provider, key)
        quoted = shlex.quote(key)
        return (
            f"check your {run.provider} dashboard before submitting again; `mediarouter jobs list` shows this "
            f"submit as unknown: `mediarouter jobs adopt {quoted} JOB_ID` if a job exists, "
            f"else `mediarouter jobs forget {quoted} --yes`"
        )

    async def complete(
        self,
        provider: Provider,
        job: Job,
        *,
        output: str | Path | None = None,
        run: EngineRun | None = None,
        first_poll_delay: float | None = None,
        known: JobStatus | None = None,
        saved: Sequence[dict[str, Any]] = (),
    ) -> VideoResult:
        """Wait for an accepted job and download its outputs; also how a journaled job is resumed.

        `known`: a completed status from the journal. Its outputs are downloaded without polling
        first (a backend may drop a finished job's record long before its files, as fal does); if
        that download is refused, the job is polled for fresh URLs as usual.

        `saved`: the row's journaled `files` (path, size, sha256, index). An output whose file is still
        there, whole, is not downloaded again (copied if another path is asked for).
        """
        if run is None:
            run = self.start(provider, job.model)
            run.record_key = job.id if self.writer is not None and await self.writer.get(job.id) else None
        run.job = job
        # One poller/downloader per job, across processes: a call repeated with the same idempotency
        # key resumes this job, and two writers of one part file would corrupt the video.
        lease: contextlib.AbstractAsyncContextManager[object] = contextlib.nullcontext()
        if self.writer is not None:
            ttl = max(self._remaining(run), 0.0) + LEASE_MARGIN
            # Cancelled while taking it: the row says interrupted, like a cancel once it is held.
            cut = None
            if run.record_key is not None:
                cut = functools.partial(
                    self.writer.store.update, run.record_key, state=RecordState.INTERRUPTED, error="interrupted"
                )
            lease = self.writer.job_lease(
                job.id,
                ttl=ttl,
                doing="polled and downloaded",
                taken=run.job_lease_owner,
                cut=cut,
                paid_here=run.accepted_here,
            )
            run.job_lease_owner = None
        async with lease:
            try:
                files: list[MediaFile] | None = None
                status = known if known is not None and known.state is JobState.COMPLETED and known.outputs else None
                if status is not None:
                    try:
                        files = await self.download(provider, job, status, output=output, run=run, saved=saved)
                    except (InvalidRequest, NotFound, OutputGone, AuthenticationFailed, ProtocolError) as exc:
                        logger.info("journaled outputs of job %s refused (%s); polling for fresh ones", job.id, exc)
                if files is None or status is None:
                    status = await self.wait(provider, job, run=run, first_poll_delay=first_poll_delay)
                    files = await self.download(provider, job, status, output=output, run=run, saved=saved)
            except OutputNotSaved as exc:  # downloaded and journaled, just not where it was asked for
                if "part_file" in exc.details:  # or not saved at all: the row says where its bytes are
                    await self._journal_update(run, state=RecordState.INTERRUPTED, error=str(exc))
                raise exc.with_context(provider=provider.name, model=job.model, job_id=job.id) from None
            except JobError as exc:
                self._emit(run, JobErrorEvent(error=type(exc).__name__, status_code=exc.status_code))
                if isinstance(exc, OutputGone):
                    await self._journal_update(run, state=RecordState.GONE, error=exc.server_message or exc.message)
                raise exc.with_context(provider=provider.name, model=job.model, job_id=job.id) from None
            except MediaRouterError as exc:
                self._emit(run, JobErrorEvent(error=type(exc).__name__, status_code=exc.status_code))
                # Unless another writer (a webhook delivery in another process) recorded the job's end meanwhile:
                # that says more than "this call stopped waiting".
                await self._journal_update(run, only_while=_STILL_OURS, state=RecordState.INTERRUPTED, error=str(exc))
                raise exc.with_context(provider=provider.name, model=job.model, job_id=job.id) from None
            except BaseException:  # cancelled, Ctrl-C: the job goes on upstream, so it stays resumable
                if run.journaled is not RecordState.DOWNLOADED:  # saved, and being journaled so: not interrupted
                    self._journal_now(run, state=RecordState.INTERRUPTED, error="interrupted")
                raise
        run.timings["total"] = self.clock.monotonic() - run.started
        self._emit(run, JobCompletedEvent(cost=status.cost, polls=run.polls))
        return VideoResult(
            files=files,
            provider=provider.name,
            model=job.model,
            job_id=job.id,
            cost=status.cost,
            generation_id=status.generation_id,
            polls=run.polls,
            timings=dict(run.timings),
            journal_error=run.journal_error,
        )

    async def wait(
        self, provider: Provider, job: Job, *, run: EngineRun, first_poll_delay: float | None = None
    ) -> JobStatus:
        """Poll until a terminal state; raise the matching error for failed/cancelled/expired.

        A job journaled with a `callback_url`, on an engine given `webhooks`, polls on their
        safety-net schedule instead (first after max(poll_interval, first_poll), then every
        poll_every seconds); a delivery in this process ends the current sleep at once, and the
        poll that follows reads the outputs (docs/webhooks.md).
        """
        interval = self.poll_interval
        first = interval if self.first_poll is None else self.first_poll
        delay = first if first_poll_delay is None else first_poll_delay
        watch = (
            self.webhooks.watch_job(job.id, journal=self.journal, record_key=run.record_key)
            if self.webhooks and run.callback is not False  # a request without callback_url: nothing to watch
            else None
        )
        if watch is not None:
            interval = max(self.poll_interval, watch.poll_every)
            delay = max(self.poll_interval, watch.first_poll) if first_poll_delay is None else first_poll_delay
        woken = False
        failures = 0
        t0 = self.clock.monotonic()
        while True:
            if watch is None:
                await self._sleep_within_deadline(run, delay, stage="polling")
            else:  # sleep until the delay passes or a delivery wakes the job, within the deadline
                woken = await watch.sleep(self.clock, min(delay, self._remaining(run)))
                if not woken and self._remaining(run) <= 0:
                    raise self._timeout(run, "polling")
            self._emit(run, PollStartedEvent(poll=run.polls + failures + 1))
            try:
                async with self._turn(run, "polling"):
                    status = await self._timed(run, provider.poll(job), stage="poll")
            except (MediaRouterError, TimeoutError) as exc:
                error = exc if isinstance(exc, MediaRouterError) else ProviderUnavailable("poll timed out")
                if _retryable(error) and failures < self.poll_retries:
                    failures += 1
                    delay = self.backoff.delay(failures, error.retry_after)
                    self._emit(run, JobPollRetryEvent(attempt=failures, delay=delay, error=type(error).__name__))
                    continue
                raise error.with_context(job_id=job.id) from None
            failures = 0
            run.polls += 1
            if run.owed:
                await self._journal_update(run)  # the job id a failed write left out, again
            if status.state != run.last_state:
                self._journal_status(run, status)
                previous = run.last_state
                run.last_state = status.state
                self._emit(
                    run,
                    JobStatusChangedEvent(
                        status=str(status.state),
                        previous=str(previous) if previous else None,
                        raw_status=status.raw_status,
                        polls=run.polls,
                        queue_position=_queue_position(status),
                    ),
                )
            else:
                place = _queue_position(status)
                self._emit(run, JobPolledEvent(status=str(status.state), polls=run.polls, queue_position=place))
            if status.state is JobState.COMPLETED:
                run.timings["generation"] = self.clock.monotonic() - t0
                if not status.outputs:
                    raise ProtocolError("the job completed but lists no output to download", job_id=job.id)
                await self._journal_update(
                    run,
                    state=RecordState.COMPLETED,
                    reported=None,  # a webhook's unconfirmed end, which this poll contradicts
                    polls=run.polls,
                    cost=status.cost,
                    # Signed URLs are secrets and go stale: a resume polls again and gets fresh ones.
                    outputs=[o.model_dump(mode="json", exclude={"signed_url"}) for o in status.outputs],
                    expires_at=min((o.expires_at for o in status.outputs if o.expires_at), default=None),
                )
                return status
            server = status.error or None
            terminal = terminal_error(
                status.state.value,
                server,
                job_id=job.id,
                provider=provider.name,
                model=job.model,
                details=dict(status.extra),  # the provider's own facts (an rpc code, filter reasons …)
            )
            if terminal is not None:
                self._emit(run, JobFailedEvent(status=str(status.state), error=server))
                await self._journal_update(
                    run, state=RecordState(status.state.value), error=server, reported=None, polls=run.polls
                )
                raise terminal
            if watch is None:
                interval = min(self.max_poll_interval, interval * self.poll_growth)
            # Woken, yet the poll does not show the end yet: it lags the delivery, so look again soon.
            delay = self.poll_interval if woken else interval

    async def download(
        self,
        provider: Provider,
        job: Job,
        status: JobStatus,
        *,
        output: str | Path | None = None,
        run: EngineRun,
        saved: Sequence[dict[str, Any]] = (),
    ) -> list[MediaFile]:
        """Stream every output to disk; a partial file never appears at the target path.

        A target that cannot be written (it became a directory, its disk is read-only) does not
        cost the paid video: the file is kept in the journal's `outputs/` directory, journaled
        there, and the error says where. `saved`: as for `complete`.

        A failed write of `downloaded` does not fail the call (the video is saved): it is owed to the
        journal (retried by the writer) and the result's `journal_error` says so.
        """
        base = Path(output) if output is not None else Path(tempfile.mkdtemp(prefix="mediarouter-")) / f"{job.id}.mp4"
        t0 = self.clock.monotonic()
        files: list[MediaFile] = []
        problems: list[tuple[Path, OSError]] = []
        try:
            await self._download_all(provider, job, status, base, run, files, problems, _by_index(saved))
        except BaseException:
            if files:  # a later output failed or was cancelled: the row still lists the ones saved
                self._journal_now(run, files=_file_rows(files))
            raise
        run.timings["download"] = self.clock.monotonic() - t0
        try:
            rows = _file_rows(files)
            if not await self._journal_update(run, state=RecordState.DOWNLOADED, reported=None, files=rows):
                run.journal_error = self._owe_downloaded(run, job, files)
        except (asyncio.CancelledError, KeyboardInterrupt):
            # The shielded write still lands: the video is saved, and `complete` must not mark it interrupted.
            run.journaled = RecordState.DOWNLOADED
            raise
        await self._drop_earlier_parts(run, job, base, len(status.outputs), files)
        if problems:
            wanted, why = problems[0]
            kept_at = ", ".join(str(f.path) for f in files)
            raise OutputNotSaved(
                f"could not save the video to {wanted} ({why.strerror or why}); the paid video is kept at {kept_at}",
                job_id=job.id,
                hint=f"copy it from there, or: mediarouter jobs download {job.id} -o FILE",
                details={"saved_to": [str(f.path) for f in files]},
            )
        return files

    async def _drop_earlier_parts(
        self, run: EngineRun, job: Job, base: Path, count: int, files: list[MediaFile]
    ) -> None:
        """Remove the part files an earlier, interrupted download of these outputs left beside the row's own
        target, now that each is saved elsewhere (`jobs download JOB -o OTHER` after a full disk): they are
        prefixes of videos that are whole on disk and journaled, and would otherwise keep the space they took
        (on the disk that was full). Only this job's own part names; the job's lease keeps any other process
        from writing them."""
        if self.writer is None or run.record_key is None or run.accepted_here:  # its own submit's target is `base`
            return
        try:
            row = await self.writer.get(run.record_key)
        except Exception:
            return
        target = row.target if row is not None else None
        if not target or _same_place(Path(target), base):
            return
        for saved in files:
            earlier = part_path(output_path(Path(target), saved.index, count), f"{job.id}-{saved.index}")
            if saved.path is not None and _same_place(earlier, saved.path):
                continue
            try:
                await asyncio.to_thread(earlier.unlink)
            except FileNotFoundError:
                continue
            except OSError as exc:
                logger.warning("could not remove %s, an earlier download's part file (%s)", earlier, exc)
                continue
            logger.info(
                "removed %s, the part file an earlier download of job %s left (the video is saved at %s)",
                earlier,
                job.id,
                saved.path,
            )

    async def _download_all(
        self,
        provider: Provider,
        job: Job,
        status: JobStatus,
        base: Path,
        run: EngineRun,
        files: list[MediaFile],
        problems: list[tuple[Path, OSError]],
        saved: dict[int, dict[str, Any]],
    ) -> None:
        """Download each output in turn, appending what is saved to `files` (and to `problems` the targets
        that could not take their file), so a failure part-way leaves the caller the list so far. An output
        whose journaled file (`saved`) is whole on disk is taken from there instead."""
        for item in status.outputs:
            target = output_path(base, item.index, len(status.outputs))
            journaled = saved.get(item.index)
            if journaled is not None:
                async with self._saving_at(run, target):
                    kept_file = await self._reuse(run, job, journaled, target, item.url)
                    if kept_file is not None:
                        files.append(kept_file)
                        await self._journal_saved(run, files)
                if kept_file is not None:
                    self._emit(
                        run, DownloadFinishedEvent(path=str(kept_file.path), size=kept_file.size, index=item.index)
                    )
                    continue
            tag = f"{job.id}-{item.index}"
            kept = self._rescue_name(job, item.index, target)
            try:
                part = PartFile.create(target, tag=tag)
            except OSError as exc:
                problems.append((target, exc))
                try:
                    part = PartFile.create(outputs_dir(self.journal) / kept, tag=tag)
                except OSError as again:
                    raise _nowhere_to_write(job, base, target, again) from None
            try:
                try:
                    content_type = await self._download_one(provider, job, status, item, part, run, journaled)
                except PartWriteError as exc:  # a full disk: the bytes so far stay for the download that continues
                    raise _not_written(job, base, part, exc) from None
                sha = part.sha256()
                size = part.size
            except (MediaRouterError, asyncio.CancelledError, KeyboardInterrupt) as exc:
                refused_empty = isinstance(exc, MediaRouterError) and exc.status_code is not None and part.size == 0
                if not _resumable_download_error(exc) or refused_empty:
                    part.discard()  # a wrong body must not be continued later; an empty one is not worth keeping
                raise
            except BaseException:
                part.discard()
                raise
            # Whole and hashed: the part file is the paid video now, kept (never discarded) whatever follows.
            async with self._saving_at(run, part.target):
                place = await self._free_target(run, job, part.target)
                saving = MediaFile(
                    path=place, mime_type=content_type, size=size, sha256=sha, url=item.url, index=item.index
                )
                # On the row before the rename: a process killed in between leaves an entry that does not match
                # the file at `place` (ignored by every check: not whole), never a video at `place` no row names.
                await self._journal_saved(run, [*files, saving])
                try:
                    path = part.commit(place)
                except OSError as exc:
                    problems.append((target, exc))
                    if not part.path.exists():  # removed while it downloaded (its directory with it)
                        await self._journal_saved(run, files)
                        raise _part_gone(job, base, part, sha, exc) from None
                    try:
                        path = rescue(part.path, outputs_dir(self.journal), kept)
                    except OSError as again:  # the whole paid video, with nowhere to go: it stays where it is
                        await self._journal_saved(run, files)
                        raise _not_moved(job, base, part, sha, exc, again) from None
                    saving = saving.model_copy(update={"path": path})
                    await self._journal_saved(run, [*files, saving])
                files.append(saving)
            self._emit(run, DownloadFinishedEvent(path=str(path), size=size, index=item.index))

    @contextlib.asynccontextmanager
    async def _saving_at(self, run: EngineRun, target: Path) -> AsyncIterator[None]:
        """One saver at a time for `target`, across every process sharing the journal (a `save:` lease): the
        check of whose video is there (`_free_target`), the rename and the row's `files` (`_journal_saved`)
        happen together, so two jobs finishing at once onto one path cannot both find it free and the
        second replace the first's paid video. A live holder is waited for (it holds the lease for a rename
        and one journal write, a hash at most); a dead one's lease is taken over (`try_lease`). Without a
        journal, or one that cannot lease, the save goes on as before, unserialised."""
        if self.writer is None:
            yield
            return
        name, owner = save_lease_name(target), lease_owner()
        held = await self._take_save_lease(run, target, name, owner)
        try:
            yield
        finally:
            if held:
                with contextlib.suppress(Exception):  # it expires on its own (SAVE_LEASE_TTL)
                    await self.writer.call(self.writer.store.release_lease, name, owner)

    async def _take_save_lease(self, run: EngineRun, target: Path, name: str, owner: str) -> bool:
        assert self.writer is not None
        waited = 0.0
        while True:
            try:
                holder = await self.writer.try_lease(name, owner, SAVE_LEASE_TTL)
            except (asyncio.CancelledError, KeyboardInterrupt):
                self.writer.later(self.writer.store.release_lease, name, owner)  # the shielded take may land
                raise
            except Exception as exc:
                logger.warning("could not take the journal's lease on %s (%s: %s)", target, type(exc).__name__, exc)
                return False
            if holder is None:
                return True
            if waited >= SAVE_LEASE_TTL:  # its holder's lease has run out by now on any clock but a fake one
                logger.warning("%s: another process has held it for %.0f s; saving without waiting", target, waited)
                return False
            if not waited:
                logger.info("waiting to save %s: another process is saving a video there", target)
            await self.clock.sleep(_SAVE_WAIT)
            waited += _SAVE_WAIT

    async def _journal_saved(self, run: EngineRun, files: list[MediaFile]) -> None:
        """The outputs saved so far, on the row at once (under the target's lease): another process's check of
        the path (`_saved_by_another`) sees this video as soon as it is there, and a crash before the row says
        `downloaded` leaves the files to a resume (`saved`) instead of a second download."""
        await self._journal_update(run, files=_file_rows(files))

    async def _reuse(
        self, run: EngineRun, job: Job, row: dict[str, Any], target: Path, url: str | None
    ) -> MediaFile | None:
        """The journaled file of an output if it is still whole (size and sha256), at `target` (copied there
        when the journal has it elsewhere, or beside it when `target` holds another job's saved video: see
        `_free_target`); None when it must be downloaded."""
        size, sha = row.get("size"), row.get("sha256")
        if not isinstance(size, int) or not isinstance(sha, str):
            return None
        source = Path(row["path"])
        if not await asyncio.to_thread(holds, source, size, sha):
            return None
        path = source
        if not _same_place(source, target):
            place = await self._free_target(run, job, target)
            if not _same_place(place, source):  # else: it already is where it may go
                try:
                    path = await asyncio.to_thread(copy_whole, source, place)
                except OSError as exc:
                    logger.warning("could not copy %s to %s (%s); downloading it instead", source, place, exc)
                    return None
        return MediaFile(path=path, size=size, sha256=sha, url=url, index=int(row.get("index") or 0))

    async def _free_target(self, run: EngineRun, job: Job, target: Path) -> Path:
        """Where this job's finished video is saved: `target`, unless the journal records the file there as
        another row's saved output and it is still whole (size and sha256); then a name beside it that no
        other row's whole video has (`beside`: `NAME.JOB.mp4`), so a paid video never replaces another one.
        The row's own earlier copy, a file no row saves and one no longer whole are replaced, as before. The
        warning, the `download.finished` event, the result's files and the row's `files` name the real path."""
        place = target
        holder = await self._saved_by_another(run, job, place)
        if holder is None:
            return target
        for attempt in range(1, _MAX_BESIDE + 1):
            place = beside(target, job.id, attempt)
            if await self._saved_by_another(run, job, place) is None:
                break
        else:  # a job id made safe alike for other jobs' ids, again and again: a name nobody has
            place = beside(target, f"{job.id}-{uuid.uuid4().hex[:12]}")
        logger.warning(
            "%s is the saved video of job %s (journaled, still whole): not replacing it; the video of job %s is "
            "saved beside it, at %s",
            target,
            holder,
            job.id,
            place,
        )
        return place

    async def _saved_by_another(self, run: EngineRun, job: Job, path: Path) -> str | None:
        """The job (or row) whose journaled saved output is the file at `path`, still whole, if it is not this
        job's; None when no other row's is (no file, no journal, or a file no other row saves whole). When
        the journal cannot be read, the file is taken as another job's: kept, never replaced unseen."""
        if self.writer is None or not await asyncio.to_thread(path.is_file):
            return None
        try:
            rows = await self.writer.call(find_saved, self.writer.store, path)
        except Exception as exc:
            logger.warning(
                "could not look up in the journal whose video %s is (%s: %s); keeping it", path, type(exc).__name__, exc
            )
            return "unknown (the journal could not be read)"
        # This job's own earlier copy is replaced: only the other rows' entries count.
        others = [row for row in rows if job.id not in (row.job_id, row.key) and row.key != run.record_key]
        entries = [(row.job_id or row.key, entry) for row in others for entry in saves(row, path)]
        return await asyncio.to_thread(_whole_for, path, entries) if entries else None

    @staticmethod
    def _rescue_name(job: Job, index: int, target: Path) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in job.id)[:100]
        suffix = target.suffix or ".mp4"
        return f"{safe}{'-' + str(index) if index else ''}{suffix}"

    # -- internals ----------------------------------------------------------------------

    async def _download_one(
        self,
        provider: Provider,
        job: Job,
        status: JobStatus,
        item: Any,
        part: PartFile,
        run: EngineRun,
        journaled: dict[str, Any] | None = None,
    ) -> str:
        failures = 0
        restarts = 0  # from zero, because the output changed on the server (`PartChanged`)
        while True:
            try:
                content_type = "video/mp4"
                async with (
                    self._turn(run, "downloading"),
                    asyncio.timeout(self._remaining(run)),
                    provider.open_download(job, status, item, offset=part.size) as download,
                ):
                    content_type = download.content_type or content_type
                    self._emit(
                        run,
                        DownloadStartedEvent(
                            index=item.index,
                            origin=download.origin,
                            content_length=download.content_length,
                            offset=download.resumed_from,
                        ),
                    )
                    if download.content_length == 0:
                        raise ProtocolError("the download body is empty")
                    await part.write_stream(download, on_chunk=self._progress(run, item.index))
                    expected = download.content_length
                    if expected is not None and part.size != download.resumed_from + expected:
                        raise ProviderUnavailable(
                            f"download truncated: got {part.size} of {download.resumed_from + expected} bytes"
                        )
                if part.size == 0:
                    raise ProtocolError("the download body is empty")
                return content_type
            except TimeoutError:
                raise self._timeout(run, "downloading") from None
            except (asyncio.CancelledError, KeyboardInterrupt, PartWriteError):
                raise  # a failed write is the disk's, not the provider's: `download` says what to do
            except PartChanged as exc:  # the part file was started over; its 206 was not appended
                restarts += 1
                if restarts <= _MAX_RESTARTS:
                    logger.warning(
                        "job %s output %d changed on the server (%s): its %d bytes downloaded before are discarded, "
                        "downloading it again from the start",
                        job.id,
                        item.index,
                        exc.reason,
                        exc.discarded,
                    )
                    continue
                raise ProtocolError(
                    f"job {job.id} output {item.index} changed on the server while it was downloaded, again after "
                    f"a restart from the start ({exc.reason}); nothing of it was kept",
                    job_id=job.id,
                    hint=f"the provider serves different bytes under one URL; try later: mediarouter jobs download "
                    f"{job.id} -o FILE",
                    details={"restarts": _MAX_RESTARTS},
                ) from None
            except Exception as exc:
                if not isinstance(exc, MediaRouterError):  # a plugin bug must not lose the job id
                    error = ProtocolError(
                        f"provider {run.provider} raised {type(exc).__name__} while downloading: {exc}",
                        job_id=job.id,
                    )
                    error.details["unexpected"] = True
                    raise error from exc
                if exc.status_code == 416 and part.size > 0:
                    if await _holds_whole(part, exc, journaled):
                        logger.info("the part file of job %s output %d holds the whole video", job.id, item.index)
                        return "video/mp4"
                    # The server cannot continue from our offset: start this output over.
                    part.truncate()
                    failures += 1
                    if failures <= self.download_retries:
                        continue
                if (_retryable(exc) or isinstance(exc, Conflict)) and failures < self.download_retries:
                    failures += 1
                    delay = self.backoff.delay(failures, exc.retry_after)
                    self._emit(run, DownloadRetryEvent(attempt=failures, delay=delay, error=type(exc).__name__))
                    await self._sleep_within_deadline(run, delay, stage="downloading")
                    continue
                raise exc.with_context(job_id=job.id) from None

    # -- journal ------------------------------------------------------------------------
    # A journal write must never cost the job: failures are logged, and the job goes on.

    async def _journal_intent(self, record: JobRecord) -> str | None:
        """Record the submit before it is sent (awaited: committed before the POST). Unlike later writes,
        this one must succeed: a paid job the journal never heard of could be lost, and refusing now
        costs nothing. Cancelled while it is written: the row still lands, and is marked not sent."""
        writer = self.writer
        if writer is None:
            return None
        try:
            existing = await writer.claim(record) if record.idempotency_key else None
            if existing is None and not record.idempotency_key:
                await writer.add(record)
        except MediaRouterError:
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            writer.flush()  # the shielded write has landed (or failed) once the queue is empty
            with contextlib.suppress(Exception):
                found = writer.store.get(record.key)
                if found is not None and found.state is RecordState.SUBMITTING:
                    writer.store.update(record.key, state=RecordState.NOT_SENT, error="interrupted before the submit")
            raise
        except Exception as exc:
            raise ConfigurationError(
                f"could not record the submit in the job journal ({type(exc).__name__}: {exc}); nothing was sent",
                provider=record.provider,
                model=record.model,
                hint="check MEDIAROUTER_JOURNAL (a writable file or a reachable postgresql:// URL), "
                "or set it to 'off' to run without a journal",
            ) from None
        if existing is not None:
            raise Conflict(
                f"idempotency key {record.idempotency_key!r} is held by journaled job "
                f"{existing.job_id or existing.key} ({existing.state.value}); nothing was sent",
                provider=record.provider,
                model=record.model,
                job_id=existing.job_id,
                details={"idempotency_claimed": True, "existing_key": existing.key},
            )
        return record.key

    async def _journal_update(
        self, run: EngineRun, *, only_while: Collection[RecordState] | None = None, **fields: Any
    ) -> bool:
        """A state change the engine acts on next: awaited, so it is durable first. False when it failed
        (logged; the job goes on). `only_while`: written only while the row is in one of these states (one
        conditional write); a row past them keeps what it says."""
        if self.writer is None or run.record_key is None:
            return True
        if run.owed:  # with what an earlier write failed to record; alone if that fails again
            try:
                await self._write_row(run, {**run.owed, **fields}, only_while)
                run.owed = {}
                return True
            except Exception as exc:  # each poll tries again: one line, not a traceback per poll
                logger.warning(
                    "the journal still lacks job %s's id: %s: %s", run.owed.get("job_id"), type(exc).__name__, exc
                )
                if not fields:
                    return False
        try:
            await self._write_row(run, fields, only_while)
            return True
        except Exception:
            run.owed.update({name: fields[name] for name in _OWED if name in fields})
            logger.exception("could not update the journal for job %s", run.job.id if run.job else run.record_key)
            return False

    async def _write_row(
        self, run: EngineRun, fields: dict[str, Any], only_while: Collection[RecordState] | None
    ) -> None:
        assert self.writer is not None and run.record_key is not None
        if only_while is None:
            row: JobRecord | None = await self.writer.update(run.record_key, **fields)
        else:
            row = await self.writer.call(update_while, self.writer.store, run.record_key, only_while, **fields)
        if row is not None:
            run.record_key = row.key
            run.journaled = fields.get("state", run.journaled)

    async def _journal_accept(self, run: EngineRun, job: Job, intent: JobRecord) -> bool:
        """The accepted job's id, on the submit's row while it is still `submitting` (one conditional write).
        A row another command changed meanwhile (forgotten, adopted) keeps what it says; the job is journaled
        on the row adopted with its id, else on a row of its own: a paid job never lives only in memory."""
        if self.writer is None or run.record_key is None:
            return True
        fields = {**run.owed, "job_id": job.id, "polling_url": job.polling_url, "state": RecordState.PENDING}
        fields["submitter"] = None  # answered: nobody is sending it any more
        try:
            key, state = await self.writer.call(_record_accept, self.writer.store, run.record_key, fields, intent)
        except Exception:
            run.owed.update({name: fields[name] for name in _OWED if name in fields})
            logger.exception("could not record accepted job %s in the journal", job.id)
            return False
        run.record_key, run.journaled, run.owed = key, state, {}
        return True

    def _owe_downloaded(self, run: EngineRun, job: Job, files: list[MediaFile]) -> str:
        """The video is saved but its `downloaded` row could not be written: the writer writes it again
        (before its next call, and at close) so a rerun does not download (or find `gone`) a saved video.
        Returns what the caller is told (`VideoResult.journal_error`)."""
        assert self.writer is not None and run.record_key is not None
        self.writer.owe(run.record_key, **run.owed, state=RecordState.DOWNLOADED, files=_file_rows(files))
        run.owed = {}
        run.journaled = RecordState.DOWNLOADED  # being journaled so: never marked interrupted after this
        saved = ", ".join(str(f.path) for f in files)
        logger.warning(
            "job %s is downloaded to %s, but the journal could not record it yet; the write is retried "
            "(until then a rerun or `jobs resume` finds the row completed, not downloaded)",
            job.id,
            saved,
        )
        return f"the journal could not record the download of job {job.id} (saved at {saved}); the write is retried"

    def _journal_later(
        self, run: EngineRun, *, only_while: Collection[RecordState] | None = None, **fields: Any
    ) -> None:
        """A state change nothing waits on (pending → in_progress): queued in order, not awaited."""
        if self.writer is None or run.record_key is None:
            return
        store = self.writer.store
        if only_while is None:
            self.writer.later(functools.partial(store.update, run.record_key, **fields))
        else:
            self.writer.later(functools.partial(update_while, store, run.record_key, only_while, **fields))
        run.journaled = fields.get("state", run.journaled)

    def _journal_now(self, run: EngineRun, **fields: Any) -> None:
        """On an interruption (Ctrl-C, cancellation), when awaiting may not be possible: after every queued
        write, on this thread."""
        if self.writer is None or run.record_key is None:
            return
        try:
            self.writer.flush()
            if run.owed:  # with what an earlier write failed to record; alone if that fails again
                with contextlib.suppress(Exception):
                    run.record_key = self.writer.store.update(run.record_key, **{**run.owed, **fields}).key
                    run.owed = {}
                    return
            run.record_key = self.writer.store.update(run.record_key, **fields).key
        except Exception:
            logger.exception("could not update the journal for job %s", run.job.id if run.job else run.record_key)

    def _journal_cut_accept(self, run: EngineRun, job: Job) -> None:
        """Cancelled while the accepted job's id was being written. That shielded write still lands (or
        fails) on the writer thread; the row is marked interrupted after it, in order and without blocking
        the loop, and carries the id itself if that write failed. Either way the row is keyed by the job id."""
        if self.writer is None or run.record_key is None:
            return
        store, key = self.writer.store, run.record_key

        def mark() -> None:
            try:
                store.update(job.id, state=RecordState.INTERRUPTED, error="interrupted")
            except Exception:  # the id never landed: the row is still under its intent key
                store.update(
                    key, job_id=job.id, polling_url=job.polling_url, state=RecordState.INTERRUPTED, error="interrupted"
                )

        self.writer.later(mark)
        run.record_key = job.id
        run.journaled = RecordState.INTERRUPTED

    def _journal_status(self, run: EngineRun, status: JobStatus) -> None:
        if status.state in (JobState.PENDING, JobState.IN_PROGRESS):
            state = RecordState(status.state.value)
            if state is not run.journaled:  # the first poll's `pending` repeats what the submit wrote
                self._journal_later(run, only_while=_NOT_ENDED, state=state, polls=run.polls)

    async def _submit_failed(self, run: EngineRun, exc: MediaRouterError, outcome: SubmitOutcome) -> None:
        exc.details["submit_outcome"] = outcome
        exc.with_context(provider=run.provider, model=run.model)
        if outcome is SubmitOutcome.UNKNOWN:
            self._emit(run, JobSubmitUnknownEvent(error=type(exc).__name__, status_code=exc.status_code))
            await self._journal_update(run, state=RecordState.UNKNOWN, error=str(exc))
            return
        if outcome is SubmitOutcome.NOT_SENT:
            self._emit(run, JobSubmitNotSentEvent(error=type(exc).__name__))
        self._emit(run, JobSubmitFailedEvent(error=type(exc).__name__, status_code=exc.status_code))
        # No job exists: the row no longer holds its idempotency key (a retry may submit).
        state = RecordState.NOT_SENT if outcome is SubmitOutcome.NOT_SENT else RecordState.REFUSED
        await self._journal_update(run, state=state, error=str(exc))

    def _submit_interrupted(self, run: EngineRun, outcome: SubmitOutcome) -> None:
        """Ctrl-C / cancellation mid-submit: say (and journal) whether a job may exist."""
        if outcome is SubmitOutcome.UNKNOWN:
            self._emit(run, JobSubmitUnknownEvent(error="interrupted", status_code=None))
            self._journal_now(run, state=RecordState.UNKNOWN, error="interrupted during the submit")
        else:
            self._emit(run, JobSubmitNotSentEvent(error="interrupted"))
            self._journal_now(run, state=RecordState.NOT_SENT, error="interrupted before the submit was sent")

    # -- request queues -------------------------------------------------------------------

    async def _take_turn(self, run: EngineRun, stage: str) -> Slots | None:
        """This provider's request slot (a download's own queue for the download stage), waited for within
        the call's deadline only: a queued request is late, not failed (its timeout starts once it has the slot)."""
        if self.limits is None:
            return None
        # A transfer may take minutes: holding a request slot for it would starve this provider's polls.
        slots = self.limits.downloads(run.provider) if stage == "downloading" else self.limits.requests(run.provider)
        remaining = self._remaining(run)
        if remaining <= 0:
            raise self._timeout(run, stage)
        try:
            async with asyncio.timeout(remaining):
                await slots.acquire()
        except TimeoutError:
            raise self._timeout(run, stage) from None
        return slots

    @contextlib.asynccontextmanager
    async def _turn(self, run: EngineRun, stage: str) -> AsyncIterator[None]:
        slots = await self._take_turn(run, stage)
        try:
            yield
        finally:
            if slots is not None:
                slots.release()

    def _progress(self, run: EngineRun, index: int) -> Callable[[int], None] | None:
        """Throttled `download.progress` events (every 1 MiB), so listeners can show bytes and rate."""
        if not self.listeners:
            return None
        state = {"bytes": 0, "reported": 0}

        def on_chunk(size: int) -> None:
            state["bytes"] += size
            if state["bytes"] - state["reported"] >= 1 << 20:
                state["reported"] = state["bytes"]
                self._emit(run, DownloadProgressEvent(index=index, bytes=state["bytes"]))

        return on_chunk

    def _remaining(self, run: EngineRun) -> float:
        return run.deadline - self.clock.monotonic()

    async def _sleep_within_deadline(self, run: EngineRun, delay: float, *, stage: str) -> None:
        remaining = self._remaining(run)
        if delay >= remaining:
            if remaining > 0:
                await self.clock.sleep(remaining)
            raise self._timeout(run, stage)
        await self.clock.sleep(delay)

    def _timeout(self, run: EngineRun, stage: str) -> JobTimeout:
        job_id = run.job.id if run.job else None
        self._emit(run, JobTimeoutEvent(stage=stage))
        if job_id:
            message = f"no result within {run.budget:g}s while {stage}; job {job_id} may still be running (and billed)"
            hint = f"resume it later (no second submit): mediarouter jobs resume {job_id}, or Router.resume({job_id!r})"
        else:
            message = f"no answer within {run.budget:g}s while {stage}; nothing was submitted"
            hint = "nothing was billed; try again with a longer --timeout"
        return JobTimeout(message, provider=run.provider, model=run.model, job_id=job_id, hint=hint)

    async def _timed(self, run: EngineRun, awaitable: Awaitable[T], *, stage: str) -> T:
        """One provider call under the per-request timeout and the overall deadline."""
        remaining = self._remaining(run)
        if remaining <= 0:
            _close(awaitable)
            raise self._timeout(run, stage)
        try:
            async with asyncio.timeout(min(self.request_timeout, remaining)):
                return await awaitable
        except TimeoutError:
            if self._remaining(run) <= 0 or stage == "capabilities":
                raise self._timeout(run, stage) from None
            raise
        except MediaRouterError:
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:  # a plugin bug must not lose the job id
            error = ProtocolError(
                f"provider {run.provider} raised {type(exc).__name__} during {stage}: {exc}",
                provider=run.provider,
                model=run.model,
                job_id=run.job.id if run.job else None,
            )
            error.details["unexpected"] = True
            raise error from exc

    def _emit(self, run: EngineRun, payload: EventPayload) -> None:
        if not self.listeners:
            return
        emit(
            self.listeners,
            Event(
                payload=payload,
                provider=run.provider,
                model=run.model,
                job_id=run.job.id if run.job else None,
                elapsed=self.clock.monotonic() - run.started,
            ),
        )


def _lease_and_read(
    store: JobStore, name: str, owner: str, ttl: float, key: str
) -> tuple[Lease | None, JobRecord | None]:
    """Take the submit lease `name` and, once it is held, read row `key` (None when another holds it)."""
    holder = store.try_lease(name, owner, ttl)
    return holder, store.get(key) if holder is None else None


def _record_accept(store: JobStore, key: str, fields: dict[str, Any], intent: JobRecord) -> tuple[str, RecordState]:
    """Write an accepted job's id (one writer-thread step): the key and state of the row that now tracks it.

    Normally the submit's own row, still `submitting`. If `jobs forget` / `adopt` changed that row first
    (refused while the submitter is alive, so: a store edited by hand, another host's expired submitter,
    an older version), the job is not dropped: the row adopted with this job's id tracks it, else a new
    row keyed by the job id, holding the idempotency key again unless another row took it meanwhile."""
    try:
        row = update_while(store, key, {RecordState.SUBMITTING}, **fields)
    except NotFound:  # adopted: the row was re-keyed by the job id it was given
        row = None
    if row is not None:
        return row.key, row.state
    job_id = fields["job_id"]
    adopted = store.get(job_id)
    if adopted is not None:
        return adopted.key, adopted.state
    now = datetime.now(UTC)
    record = intent.model_copy(
        update={
            **fields,
            "key": job_id,
            "submitter": None,
            "created_at": now,
            "updated_at": now,
            "error": f"accepted after its submit row {key} was forgotten or adopted by another command",
        }
    )
    logger.warning("job %s was accepted after row %s was changed by another command; journaled apart", job_id, key)
    if record.idempotency_key is None or store.claim(record) is not None:
        shadow = {"shadowed_key": record.idempotency_key, "idempotency_key": None} if record.idempotency_key else {}
        store.add(record.model_copy(update=shadow))
    return record.key, record.state


def _hand_over(store: JobStore, submit_lease: tuple[str, str], job_id: str, owner: str, ttl: float) -> str | None:
    """Take the accepted job's lease, then let the submit lease go (one writer-thread step): the owner
    of the job lease, or None when another holder has it (then `complete` reports the conflict)."""
    holder = store.try_lease(f"job:{job_id}", owner, ttl)
    store.release_lease(*submit_lease)
    return owner if holder is None else None


def _queue_position(status: JobStatus) -> int | None:
    """`extra["queue_position"]` when a provider reports one (fal's queue), as an int."""
    place = status.extra.get("queue_position")
    return place if isinstance(place, int) and not isinstance(place, bool) else None


def _resumable_download_error(exc: BaseException) -> bool:
    """Keep the part file when the bytes so far are good and the download can be continued later."""
    if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, JobTimeout, OutputNotSaved)):
        return True
    if not isinstance(exc, MediaRouterError) or isinstance(exc, (ProtocolError, OutputGone)):
        return False  # a wrong body, or an output that is gone for good
    # An HTTP refusal (a stale journaled URL's 404/403) came before any byte of its body: the bytes an
    # earlier run left are still good, and the fresh URL a poll gets continues them.
    return exc.retryable or exc.status_code is not None


def _by_index(rows: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Journaled file rows by output index (rows an older version wrote without one are output 0)."""
    return {int(r.get("index") or 0): r for r in rows if isinstance(r, dict) and r.get("path")}


def _same_place(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def _whole_for(path: Path, entries: list[tuple[str, dict[str, Any]]]) -> str | None:
    """The first row of `entries` (row, its `files` entry for `path`) whose output the file still is."""
    return next((row for row, entry in entries if still_whole(path, entry)), None)


async def _holds_whole(part: PartFile, refusal: MediaRouterError, journaled: dict[str, Any] | None) -> bool:
    """After a 416 for the part file's offset: whether the part file already holds the whole video, by the
    416's `Content-Range: bytes */N` (N is its size) or the journaled size. Hashed once (off the loop),
    and it must match the journaled sha256 when there is one."""
    total = complete_length(refusal.details.get("content_range"))
    size = journaled.get("size") if journaled else None
    sha = journaled.get("sha256") if journaled else None
    if total is not None and total != part.size:
        return False
    if total is None and size != part.size:
        return False
    digest = await asyncio.to_thread(part.sha256)  # kept in `part`: `sha256()` after this reads nothing
    return not isinstance(sha, str) or digest == sha


def _file_rows(files: list[MediaFile]) -> list[dict[str, Any]]:
    return [{"path": str(f.path), "size": f.size, "sha256": f.sha256, "index": f.index} for f in files]


def _continue_hint(job: Job, base: Path) -> str:
    return f"mediarouter jobs download {job.id} -o {base}"


def _nowhere_to_write(job: Job, base: Path, target: Path, exc: OSError) -> OutputNotSaved:
    return OutputNotSaved(
        f"job {job.id} is done (and paid for) but no file can be created for its video, neither at {target} "
        f"nor in the journal's outputs directory ({exc.strerror or exc}); nothing was downloaded yet",
        job_id=job.id,
        hint=f"fix the disk or the directory, then download it without paying again: {_continue_hint(job, base)}",
    )


def _not_written(job: Job, base: Path, part: PartFile, exc: OSError) -> OutputNotSaved:
    return OutputNotSaved(
        f"could not write the video of job {job.id} to disk ({exc.strerror or exc}): the job is done and paid "
        f"for; the {part.size} bytes received so far are kept in {part.path}",
        job_id=job.id,
        hint=f"free some space, then continue from there without paying again: {_continue_hint(job, base)}",
        details={"part_file": str(part.path), "part_size": part.size, "errno": exc.errno},
    )


def _not_moved(job: Job, base: Path, part: PartFile, sha: str, exc: OSError, again: OSError) -> OutputNotSaved:
    return OutputNotSaved(
        f"the finished video of job {job.id} could not be saved to {part.target} ({exc.strerror or exc}) nor in "
        f"the journal's outputs directory ({again.strerror or again}): the job is paid for and the whole video "
        f"({part.size} bytes, sha256 {sha}) is kept in {part.path}",
        job_id=job.id,
        hint=f"copy it from there, or fix the directory and: {_continue_hint(job, base)}",
        details={"part_file": str(part.path), "part_size": part.size, "sha256": sha},
    )


def _part_gone(job: Job, base: Path, part: PartFile, sha: str, exc: OSError) -> OutputNotSaved:
    """The finished download's part file is no longer there (removed, with its directory, while the video
    downloaded): nothing of the video is kept on this machine, and the message must not say it is."""
    return OutputNotSaved(
        f"the finished video of job {job.id} could not be saved to {part.target} ({exc.strerror or exc}): its "
        f"part file {part.path} was removed while it downloaded, so no copy of the video ({part.size} bytes, "
        f"sha256 {sha}) is kept on this machine; the job is paid for and its output can be downloaded again "
        "while the provider keeps it",
        job_id=job.id,
        hint=f"download it again: {_continue_hint(job, base)}",
        details={"part_file": None, "part_size": part.size, "sha256": sha},
    )


def _retryable(error: MediaRouterError) -> bool:
    return error.retryable or isinstance(error, ProtocolError)


def _close(awaitable: Awaitable[Any]) -> None:
    close: Callable[[], None] | None = getattr(awaitable, "close", None)
    if close is not None:
        close()
