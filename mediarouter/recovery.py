"""Resuming journaled jobs: finish what was paid for, never submit again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .engine import terminal_error
from .errors import InvalidRequest, NotFound
from .jobs import Job
from .journal import JobRecord, JobStore, RecordState
from .results import MediaFile, VideoResult

if TYPE_CHECKING:
    from .router import Router

__all__ = ["cancel_job", "get_record", "resume_job"]


def get_record(journal: JobStore, job_id: str) -> JobRecord:
    record = journal.get(job_id)
    if record is None:
        raise NotFound(
            f"no job {job_id!r} in the journal",
            job_id=job_id,
            hint="`mediarouter jobs list` shows the journaled jobs",
        )
    return record


def _job(record: JobRecord) -> Job:
    if record.job_id is None:
        raise InvalidRequest(
            f"this submit was never acknowledged (state: {record.state.value}); there is no job id to resume",
            provider=record.provider,
            model=record.model,
            hint="check the provider's dashboard: the job may or may not exist",
        )
    return Job(id=record.job_id, provider=record.provider, model=record.model, polling_url=record.polling_url)


def _target(record: JobRecord, output: str | Path | None) -> Path:
    if output is not None:
        return Path(output)
    if record.target:
        return Path(record.target)
    return Path.cwd() / f"{record.job_id}.mp4"


async def resume_job(
    router: Router,
    job_id: str,
    *,
    output: str | Path | None = None,
    poll_interval: float | None = None,
    timeout: float | None = None,
    redownload: bool = False,
) -> VideoResult:
    """Poll a journaled job to its end and download it. Never submits.

    A job already downloaded to an existing file is returned as is, unless `redownload`.
    """
    record = get_record(router.require_journal(), job_id)
    job = _job(record)
    terminal = terminal_error(
        record.state.value, record.error, provider=record.provider, model=record.model, job_id=record.job_id
    )
    if terminal is not None:
        raise terminal
    target = _target(record, output)
    if record.state is RecordState.DOWNLOADED and not redownload and output is None:
        files = [MediaFile(path=Path(f["path"]), size=f.get("size", 0), sha256=f.get("sha256")) for f in record.files]
        if files and all(f.path is not None and f.path.exists() for f in files):
            return VideoResult(
                files=files, provider=record.provider, model=record.model, job_id=job.id, cost=record.cost
            )
    provider = router.provider(record.provider)
    engine = router.engine(poll_interval=poll_interval, timeout=timeout)
    return await engine.complete(provider, job, output=target, first_poll_delay=0)


async def cancel_job(router: Router, job_id: str) -> None:
    """Ask the provider to cancel; raises CancelNotSupported when it cannot (the job stays resumable)."""
    journal = router.require_journal()
    record = get_record(journal, job_id)
    job = _job(record)
    await router.provider(record.provider).cancel(job)
    journal.update(job.id, state=RecordState.CANCELLED, error="cancelled by the caller")
