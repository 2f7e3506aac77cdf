"""A paid video the disk will not take: a full disk mid-download, or no directory that can hold the
finished file. The bytes are kept in their part file (never deleted) and the error says the job is
paid, where the bytes are and the command that continues it."""

from __future__ import annotations

import errno
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import OutputNotSaved, VideoRequest, downloads
from mediarouter.engine import JobEngine
from mediarouter.jobs import Job, JobOutput, JobStatus
from mediarouter.journal import RecordState, SQLiteJobStore
from mediarouter.provider import Download

from .fakes import ScriptedProvider
from .test_downloads import BIG, Body, _download_mode, pieces

__all__ = ["_download_mode"]  # both download paths: threaded (blocking body) and on the event loop

REQ = VideoRequest(prompt="a dog", duration=8)


class BigProvider(ScriptedProvider):
    """Serves BIG from the requested offset (a 206), in the mode the test runs in."""

    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        self.calls.append(f"download:{output.index}:{offset}")
        return self._from(offset)

    @asynccontextmanager
    async def _from(self, offset: int) -> AsyncIterator[Download]:
        yield Body(pieces(BIG[offset:])).download(resumed_from=offset)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SQLiteJobStore]:
    store = SQLiteJobStore(tmp_path / "journal" / "jobs.sqlite3")
    yield store
    store.close()


def _part(target: Path) -> Path:
    return target.with_name(f".{target.name}.job-1-0.part")


async def test_a_full_disk_mid_download_keeps_the_bytes_and_names_the_command_that_continues(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.writev
    calls = 0

    def disk_fills(fd: int, buffers: list[bytes]) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            os.write(fd, buffers[0][:1000])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, buffers)

    monkeypatch.setattr(downloads, "_writev", disk_fills)
    target = tmp_path / "out" / "o.mp4"
    provider = BigProvider(polls=["completed", "completed"])
    engine = JobEngine(clock=clock, poll_interval=10.0, journal=journal)
    with pytest.raises(OutputNotSaved) as info:
        await engine.run(provider, "video-1", REQ, output=target)
    error = info.value
    kept = _part(target)
    assert error.job_id == "job-1" and "paid" in error.message and "No space left" in error.message
    assert str(kept) in error.message and error.details["part_file"] == str(kept)
    assert error.hint is not None and f"mediarouter jobs download job-1 -o {target}" in error.hint
    on_disk = kept.read_bytes()
    assert len(on_disk) > downloads.WRITE_SIZE and BIG.startswith(on_disk)  # kept, not deleted
    assert not target.exists()
    record = journal.get("job-1")
    assert record is not None and record.state is RecordState.INTERRUPTED and str(kept) in (record.error or "")
    # Space is free again: the same target continues from the kept bytes, paying nothing twice.
    monkeypatch.setattr(downloads, "_writev", real)
    result = await engine.complete(provider, Job(id="job-1", provider="fake", model="video-1"), output=target)
    assert provider.calls.count("submit") == 1
    assert [c for c in provider.calls if c.startswith("download")][-1] == f"download:0:{len(on_disk)}"
    assert target.read_bytes() == BIG and result.files[0].path == target and not kept.exists()


async def test_a_finished_video_that_can_be_saved_nowhere_stays_whole_in_its_part_file(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    target = tmp_path / "o.mp4"
    target.mkdir()  # the target became a directory: the rename fails
    (tmp_path / "journal" / "outputs").write_bytes(b"")  # and outputs/ cannot be made: the rescue fails too
    provider = BigProvider(polls=["completed"])
    with pytest.raises(OutputNotSaved) as info:
        await JobEngine(clock=clock, poll_interval=10.0, journal=journal).run(provider, "video-1", REQ, output=target)
    error = info.value
    kept = _part(target)
    assert kept.read_bytes() == BIG  # the whole paid video, never deleted
    assert error.job_id == "job-1" and "paid" in error.message and str(kept) in error.message
    assert error.details["part_file"] == str(kept)
    assert error.hint is not None and "mediarouter jobs download job-1 -o" in error.hint
    record = journal.get("job-1")
    assert record is not None and record.state is RecordState.INTERRUPTED and str(kept) in (record.error or "")


async def test_a_part_file_removed_with_its_directory_is_not_said_to_hold_the_video(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The output directory deleted while the video downloaded (its part file with it): the error says no copy
    is kept here and how to download it again, never that the video is in a file that is gone."""
    import shutil

    target = tmp_path / "sub" / "o.mp4"
    free = JobEngine._free_target

    async def directory_removed(self: JobEngine, run: Any, job: Job, place: Path) -> Path:
        shutil.rmtree(place.parent)
        return await free(self, run, job, place)

    monkeypatch.setattr(JobEngine, "_free_target", directory_removed)
    provider = BigProvider(polls=["completed"])
    with pytest.raises(OutputNotSaved) as info:
        await JobEngine(clock=clock, poll_interval=10.0, journal=journal).run(provider, "video-1", REQ, output=target)
    error = info.value
    assert "removed while it downloaded" in error.message and "no copy" in error.message and "paid" in error.message
    assert "kept in" not in error.message and "outputs directory" not in error.message
    assert error.details["part_file"] is None
    assert error.hint is not None and f"mediarouter jobs download job-1 -o {target}" in error.hint
    record = journal.get("job-1")
    assert record is not None and record.files == []  # no entry naming a file that does not exist
    assert "removed while it downloaded" in (record.error or "")


async def test_a_video_saved_elsewhere_after_a_full_disk_frees_the_part_file_left_there(
    clock: FakeClock,
    journal: SQLiteJobStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`jobs download JOB -o OTHER` after a full disk: once the video is whole and journaled at OTHER, the part
    file the first download left on the full disk is removed (it held its space), and the log says so."""
    import logging

    real = os.writev

    def disk_full(fd: int, buffers: list[bytes]) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(downloads, "_writev", disk_full)
    target = tmp_path / "full" / "o.mp4"
    provider = BigProvider(polls=["completed", "completed"])
    engine = JobEngine(clock=clock, poll_interval=10.0, journal=journal)
    with pytest.raises(OutputNotSaved):
        await engine.run(provider, "video-1", REQ, output=target)
    assert _part(target).exists()

    monkeypatch.setattr(downloads, "_writev", real)
    other = tmp_path / "other" / "o.mp4"
    with caplog.at_level(logging.INFO, logger="mediarouter"):
        result = await engine.complete(provider, Job(id="job-1", provider="fake", model="video-1"), output=other)
    assert result.files[0].path == other and other.read_bytes() == BIG
    assert not _part(target).exists()
    assert any(str(_part(target)) in r.getMessage() and "removed" in r.getMessage() for r in caplog.records)
    record = journal.get("job-1")
    assert record is not None and record.state is RecordState.DOWNLOADED


async def test_a_resume_to_the_rows_own_target_keeps_using_its_part_file(
    clock: FakeClock, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    """Nothing else is removed: a download to the row's own target, or of another job, leaves part files alone."""
    target = tmp_path / "o.mp4"
    stranger = tmp_path / ".o.mp4.job-9-0.part"
    stranger.write_bytes(b"another job's bytes")
    provider = BigProvider(polls=["completed"])
    await JobEngine(clock=clock, poll_interval=10.0, journal=journal).run(provider, "video-1", REQ, output=target)
    assert target.read_bytes() == BIG and stranger.read_bytes() == b"another job's bytes"
