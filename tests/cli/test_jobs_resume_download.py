"""`mediarouter jobs resume` / `jobs download`: clear usage errors, `-q` as `generate -q`, and a download
that refuses an unfinished job instead of quietly polling it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mediarouter.journal import JobRecord, RecordState, SQLiteJobStore
from tests.core.fakes import VIDEO

from .jobs_fixtures import Scripted, journal, run, scripted

__all__ = ["journal", "scripted"]  # fixtures, used by name


def job_row(job_id: str, state: RecordState, target: Path, **fields: object) -> JobRecord:
    return JobRecord(
        key=job_id,
        job_id=job_id,
        provider="fake",
        model="video-1",
        state=state,
        target=str(target),
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        **fields,
    )


# -- usage --------------------------------------------------------------------------------------------------


def test_a_job_id_with_all_is_refused_as_a_combination(journal: SQLiteJobStore, scripted: Scripted) -> None:
    result = run("jobs", "resume", "job-1", "--all")
    assert result.exit_code == 2
    assert "JOB_ID and --all cannot be combined" in result.stderr
    assert "give a JOB_ID or --all" not in result.stderr
    assert scripted.calls == []


def test_neither_a_job_id_nor_all_asks_for_one() -> None:
    result = run("jobs", "resume")
    assert result.exit_code == 2 and "give a JOB_ID or --all" in result.stderr


# -- -q -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["resume", "download"])
def test_quiet_prints_nothing_on_success_as_generate_does(
    journal: SQLiteJobStore, scripted: Scripted, tmp_path: Path, command: str
) -> None:
    scripted.poll_script = ["completed"]
    journal.add(job_row("job-1", RecordState.COMPLETED, tmp_path / "o.mp4"))
    quiet = run("jobs", command, "job-1", "-q")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout == "" and quiet.stderr == ""
    assert (tmp_path / "o.mp4").read_bytes() == VIDEO


@pytest.mark.parametrize("command", ["resume", "download"])
def test_without_quiet_the_result_line_is_printed_and_json_survives_quiet(
    journal: SQLiteJobStore, scripted: Scripted, tmp_path: Path, command: str
) -> None:
    scripted.poll_script = ["completed", "completed"]
    journal.add(job_row("job-1", RecordState.COMPLETED, tmp_path / "o.mp4"))
    loud = run("jobs", command, "job-1", "-o", str(tmp_path / "a.mp4"))
    assert loud.exit_code == 0, loud.output
    assert loud.stdout.strip() == f"{tmp_path / 'a.mp4'} ({len(VIDEO)} bytes), job job-1"
    as_json = run("jobs", command, "job-1", "-o", str(tmp_path / "b.mp4"), "-q", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["job_id"] == "job-1"


def test_quiet_resume_all_still_reports_the_rows_that_need_the_user(
    journal: SQLiteJobStore, scripted: Scripted, tmp_path: Path
) -> None:
    journal.add(JobRecord(key="local-1", provider="fake", model="video-1", state=RecordState.UNKNOWN))
    result = run("jobs", "resume", "--all", "-q")
    assert result.exit_code == 0 and result.stderr == ""
    assert "unknown" in result.stdout and "jobs adopt local-1 JOB_ID" in result.stdout


# -- download of an unfinished job ------------------------------------------------------------------------


@pytest.mark.parametrize("state", [RecordState.PENDING, RecordState.IN_PROGRESS, RecordState.INTERRUPTED])
def test_download_refuses_a_job_that_has_not_finished_and_points_to_resume(
    journal: SQLiteJobStore, scripted: Scripted, tmp_path: Path, state: RecordState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIAROUTER_TIMEOUT", "1")  # a download that polls instead ends soon, and fails here
    journal.add(job_row("job 2", state, tmp_path / "o.mp4"))
    result = run("jobs", "download", "job 2")
    assert result.exit_code == 2, result.output
    assert f"is {state.value}" in result.stderr and "nothing was sent" in result.stderr
    assert "mediarouter jobs resume 'job 2'" in result.stderr
    assert scripted.calls == []  # not polled, quietly or otherwise
    assert journal.get("job 2").state is state  # type: ignore[union-attr]


def test_download_continues_an_interrupted_download_of_a_finished_job(
    journal: SQLiteJobStore, scripted: Scripted, tmp_path: Path
) -> None:
    """What a failed download leaves (`interrupted`, with the outputs the completed poll journaled): the
    command the OutputNotSaved hint prints must work."""
    outputs = [{"index": 0, "url": "https://fake.test/job-3/0"}]
    journal.add(job_row("job-3", RecordState.INTERRUPTED, tmp_path / "o.mp4", outputs=outputs))
    result = run("jobs", "download", "job-3", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o.mp4").read_bytes() == VIDEO
    assert "poll" not in scripted.calls  # the journaled outputs were enough


def test_download_help_says_what_it_takes() -> None:
    text = run("jobs", "download", "--help").stdout
    assert "completed job" in text and "jobs resume" in text and "--poll-interval" not in text
