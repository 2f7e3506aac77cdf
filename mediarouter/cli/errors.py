"""Exit codes scripts can rely on, and the one-line failure message."""

from __future__ import annotations

from typing import NoReturn

import click

from ..errors import (
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
)


def exit_code_for(error: BaseException) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return 1


def fail(error: BaseException) -> NoReturn:
    """Print one line on stderr (no traceback) and exit with the error's code."""
    text = str(error) if isinstance(error, MediaRouterError) else f"{type(error).__name__}: {error}"
    click.echo(f"mediarouter: error: {' '.join(text.split())}", err=True)
    raise SystemExit(exit_code_for(error))
