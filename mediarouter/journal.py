"""The job journal: every accepted job is written down before we act on it, so none is ever lost.

OpenRouter has no cancel endpoint: once a submit is accepted the video is being paid for,
whatever happens to this process. The journal keeps what is needed to resume it (provider,
model, job id, polling URL), what happened since, and where the output went.

`SQLiteJobStore` is the default (stdlib sqlite3, WAL, safe for several processes on one
file); `MemoryJobStore` is for tests and hosts that don't want a file. Hosts can implement
`JobStore` to keep the journal in their own database.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from .errors import ConfigurationError, NotFound

__all__ = [
    "JobRecord",
    "JobStore",
    "MemoryJobStore",
    "RecordState",
    "SQLiteJobStore",
    "JOURNAL_ENV",
    "default_journal_path",
    "journal_location",
    "open_store",
]


class RecordState(StrEnum):
    SUBMITTING = "submitting"  # sent, no answer yet: the job may or may not exist
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"  # done upstream, output not (fully) downloaded yet
    DOWNLOADED = "downloaded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"  # we stopped waiting (Ctrl-C, deadline, crash); resumable
    REFUSED = "refused"  # the submit was refused: no job, nothing billed
    UNKNOWN = "unknown"  # sent, no readable answer: a job may exist (and be billed)

    @property
    def resumable(self) -> bool:
        return self in (RecordState.PENDING, RecordState.IN_PROGRESS, RecordState.COMPLETED, RecordState.INTERRUPTED)


def _now() -> datetime:
    return datetime.now(UTC)


class JobRecord(BaseModel):
    """One row of the journal. Never holds credentials or signed download URLs."""

    key: str = Field(description="local id: the job id once known")
    job_id: str | None = None
    provider: str
    model: str
    polling_url: str | None = None
    state: RecordState = RecordState.SUBMITTING
    request: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)
    polls: int = 0
    cost: Decimal | None = None
    error: str | None = None
    outputs: list[dict[str, Any]] = Field(default_factory=list, repr=False)
    expires_at: datetime | None = None
    files: list[dict[str, Any]] = Field(default_factory=list, description="path, size, sha256 per saved output")
    target: str | None = Field(default=None, description="where the caller asked the output to go")

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.model}"

    def public_dict(self) -> dict[str, Any]:
        """JSON-ready, with signed URLs left out (they are secrets)."""
        data = self.model_dump(mode="json")
        data["outputs"] = [{k: v for k, v in o.items() if k != "signed_url"} for o in self.outputs]
        return data


@runtime_checkable
class JobStore(Protocol):
    def add(self, record: JobRecord) -> None: ...

    def update(self, key: str, **fields: Any) -> JobRecord: ...

    def get(self, key_or_job_id: str) -> JobRecord | None: ...

    def find_idempotent(self, idempotency_key: str) -> JobRecord | None: ...

    def list(self, *, states: list[RecordState] | None = None, limit: int | None = None) -> list[JobRecord]: ...

    def close(self) -> None: ...


class MemoryJobStore:
    """In-process journal (lost when the process ends)."""

    def __init__(self) -> None:
        self._rows: dict[str, JobRecord] = {}
        self._lock = threading.Lock()

    def add(self, record: JobRecord) -> None:
        with self._lock:
            self._rows[record.key] = record.model_copy()

    def update(self, key: str, **fields: Any) -> JobRecord:
        with self._lock:
            row = self._rows.get(key)
            if row is None:
                raise NotFound(f"no journaled job {key!r}")
            fields.setdefault("updated_at", _now())
            updated = row.model_copy(update=fields)
            new_key = updated.job_id if (updated.job_id and key != updated.job_id) else key
            updated.key = new_key
            self._rows.pop(key)
            self._rows[new_key] = updated
            return updated.model_copy()

    def get(self, key_or_job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._rows.get(key_or_job_id)
            return row.model_copy() if row else None

    def find_idempotent(self, idempotency_key: str) -> JobRecord | None:
        with self._lock:
            for row in reversed(list(self._rows.values())):
                if row.idempotency_key == idempotency_key:
                    return row.model_copy()
        return None

    def list(self, *, states: list[RecordState] | None = None, limit: int | None = None) -> list[JobRecord]:
        with self._lock:
            rows = [r.model_copy() for r in self._rows.values() if states is None or r.state in states]
        rows.sort(key=lambda r: r.created_at, reverse=True)
        return rows[:limit] if limit else rows

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    job_id TEXT UNIQUE,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    state TEXT NOT NULL,
    idempotency_key TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_idem ON jobs(idempotency_key);
"""


class SQLiteJobStore:
    """SQLite journal in WAL mode; every write is its own short transaction, so processes interleave safely."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            with self._transaction() as cur:
                for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                    cur.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(
                f"cannot open the job journal {self.path}: {exc}",
                hint="set MEDIAROUTER_JOURNAL to another file, or to 'off'",
            ) from None
        if self.path != ":memory:":
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)  # it may hold signed download URLs

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    @staticmethod
    def _row(record: JobRecord) -> tuple[Any, ...]:
        return (
            record.key,
            record.job_id,
            record.provider,
            record.model,
            record.state.value,
            record.idempotency_key,
            record.created_at.isoformat(),
            record.updated_at.isoformat(),
            record.model_dump_json(),
        )

    def add(self, record: JobRecord) -> None:
        with self._transaction() as cur:
            cur.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self._row(record))

    def update(self, key: str, **fields: Any) -> JobRecord:
        with self._transaction() as cur:
            found = cur.execute("SELECT data FROM jobs WHERE key = ? OR job_id = ?", (key, key)).fetchone()
            if found is None:
                raise NotFound(f"no journaled job {key!r}")
            current = JobRecord.model_validate_json(found[0])
            fields.setdefault("updated_at", _now())
            updated = JobRecord.model_validate({**current.model_dump(), **fields})
            if updated.job_id:
                updated.key = updated.job_id
            cur.execute("DELETE FROM jobs WHERE key = ?", (current.key,))
            cur.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self._row(updated))
            return updated

    def get(self, key_or_job_id: str) -> JobRecord | None:
        with self._lock:
            found = self._conn.execute(
                "SELECT data FROM jobs WHERE key = ? OR job_id = ?", (key_or_job_id, key_or_job_id)
            ).fetchone()
        return JobRecord.model_validate_json(found[0]) if found else None

    def find_idempotent(self, idempotency_key: str) -> JobRecord | None:
        with self._lock:
            found = self._conn.execute(
                "SELECT data FROM jobs WHERE idempotency_key = ? ORDER BY created_at DESC LIMIT 1",
                (idempotency_key,),
            ).fetchone()
        return JobRecord.model_validate_json(found[0]) if found else None

    def list(self, *, states: list[RecordState] | None = None, limit: int | None = None) -> list[JobRecord]:
        sql = "SELECT data FROM jobs"
        args: list[Any] = []
        if states:
            sql += f" WHERE state IN ({', '.join('?' for _ in states)})"
            args += [s.value for s in states]
        sql += " ORDER BY created_at DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [JobRecord.model_validate_json(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


JOURNAL_ENV = "MEDIAROUTER_JOURNAL"


def default_journal_path() -> Path:
    """`jobs.sqlite3` in the platform's user data directory (e.g. ~/.local/share/mediarouter)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("mediarouter", appauthor=False)) / "jobs.sqlite3"


def journal_location(setting: str | None = None) -> str:
    """The configured location: an explicit setting, else MEDIAROUTER_JOURNAL, else the default path."""
    if setting is not None:
        return setting
    return os.environ.get(JOURNAL_ENV, str(default_journal_path()))


def open_store(location: str | None) -> JobStore | None:
    """`off`/empty → None; `:memory:` → MemoryJobStore; anything else → SQLiteJobStore at that path."""
    if location is None or location.strip().lower() in ("", "off", "none", "false", "0"):
        return None
    if location == ":memory:":
        return MemoryJobStore()
    return SQLiteJobStore(os.path.expanduser(location))


def dumps(record: JobRecord) -> str:
    return json.dumps(record.public_dict(), indent=2)
