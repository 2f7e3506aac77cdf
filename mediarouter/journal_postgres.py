"""The job journal in PostgreSQL, so every worker on every machine shares one journal.

`MEDIAROUTER_JOURNAL=postgresql://user@host/db` (or `postgres://…`) selects it. The rules are the
SQLite store's: `claim` is atomic across processes and machines (a partial unique index over the rows
that hold an idempotency key, and `INSERT … ON CONFLICT DO NOTHING` against it), a row is re-keyed
when its job id arrives, and a lease is taken under a row lock, with the same liveness check for a
holder on this host. Every call is one short explicit transaction on one connection behind a lock.

The schema is versioned in `mediarouter_schema`; migrations are an ordered list of steps run in one
transaction under `pg_advisory_xact_lock`, so workers starting at once migrate once. The tables are
unqualified: `?options=-csearch_path%3Dmyschema` in the URL puts them in another schema.

psycopg (3) is imported only when a PostgreSQL URL is used (`pip install 'mediarouter[postgres]'`).
A password in the URL is a secret: it is kept as a SecretStr and appears in no error, log or repr.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr

from .errors import ConfigurationError, Conflict, NotFound
from .journal import _HOST, _KEY_FREE_SQL, JOURNAL_ENV, JobRecord, Lease, RecordState, _now, _stale, saved_needle, saves

if TYPE_CHECKING:
    import psycopg

__all__ = ["PG_SCHEMA_VERSION", "PostgresJobStore", "redact_url"]

#: The schema this code writes (`mediarouter_schema.version`). 0 is an empty database.
PG_SCHEMA_VERSION = 1

#: The advisory lock key migrations hold (any constant bigint; "mediarouter journal" in spirit).
_MIGRATION_LOCK = 0x6D656469_61727472 & 0x7FFFFFFFFFFFFFFF

#: The constraint names that tell which uniqueness a write broke.
_HOLDER_INDEX = "mediarouter_jobs_idem_holder"
_JOB_ID_UNIQUE = "mediarouter_jobs_job_id_key"

_HOLDS_KEY_SQL = f"idempotency_key IS NOT NULL AND state NOT IN {_KEY_FREE_SQL}"


def redact_url(url: str) -> str:
    """The URL with any password (in the userinfo or a `password=` parameter) replaced by `***`."""
    try:
        parts = urlsplit(url.strip())
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostinfo = netloc.rpartition("@")
            if ":" in userinfo:
                userinfo = userinfo.split(":", 1)[0] + ":***"
            netloc = f"{userinfo}@{hostinfo}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*:/%")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return url.split("://", 1)[0] + "://***"  # unparseable: show nothing that could be the secret


def _passwords(url: str) -> list[str]:
    """Every spelling of the URL's password(s), to scrub them from a driver's message."""
    found: list[str] = []
    try:
        parts = urlsplit(url.strip())
        userinfo = parts.netloc.rpartition("@")[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
        found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() == "password"]
    except ValueError:
        pass
    spellings = {s for p in found if p for s in (p, unquote(p), quote(unquote(p), safe=""))}
    return sorted(spellings, key=len, reverse=True)


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(
            f"{JOURNAL_ENV} names a PostgreSQL journal, which needs psycopg (not installed)",
            hint="pip install 'mediarouter[postgres]'",
        ) from None
    return psycopg


# -- schema ---------------------------------------------------------------------------------------


def _create_v1(cur: psycopg.Cursor[Any]) -> None:
    """The first schema: jobs (one unique holder per idempotency key) and leases."""
    cur.execute(
        """
        CREATE TABLE mediarouter_jobs (
            key TEXT NOT NULL CONSTRAINT mediarouter_jobs_pkey PRIMARY KEY,
            job_id TEXT CONSTRAINT mediarouter_jobs_job_id_key UNIQUE,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            state TEXT NOT NULL,
            idempotency_key TEXT,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            data TEXT NOT NULL
        )
        """
    )
    cur.execute("CREATE INDEX mediarouter_jobs_state ON mediarouter_jobs (state)")
    cur.execute("CREATE INDEX mediarouter_jobs_created ON mediarouter_jobs (created_at)")
    cur.execute("CREATE INDEX mediarouter_jobs_idem ON mediarouter_jobs (idempotency_key)")
    cur.execute(f"CREATE UNIQUE INDEX {_HOLDER_INDEX} ON mediarouter_jobs (idempotency_key) WHERE {_HOLDS_KEY_SQL}")
    cur.execute(
        "CREATE TABLE mediarouter_leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, "
        "host TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL)"
    )


#: MIGRATIONS[v] brings a database from version v to v + 1; append, never edit a released step.
MIGRATIONS: list[Callable[[psycopg.Cursor[Any]], None]] = [_create_v1]
assert len(MIGRATIONS) == PG_SCHEMA_VERSION


class PostgresJobStore:
    """A `JobStore` in a PostgreSQL database: one connection, one lock, one transaction per call.

    `data` is the record as JSON text (cast `data::jsonb` to query it): text keeps every string a
    server or user may send, where jsonb refuses some (a NUL escape) and a refused write could cost a job.
    """

    def __init__(self, url: str, *, connect_timeout: float = 10.0) -> None:
        self.url = redact_url(url)  #: the location with its password masked: safe to print
        self._dsn = SecretStr(url.strip())
        self._connect_timeout = connect_timeout
        self._psycopg = _import_psycopg()
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        with self._lock:
            try:
                self._connection()
                self._migrate()
            except ConfigurationError:
                self._close_quietly()
                raise
            except self._psycopg.Error as exc:
                self._close_quietly()
                raise self._unusable(exc) from None

    def __repr__(self) -> str:
        return f"PostgresJobStore({self.url!r})"

    # -- connection ---------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        for secret in _passwords(self._dsn.get_secret_value()):
            text = text.replace(secret, "***")
        return text

    def _unusable(self, exc: BaseException) -> ConfigurationError:
        reason = " ".join(self._scrub(str(exc)).split()) or type(exc).__name__
        return ConfigurationError(
            f"cannot use {self.url} as the job journal ({JOURNAL_ENV}): {reason}",
            hint=f"check that the server is reachable and the database exists, or set {JOURNAL_ENV} to a file path",
        )

    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection, reconnecting if the last one broke (a restarted server, a dropped
        link). A call that failed is not retried: its transaction may or may not have committed."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._close_quietly()
        try:
            self._conn = self._psycopg.connect(
                self._dsn.get_secret_value(),
                autocommit=True,  # every call opens its own explicit transaction below
                connect_timeout=max(1, round(self._connect_timeout)),
                application_name="mediarouter",
            )
        except self._psycopg.Error as exc:
            raise self._unusable(exc) from None
        except ValueError as exc:  # a malformed URL (e.g. a bad port) fails before the driver
            raise self._unusable(exc) from None
        return self._conn

    def _close_quietly(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection: nothing more to do
                self._conn.close()
            self._conn = None

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._lock:
            conn = self._connection()
            with conn.transaction(), conn.cursor() as cur:
                yield cur

    def _migrate(self) -> None:
        """Bring the database to PG_SCHEMA_VERSION in one transaction, under an advisory lock, so two
        workers starting at once migrate it once; the second finds it done. Called with the lock held."""
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS mediarouter_schema (only_row BOOLEAN PRIMARY KEY DEFAULT TRUE "
                "CHECK (only_row), version INTEGER NOT NULL)"
            )
            cur.execute("SELECT version FROM mediarouter_schema")
            found = cur.fetchone()
            version = 0 if found is None else int(found[0])
            if version > PG_SCHEMA_VERSION:
                raise ConfigurationError(
                    f"the job journal {self.url} has schema version {version}, newer than this mediarouter "
                    f"knows ({PG_SCHEMA_VERSION})",
                    hint=f"upgrade mediarouter on this machine, or set {JOURNAL_ENV} to another database",
                )
            for step in MIGRATIONS[version:]:
                step(cur)
            cur.execute(
                "INSERT INTO mediarouter_schema (only_row, version) VALUES (TRUE, %s) "
                "ON CONFLICT (only_row) DO UPDATE SET version = EXCLUDED.version",
                (PG_SCHEMA_VERSION,),
            )

    @property
    def schema_version(self) -> int:
        with self._transaction() as cur:
            cur.execute("SELECT version FROM mediarouter_schema")
            found = cur.fetchone()
        return 0 if found is None else int(found[0])

    # -- rows -----------------------------------------------------------------------------------

    @staticmethod
    def _row(record: JobRecord) -> tuple[Any, ...]:
        return (
            record.key,
            record.job_id,
            record.provider,
            record.model,
            record.state.value,
            record.idempotency_key,
            record.created_at,
            record.updated_at,
            record.model_dump_json(),
        )

    def _conflict(self, exc: Exception, record: JobRecord) -> Conflict | None:
        if not isinstance(exc, self._psycopg.errors.UniqueViolation):
            return None
        constraint = exc.diag.constraint_name or ""
        if constraint == _HOLDER_INDEX:
            what = f"idempotency key {record.idempotency_key!r} is already held by another journaled job"
        elif constraint == _JOB_ID_UNIQUE:
            what = f"job {record.job_id} is already in the journal"
        else:
            what = f"journal row {record.key} already exists"
        return Conflict(what, job_id=record.job_id)

    def _insert(self, cur: psycopg.Cursor[Any], record: JobRecord, *, unless_held: bool = False) -> bool:
        """Insert the row; with `unless_held`, do nothing (False) if another row holds its key."""
        sql = "INSERT INTO mediarouter_jobs VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        if unless_held:
            sql += f" ON CONFLICT (idempotency_key) WHERE {_HOLDS_KEY_SQL} DO NOTHING"
        try:
            cur.execute(sql, self._row(record))
        except self._psycopg.Error as exc:
            conflict = self._conflict(exc, record)
            if conflict is None:
                raise
            raise conflict from None
        return cur.rowcount == 1

    def add(self, record: JobRecord) -> None:
        with self._transaction() as cur:
            self._insert(cur, record)

    def claim(self, record: JobRecord) -> JobRecord | None:
        if record.idempotency_key is None or not record.state.holds_key:
            self.add(record)
            return None
        # ON CONFLICT waits for a concurrent claim of the key to commit or roll back, then either
        # inserts or does nothing. The holder is read in the next statement (a fresh snapshot); if it
        # let the key go in between (refused, forgotten), the claim is simply tried again.
        for _ in range(10):
            with self._transaction() as cur:
                if self._insert(cur, record, unless_held=True):
                    return None
                cur.execute(
                    f"SELECT data FROM mediarouter_jobs WHERE idempotency_key = %s AND state NOT IN {_KEY_FREE_SQL}",
                    (record.idempotency_key,),
                )
                found = cur.fetchone()
            if found is not None:
                return JobRecord.model_validate_json(found[0])
        raise Conflict(f"idempotency key {record.idempotency_key!r} keeps changing hands; try again")

    def update(self, key: str, **fields: Any) -> JobRecord:
        return cast(JobRecord, self._update(key, None, fields))  # no states: always written

    def update_if(self, key: str, states: Collection[RecordState], **fields: Any) -> JobRecord | None:
        """`update`, only while the row is in one of `states` (under its row lock): None when it is not."""
        return self._update(key, frozenset(states), fields)

    def _update(self, key: str, states: frozenset[RecordState] | None, fields: dict[str, Any]) -> JobRecord | None:
        with self._transaction() as cur:
            cur.execute("SELECT key, data FROM mediarouter_jobs WHERE key = %s OR job_id = %s FOR UPDATE", (key, key))
            found = cur.fetchone()
            if found is None:
                raise NotFound(f"no journaled job {key!r}")
            current = JobRecord.model_validate_json(found[1])
            if states is not None and current.state not in states:
                return None
            fields.setdefault("updated_at", _now())
            updated = JobRecord.model_validate({**current.model_dump(), **fields})
            if updated.job_id:
                updated.key = updated.job_id
            try:
                cur.execute(
                    "UPDATE mediarouter_jobs SET key = %s, job_id = %s, provider = %s, model = %s, state = %s, "
                    "idempotency_key = %s, created_at = %s, updated_at = %s, data = %s WHERE key = %s",
                    (*self._row(updated), found[0]),
                )
            except self._psycopg.Error as exc:
                conflict = self._conflict(exc, updated)
                if conflict is None:
                    raise
                raise conflict from None
            return updated

    def _one(self, sql: str, args: tuple[Any, ...]) -> JobRecord | None:
        with self._transaction() as cur:
            cur.execute(sql, args)
            found = cur.fetchone()
        return JobRecord.model_validate_json(found[0]) if found else None

    def get(self, key_or_job_id: str) -> JobRecord | None:
        return self._one(
            "SELECT data FROM mediarouter_jobs WHERE key = %s OR job_id = %s", (key_or_job_id, key_or_job_id)
        )

    def find_idempotent(self, idempotency_key: str) -> JobRecord | None:
        return self._one(
            f"SELECT data FROM mediarouter_jobs WHERE idempotency_key = %s "
            f"ORDER BY (state NOT IN {_KEY_FREE_SQL}) DESC, created_at DESC LIMIT 1",
            (idempotency_key,),
        )

    def find_saved(self, path: str | os.PathLike[str]) -> list[JobRecord]:
        """The rows whose saved `files` include `path`, oldest first: the rows whose JSON text holds the path's
        file name (`saved_needle`, found by `strpos` in the server: no row is parsed for it), then the exact
        check on those few (`saves`)."""
        with self._transaction() as cur:
            cur.execute(
                "SELECT data FROM mediarouter_jobs WHERE strpos(data, %s) > 0 ORDER BY created_at",
                (saved_needle(path),),
            )
            rows = cur.fetchall()
        found = (JobRecord.model_validate_json(r[0]) for r in rows)
        return [record for record in found if saves(record, path)]

    def list(self, *, states: list[RecordState] | None = None, limit: int | None = None) -> list[JobRecord]:
        sql = "SELECT data FROM mediarouter_jobs"
        args: list[Any] = []
        if states:
            sql += " WHERE state = ANY(%s)"
            args.append([s.value for s in states])
        sql += " ORDER BY created_at DESC"
        if limit:
            sql += " LIMIT %s"
            args.append(limit)
        with self._transaction() as cur:
            cur.execute(sql, args)
            rows = cur.fetchall()
        return [JobRecord.model_validate_json(r[0]) for r in rows]

    # -- leases ---------------------------------------------------------------------------------

    def try_lease(self, name: str, owner: str, ttl: float, *, now: float | None = None) -> Lease | None:
        moment = time.time() if now is None else now
        mine = (name, owner, os.getpid(), _HOST, moment + ttl)
        for _ in range(10):
            with self._transaction() as cur:
                cur.execute(
                    "INSERT INTO mediarouter_leases VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING", mine
                )
                if cur.rowcount == 1:
                    return None
                # Someone has it: lock their row, so of two processes taking over a stale lease one wins.
                cur.execute(
                    "SELECT name, owner, pid, host, expires_at FROM mediarouter_leases WHERE name = %s FOR UPDATE",
                    (name,),
                )
                found = cur.fetchone()
                if found is None:
                    continue  # released in between: try the insert again
                current = Lease(*found)
                if current.owner != owner and not _stale(current, moment):
                    return current
                cur.execute(
                    "UPDATE mediarouter_leases SET owner = %s, pid = %s, host = %s, expires_at = %s WHERE name = %s",
                    (owner, os.getpid(), _HOST, moment + ttl, name),
                )
                return None
        raise Conflict(f"lease {name!r} keeps changing hands; try again")

    def release_lease(self, name: str, owner: str) -> None:
        with self._transaction() as cur:
            cur.execute("DELETE FROM mediarouter_leases WHERE name = %s AND owner = %s", (name, owner))

    def close(self) -> None:
        with self._lock:
            self._close_quietly()
