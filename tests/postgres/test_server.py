"""The test PostgreSQL server itself: it starts, takes connections from a client process, and gives
each test its own database."""

from __future__ import annotations

import subprocess

from tests.postgres_server import USER, PostgresServer


def _psql(server: PostgresServer, url: str, sql: str) -> str:
    done = subprocess.run(
        [str(server.bin_dir / "psql"), url, "-At", "-c", sql], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def test_each_test_gets_its_own_empty_database(postgres_server: PostgresServer, postgres_url: str) -> None:
    other = postgres_server.create_database()
    assert other != postgres_url
    _psql(postgres_server, postgres_url, "CREATE TABLE marker (n int)")
    assert _psql(postgres_server, other, "SELECT count(*) FROM pg_tables WHERE tablename = 'marker'") == "0"
    assert _psql(postgres_server, postgres_url, "SELECT current_user") == USER
