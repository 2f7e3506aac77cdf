from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock


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
    yield home
