"""A delivery racing the engine for one job's row: the row only ever moves forward.

The receiver reads the row, then writes it; the engine (or a DBOS poll step) may write the same row in
between. `RacingStore` (helpers) makes that interleaving happen on every read, so the rule is tested without timing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mediarouter.journal import JobRecord, JobStore, MemoryJobStore, RecordState, SQLiteJobStore
from mediarouter.webhooks import Delivery, record_delivery

from .helpers import RacingStore, envelope


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> JobStore:
    journal: JobStore
    if request.param == "postgres":
        from mediarouter.journal_postgres import PostgresJobStore

        journal = PostgresJobStore(request.getfixturevalue("postgres_url"))
        request.addfinalizer(journal.close)
    else:
        journal = MemoryJobStore() if request.param == "memory" else SQLiteJobStore(tmp_path / "jobs.sqlite3")
    journal.add(
        JobRecord(key="gen-vid-1", job_id="gen-vid-1", provider="openrouter", model="m", state=RecordState.IN_PROGRESS)
    )
    return journal


def delivery(status: str, **data: Any) -> Delivery:
    return Delivery.from_envelope(envelope("gen-vid-1", status, **data))


def test_a_completed_delivery_racing_the_download_never_moves_the_row_back_from_downloaded(store: JobStore) -> None:
    files = [{"path": "/videos/a.mp4", "size": 3, "sha256": "x"}]
    racing = RacingStore(store, state=RecordState.DOWNLOADED, files=files)
    recorded = record_delivery(racing, delivery("completed", unsigned_urls=["https://x/c?index=0"]))  # type: ignore[arg-type]
    row = store.get("gen-vid-1")
    assert recorded is False
    assert row is not None and row.state is RecordState.DOWNLOADED and row.files == files


def test_a_failed_delivery_racing_a_poll_that_saw_completed_never_marks_the_paid_video_failed(
    store: JobStore,
) -> None:
    outputs = [{"index": 0, "url": "https://x/c?index=0"}]
    racing = RacingStore(store, state=RecordState.COMPLETED, outputs=outputs)
    recorded = record_delivery(racing, delivery("failed", error="late"))  # type: ignore[arg-type]
    row = store.get("gen-vid-1")
    assert recorded is False
    assert row is not None and row.state is RecordState.COMPLETED and row.outputs == outputs and row.error is None


def test_a_delivery_with_no_writer_in_between_still_records(store: JobStore) -> None:
    assert record_delivery(store, delivery("completed")) is True
    row = store.get("gen-vid-1")
    assert row is not None and row.state is RecordState.COMPLETED
