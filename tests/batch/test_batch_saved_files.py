"""A rerun counts a line "done in an earlier run" only while its file is still the video its journal row
recorded (size and sha256); a missing, changed or truncated file is finished again by resuming the line's
journaled job, never by a second submit. And two batches naming one output file never write one paid
video over the other."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import Download, Job, JobOutput, JobStatus
from mediarouter.batch import BatchReport, BatchUpdate, read_results, run_batch
from mediarouter.journal import SQLiteJobStore

from ..core.fakes import VIDEO
from ..core.router_fakes import Fleet, FleetProvider


def video_of(job_id: str) -> bytes:
    """Each job's video is its own bytes, so a file says whose it is."""
    return VIDEO + job_id.encode() * 20


class OwnVideos(FleetProvider):
    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        return self._own(job.id)

    @asynccontextmanager
    async def _own(self, job_id: str) -> AsyncIterator[Download]:
        body = video_of(job_id)

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        yield Download(chunks=chunks(), content_type="video/mp4", content_length=len(body))


@pytest.fixture
def fleet(clock: FakeClock) -> Fleet:
    fleet = Fleet(clock)
    fleet.providers["p1"] = OwnVideos("p1", clock=clock, log=fleet.log)
    return fleet


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SQLiteJobStore]:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    yield store
    store.close()


def line(prompt: str, output: str | None = None) -> str:
    obj: dict[str, Any] = {"prompt": prompt, "model": "p1/m1", "duration": 4}
    if output is not None:
        obj["output"] = output
    return json.dumps(obj)


async def batch(fleet: Fleet, journal: SQLiteJobStore, out: Path, *lines: str) -> tuple[BatchReport, list[str]]:
    """One run (a fresh router, as a new process would have); with what was said of each line."""
    said: list[str] = []

    def listen(update: BatchUpdate) -> None:
        if update.kind in ("skipped", "finished") and update.result is not None:
            said.append(f"{update.kind} {update.result.file}")

    async with fleet.router(journal=journal) as router:
        report = await run_batch(router, list(lines), output_dir=out, listeners=[listen])
    return report, said


def last_record(out: Path) -> dict[str, Any]:
    [record] = read_results(out / "results.jsonl").values()
    return record


# -- two batches, one output name --------------------------------------------------------------------


async def test_a_second_batch_naming_the_same_output_keeps_the_first_batchs_video(
    fleet: Fleet, journal: SQLiteJobStore, tmp_path: Path
) -> None:
    out = tmp_path / "videos"
    a, b = line("first dog", "dog.mp4"), line("second dog", "dog.mp4")
    first, _ = await batch(fleet, journal, out, a)
    second, _ = await batch(fleet, journal, out, b)
    job_a, job_b = first.results[0].job_id, second.results[0].job_id
    assert job_a and job_b and job_a != job_b
    assert (out / "dog.mp4").read_bytes() == video_of(job_a)  # a's paid video is still there
    beside = out / f"dog.{job_b}.mp4"
    assert second.results[0].file == str(beside) and beside.read_bytes() == video_of(job_b)
    records = read_results(out / "results.jsonl")
    assert {r["file"] for r in records.values()} == {str(out / "dog.mp4"), str(beside)}

    _, said_a = await batch(fleet, journal, out, a)
    _, said_b = await batch(fleet, journal, out, b)
    assert said_a == [f"skipped {out / 'dog.mp4'}"] and said_b == [f"skipped {beside}"]
    assert (out / "dog.mp4").read_bytes() == video_of(job_a) and beside.read_bytes() == video_of(job_b)
    assert len(fleet.submits()) == 2


# -- a done line's file must still be its video ----------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "truncated", "another line's video", "missing"])
async def test_a_done_line_whose_file_is_not_its_video_any_more_is_downloaded_again_not_submitted(
    fleet: Fleet, journal: SQLiteJobStore, tmp_path: Path, damage: str
) -> None:
    out = tmp_path / "videos"
    lines = [line("a cat"), line("a dog")]
    first, _ = await batch(fleet, journal, out, *lines)
    assert first.ok
    cat, dog = (r for r in sorted(first.results, key=lambda r: r.line))
    assert cat.file and dog.file and cat.job_id and dog.job_id
    target = Path(dog.file)
    if damage == "garbage":
        target.write_bytes(b"garbage\n")
    elif damage == "truncated":
        target.write_bytes(video_of(dog.job_id)[:1000])
    elif damage == "another line's video":
        target.write_bytes(Path(cat.file).read_bytes())
    else:
        target.unlink()

    rerun, said = await batch(fleet, journal, out, *lines)
    assert rerun.ok and rerun.totals.skipped == 1
    assert sorted(said) == sorted([f"skipped {cat.file}", f"finished {dog.file}"])
    assert target.read_bytes() == video_of(dog.job_id)
    assert len(fleet.submits()) == 2  # resumed from the journal: nothing submitted twice
    records = read_results(out / "results.jsonl")
    assert records[dog.idempotency_key or ""]["file"] == dog.file
    assert records[dog.idempotency_key or ""]["job_id"] == dog.job_id

    third, _ = await batch(fleet, journal, out, *lines)
    assert third.totals.skipped == 2 and len(fleet.submits()) == 2


async def test_a_done_line_unknown_to_the_journal_is_still_skipped_while_its_file_exists(
    fleet: Fleet, tmp_path: Path
) -> None:
    """Another journal (or none of its rows): the file cannot be checked, and running the line would
    submit (and pay) again, so the results file's word and the file's existence still count."""
    out = tmp_path / "videos"
    first_journal = SQLiteJobStore(tmp_path / "first.sqlite3")
    await batch(fleet, first_journal, out, line("a cat"))
    first_journal.close()
    other = SQLiteJobStore(tmp_path / "other.sqlite3")
    try:
        rerun, said = await batch(fleet, other, out, line("a cat"))
    finally:
        other.close()
    assert rerun.totals.skipped == 1 and len(fleet.submits()) == 1
    assert said == [f"skipped {last_record(out)['file']}"]
