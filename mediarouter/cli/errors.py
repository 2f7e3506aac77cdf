"""Exit codes scripts can rely on, and the one-line failure message."""

from __future__ import annotations

import os
import shlex
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import click

from ..errors import (
    AllCandidatesFailed,
    AuthenticationFailed,
    ConfigurationError,
    InsufficientCredits,
    InvalidRequest,
    JobError,
    JobTimeout,
    MediaRouterError,
    NotFound,
    OutputNotSaved,
    ProviderUnavailable,
    RateLimited,
    SubmitUnknown,
    held_elsewhere,
    paid_not_saved,
)
from ..events import (
    DownloadFinishedEvent,
    DownloadProgressEvent,
    DownloadRetryEvent,
    DownloadStartedEvent,
    Event,
    JobStatusChangedEvent,
    JobTimeoutEvent,
)

__all__ = [
    "BUSY",
    "EXIT_CODES",
    "PAID_NOT_SAVED",
    "PaidJobs",
    "download_command",
    "exit_code_for",
    "fail",
    "paid_advice",
]

#: The job was accepted and billed but its video is not at the target: its download failed after retries,
#: or it could not be written there. Never submit again: `mediarouter jobs download JOB_ID -o FILE` gets it.
PAID_NOT_SAVED = 10

#: Another live call or process holds this job or this key's submit (`errors.held_elsewhere`): nothing was
#: sent; wait for it. Not "anything else" (1), so a script can tell it from a crash.
BUSY = 11

#: Checked in order; the first matching class wins. Documented in the README.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (OutputNotSaved, PAID_NOT_SAVED),  # a ConfigurationError by class, but the job is paid for: not "bad input"
    (InvalidRequest, 2),  # includes CapabilityMismatch (found before any request)
    (NotFound, 2),
    (ConfigurationError, 2),
    (AuthenticationFailed, 3),  # 401 and 403
    (InsufficientCredits, 4),
    (RateLimited, 5),
    (ProviderUnavailable, 6),
    (JobError, 7),  # failed / cancelled / expired
    (JobTimeout, 8),
    (SubmitUnknown, 9),  # the submit may have created a job: check before submitting again
)


@dataclass
class PaidJobs:
    """A listener for the engine's events: the jobs this process saw complete or start downloading.

    An error the engine raises itself while downloading (a truncated body, the deadline) names no request
    phase; a job id in `ids` says the job had completed (and is billed) by then (`paid_not_saved`).
    `journal` is False when MEDIAROUTER_JOURNAL=off (no row to download it again from), `emulated` with an
    in-process emulator (its jobs end with this process; nothing is billed).
    """

    ids: set[str] = field(default_factory=set)
    journal: bool = True
    emulated: bool = False

    def __call__(self, event: Event) -> None:
        if not event.job_id:
            return
        match event.payload:
            case JobStatusChangedEvent(status="completed"):
                self.ids.add(event.job_id)
            case DownloadStartedEvent() | DownloadProgressEvent() | DownloadRetryEvent() | DownloadFinishedEvent():
                self.ids.add(event.job_id)
            case JobTimeoutEvent(stage="downloading"):
                self.ids.add(event.job_id)


def exit_code_for(error: BaseException, *, downloading: Collection[str] = ()) -> int:
    """The documented code; a failover call that ran out of candidates exits as its last attempt did.

    `downloading`: the job ids seen completing or downloading (`PaidJobs.ids`), for errors that name no phase.
    """
    if paid_not_saved(error, downloading=downloading):
        return PAID_NOT_SAVED
    if isinstance(error, AllCandidatesFailed):
        return exit_code_for(error.last_error) if error.last_error is not None else 1
    if isinstance(error, MediaRouterError) and error.details.get("ambiguous_submit"):
        return 9  # a key held by a submit of unknown outcome: the same advice as for that submit
    if held_elsewhere(error):
        return BUSY
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return 1


def download_command(job_id: str, target: str | os.PathLike[str] | None = None) -> str:
    """`mediarouter jobs download JOB_ID -o FILE`, shell-quoted (without a target: the journaled one)."""
    command = f"mediarouter jobs download {shlex.quote(job_id)}"
    if target is not None:
        command += f" -o {shlex.quote(os.path.abspath(os.fspath(target)))}"
    return command


def paid_advice(
    job_id: str, *, target: str | os.PathLike[str] | None = None, provider: str | None = None, paid: PaidJobs | None
) -> str:
    """What to do about a job that is paid for but whose video is not at the target (exit code 10)."""
    if paid is not None and paid.emulated:
        return (
            f"job {job_id} completed on the in-process emulator (nothing is billed), whose jobs end with this run: "
            "run the same command again"
        )
    where = f" at {os.path.abspath(os.fspath(target))}" if target is not None else " at its target"
    if paid is not None and not paid.journal:
        return (
            f"job {job_id} is completed and paid for, but its video is not{where}; the journal is off "
            f"(MEDIAROUTER_JOURNAL=off), so mediarouter cannot download it again: get it from "
            f"{provider or 'the provider'}'s dashboard or its API by the job id {job_id}. Do not submit it again"
        )
    return (
        f"job {job_id} is completed and paid for, but its video is not{where}; get it without paying again: "
        f"{download_command(job_id, target)}"
    )


def fail(error: BaseException, *, paid: PaidJobs | None = None, target: Path | None = None) -> NoReturn:
    """Print the reason on stderr (no traceback) and exit with the error's code.

    One line, except after a failover: then one line per candidate, saying what happened to it. A job that
    is paid for but whose video is not at the target (code 10) gets what to do, with `target` (the file
    the caller asked for) in the command to run.
    """
    code = exit_code_for(error, downloading=paid.ids if paid is not None else ())
    if isinstance(error, AllCandidatesFailed):
        click.echo(f"mediarouter: error: all {len(error.attempts)} candidates failed:", err=True)
        for attempt in error.attempts:
            click.echo(f"  {AllCandidatesFailed.line_for(attempt)}", err=True)
        raise SystemExit(code)
    if code == PAID_NOT_SAVED and isinstance(error, MediaRouterError) and error.job_id:
        hint, error.hint = error.hint, None  # its hint says what to do in general; this says it for this job
        try:
            advice = paid_advice(error.job_id, target=target, provider=error.provider, paid=paid)
            text = f"{error}. {advice[:1].upper()}{advice[1:]}"
        finally:
            error.hint = hint
    else:
        text = str(error) if isinstance(error, MediaRouterError) else f"{type(error).__name__}: {error}"
    click.echo(f"mediarouter: error: {' '.join(text.split())}", err=True)
    raise SystemExit(code)
