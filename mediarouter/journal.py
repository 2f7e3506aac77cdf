"""The job journal: every submit is written down before it is sent, so no paid job is ever lost.

OpenRouter has no cancel endpoint: once a submit is accepted the video is being paid for,
whatever happens to this process. The journal keeps what is needed to resume it (provider,
model, job id, polling URL), what happened since, and where the output went.

It is also where idempotency lives: `claim` inserts a row only if no row already holds its
idempotency key (atomically, across processes), and `try_lease` gives one process at a time
the right to poll and download a job, so two resumes never write the same file.

`SQLiteJobStore` is the default (stdlib sqlite3, WAL, safe for several processes on one
file); `PostgresJobStore` (mediarouter.journal_postgres) shares one journal between machines;
`MemoryJobStore` is for tests and hosts that don't want a file. Hosts can implement
`JobStore` to keep the journal in their own database.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

from pydantic import BaseModel, Field

from .errors import ConfigurationError, Conflict, InvalidRequest, NotFound
from .request import VideoRequest

__all__ = [
    "JOURNAL_ENV",
    "LEASE_MARGIN",
    "SCHEMA_VERSION",
    "JobRecord",
    "JobStore",
    "Lease",
    "MemoryJobStore",
    "RecordState",
    "RequestFingerprint",
    "SQLiteJobStore",
    "absolute_target",
    "compare_request",
    "default_journal_path",
    "describe_store",
    "find_saved",
    "fingerprint_request",
    "idempotency_mismatch",
    "job_lease",
    "lease_owner",
    "sending",
    "submit_in_flight",
    "save_lease_name",
    "submit_lease_name",
    "submitter_lease",
    "submitting_elsewhere",
    "update_while",
    "journal_location",
    "open_store",
    "outputs_dir",
    "saves",
]


#: The environment variable naming the journal file (or a postgresql:// URL, ':memory:' / 'off').
JOURNAL_ENV = "MEDIAROUTER_JOURNAL"


class RecordState(StrEnum):
    """Where a journaled submit or job stands. The three submit outcomes are kept apart:
    `not_sent` (safe to retry or fail over), `refused` (a definite no) and `unknown` (maybe billed)."""

    #: The intent is recorded and the POST is about to go or in flight. A row left here by a dead
    #: process is as ambiguous as `unknown`: the server may have accepted the job.
    SUBMITTING = "submitting"
    #: The submit may have reached the server and we got no readable answer (timeout, dropped
    #: connection, 5xx/524, a 2xx we could not read): a job may exist and be billed. Never retried or
    #: failed over automatically; `adopt` gives it a job id, `forget` releases its key.
    UNKNOWN = "unknown"
    #: The request provably never left this machine (connect failed, refused locally): nothing exists
    #: upstream. Kept (rather than deleted) as a record of the attempt; it releases the key.
    NOT_SENT = "not_sent"
    #: A definite answer that no job exists (a 4xx with a readable error body): nothing billed.
    REFUSED = "refused"
    #: Accepted, not started / running upstream (also what a `kill -9` after the answer leaves behind).
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    #: Done upstream, output not (fully) downloaded yet.
    COMPLETED = "completed"
    #: Saved; `files` has path, size and sha256.
    DOWNLOADED = "downloaded"
    #: Terminal upstream, with the server's message.
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    #: The output is no longer available upstream (HTTP 410): nothing left to download.
    GONE = "gone"
    #: We stopped waiting (Ctrl-C, deadline, network, a failed download); the job goes on: resumable.
    INTERRUPTED = "interrupted"
    #: An `unknown`/`submitting` row the user chose to stop tracking (`jobs forget`); key released.
    FORGOTTEN = "forgotten"

    @property
    def resumable(self) -> bool:
        """A job id is known and there is still something to poll or download."""
        return self in _RESUMABLE

    @property
    def holds_key(self) -> bool:
        """Whether a row in this state keeps its idempotency key claimed (a job may exist for it)."""
        return self not in _KEY_FREE

    @property
    def ambiguous(self) -> bool:
        """No job id, yet a job may exist and be billed: only the user can settle it (adopt or forget)."""
        return self in (RecordState.SUBMITTING, RecordState.UNKNOWN)


_RESUMABLE = frozenset({RecordState.PENDING, RecordState.IN_PROGRESS, RecordState.COMPLETED, RecordState.INTERRUPTED})
#: States whose rows do not hold their idempotency key: nothing exists upstream (or the user said so).
_KEY_FREE = frozenset({RecordState.REFUSED, RecordState.NOT_SENT, RecordState.FORGOTTEN})
_KEY_FREE_SQL = "(" + ", ".join(f"'{s.value}'" for s in sorted(_KEY_FREE)) + ")"


def _now() -> datetime:
    return datetime.now(UTC)


class RequestFingerprint(BaseModel):
    """What a logical request was, as digests: enough to tell that a reused key asks for something else.

    `parts` maps each request field (and `model`: the candidate chain) to the sha256 of its canonical
    JSON, so a mismatch can name the fields; the values themselves (data URLs, prompts) are not kept.
    """

    digest: str
    parts: dict[str, str] = Field(default_factory=dict)


def _sha(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def fingerprint_request(
    request: VideoRequest | Mapping[str, Any], candidates: Sequence[str], **extra: Any
) -> RequestFingerprint:
    """The fingerprint of a logical request: the provider-neutral request (full, not redacted), the
    candidate refs in order, and any `extra` part the caller deems part of the request (None ones skipped).

    The output target is deliberately not part of it: a repeated call may ask for the same video at
    another path (it is copied there, nothing is paid twice).
    """
    fields = request.model_dump(mode="json", exclude_none=True) if isinstance(request, VideoRequest) else dict(request)
    parts = {name: _sha(value) for name, value in fields.items() if value is not None}
    parts["model"] = _sha([str(c) for c in candidates])
    parts.update({name: _sha(value) for name, value in extra.items() if value is not None})
    return RequestFingerprint(digest=_sha(sorted(parts.items())), parts=parts)


@dataclass(frozen=True)
class Lease:
    """Who holds the right to poll/download a job, until when (wall-clock Unix seconds)."""

    name: str
    owner: str
    pid: int
    host: str
    expires_at: float


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
    fingerprint: RequestFingerprint | None = Field(default=None, description="what the logical request was")
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)
    polls: int = 0
    cost: Decimal | None = None
    error: str | None = None
    outputs: list[dict[str, Any]] = Field(default_factory=list, repr=False)
    expires_at: datetime | None = None
    files: list[dict[str, Any]] = Field(default_factory=list, description="path, size, sha256 per saved output")
    target: str | None = Field(default=None, description="where the caller asked the output to go (absolute)")
    shadowed_key: str | None = Field(
        default=None,
        description="the idempotency key this row was submitted with while another row holds it "
        "(two processes claimed one key before keys were unique)",
    )
    submitter: Lease | None = Field(
        default=None,
        description="the process sending this row's submit (written with the intent, before the POST): "
        "`jobs forget` / `adopt` leave a `submitting` row alone while it is alive (`submit_in_flight`)",
    )
    adopted: bool = Field(
        default=False,
        description="the job id was given by the user (`jobs adopt`), not by the provider's answer to the submit: "
        "`jobs adopt` may replace it once the provider says that job does not exist",
    )
    reported: str | None = Field(
        default=None,
        description="an end a webhook delivery reported (`failed`, `cancelled`, `expired`) that no poll has "
        "confirmed yet: a hint, the row stays open until a poll ends it (docs/webhooks.md)",
    )

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.model}"

    def public_dict(self) -> dict[str, Any]:
        """JSON-ready, with signed URLs left out (they are secrets)."""
        data = self.model_dump(mode="json")
        data["outputs"] = [{k: v for k, v in o.items() if k != "signed_url"} for o in self.outputs]
        return data


_FIELD_ORDER = {name: i for i, name in enumerate([*VideoRequest.model_fields, "model"])}


def compare_request(existing: JobRecord, new: JobRecord) -> list[str]:
    """The names of the fields in which two records' logical requests differ ([] when they match).

    Rows journaled before fingerprints existed are compared on their (redacted) request.
    """
    if existing.fingerprint is not None and new.fingerprint is not None:
        if existing.fingerprint.digest == new.fingerprint.digest:
            return []
        old, cur = existing.fingerprint.parts, new.fingerprint.parts
    else:
        old = {k: _sha(v) for k, v in existing.request.items()}
        cur = {k: _sha(v) for k, v in new.request.items()}
    names = [n for n in set(old) | set(cur) if old.get(n) != cur.get(n)]
    return sorted(names, key=lambda n: (_FIELD_ORDER.get(n, len(_FIELD_ORDER)), n))


def idempotency_mismatch(key: str, existing: JobRecord, new: JobRecord) -> InvalidRequest | None:
    """The error for a key reused with a different request, or None when the requests match."""
    differences = compare_request(existing, new)
    if not differences:
        return None
    return InvalidRequest(
        f"idempotency key {key!r} was used for a different request: "
        + ", ".join(f"{name} differs" for name in differences),
        hint=f"use a new key for a new request (the key belongs to {existing.job_id or existing.key}, "
        f"{existing.state.value})",
        details={"differences": differences},
    )


def absolute_target(path: str | os.PathLike[str] | None) -> str | None:
    """The output path as it must be journaled: absolute (`~` expanded), so a resume run from another
    directory writes where the caller asked, not relative to its own cwd."""
    if path is None:
        return None
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def saves(record: JobRecord, path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The entries of `record.files` saved at `path` (both made absolute: an entry an older version wrote
    relative is taken from the current directory); [] when none is."""
    wanted = os.path.abspath(os.fspath(path))
    return [
        f
        for f in record.files
        if isinstance(f, dict) and isinstance(f.get("path"), str) and os.path.abspath(f["path"]) == wanted
    ]


def saved_needle(path: str | os.PathLike[str]) -> str:
    """What a store's prefilter looks for in a row's JSON text to find the rows saving `path`: the longest run
    of plain characters (letters, digits, `-_./ `) of its file name, spelled alike in every JSON encoding, so
    the text of every row that saves `path` contains it. The exact check (`saves`) follows."""
    name = os.path.basename(os.path.normpath(os.fspath(path)))
    runs = re.findall(r"[A-Za-z0-9._/ -]+", name)
    return max(runs, key=len, default="")


def find_saved(store: JobStore, path: str | os.PathLike[str]) -> list[JobRecord]:
    """The rows whose saved `files` include `path` (`JobStore.find_saved`). A host's own store without that
    method is searched row by row (`list()`): correct, but it reads the whole journal each time."""
    find = getattr(store, "find_saved", None)
    if find is None:
        return [r for r in store.list() if saves(r, path)]
    found: list[JobRecord] = find(path)
    return found


_HOST = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def _stale(lease: Lease, now: float) -> bool:
    """Expired, or held by a process of this host that no longer exists (a kill -9 blocks nobody)."""
    return lease.expires_at <= now or (lease.host == _HOST and lease.pid != os.getpid() and not _pid_alive(lease.pid))


@runtime_checkable
class JobStore(Protocol):
    """What the engine, the router and `jobs` need of a journal. Two methods are optional, so a host's own
    store written before them still works (`Router` checks a store against this protocol): `update_if(key,
    states, **fields)` (see `update_while`) and `find_saved(path) -> list[JobRecord]`, the rows whose saved
    `files` include `path` (see `find_saved`); every bundled store has both."""

    def add(self, record: JobRecord) -> None:
        """Insert a row; raises Conflict if its job id, or an idempotency key it would hold, is taken."""
        ...

    def claim(self, record: JobRecord) -> JobRecord | None:
        """Insert `record` unless a row already holds its idempotency key: None when inserted, else that
        row (nothing inserted). Atomic: of two processes claiming one key, exactly one gets None."""
        ...

    def update(self, key: str, **fields: Any) -> JobRecord: ...

    def get(self, key_or_job_id: str) -> JobRecord | None: ...

    def find_idempotent(self, idempotency_key: str) -> JobRecord | None:
        """The row holding the key; else the newest row that used it (e.g. refused); else None."""
        ...

    def list(self, *, states: list[RecordState] | None = None, limit: int | None = None) -> list[JobRecord]: ...

    def try_lease(self, name: str, owner: str, ttl: float, *, now: float | None = None) -> Lease | None:
        """Take (or renew) the lease `name` for `owner` for `ttl` seconds: None when taken, else the
        live lease of someone else. A lease whose holder died on this host is taken over at once."""
        ...

    def release_lease(self, name: str, owner: str) -> None: ...

    def close(self) -> None: ...


class MemoryJobStore:
    """In-process journal (lost when the process ends), with the same claim and lease rules."""

    def __init__(self) -> None:
        self._rows: dict[str, JobRecord] = {}
        self._leases: dict[str, Lease] = {}
        self._lock = threading.Lock()

    def _holder(self, idempotency_key: str | None, *, besides: str | None = None) -> JobRecord | None:
        if idempotency_key is None:
            return None
        for row in self._rows.values():
            if row.idempotency_key == idempotency_key and row.state.holds_key and row.key != besides:
                return row
        return None

    def _check(self, record: JobRecord, *, besides: str | None = None) -> None:
        if record.job_id and any(r.job_id == record.job_id and r.key != besides for r in self._rows.values()):
            raise Conflict(f"job {record.job_id} is already in the journal", job_id=record.job_id)
        if record.key in self._rows and record.key != besides:
            raise Conflict(f"journal row {record.key} already exists")
        if record.state.holds_key and self._holder(record.idempotency_key, besides=besides) is not None:
            raise Conflict(f"idempotency key {record.idempotency_key!r} is already held by another journaled job")

    def add(self, record: JobRecord) -> None:
        with self._lock:
            self._check(record)
            self._rows[record.key] = record.model_copy()

    def claim(self, record: JobRecord) -> JobRecord | None:
        with self._lock:
            if record.state.holds_key:
                holder = self._holder(record.idempotency_key)
                if holder is not None:
                    return holder.model_copy()
            self._check(record)
            self._rows[record.key] = record.model_copy()
            return None

    def update(self, key: str, **fields: Any) -> JobRecord:
        return cast(JobRecord, self._update(key, None, fields))  # no states: always written

    def update_if(self, key: str, states: Collection[RecordState], **fields: Any) -> JobRecord | None:
        """`update`, only while the row is in one of `states` (checked and written atomically): None when
        it is not (nothing written). For writers that must not move a row back (a webhook delivery)."""
        return self._update(key, frozenset(states), fields)

    def _update(self, key: str, states: frozenset[RecordState] | None, fields: dict[str, Any]) -> JobRecord | None:
        with self._lock:
            row = self._rows.get(key) or next((r for r in self._rows.values() if r.job_id == key), None)
            if row is None:
                raise NotFound(f"no journaled job {key!r}")
            if states is not None and row.state not in states:
                return None
            fields.setdefault("updated_at", _now())
            updated = JobRecord.model_validate({**row.model_dump(), **fields})
            if updated.job_id:
                updated.key = updated.job_id
            self._check(updated, besides=row.key)
            self._rows.pop(row.key)
            self._rows[updated.key] = updated
            return updated.model_copy()

    def get(self, key_or_job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._rows.get(key_or_job_id) or next(
                (r for r in self._rows.values() if r.job_id == key_or_job_id), None
            )
            return row.model_copy() if row else None

    def find_idempotent(self, idempotency_key: str) -> JobRecord | None:
        with self._lock:
            holder = self._holder(idempotency_key)
            if holder is not None:
                return holder.model_copy()
            used = [r for r in self._rows.values() if r.idempotency_key == idempotency_key]
        return max(used, key=lambda r: r.created_at).model_copy() if used else None

    def find_saved(self, path: str | os.PathLike[str]) -> list[JobRecord]:
        """The rows whose saved `files` include `path` (see `saves`), oldest first."""
        with self._lock:
            rows = [r.model_copy() for r in self._rows.values() if saves(r, path)]
        return sorted(rows, key=lambda r: r.created_at)

    def list(self, *, states: list[RecordState] | None = None, limit: int | None = None) -> list[JobRecord]:
        with self._lock:
            rows = [r.model_copy() for r in self._rows.values() if not states or r.state in states]
        rows.sort(key=lambda r: r.created_at, reverse=True)
        return rows[:limit] if limit else rows

    def try_lease(self, name: str, owner: str, ttl: float, *, now: float | None = None) -> Lease | None:
        moment = time.time() if now is None else now
        with self._lock:
            current = self._leases.get(name)
            if current is not None and current.owner != owner and not _stale(current, moment):
                return current
            self._leases[name] = Lease(name, owner, os.getpid(), _HOST, moment + ttl)
            return None

    def release_lease(self, name: str, owner: str) -> None:
        with self._lock:
            current = self._leases.get(name)
            if current is not None and current.owner == owner:
                del self._leases[name]

    def close(self) -> None:
        pass


#: The schema this code writes; `PRAGMA user_version` of the file. 0 is the unversioned first schema.
SCHEMA_VERSION = 1

#: The first schema (version 0), as files created before versioning have it; every file starts here.
_SCHEMA_V0 = """
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


def _statements(script: str) -> list[str]:
    return [s for s in (part.strip() for part in script.split(";")) if s]


def _migrate_to_v1(cur: sqlite3.Cursor) -> None:
    """Unique idempotency keys (a partial unique index over rows that hold one) and the lease table.

    Files written before keys were unique may have several rows holding one key: the newest keeps it
    (what `find_idempotent` returned so far); the others move it to `shadowed_key` and stay resumable.
    """
    cur.execute(
        "CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, "
        "host TEXT NOT NULL, expires_at REAL NOT NULL)"
    )
    rows = cur.execute(
        f"SELECT data FROM jobs WHERE idempotency_key IS NOT NULL AND state NOT IN {_KEY_FREE_SQL} "
        "ORDER BY created_at DESC"
    ).fetchall()
    seen: set[str] = set()
    for (data,) in rows:
        record = JobRecord.model_validate_json(data)
        assert record.idempotency_key is not None
        if record.idempotency_key not in seen:
            seen.add(record.idempotency_key)
            continue
        record = record.model_copy(update={"shadowed_key": record.idempotency_key, "idempotency_key": None})
        cur.execute(
            "UPDATE jobs SET idempotency_key = NULL, data = ? WHERE key = ?", (record.model_dump_json(), record.key)
        )
    cur.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS jobs_idem_holder ON jobs(idempotency_key) "
        f"WHERE idempotency_key IS NOT NULL AND state NOT IN {_KEY_FREE_SQL}"
    )


#: version → the step that brings a file from version-1 to it.
_MIGRATIONS: dict[int, Callable[[sqlite3.Cursor], None]] = {1: _migrate_to_v1}


def _unusable(path: str, reason: str) -> ConfigurationError:
    return ConfigurationError(
        f"cannot use {path} as the job journal ({JOURNAL_ENV}): {reason}",
        hint=f"set {JOURNAL_ENV} to a writable file path, ':memory:' or 'off'",
    )


class SQLiteJobStore:
    """SQLite journal in WAL mode; every write is its own short transaction, so processes interleave safely."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        memory = self.path == ":memory:"
        if not memory:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _unusable(self.path, f"cannot create its directory: {exc.strerror or exc}") from None
            if Path(self.path).is_dir():
                raise _unusable(self.path, "it is a directory")
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except (sqlite3.Error, ConfigurationError) as exc:
            with contextlib.suppress(Exception):
                self._conn.close()
            if isinstance(exc, ConfigurationError):
                raise
            raise _unusable(self.path, str(exc)) from None
        if not memory:
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)  # it may hold signed download URLs

    def _migrate(self) -> None:
        """Bring the file to SCHEMA_VERSION in one transaction (so two processes opening an old file at
        once migrate it once). Rewriting user_version also proves the file is writable now, not after
        the first paid submit."""
        with self._transaction() as cur:
            version = int(cur.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"the job journal {self.path} has schema version {version}, newer than this mediarouter "
                    f"knows ({SCHEMA_VERSION})",
                    hint=f"upgrade mediarouter, or set {JOURNAL_ENV} to another file",
                )
            for statement in _statements(_SCHEMA_V0):
                cur.execute(statement)
            for step in range(version + 1, SCHEMA_VERSION + 1):
                _MIGRATIONS[step](cur)
            cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

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

    @staticmethod
    def _insert(cur: sqlite3.Cursor, record: JobRecord) -> None:
        try:
            cur.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", SQLiteJobStore._row(record))
        except sqlite3.IntegrityError as exc:
            if "idempotency_key" in str(exc):
                what = f"idempotency key {record.idempotency_key!r} is already held by another journaled job"
            elif "job_id" in str(exc):
                what = f"job {record.job_id} is already in the journal"
            else:
                what = f"journal row {record.key} already exists"
            raise Conflict(what, job_id=record.job_id) from None

    def add(self, record: JobRecord) -> None:
        with self._transaction() as cur:
            self._insert(cur, record)

    def claim(self, record: JobRecord) -> JobRecord | None:
        with self._transaction() as cur:
            if record.idempotency_key is not None and record.state.holds_key:
                found = cur.execute(
                    f"SELECT data FROM jobs WHERE idempotency_key = ? AND state NOT IN {_KEY_FREE_SQL}",
                    (record.idempotency_key,),
                ).fetchone()
                if found is not None:
                    return JobRecord.model_validate_json(found[0])
            self._insert(cur, record)
            return None

    def update(self, key: str, **fields: Any) -> JobRecord:
        return cast(JobRecord, self._update(key, None, fields))  # no states: always written

    def update_if(self, key: str, states: Collection[RecordState], **fields: Any) -> JobRecord | None:
        """`update`, only while the row is in one of `states` (one transaction): None when it is not."""
        return self._update(key, frozenset(states), fields)

    def _update(self, key: str, states: frozenset[RecordState] | None, fields: dict[str, Any]) -> JobRecord | None:
        with self._transaction() as cur:
            found = cur.execute("SELECT data FROM jobs WHERE key = ? OR job_id = ?", (key, key)).fetchone()
            if found is None:
                raise NotFound(f"no journaled job {key!r}")
            current = JobRecord.model_validate_json(found[0])
            if states is not None and current.state not in states:
                return None
            fields.setdefault("updated_at", _now())
            updated = JobRecord.model_validate({**current.model_dump(), **fields})
            if updated.job_id:
                updated.key = updated.job_id
            cur.execute("DELETE FROM jobs WHERE key = ?", (current.key,))
            self._insert(cur, updated)
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
                f"SELECT data FROM jobs WHERE idempotency_key = ? ORDER BY (state NOT IN {_KEY_FREE_SQL}) DESC, "
                "created_at DESC LIMIT 1",
                (idempotency_key,),
            ).fetchone()
        return JobRecord.model_validate_json(found[0]) if found else None

    def find_saved(self, path: str | os.PathLike[str]) -> list[JobRecord]:
        """The rows whose saved `files` include `path`, oldest first: the rows whose JSON text holds the path's
        file name (`saved_needle`, found by `instr` in SQLite's own code: no row is parsed for it), then the
        exact check on those few (`saves`)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT data FROM jobs WHERE instr(data, ?) > 0 ORDER BY created_at", (saved_needle(path),)
            ).fetchall()
        found = (JobRecord.model_validate_json(r[0]) for r in rows)
        return [record for record in found if saves(record, path)]

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

    def try_lease(self, name: str, owner: str, ttl: float, *, now: float | None = None) -> Lease | None:
        moment = time.time() if now is None else now
        with self._transaction() as cur:
            found = cur.execute(
                "SELECT name, owner, pid, host, expires_at FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if found is not None:
                current = Lease(*found)
                if current.owner != owner and not _stale(current, moment):
                    return current
            cur.execute(
                "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?)", (name, owner, os.getpid(), _HOST, moment + ttl)
            )
            return None

    def release_lease(self, name: str, owner: str) -> None:
        with self._transaction() as cur:
            cur.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


#: Seconds a lease outlives the engine's deadline (downloads after the last poll, slow disks).
LEASE_MARGIN = 300.0

#: Leases held by the running task (lease name -> owner), so a resume that runs the engine, which
#: takes the same lease, does not refuse itself.
_held_leases: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("mediarouter_held_leases", default=())


def lease_owner() -> str:
    """A lease owner naming this host and process (so a dead holder on this host is seen at once)."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def submit_lease_name(record_key: str) -> str:
    """The lease a process holds while it submits a row: tells "being submitted" from "died mid-submit"."""
    return f"submit:{record_key}"


def save_lease_name(target: str | os.PathLike[str]) -> str:
    """The lease a process holds while it saves a video at `target` (absolute: one path, one lease)."""
    return f"save:{os.path.abspath(os.fspath(target))}"


#: Rows whose submit this process is sending right now (`sending`): a row naming this process as its
#: submitter is in flight only while it is here (the process is alive, but that call may have ended).
_sending_here: set[str] = set()


def submitter_lease(record_key: str, ttl: float) -> Lease:
    """What an intent row says about its sender: this host and process, until `ttl` seconds from now (the
    submit's deadline plus a margin). Part of the intent's own write: no extra commit before the POST."""
    return Lease(submit_lease_name(record_key), lease_owner(), os.getpid(), _HOST, time.time() + ttl)


@contextmanager
def sending(record_key: str) -> Iterator[None]:
    """Mark row `record_key`'s submit as in flight in this process while the block runs."""
    _sending_here.add(record_key)
    try:
        yield
    finally:
        _sending_here.discard(record_key)


def submit_in_flight(record: JobRecord, *, now: float | None = None) -> bool:
    """True while the process that wrote a `submitting` row may still be sending it, so its answer (a job
    id) is still to come: the row's submitter is this process and the call is running, or a live process
    of this host, or (on another host, whose processes cannot be seen) until its lease expires."""
    holder = record.submitter
    if record.state is not RecordState.SUBMITTING or holder is None:
        return False
    if holder.host == _HOST:
        if holder.pid == os.getpid():
            return record.key in _sending_here
        return _pid_alive(holder.pid) and holder.expires_at > (time.time() if now is None else now)
    return holder.expires_at > (time.time() if now is None else now)


def update_while(store: JobStore, key: str, states: Collection[RecordState], **fields: Any) -> JobRecord | None:
    """`store.update_if` (the state checked and written in one transaction): None when the row is no longer
    in one of `states`. A host's own store without `update_if` is updated as before (read, then write,
    which may race the engine)."""
    update_if = getattr(store, "update_if", None)
    if update_if is None:
        return store.update(key, **fields)
    result: JobRecord | None = update_if(key, states, **fields)
    return result


def submitting_elsewhere(store: JobStore, record_key: str) -> Lease | None:
    """Who is submitting this row right now (a live process), or None (nobody, or a dead one)."""
    name, owner = submit_lease_name(record_key), lease_owner()
    holder = store.try_lease(name, owner, 1.0)
    if holder is None:
        store.release_lease(name, owner)
    return holder


def lease_held_here(name: str) -> str | None:
    """The owner under which the running task already holds lease `name` (re-entry), or None."""
    return dict(_held_leases.get()).get(name)


@contextmanager
def holding_lease(name: str, owner: str) -> Iterator[None]:
    """Mark lease `name` as held by the running task while the block runs (see `lease_held_here`)."""
    token = _held_leases.set((*_held_leases.get(), (name, owner)))
    try:
        yield
    finally:
        _held_leases.reset(token)


def lease_conflict(job_id: str, holder: Lease, doing: str, *, paid_here: bool = False) -> Conflict:
    """The error for a job whose lease another live call or process holds. `paid_here`: the caller's own
    submit just had this job accepted (a `jobs resume JOB`, a `resume --all` that found the new row took it
    in between), so the job is paid for and being finished there: not "nothing was sent", not "busy"."""
    where = "" if holder.host == _HOST else f" on {holder.host}"
    who = "another call in this process" if holder.pid == os.getpid() and not where else "another process"
    if paid_here:
        return Conflict(
            f"job {job_id} was accepted for this call and is paid for, but {who} (pid {holder.pid}{where}) took "
            "it over at once and is polling and downloading it: its video is saved where that call saves it",
            job_id=job_id,
            hint=f"wait for it, then `mediarouter jobs show {job_id}`; `mediarouter jobs download {job_id} -o FILE` "
            "then copies the video where you want it. Do not submit again",
            details={"accepted_here": True},
        )
    return Conflict(
        f"job {job_id} is being {doing} by {who} (pid {holder.pid}{where})",
        job_id=job_id,
        hint="wait for it to finish, then `mediarouter jobs show` it; nothing was sent",
        details={"holder_pid": holder.pid, "holder_host": holder.host, "lease": f"job:{job_id}"},
    )


@contextmanager
def job_lease(store: JobStore, job_id: str, *, ttl: float, doing: str = "polled and downloaded") -> Iterator[str]:
    """Hold the per-job lease while polling/downloading `job_id`; fail fast if another process holds it.

    `ttl` must cover the whole hold (the engine's deadline plus a margin): the lease is not renewed.
    A holder killed on this host is detected at once; one on another host blocks until its ttl ends.
    Re-entrant within one task: an inner `job_lease` for a lease the task already holds is a no-op.
    """
    name = f"job:{job_id}"
    mine = lease_held_here(name)
    if mine is not None:
        yield mine
        return
    owner = lease_owner()
    holder = store.try_lease(name, owner, ttl)
    if holder is not None:
        raise lease_conflict(job_id, holder, doing)
    try:
        with holding_lease(name, owner):
            yield owner
    finally:
        with contextlib.suppress(Exception):
            store.release_lease(name, owner)


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
    """`off`/empty → None; `:memory:` → MemoryJobStore; `postgresql://…`/`postgres://…` →
    PostgresJobStore (needs the `postgres` extra); anything else → SQLiteJobStore at that path."""
    if location is None or location.strip().lower() in ("", "off", "none", "false", "0"):
        return None
    if location == ":memory:":
        return MemoryJobStore()
    if location.strip().lower().startswith(("postgresql://", "postgres://")):
        from .journal_postgres import PostgresJobStore  # psycopg only when a PostgreSQL journal is used

        return PostgresJobStore(location)
    return SQLiteJobStore(os.path.expanduser(location))


def describe_store(store: JobStore) -> tuple[str, str, int | None, int | None]:
    """(kind, location, schema version found, schema version this code writes) for `jobs info`.
    The location never shows a password."""
    if isinstance(store, SQLiteJobStore):
        return "sqlite", store.path, store.schema_version, SCHEMA_VERSION
    if isinstance(store, MemoryJobStore):
        return "memory", ":memory:", None, None
    from .journal_postgres import PG_SCHEMA_VERSION, PostgresJobStore

    if isinstance(store, PostgresJobStore):
        return "postgresql", store.url, store.schema_version, PG_SCHEMA_VERSION
    return type(store).__name__, "(host-provided)", None, None


def outputs_dir(journal: JobStore | None) -> Path:
    """Where videos without a usable target are kept: `outputs/` next to the journal file (the user
    data dir for an in-memory, PostgreSQL or absent journal: a database has no directory of this
    machine), so a paid video always has a home."""
    if isinstance(journal, SQLiteJobStore) and journal.path != ":memory:":
        return Path(journal.path).resolve().parent / "outputs"
    return default_journal_path().parent / "outputs"


def dumps(record: JobRecord) -> str:
    return json.dumps(record.public_dict(), indent=2)
