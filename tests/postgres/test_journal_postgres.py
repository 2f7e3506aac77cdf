"""The PostgreSQL journal against a real server: its schema and migrations, claims and leases between
store instances (as between workers), the CLI reading it, and a password that never shows.

The journal's behaviour tests run against this store too (tests/core/test_journal*.py)."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from mediarouter.cli import cli
from mediarouter.errors import ConfigurationError, Conflict
from mediarouter.journal import JobRecord, RecordState, open_store, outputs_dir
from mediarouter.journal_postgres import PG_SCHEMA_VERSION, PostgresJobStore, redact_url
from tests.postgres_server import PostgresServer


def _sql(url: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


def test_an_empty_database_is_migrated_once_by_workers_starting_together(postgres_url: str) -> None:
    stores: list[PostgresJobStore] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait(10)
        try:
            stores.append(PostgresJobStore(postgres_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(stores) == 4
    assert {s.schema_version for s in stores} == {PG_SCHEMA_VERSION} == {1}
    assert _sql(postgres_url, "SELECT version FROM mediarouter_schema") == [(1,)]
    tables = _sql(postgres_url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'mediarouter_%' ORDER BY 1")
    assert tables == [("mediarouter_jobs",), ("mediarouter_leases",), ("mediarouter_schema",)]
    for store in stores:
        store.close()


def test_a_database_from_a_newer_version_is_refused_and_left_alone(postgres_url: str) -> None:
    PostgresJobStore(postgres_url).close()
    _sql(postgres_url, "UPDATE mediarouter_schema SET version = 99")
    with pytest.raises(ConfigurationError, match="schema version 99, newer than this mediarouter knows") as info:
        open_store(postgres_url)
    assert info.value.hint is not None and "upgrade mediarouter" in info.value.hint
    assert _sql(postgres_url, "SELECT version FROM mediarouter_schema") == [(99,)]


def test_threads_of_separate_stores_claiming_one_key_get_one_winner(postgres_url: str) -> None:
    stores = [PostgresJobStore(postgres_url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    won: list[bool] = []

    def claim(i: int) -> None:
        record = JobRecord(key=f"local-{i}", provider="fake", model="m", idempotency_key="order-1")
        barrier.wait(10)
        won.append(stores[i].claim(record) is None)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(won) == [False] * 5 + [True]
    assert len(stores[0].list()) == 1


def test_a_lease_excludes_another_store_instance_until_released(postgres_url: str) -> None:
    a, b = PostgresJobStore(postgres_url), PostgresJobStore(postgres_url)
    assert a.try_lease("job:1", "worker-a", 60) is None
    holder = b.try_lease("job:1", "worker-b", 60)
    assert holder is not None and holder.owner == "worker-a"
    a.release_lease("job:1", "worker-a")
    assert b.try_lease("job:1", "worker-b", 60) is None
    assert a.try_lease("job:1", "worker-a", 60) is not None


def test_a_row_is_rekeyed_when_its_job_id_arrives_and_job_ids_stay_unique(postgres_url: str) -> None:
    store = PostgresJobStore(postgres_url)
    store.claim(JobRecord(key="local-1", provider="fake", model="m", idempotency_key="k"))
    store.update("local-1", job_id="job-1", state=RecordState.PENDING)
    assert store.get("local-1") is None and store.get("job-1").key == "job-1"  # type: ignore[union-attr]
    assert _sql(postgres_url, "SELECT key, job_id, state FROM mediarouter_jobs") == [("job-1", "job-1", "pending")]
    with pytest.raises(Conflict, match="job job-1 is already in the journal"):
        store.add(JobRecord(key="job-1b", job_id="job-1", provider="fake", model="m"))


def test_text_the_server_may_send_is_kept_verbatim(postgres_url: str) -> None:
    store = PostgresJobStore(postgres_url)
    store.add(JobRecord(key="job-1", job_id="job-1", provider="fake", model="m", state=RecordState.PENDING))
    store.update("job-1", state=RecordState.FAILED, error="bad\x00byte \u2603 'quote'")
    assert store.get("job-1").error == "bad\x00byte \u2603 'quote'"  # type: ignore[union-attr]


def test_the_store_reconnects_after_its_connection_is_dropped(postgres_url: str) -> None:
    store = PostgresJobStore(postgres_url)
    store.add(JobRecord(key="job-1", job_id="job-1", provider="fake", model="m"))
    _sql(postgres_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mediarouter'")
    with pytest.raises(psycopg.OperationalError):
        store.get("job-1")  # the failed call is not retried (a write's outcome would be unknown)
    assert store.get("job-1") is not None  # the next one reconnects


def test_tables_can_live_in_another_schema(postgres_url: str) -> None:
    _sql(postgres_url, "CREATE SCHEMA tenant_a")
    store = PostgresJobStore(postgres_url + "?options=-csearch_path%3Dtenant_a")
    store.add(JobRecord(key="job-1", job_id="job-1", provider="fake", model="m"))
    assert _sql(postgres_url, "SELECT count(*) FROM tenant_a.mediarouter_jobs") == [(1,)]
    assert _sql(postgres_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_jobs_list_and_info_see_the_jobs_another_worker_wrote(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = PostgresJobStore(postgres_url)
    worker.add(JobRecord(key="job-w1", job_id="job-w1", provider="fake", model="video-1", state=RecordState.PENDING))
    worker.add(JobRecord(key="local-w2", provider="fake", model="video-2", state=RecordState.UNKNOWN))
    monkeypatch.setenv("MEDIAROUTER_JOURNAL", postgres_url.replace("postgresql://", "postgres://"))
    runner = CliRunner()
    listed = runner.invoke(cli, ["jobs", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert {(r["key"], r["state"]) for r in json.loads(listed.output)} == {
        ("job-w1", "pending"),
        ("local-w2", "unknown"),
    }
    text = runner.invoke(cli, ["jobs", "list"]).output
    assert "job-w1  pending  fake/video-1" in text and "MAY BE BILLED" in text
    shown = runner.invoke(cli, ["jobs", "show", "job-w1"])
    assert shown.exit_code == 0 and "resume: mediarouter jobs resume job-w1" in shown.output
    info = runner.invoke(cli, ["jobs", "info"])
    assert info.exit_code == 0
    assert info.output.splitlines() == [
        f"journal: {postgres_url.replace('postgresql://', 'postgres://')} (postgresql)",
        f"schema version: 1 (this mediarouter writes {PG_SCHEMA_VERSION})",
    ]


def test_jobs_info_shows_the_sqlite_schema_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAROUTER_JOURNAL", str(tmp_path / "j.sqlite3"))
    info = CliRunner().invoke(cli, ["jobs", "info", "--json"])
    assert info.exit_code == 0
    assert json.loads(info.output) == {
        "kind": "sqlite",
        "location": str(tmp_path / "j.sqlite3"),
        "schema_version": 1,
        "current": 1,
    }


def test_a_password_is_in_no_error_or_repr(postgres_server: PostgresServer, postgres_url: str) -> None:
    secret = "hunter2-s3cr%21t"
    unreachable = f"postgresql://mediarouter:{secret}@127.0.0.1:1/db?password=also-{secret}"
    with pytest.raises(ConfigurationError) as info:
        open_store(unreachable)
    text = str(info.value) + repr(info.value) + str(info.value.hint)
    assert "cannot use postgresql://mediarouter:***@127.0.0.1:1/db?password=***" in text
    assert "hunter2" not in text and "s3cr!t" not in text
    # The driver may quote the URL back (a malformed escape): scrubbed there too.
    with pytest.raises(ConfigurationError) as bad:
        open_store("postgresql://mediarouter:hunter2%zz@127.0.0.1:1/db")
    assert "hunter2" not in str(bad.value)
    # A reachable server (trust auth ignores the password): the store's repr and url mask it.
    with_password = postgres_url.replace("mediarouter@", f"mediarouter:{secret}@")
    store = PostgresJobStore(with_password)
    assert "hunter2" not in repr(store) + store.url + str(vars(store))
    assert redact_url("postgres://u@h/db") == "postgres://u@h/db"


def test_the_outputs_of_a_postgres_journal_go_to_the_user_data_dir(postgres_url: str) -> None:
    from mediarouter.journal import default_journal_path

    assert outputs_dir(PostgresJobStore(postgres_url)) == default_journal_path().parent / "outputs"


def test_without_psycopg_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(ConfigurationError) as info:
        open_store("postgresql://u:pw@127.0.0.1:1/db")
    assert "needs psycopg" in str(info.value) and "pip install 'mediarouter[postgres]'" in str(info.value.hint)
