"""A saved video is never downloaded twice nor called gone: a failed write of `downloaded` is written
again (and the caller told), and a resume takes every output whose journaled file is still whole."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import OutputGone
from mediarouter.jobs import Job, JobOutput, JobStatus
from mediarouter.journal import JobRecord, RecordState, SQLiteJobStore
from mediarouter.router import Router

from .fakes import VIDEO, ScriptedProvider
from .router_fakes import quiet_settings

SHA = hashlib.sha256(VIDEO).hexdigest()
OTHER = b"\x00\x00\x00\x18ftypmp42" + b"another output" * 50


class LockedOnDownloaded(SQLiteJobStore):
    """A journal whose first `failures` writes of `downloaded` fail (another process holds the database)."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def update(self, key: str, **fields: Any) -> JobRecord:
        if fields.get("state") is RecordState.DOWNLOADED and self.failures > 0:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().update(key, **fields)


class Expiring(ScriptedProvider):
    """Completes at once; its outputs can be downloaded `downloads` times, then they are gone (410)."""

    def __init__(self, downloads: int = 1, **kw: Any) -> None:
        super().__init__(polls=["completed"] * 5, **kw)
        self.left = downloads

    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        self.calls.append(f"download:{output.index}:{offset}")
        if self.left <= 0:
            return self._download(OutputGone("the output has expired", status_code=410), offset)
        self.left -= 1
        return self._download(VIDEO if output.index == 0 else OTHER, offset)


def router(clock: FakeClock, journal: SQLiteJobStore, provider: ScriptedProvider) -> Router:
    return Router(providers={"fake": provider}, journal=journal, settings=quiet_settings(), clock=clock)


def downloads(provider: ScriptedProvider) -> list[str]:
    return [c for c in provider.calls if c.startswith("download")]


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[LockedOnDownloaded]:
    store = LockedOnDownloaded(tmp_path / "jobs.sqlite3", failures=1)
    yield store
    store.close()


async def test_a_failed_downloaded_write_is_written_again_and_a_rerun_does_not_download_or_call_it_gone(
    clock: FakeClock, locked: LockedOnDownloaded, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    provider = Expiring(downloads=1)  # a second download would find the output expired
    target = tmp_path / "o.mp4"
    async with router(clock, locked, provider) as host:
        with caplog.at_level(logging.WARNING, logger="mediarouter"):
            first = await host.generate("a dog", model="fake/video-1", duration=8, output=target, idempotency_key="k")
        assert first.journal_error is not None and "could not record" in first.journal_error
        assert any("downloaded to" in r.getMessage() and "journal" in r.getMessage() for r in caplog.records)
        again = await host.generate("a dog", model="fake/video-1", duration=8, output=target, idempotency_key="k")
    assert downloads(provider) == ["download:0:0"]  # nothing downloaded twice, nothing found gone
    assert provider.calls.count("submit") == 1
    assert again.files[0].path == target and again.files[0].sha256 == SHA and target.read_bytes() == VIDEO
    record = locked.get("job-1")
    assert record is not None and record.state is RecordState.DOWNLOADED
    assert record.files == [{"path": str(target), "size": len(VIDEO), "sha256": SHA, "index": 0}]


async def test_a_downloaded_write_still_owed_lands_when_the_router_closes(clock: FakeClock, tmp_path: Path) -> None:
    # Fails when awaited and again when retried before the job lease's release; lands at close.
    journal = LockedOnDownloaded(tmp_path / "jobs.sqlite3", failures=2)
    async with router(clock, journal, Expiring()) as host:
        await host.generate("a dog", model="fake/video-1", duration=8, output=tmp_path / "o.mp4")
        assert journal.get("job-1").state is RecordState.COMPLETED  # type: ignore[union-attr]
    record = journal.get("job-1")
    assert record is not None and record.state is RecordState.DOWNLOADED and record.files[0]["sha256"] == SHA
    journal.close()


async def test_a_downloaded_write_that_never_lands_is_reported_at_close(
    clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = LockedOnDownloaded(tmp_path / "jobs.sqlite3", failures=100)
    target = tmp_path / "o.mp4"
    with caplog.at_level(logging.WARNING):
        async with router(clock, journal, Expiring()) as host:
            result = await host.generate("a dog", model="fake/video-1", duration=8, output=target)
    assert result.journal_error is not None and target.read_bytes() == VIDEO
    errors = [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and "never recorded" in r.getMessage()
    ]
    assert len(errors) == 1 and "job-1" in errors[0] and str(target) in errors[0]
    journal.close()


# -- resumes take what is saved ---------------------------------------------------------------------


def _two_outputs_row(journal: SQLiteJobStore, target: Path, state: RecordState, files: list[dict[str, Any]]) -> None:
    journal.add(
        JobRecord(
            key="job-2",
            job_id="job-2",
            provider="fake",
            model="video-1",
            state=state,
            target=str(target),
            outputs=[{"index": 0, "url": "https://cdn.fake.test/0"}, {"index": 1, "url": "https://cdn.fake.test/1"}],
            files=files,
        )
    )


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SQLiteJobStore]:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    yield store
    store.close()


async def test_a_resume_downloads_only_the_outputs_not_saved_yet(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    """Output 0 was saved before output 1's download broke: the row lists it, so only output 1 is fetched."""
    target = tmp_path / "o.mp4"
    target.write_bytes(VIDEO)
    saved = {"path": str(target), "size": len(VIDEO), "sha256": SHA, "index": 0}
    _two_outputs_row(journal, target, RecordState.INTERRUPTED, [saved])
    provider = Expiring(downloads=5, outputs=2)
    async with router(clock, journal, provider) as host:
        result = await host.resume("job-2")
    assert downloads(provider) == ["download:1:0"]
    assert [(f.index, f.path, f.sha256) for f in result.files] == [
        (0, target, SHA),
        (1, tmp_path / "o-1.mp4", hashlib.sha256(OTHER).hexdigest()),
    ]
    record = journal.get("job-2")
    assert record is not None and record.state is RecordState.DOWNLOADED and len(record.files) == 2


async def test_a_saved_file_that_changed_on_disk_is_downloaded_again(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    target = tmp_path / "o.mp4"
    target.write_bytes(VIDEO[:-1] + b"!")  # the same size, other bytes: not the journaled video
    _two_outputs_row(
        journal, target, RecordState.INTERRUPTED, [{"path": str(target), "size": len(VIDEO), "sha256": SHA}]
    )
    provider = Expiring(downloads=5, outputs=2)
    async with router(clock, journal, provider) as host:
        await host.resume("job-2")
    assert downloads(provider) == ["download:0:0", "download:1:0"]
    assert target.read_bytes() == VIDEO


async def test_a_resume_of_a_downloaded_row_to_another_path_copies_the_saved_files_and_pays_nothing(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    """The outputs upstream have expired, the files are saved: nothing is downloaded, and the row is not
    marked gone."""
    first, other = tmp_path / "o.mp4", tmp_path / "o-1.mp4"
    first.write_bytes(VIDEO)
    other.write_bytes(OTHER)
    files = [
        {"path": str(first), "size": len(VIDEO), "sha256": SHA, "index": 0},
        {"path": str(other), "size": len(OTHER), "sha256": hashlib.sha256(OTHER).hexdigest(), "index": 1},
    ]
    _two_outputs_row(journal, first, RecordState.DOWNLOADED, files)
    provider = Expiring(downloads=0, outputs=2)
    async with router(clock, journal, provider) as host:
        same = await host.resume("job-2", output=first)
        copied = await host.resume("job-2", output=tmp_path / "copy" / "c.mp4")
    assert downloads(provider) == []
    assert [f.path for f in same.files] == [first, other]
    assert [f.path for f in copied.files] == [tmp_path / "copy" / "c.mp4", tmp_path / "copy" / "c-1.mp4"]
    assert (tmp_path / "copy" / "c.mp4").read_bytes() == VIDEO and (tmp_path / "copy" / "c-1.mp4").read_bytes() == OTHER
    record = journal.get("job-2")
    assert record is not None and record.state is RecordState.DOWNLOADED
