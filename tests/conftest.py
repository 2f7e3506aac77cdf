from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from tests.postgres_server import PostgresServer, postgres_or_skip


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _isolated_user_files(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test reads or writes the developer's own journal, config or keys file."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("MEDIAROUTER_JOURNAL", str(home / "jobs.sqlite3"))
    config = home / "config.toml"
    config.touch(exist_ok=True)
    monkeypatch.setenv("MEDIAROUTER_CONFIG", str(config))
    monkeypatch.setenv("MEDIAROUTER_KEYS", str(home / "keys.json"))
    # Outputs rescued beside a journal with no directory of its own (in memory, PostgreSQL) go to the user
    # data directory (recovery.outputs_dir): a temporary one here.
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    yield home


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server per test process (xdist worker), started on first use."""
    with postgres_or_skip() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server: `postgresql://mediarouter@127.0.0.1:PORT/t_…`."""
    return postgres_server.create_database()
