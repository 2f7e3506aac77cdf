"""Fixtures of the durable tests: the served emulator (for the scale-out end to end) and in-process DBOS
settings on a SQLite system database (also imported by the DBOS batch tests in tests/batch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediarouter.durable import DurableSettings

from ..e2e.conftest import emulator

__all__ = ["emulator", "settings"]


@pytest.fixture
def settings(tmp_path: Path) -> DurableSettings:
    """One worker (`test-worker`) on a fresh SQLite DBOS database, polling its queues fast."""
    return DurableSettings(
        database_url=f"sqlite:///{tmp_path / 'dbos.sqlite3'}",
        executor_id="test-worker",
        queue_poll=0.05,
        notification_poll=0.05,
    )
