"""Where DBOS keeps its state, and how requests are named in it (no dbos import here)."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import ConfigurationError
from ..journal import default_journal_path, journal_location

__all__ = [
    "DATABASE_ENV",
    "INSTALL_HINT",
    "DurableSettings",
    "attempt_id",
    "default_database_url",
    "queue_name",
    "require_dbos",
    "workflow_id",
]

#: The DBOS system database: `sqlite:///FILE` (one machine) or `postgresql://…` (several).
DATABASE_ENV = "MEDIAROUTER_DBOS_DATABASE"
INSTALL_HINT = "pip install 'mediarouter[dbos]'"
#: Workflow ids are `mediarouter:<idempotency key>`; a rerun of a failed line adds `#2`, `#3` …
WORKFLOW_PREFIX = "mediarouter:"
#: DBOS application name and version: every worker and enqueuer of one mediarouter version agree on it.
APP_NAME = "mediarouter"
APP_VERSION = f"mediarouter-{__version__}"


def require_dbos() -> Any:
    """The `dbos` module, or a ConfigurationError naming the extra to install."""
    try:
        import dbos
    except ImportError as exc:
        raise ConfigurationError(
            f"durable workflows need the dbos extra ({exc.name or exc} is not installed)", hint=INSTALL_HINT
        ) from None
    return dbos


def workflow_id(idempotency_key: str, attempt: int = 1) -> str:
    """The workflow id of a request: derived from its idempotency key, so enqueuing twice runs it once."""
    return f"{WORKFLOW_PREFIX}{idempotency_key}" + (f"#{attempt}" if attempt > 1 else "")


def attempt_id(wf_id: str) -> int:
    """The attempt number in a workflow id (1 for `mediarouter:KEY`, n for `mediarouter:KEY#n`)."""
    match = re.search(r"#(\d+)$", wf_id)
    return int(match.group(1)) if match else 1


def queue_name(provider: str) -> str:
    """One DBOS queue per provider: its concurrency and rate limits hold across every worker."""
    return f"mediarouter-{provider}"


def default_database_url(journal: str | None = None) -> str:
    """`dbos.sqlite3` next to the journal file (the user data dir for an in-memory or absent journal)."""
    location = journal_location(journal)
    if location.startswith(("postgresql://", "postgres://")) or location in (":memory:", "", "off"):
        directory = default_journal_path().parent
    else:
        directory = Path(os.path.expanduser(location)).resolve().parent
    return f"sqlite:///{directory / 'dbos.sqlite3'}"


def _check_url(url: str) -> str:
    url = url.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        raise ConfigurationError(
            f"{DATABASE_ENV} must be sqlite:///FILE or postgresql://USER@HOST/DB (got {url.split('://')[0]}://…)",
            hint="one machine: leave it unset (a SQLite file next to the journal); several: a PostgreSQL URL",
        )
    return url


@dataclass
class DurableSettings:
    """How a process joins the durable engine: database, executor id, queue limits and timings.

    `concurrency` is the most workflows of one provider's queue this process runs at once;
    `provider_limits` caps a provider across every worker, `provider_rates` adds a rate limit
    (starts per period in seconds). Short `queue_poll` / `notification_poll` make tests fast.
    """

    database_url: str = ""
    executor_id: str = field(default_factory=socket.gethostname)
    concurrency: int = 4
    provider_limits: dict[str, int] = field(default_factory=dict)
    provider_rates: dict[str, tuple[int, float]] = field(default_factory=dict)
    queue_poll: float = 1.0
    notification_poll: float = 1.0
    log_level: str = "WARNING"

    def __post_init__(self) -> None:
        self.database_url = _check_url(self.database_url or os.environ.get(DATABASE_ENV) or default_database_url())
        if self.concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if not self.executor_id.strip():
            raise ConfigurationError("the worker id must not be empty", hint="mediarouter worker --id NAME")

    @property
    def shown_database(self) -> str:
        """The database URL without its password (for messages and logs)."""
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.database_url)

    def dbos_config(self) -> dict[str, Any]:
        """The DBOSConfig of this process."""
        return {
            "name": APP_NAME,
            "system_database_url": self.database_url,
            "executor_id": self.executor_id,
            "application_version": APP_VERSION,
            "notification_listener_polling_interval_sec": self.notification_poll,
            "log_level": self.log_level,
        }
