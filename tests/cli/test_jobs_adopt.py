"""`mediarouter jobs adopt`: the job id is checked with the provider before a maybe-billed row takes it,
and a wrong id that got through (`--no-check`) can be replaced, never leaving the row stuck."""

from __future__ import annotations

from pathlib import Path

from mediarouter import InvalidRequest, JobState, JobStatus, NotFound, ProviderUnavailable
from mediarouter.journal import RecordState, SQLiteJobStore

from .jobs_fixtures import VEO, Emulated, Scripted, emulated, journal, run, scripted, unknown_row

__all__ = ["emulated", "journal", "scripted"]  # fixtures, used by name

TYPO = "not a job id with spaces"


def test_a_job_id_the_provider_does_not_know_is_refused_and_nothing_changes(
    journal: SQLiteJobStore, emulated: Emulated
) -> None:
    journal.add(unknown_row())
    result = run("jobs", "adopt", "local-f8db", TYPO)
    assert result.exit_code == 2, result.output
    assert TYPO in result.stderr and "openrouter has no job" in result.stderr and "nothing was changed" in result.stderr
    row = journal.get("local-f8db")
    assert row is not None and row.job_id is None and row.state is RecordState.UNKNOWN and not row.adopted
    asked = [r for r in emulated.requests if r["method"] == "GET"]
    assert len(asked) == 1 and emulated.submits() == 0  # one poll of that id, never a submit
    # The row still takes the real job afterwards.
    real = emulated.create_job()
    assert run("jobs", "adopt", "order-1", real).exit_code == 0


def test_the_job_found_on_the_dashboard_is_adopted_and_resume_finishes_it(
    journal: SQLiteJobStore, emulated: Emulated, tmp_path: Path
) -> None:
    real = emulated.create_job()
    journal.add(unknown_row(target=tmp_path / "dog.mp4"))
    result = run("jobs", "adopt", "order-1", real)
    assert result.exit_code == 0, result.output
    assert f"adopted {real} as order-1 (openrouter/{VEO}); openrouter says it is pending" in result.stdout
    assert result.stdout.rstrip().endswith(f"mediarouter jobs resume {real}")
    row = journal.get(real)
    assert row is not None and row.adopted and row.state is RecordState.PENDING and row.idempotency_key == "order-1"
    assert emulated.submits() == 1  # the one made upstream by the lost submit; adopting sent none
    assert run("jobs", "resume", real, "-q", "--poll-interval", "0.01").exit_code == 0
    assert (tmp_path / "dog.mp4").read_bytes()[4:8] == b"ftyp"
    assert emulated.submits() == 1


def test_the_hint_quotes_the_job_id_for_the_shell(journal: SQLiteJobStore, scripted: Scripted) -> None:
    scripted.poll_script = ["in_progress"]
    journal.add(unknown_row(provider="fake", model="video-1"))
    result = run("jobs", "adopt", "order-1", "job one;x")
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith("mediarouter jobs resume 'job one;x'")
    assert scripted.polled() == ["job one;x"] and "submit" not in scripted.calls


def test_a_job_reported_for_another_model_is_refused_naming_both(journal: SQLiteJobStore, scripted: Scripted) -> None:
    scripted.poll_script = [JobStatus(job_id="job-7", state=JobState.IN_PROGRESS, extra={"model": "video-2"})]
    journal.add(unknown_row(provider="fake", model="video-1"))
    result = run("jobs", "adopt", "order-1", "job-7")
    assert result.exit_code == 2, result.output
    assert "video-2" in result.stderr and "video-1" in result.stderr and "nothing was changed" in result.stderr
    row = journal.get("local-f8db")
    assert row is not None and row.job_id is None and row.state is RecordState.UNKNOWN


def test_a_job_reported_for_the_rows_model_is_adopted(journal: SQLiteJobStore, scripted: Scripted) -> None:
    scripted.poll_script = [JobStatus(job_id="job-7", state=JobState.IN_PROGRESS, extra={"model": "video-1"})]
    journal.add(unknown_row(provider="fake", model="video-1"))
    assert run("jobs", "adopt", "order-1", "job-7").exit_code == 0
    assert journal.get("job-7") is not None


def test_an_unreachable_provider_refuses_with_a_retry_hint_and_no_check_adopts_without_asking(
    journal: SQLiteJobStore, scripted: Scripted
) -> None:
    scripted.poll_script = [ProviderUnavailable("connection refused", status_code=None)]
    journal.add(unknown_row(provider="fake", model="video-1"))
    refused = run("jobs", "adopt", "order-1", "job 8")
    assert refused.exit_code == 6, refused.output
    assert "could not check job 'job 8' with fake" in refused.stderr and "nothing was changed" in refused.stderr
    assert "retry" in refused.stderr and "mediarouter jobs adopt order-1 'job 8' --no-check" in refused.stderr
    assert journal.get("local-f8db").job_id is None  # type: ignore[union-attr]

    calls = len(scripted.calls)
    adopted = run("jobs", "adopt", "order-1", "job 8", "--no-check")
    assert adopted.exit_code == 0, adopted.output
    assert "(fake/video-1) without checking it with fake" in adopted.stdout and "jobs resume 'job 8'" in adopted.stdout
    assert scripted.calls[calls:] == []  # nothing was asked
    row = journal.get("job 8")
    assert row is not None and row.adopted and row.state is RecordState.PENDING


def test_a_wrongly_adopted_job_id_that_resume_cannot_find_is_replaced_by_the_real_one(
    journal: SQLiteJobStore, emulated: Emulated, tmp_path: Path
) -> None:
    """The QA case: a typo adopted without a check, resume gets 404, the row must still take the real job."""
    journal.add(unknown_row(target=tmp_path / "dog.mp4"))
    assert run("jobs", "adopt", "local-f8db", TYPO, "--no-check").exit_code == 0
    resumed = run("jobs", "resume", TYPO, "-q", "--poll-interval", "0.01")
    assert resumed.exit_code == 2, resumed.output
    assert "mediarouter jobs adopt order-1 RIGHT_JOB_ID" in resumed.stderr  # what to do, in the hint
    assert journal.get(TYPO).state is RecordState.INTERRUPTED  # type: ignore[union-attr]

    # forget is not the way out: it would free the key of a job that may be billed.
    forgot = run("jobs", "forget", "order-1", "--yes")
    assert forgot.exit_code == 2 and "jobs adopt order-1 RIGHT_JOB_ID" in forgot.stderr
    # Replacing cannot skip the check: only the provider's 404 proves the old id wrong.
    real = emulated.create_job()
    unchecked = run("jobs", "adopt", "order-1", real, "--no-check")
    assert unchecked.exit_code == 2 and "without the check" in unchecked.stderr
    assert journal.get(TYPO) is not None

    replaced = run("jobs", "adopt", "order-1", real)
    assert replaced.exit_code == 0, replaced.output
    assert f"in place of {TYPO}" in replaced.stdout
    assert journal.get(TYPO) is None
    row = journal.get(real)
    assert row is not None and row.state is RecordState.PENDING and row.idempotency_key == "order-1"
    assert row.error is not None and TYPO in row.error  # the replaced id stays on the record
    assert run("jobs", "resume", real, "-q", "--poll-interval", "0.01").exit_code == 0
    assert (tmp_path / "dog.mp4").read_bytes()[4:8] == b"ftyp"
    assert emulated.submits() == 1


def test_an_adopted_job_the_provider_knows_is_never_replaced(journal: SQLiteJobStore, emulated: Emulated) -> None:
    real, other = emulated.create_job(), emulated.create_job()
    journal.add(unknown_row())
    assert run("jobs", "adopt", "order-1", real).exit_code == 0
    again = run("jobs", "adopt", "order-1", other)
    assert again.exit_code == 2, again.output
    assert f"already has job {real}" in again.stderr and "openrouter knows it" in again.stderr
    assert journal.get(real) is not None and journal.get(other) is None


def test_a_job_id_from_the_providers_answer_is_never_replaced(journal: SQLiteJobStore, scripted: Scripted) -> None:
    """Only ids the user gave can be wrong that way: a submit's own job id is kept even if a poll says 404."""
    journal.add(unknown_row(provider="fake", model="video-1"))
    journal.update("local-f8db", job_id="job-9", state=RecordState.INTERRUPTED)  # as the engine writes it
    scripted.poll_script = [NotFound("no such job", status_code=404), "in_progress"]
    refused = run("jobs", "adopt", "order-1", "job-10")
    assert refused.exit_code == 2 and "already has job job-9" in refused.stderr
    assert scripted.polled() == []  # refused before any request
    assert journal.get("job-9") is not None


def test_an_adopted_id_is_not_replaced_when_the_provider_cannot_say_it_is_unknown(
    journal: SQLiteJobStore, scripted: Scripted
) -> None:
    journal.add(unknown_row(provider="fake", model="video-1"))
    journal.update("local-f8db", job_id="job-a", state=RecordState.INTERRUPTED, adopted=True)
    scripted.poll_script = [ProviderUnavailable("connection refused")]
    refused = run("jobs", "adopt", "order-1", "job-b")
    assert refused.exit_code == 6, refused.output
    assert "could not check job 'job-a' with fake before replacing it by 'job-b'" in refused.stderr
    assert "--no-check" not in refused.stderr  # no way around the proof
    assert scripted.polled() == ["job-a"] and journal.get("job-a") is not None and journal.get("job-b") is None


def test_a_job_id_the_provider_refuses_as_malformed_is_not_adopted(journal: SQLiteJobStore, scripted: Scripted) -> None:
    scripted.poll_script = [InvalidRequest("bad id", status_code=400)]
    journal.add(unknown_row(provider="fake", model="video-1"))
    refused = run("jobs", "adopt", "order-1", "job/../x")
    assert refused.exit_code == 2, refused.output
    assert "fake refused the job id 'job/../x' (HTTP 400)" in refused.stderr and "nothing was changed" in refused.stderr
    assert journal.get("local-f8db").job_id is None  # type: ignore[union-attr]
