"""Resuming journaled jobs: finish what was paid for, never submit again.

Depends only on a small `JobsHost` (the Router is one), so the journal side of the lifecycle can be
used and tested without the routing machinery.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from .downloads import holds, output_path
from .engine import JobEngine, terminal_error
from .errors import Conflict, InvalidRequest, MediaRouterError, NotFound, OutputGone, ProviderUnavailable
from .jobs import Job, JobOutput, JobState, JobStatus
from .journal import (
    JOURNAL_ENV,
    LEASE_MARGIN,
    JobRecord,
    JobStore,
    Lease,
    MemoryJobStore,
    RecordState,
    absolute_target,
    job_lease,
    lease_owner,
    outputs_dir,
    submit_in_flight,
    submit_lease_name,
    update_while,
)
from .provider import Provider
from .results import MediaFile, VideoResult

__all__ = [
    "Adoption",
    "JobsHost",
    "RowReport",
    "LEASE_MARGIN",
    "absolute_target",
    "adopt",
    "adopt_checked",
    "cancel_job",
    "forget",
    "get_record",
    "memory_journal_advice",
    "resume_all",
    "resume_job",
    "unfinished_like",
    "unknown_advice",
]


class JobsHost(Protocol):
    """What resuming needs from its host: the journal, providers by name, and an engine."""

    def require_journal(self) -> JobStore: ...

    def provider(self, name: str) -> Provider: ...

    def engine(self, *, poll_interval: float | None = None, timeout: float | None = None) -> JobEngine: ...


def get_record(journal: JobStore, job_id: str) -> JobRecord:
    record = journal.get(job_id)
    if record is None:
        raise NotFound(
            f"no job {job_id!r} in the journal",
            job_id=job_id,
            hint="`mediarouter jobs list` shows the journaled jobs",
        )
    return record


def _handle(record: JobRecord) -> str:
    """How the user names a row without a job id: its idempotency key, else its local key."""
    return record.idempotency_key or record.key


#: Rows whose job may still finish (and is billed) but whose video this journal does not have yet.
_UNFINISHED = [RecordState.PENDING, RecordState.IN_PROGRESS, RecordState.INTERRUPTED, RecordState.COMPLETED]


def unfinished_like(
    journal: JobStore, *, prompt: str | None, target: str | os.PathLike[str], refs: list[str]
) -> list[JobRecord]:
    """The journaled jobs an unkeyed rerun of this request would pay for again: same prompt, same output file,
    a model among `refs`, and not downloaded yet (e.g. left by a Ctrl-C). Newest first, at most a few."""
    wanted = absolute_target(target)
    found = [
        row
        for row in journal.list(states=_UNFINISHED, limit=500)
        if row.job_id
        and row.target == wanted
        and row.request.get("prompt") == prompt
        and f"{row.provider}/{row.model}" in refs
    ]
    return found[:3]


def memory_journal_advice(provider: str, handle: str) -> str:
    """What to say about a maybe-billed submit when the journal is in memory: its row ends with the process."""
    return (
        f"the journal is in memory ({JOURNAL_ENV}=:memory:, as under --emulator): it keeps nothing after this "
        f"process ends, so no later `mediarouter jobs` command will see this submit; check {provider}'s dashboard "
        f"for the job; within this process, mediarouter.recovery.adopt(journal, {handle!r}, JOB_ID) if it exists, "
        f"forget(journal, {handle!r}, confirm=True) if not"
    )


def unknown_advice(record: JobRecord, journal: JobStore | None = None) -> str:
    """What the user can do about a submit that may have created a (billed) job we have no id for.

    `journal`: the store the row is in; an in-memory one gets `memory_journal_advice` (no later command can
    reach its rows)."""
    if isinstance(journal, MemoryJobStore):
        return memory_journal_advice(record.provider, _handle(record))
    handle = shlex.quote(_handle(record))
    return (
        f"check {record.provider}'s dashboard for this job; if it exists: mediarouter jobs adopt {handle} JOB_ID, "
        f"if not: mediarouter jobs forget {handle} --yes"
    )


def _unknown_error(record: JobRecord, journal: JobStore | None = None) -> InvalidRequest:
    what = (
        "is still being submitted, or its process died mid-submit"
        if record.state is RecordState.SUBMITTING
        else "got no readable answer"
    )
    return InvalidRequest(
        f"the submit {_handle(record)} {what} ({record.state.value}): a job may exist and be billed, "
        "but there is no job id to resume",
        provider=record.provider,
        model=record.model,
        hint=unknown_advice(record, journal),
    )


def _job(record: JobRecord, journal: JobStore | None = None) -> Job:
    if record.job_id is None:
        raise _unknown_error(record, journal)
    return Job(id=record.job_id, provider=record.provider, model=record.model, polling_url=record.polling_url)


def _target(journal: JobStore, record: JobRecord, output: str | Path | None) -> Path:
    """`output` if given; else the journaled target, which must be absolute (a relative one would land
    wherever the resume runs); else `<journal dir>/outputs/JOB.mp4`."""
    if output is not None:
        return Path(str(absolute_target(output)))
    if record.target:
        if not os.path.isabs(record.target):
            raise InvalidRequest(
                f"job {record.job_id} was journaled with the relative target {record.target!r} (by an older "
                "mediarouter); it cannot be known which directory that meant",
                job_id=record.job_id,
                hint=f"give the path: mediarouter jobs resume {record.job_id} -o FILE",
            )
        return Path(record.target)
    return outputs_dir(journal) / f"{record.job_id}.mp4"


def _gone(record: JobRecord) -> OutputGone:
    return OutputGone(
        f"job gone: its output is no longer available upstream{': ' + record.error if record.error else ''}",
        provider=record.provider,
        model=record.model,
        job_id=record.job_id,
        status_code=410,
    )


def _journaled(record: JobRecord) -> JobStatus | None:
    """A completed row's journaled outputs (signed URLs are never journaled), to download without a poll."""
    if (
        record.state not in (RecordState.COMPLETED, RecordState.DOWNLOADED, RecordState.INTERRUPTED)
        or not record.outputs
    ):
        return None
    try:
        outputs = tuple(JobOutput.model_validate(o) for o in record.outputs)
    except ValueError:
        return None
    return JobStatus(job_id=record.job_id or record.key, state=JobState.COMPLETED, outputs=outputs, cost=record.cost)


def _is_gone(exc: MediaRouterError) -> bool:
    return isinstance(exc, OutputGone) or exc.status_code == 410


async def _already_saved(record: JobRecord, job: Job, target: Path | None) -> VideoResult | None:
    """A downloaded row whose journaled files are all still whole on disk (size and sha256), and where
    the caller asks for them (`target`; None: wherever they are): returned as is, nothing downloaded."""
    if record.state is not RecordState.DOWNLOADED or not record.files:
        return None
    files = [
        MediaFile(path=Path(f["path"]), size=f.get("size", 0), sha256=f.get("sha256"), index=f.get("index") or 0)
        for f in record.files
    ]
    if target is not None:
        count = max(len(record.outputs), len(files))
        if any(f.path != output_path(target, f.index, count) for f in files):
            return None  # wanted elsewhere: `complete` copies the saved files there (see `saved`)
    if not await asyncio.to_thread(_all_whole, files):
        return None
    files.sort(key=lambda f: f.index)
    return VideoResult(files=files, provider=record.provider, model=record.model, job_id=job.id, cost=record.cost)


def _all_whole(files: list[MediaFile]) -> bool:
    return all(
        f.path is not None and (holds(f.path, f.size, f.sha256) if f.sha256 else f.path.is_file()) for f in files
    )


def _check_finishable(record: JobRecord, journal: JobStore | None = None) -> Job:
    """The job to poll, or the error that says why this row cannot be finished (before any request)."""
    job = _job(record, journal)
    if record.state is RecordState.GONE:
        raise _gone(record)
    terminal = terminal_error(
        record.state.value, record.error, provider=record.provider, model=record.model, job_id=record.job_id
    )
    if terminal is not None:
        raise terminal
    return job


def _finished_upstream(record: JobRecord) -> bool:
    """The provider said the job is done: the row is completed or downloaded, or it holds the outputs a
    completed poll journaled (an `interrupted` row whose download failed)."""
    return record.state in (RecordState.COMPLETED, RecordState.DOWNLOADED) or bool(record.outputs)


def _check_downloadable(record: JobRecord, job: Job) -> None:
    """`jobs download` / `Router.download` fetch a finished job's outputs; they do not wait for a running one."""
    if _finished_upstream(record):
        return
    raise InvalidRequest(
        f"job {job.id} is {record.state.value} and has not finished upstream as far as the journal knows: "
        "there is nothing to download yet; nothing was sent",
        provider=record.provider,
        model=record.model,
        job_id=job.id,
        hint=f"`mediarouter jobs resume {shlex.quote(job.id)}` polls it to its end and downloads it",
        details={"state": record.state.value},
    )


def _explain_unknown_adopted_job(journal: JobStore, job: Job, exc: MediaRouterError) -> None:
    """A 404 for a job id given by `jobs adopt` (a typo?): say how to replace it."""
    if not (isinstance(exc, NotFound) or exc.status_code == 404):
        return
    record = journal.get(job.id)
    if record is None or not _replaceable(record):
        return
    advice = (
        f"job {job.id!r} was given by `jobs adopt` and {record.provider} does not know it: if the id is wrong, "
        f"`mediarouter jobs adopt {shlex.quote(_handle(record))} RIGHT_JOB_ID` replaces it (it checks both ids "
        f"with {record.provider} first)"
    )
    exc.hint = f"{exc.hint}; {advice}" if exc.hint else advice


async def resume_job(
    host: JobsHost,
    job_id: str,
    *,
    output: str | Path | None = None,
    poll_interval: float | None = None,
    timeout: float | None = None,
    redownload: bool = False,
) -> VideoResult:
    """Poll a journaled job to its end and download it. Never submits.

    A job already downloaded to an existing file is returned as is, unless `redownload`. One
    resume per job at a time, across processes: a second one fails fast with Conflict. A 410
    marks the row `gone`. `redownload` (`jobs download`) is for a job that finished upstream: a row
    still pending, running or interrupted before its end is refused (InvalidRequest) without a request.
    """
    journal = host.require_journal()
    engine = host.engine(poll_interval=poll_interval, timeout=timeout)
    if engine.writer is not None and engine.writer.owes:  # a `downloaded` this process failed to write: now
        await engine.writer.call(lambda: None)
    record = get_record(journal, job_id)
    job = _check_finishable(record, journal)
    if redownload:
        _check_downloadable(record, job)
    wanted = None if output is None else _target(journal, record, output)
    if not redownload and (saved := await _already_saved(record, job, wanted)) is not None:
        return saved
    target = wanted if wanted is not None else _target(journal, record, None)
    with job_lease(journal, job.id, ttl=engine.timeout + LEASE_MARGIN):
        # Another process may have finished (or lost) it while we were getting here.
        record = get_record(journal, job.id)
        job = _check_finishable(record, journal)
        if redownload:
            _check_downloadable(record, job)
        if not redownload and (saved := await _already_saved(record, job, wanted)) is not None:
            return saved
        provider = host.provider(record.provider)
        try:
            return await engine.complete(
                provider,
                job,
                output=target,
                first_poll_delay=0,
                known=_journaled(record),
                # Outputs already saved whole are not downloaded again (nor found gone upstream).
                saved=() if redownload else record.files,
            )
        except MediaRouterError as exc:
            if _is_gone(exc):
                journal.update(job.id, state=RecordState.GONE, error=exc.server_message or exc.message)
            elif record.adopted:
                _explain_unknown_adopted_job(journal, job, exc)
            raise


Outcome = Literal["downloaded", "failed", "gone", "busy", "unknown"]


@dataclass
class RowReport:
    """What `resume_all` did with one journal row."""

    key: str
    job_id: str | None
    ref: str
    state: str
    outcome: Outcome
    path: str | None = None
    error: str | None = None
    error_type: str | None = None
    hint: str | None = None

    @property
    def failed(self) -> bool:
        """The row could not be finished: it needs the user (`unknown` and `busy` rows are not failures)."""
        return self.outcome in ("failed", "gone")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def resume_all(
    host: JobsHost, *, poll_interval: float | None = None, timeout: float | None = None
) -> list[RowReport]:
    """Resume every resumable row, oldest first, going on past failing ones; one report per row.

    `timeout` applies to each job. Rows whose submit may have created a job we have no id for
    (`unknown`, `submitting`) are reported with what the user can do.
    """
    journal = host.require_journal()
    states = [s for s in RecordState if s.resumable or s.ambiguous]
    reports: list[RowReport] = []
    for record in reversed(journal.list(states=states)):
        base: dict[str, Any] = {
            "key": record.key,
            "job_id": record.job_id,
            "ref": record.ref,
            "state": record.state.value,
        }
        if record.state.ambiguous or record.job_id is None:
            reports.append(
                RowReport(**base, outcome="unknown", error="may be billed", hint=unknown_advice(record, journal))
            )
            continue
        try:
            result = await resume_job(host, record.job_id, poll_interval=poll_interval, timeout=timeout)
        except MediaRouterError as exc:
            outcome: Outcome = "failed"
            if _is_gone(exc):
                outcome = "gone"
            elif isinstance(exc, Conflict) and "holder_pid" in exc.details:
                outcome = "busy"
            reports.append(
                RowReport(**base, outcome=outcome, error=str(exc), error_type=type(exc).__name__, hint=exc.hint)
            )
            continue
        path = str(result.files[0].path) if result.files else None
        reports.append(RowReport(**base, outcome="downloaded", path=path))
    return reports


def _find(journal: JobStore, key: str) -> JobRecord:
    """A row by local key, job id or idempotency key."""
    record = journal.get(key) or journal.find_idempotent(key)
    if record is None:
        raise NotFound(f"no journal row with key or idempotency key {key!r}", hint="`mediarouter jobs list` shows them")
    return record


#: Seconds `forget`/`adopt` hold a row's submit lease while they change it (a few journal calls).
_EDIT_TTL = 60.0


def _who(holder: Lease) -> str:
    where = "" if holder.host == socket.gethostname() else f" on {holder.host}"
    who = "another call in this process" if holder.pid == os.getpid() and not where else "another process"
    return f"{who} (pid {holder.pid}{where})"


@contextlib.contextmanager
def _not_in_flight(journal: JobStore, key: str, doing: str) -> Iterator[JobRecord]:
    """The row `key`, re-read while this process holds its submit lease: Conflict when a live submitter
    holds it (its POST may be on the wire right now, and the answer will name the job). Forgetting such a
    row frees its key for a second paid submit; adopting it races the submitter's own job id.

    Only a keyed submit takes that lease (engine.py); every intent row also names its sender
    (`JobRecord.submitter`), which protects an unkeyed submit while that process may still be sending it."""
    record = _find(journal, key)
    name, owner = submit_lease_name(record.key), lease_owner()
    holder = journal.try_lease(name, owner, _EDIT_TTL)
    if holder is not None:
        raise _in_flight(key, doing, record, holder)
    try:
        current = _find(journal, record.key)  # as it is now, under the lease (the submit may have just ended)
        if submit_in_flight(current):  # an unkeyed submit takes no lease: its row names its sender
            raise _in_flight(key, doing, current, current.submitter)
        yield current
    finally:
        with contextlib.suppress(Exception):
            journal.release_lease(name, owner)


def _in_flight(key: str, doing: str, record: JobRecord, holder: Lease | None) -> Conflict:
    """The error for a row whose submit a live process is still sending."""
    who = _who(holder) if holder is not None else "another process"
    return Conflict(
        f"cannot {doing} {key!r}: its submit is in flight in {who}, which will record the job id; "
        f"{doing} it now could submit (and pay for) the same job twice or lose it; nothing was changed",
        provider=record.provider,
        model=record.model,
        hint="wait for that call to finish (`mediarouter jobs list` then shows the job id), and "
        "`mediarouter jobs resume JOB_ID` finishes it if it was stopped",
        details={"holder_pid": holder.pid, "holder_host": holder.host} if holder is not None else {},
    )


def _being_finished(journal: JobStore, job_id: str) -> None:
    """Conflict when another live call holds `job_id`'s lease: it is polling and downloading that job."""
    name, owner = f"job:{job_id}", lease_owner()
    holder = journal.try_lease(name, owner, _EDIT_TTL)
    if holder is None:
        journal.release_lease(name, owner)
        return
    raise Conflict(
        f"job {job_id} is being polled and downloaded by {_who(holder)}; adopting it now would give one paid "
        "job two rows; nothing was changed",
        job_id=job_id,
        hint=f"wait for that call to finish, then `mediarouter jobs show {job_id}`; if it was stopped before "
        f"it recorded the job, adopt again and `mediarouter jobs resume {job_id}`",
        details={"holder_pid": holder.pid, "holder_host": holder.host},
    )


def forget(journal: JobStore, key: str, *, confirm: bool = False) -> JobRecord:
    """Stop tracking a submit that got no answer, releasing its idempotency key. The row is kept as
    `forgotten` (a later bill can still be traced to it); a job that does exist is not cancelled.
    A submit still in flight in a live process is refused (Conflict)."""
    with _not_in_flight(journal, key, "forget") as record:
        if not record.state.ambiguous:
            hint = None
            if _replaceable(record):  # a job id given by `jobs adopt`: replace it, never free the key
                hint = (
                    f"its job id came from `jobs adopt`: if {record.provider} does not know {record.job_id!r}, "
                    f"`mediarouter jobs adopt {shlex.quote(key)} RIGHT_JOB_ID` replaces it"
                )
            raise InvalidRequest(
                f"{key!r} is {record.state.value}: only unknown or submitting rows can be forgotten",
                job_id=record.job_id,
                hint=hint,
            )
        if not confirm:
            raise InvalidRequest(
                f"forgetting {key!r} frees its idempotency key, so a new call may submit (and pay) again",
                hint=f"check the provider's dashboard first, then confirm: mediarouter jobs forget {shlex.quote(key)} "
                "--yes",
            )
        return journal.update(record.key, state=RecordState.FORGOTTEN, error="forgotten by the user")


#: States of an adopted row whose job id `adopt` may replace: nothing says its job ran or ended upstream.
_REPLACEABLE = frozenset({RecordState.PENDING, RecordState.IN_PROGRESS, RecordState.INTERRUPTED})


def _replaceable(record: JobRecord) -> bool:
    """A row whose job id was given by `adopt` and that holds nothing from that job (no outputs, no files,
    not ended): its id may be replaced, once the provider says it does not know that job."""
    return (
        record.adopted
        and record.job_id is not None
        and record.state in _REPLACEABLE
        and not record.outputs
        and not record.files
    )


def _clean_job_id(job_id: str) -> str:
    job_id = job_id.strip()
    if not job_id:
        raise InvalidRequest("JOB_ID must not be empty")
    return job_id


def _check_adoptable(journal: JobStore, key: str, record: JobRecord, job_id: str, replacing: str | None) -> None:
    """Why row `record` cannot take `job_id` (raised), with nothing changed. `replacing`: the row's current
    job id, which the caller found unknown to the provider (only a replaceable row's)."""
    if record.job_id is not None and (replacing is None or replacing != record.job_id or not _replaceable(record)):
        quoted = shlex.quote(record.job_id)
        hint = f"mediarouter jobs resume {quoted}"
        if _replaceable(record) and record.job_id != job_id:
            hint = (
                f"that id came from `jobs adopt`: `mediarouter jobs adopt {shlex.quote(key)} {shlex.quote(job_id)}` "
                f"replaces it once {record.provider} says it has no job {quoted} (a checked adopt asks it)"
            )
        raise InvalidRequest(
            f"{key!r} already has job {record.job_id} ({record.state.value})", job_id=record.job_id, hint=hint
        )
    other = journal.get(job_id)
    if other is not None:
        raise InvalidRequest(
            f"job {job_id} is already in the journal (row {other.key}, {other.state.value})", job_id=job_id
        )
    if replacing is not None:
        _being_finished(journal, replacing)
    _being_finished(journal, job_id)


def adopt(
    journal: JobStore, key: str, job_id: str, *, polling_url: str | None = None, replacing: str | None = None
) -> JobRecord:
    """Give a row without a job id (unknown, submitting, or misfiled) the job found on the provider's
    side, as `pending` and `adopted`, so `resume` can finish it. Refused (Conflict) while the row's submit
    is in flight or another live call holds that job's lease. Nothing is asked of the provider: the CLI's
    `jobs adopt` checks the job first (`adopt_checked`).

    `replacing`: the row's current job id, when that id was itself adopted and the caller found that the
    provider does not know it (a 404): the row takes `job_id` instead, and its error says which id it replaced.
    """
    job_id = _clean_job_id(job_id)
    with _not_in_flight(journal, key, "adopt") as record:
        _check_adoptable(journal, key, record, job_id, replacing)
        fields: dict[str, Any] = {
            "job_id": job_id,
            "polling_url": polling_url,
            "state": RecordState.PENDING,
            "error": None,
            "adopted": True,
        }
        if replacing is not None:
            fields.update(
                error=f"adopted in place of job {replacing}, which {record.provider} does not know",
                outputs=[],
                files=[],
                cost=None,
                expires_at=None,
                polls=0,
            )
        return journal.update(record.key, **fields)


@dataclass
class Adoption:
    """What `adopt_checked` did: the row as it now is, the provider's status of the adopted job (None when
    not checked), and the job id it replaced (None for a row that had none)."""

    record: JobRecord
    status: JobStatus | None
    replaced: str | None = None


#: Poll answers that say the provider has no such job: the id is refused, nothing is changed.
_NO_SUCH_JOB = (400, 404, 422)


async def _poll_once(host: JobsHost, record: JobRecord, job_id: str) -> JobStatus:
    """One poll of `job_id` on the row's provider, within one request timeout. Never a submit."""
    engine = host.engine()
    job = Job(id=job_id, provider=record.provider, model=record.model)
    try:
        provider = host.provider(record.provider)
        async with asyncio.timeout(engine.request_timeout):
            return await provider.poll(job)
    except TimeoutError:
        raise ProviderUnavailable(
            f"{record.provider} did not answer within {engine.request_timeout:g}s",
            provider=record.provider,
            model=record.model,
            job_id=job_id,
        ) from None


def _unchecked(exc: MediaRouterError, record: JobRecord, key: str, job_id: str, *, doing: str | None = None) -> None:
    """Turn a poll that could not tell whether `job_id` exists into the refusal to adopt (same error class).
    `doing`: what the check was for, when not adopting `job_id` itself (then `--no-check` is no way out)."""
    exc.message = (
        f"could not check job {job_id!r} with {record.provider} before {doing or 'adopting it'}: {exc.message}; "
        "nothing was changed"
    )
    exc.with_context(provider=record.provider, model=record.model, job_id=job_id)
    retry = f"retry once {record.provider} answers"
    if doing is None:
        retry += (
            f", or adopt without the check (only if you are sure of the id): "
            f"mediarouter jobs adopt {shlex.quote(key)} {shlex.quote(job_id)} --no-check"
        )
    exc.hint = f"{exc.hint}; {retry}" if exc.hint else retry


async def _check_job(host: JobsHost, record: JobRecord, key: str, job_id: str) -> JobStatus:
    """The provider's status of `job_id`: refused when it has no such job or reports another model."""
    try:
        status = await _poll_once(host, record, job_id)
    except MediaRouterError as exc:
        if isinstance(exc, NotFound) or exc.status_code in _NO_SUCH_JOB:
            said = "has no job" if exc.status_code in (None, 404) else "refused the job id"
            raise NotFound(
                f"{record.provider} {said} {job_id!r}"
                + (f" (HTTP {exc.status_code})" if exc.status_code else "")
                + f": it was not adopted for {key!r}, nothing was changed",
                provider=record.provider,
                model=record.model,
                job_id=job_id,
                status_code=exc.status_code,
                server_message=exc.server_message,
                hint=f"look the id up again on {record.provider}'s dashboard, then: "
                f"mediarouter jobs adopt {shlex.quote(key)} JOB_ID",
            ) from None
        _unchecked(exc, record, key, job_id)
        raise
    reported = status.extra.get("model")
    if isinstance(reported, str) and reported.strip() and reported.strip() not in (record.model, record.ref):
        raise InvalidRequest(
            f"job {job_id!r} on {record.provider} is a {reported.strip()} job, but {key!r} was submitted for "
            f"{record.model}: it was not adopted, nothing was changed",
            provider=record.provider,
            model=record.model,
            job_id=job_id,
            hint=f"find the {record.model} job on {record.provider}'s dashboard, then: "
            f"mediarouter jobs adopt {shlex.quote(key)} JOB_ID",
            details={"reported_model": reported.strip(), "row_model": record.model},
        )
    return status


async def _check_replaceable(host: JobsHost, record: JobRecord, key: str, old: str, job_id: str) -> None:
    """Only a 404 for the row's current (adopted) job id lets another id take its place."""
    try:
        status = await _poll_once(host, record, old)
    except MediaRouterError as exc:
        if isinstance(exc, NotFound) or exc.status_code == 404:
            return
        _unchecked(exc, record, key, old, doing=f"replacing it by {job_id!r}")
        raise
    raise InvalidRequest(
        f"{key!r} already has job {old}, and {record.provider} knows it ({status.state.value}): it is not "
        f"replaced by {job_id!r}; nothing was changed",
        provider=record.provider,
        model=record.model,
        job_id=old,
        hint=f"mediarouter jobs resume {shlex.quote(old)}",
    )


async def adopt_checked(
    host: JobsHost, key: str, job_id: str, *, check: bool = True, polling_url: str | None = None
) -> Adoption:
    """`adopt`, after asking the row's provider about `job_id` (one poll; nothing is ever submitted).

    Refused, with nothing changed: a job the provider does not know (404, or a 400/422 for that id:
    NotFound), a job it reports for another model than the row's (InvalidRequest, both named), and a
    provider that cannot be reached (its own error class; `check=False` adopts without asking). A row whose
    job id was itself adopted (`JobRecord.adopted`) and never seen running or ended gets the new id only
    when the provider answers 404 for the old one (so `check=False` cannot replace an id).
    """
    journal = host.require_journal()
    job_id = _clean_job_id(job_id)
    with _not_in_flight(journal, key, "adopt") as record:  # refused now, before any request, if it cannot be
        replacing = record.job_id if _replaceable(record) and record.job_id != job_id else None
        _check_adoptable(journal, key, record, job_id, replacing)
    status: JobStatus | None = None
    if replacing is not None:
        if not check:
            raise InvalidRequest(
                f"{key!r} already has the adopted job {replacing}: replacing it needs {record.provider} to say "
                "it has no such job, so it cannot be done without the check; nothing was changed",
                provider=record.provider,
                model=record.model,
                job_id=replacing,
                hint=f"mediarouter jobs adopt {shlex.quote(key)} {shlex.quote(job_id)}",
            )
        await _check_replaceable(host, record, key, replacing, job_id)
    if check:
        status = await _check_job(host, record, key, job_id)
    adopted = adopt(journal, key, job_id, polling_url=polling_url, replacing=replacing)
    return Adoption(record=adopted, status=status, replaced=replacing)


async def cancel_job(host: JobsHost, job_id: str) -> None:
    """Ask the provider to cancel; raises CancelNotSupported when it cannot (the job stays resumable)."""
    journal = host.require_journal()
    record = get_record(journal, job_id)
    job = _job(record, journal)
    if record.state not in _CANCELLABLE:
        done = record.state in (RecordState.COMPLETED, RecordState.DOWNLOADED)
        raise InvalidRequest(
            f"job {job.id} is {record.state.value}: there is nothing left to cancel; nothing was sent",
            job_id=job.id,
            hint=f"`mediarouter jobs resume {job.id}` downloads it (it is done, and billed)"
            if record.state is RecordState.COMPLETED
            else f"`mediarouter jobs show {job.id}` shows {'where it was saved' if done else 'what happened'}",
            details={"state": record.state.value},
        )
    await host.provider(record.provider).cancel(job)
    # Asked, not done: a backend may still finish the job (fal: CANCELLATION_REQUESTED). The row stays
    # resumable; the next poll (or `jobs resume`) records the state the backend reports. A row another
    # call finished meanwhile keeps what it says.
    update_while(journal, job.id, _CANCELLABLE, error="cancel requested by the caller")


#: A job that may still be running upstream: the only rows a cancel is sent for.
_CANCELLABLE = frozenset({RecordState.PENDING, RecordState.IN_PROGRESS, RecordState.INTERRUPTED})
