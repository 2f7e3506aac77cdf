"""Exit codes scripts can rely on, and the one-line failure message."""

from __future__ import annotations

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
    ProviderUnavailable,
    RateLimited,
    SubmitUnknown,
)

__all__ = ["EXIT_CODES", "exit_code_for", "fail"]

#: Checked in order; the first matching class wins. Documented in the README.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
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


def exit_code_for(error: BaseException) -> int:
    """The documented code; a failover call that ran out of candidates exits as its last attempt did."""
    if isinstance(error, AllCandidatesFailed):
        return exit_code_for(error.last_error) if error.last_error is not None else 1
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return 1


def fail(error: BaseException) -> NoReturn:
    """Print the reason on stderr (no traceback) and exit with the error's code.

    One line, except after a failover: then one line per candidate, saying what happened to it.
    """
    if isinstance(error, AllCandidatesFailed):
        click.echo(f"mediarouter: error: all {len(error.attempts)} candidates failed:", err=True)
        for attempt in error.attempts:
            click.echo(f"  {AllCandidatesFailed.line_for(attempt)}", err=True)
        raise SystemExit(exit_code_for(error))
    text = str(error) if isinstance(error, MediaRouterError) else f"{type(error).__name__}: {error}"
    click.echo(f"mediarouter: error: {' '.join(text.split())}", err=True)
    raise SystemExit(exit_code_for(error))
