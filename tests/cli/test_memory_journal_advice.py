"""A maybe-billed submit journaled in memory (`MEDIAROUTER_JOURNAL=:memory:`, `--emulator`): its advice must not
send the user to `jobs list` / `jobs adopt`, which run in another process and will never see the row."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import InvalidRequest
from mediarouter.journal import JobRecord, MemoryJobStore, RecordState, SQLiteJobStore
from mediarouter.recovery import resume_all, unknown_advice
from mediarouter.router import Router
from tests.core.fakes import ScriptedProvider
from tests.core.router_fakes import quiet_settings

from .jobs_fixtures import journal, run

__all__ = ["journal"]  # fixture, used by name


def unknown(key: str = "order-3") -> JobRecord:
    return JobRecord(key="local-3", provider="fake", model="video-1", state=RecordState.UNKNOWN, idempotency_key=key)


def test_the_advice_for_an_in_memory_row_says_nothing_is_kept_after_the_process() -> None:
    advice = unknown_advice(unknown(), MemoryJobStore())
    assert "in memory" in advice and "keeps nothing after this process ends" in advice
    assert "mediarouter jobs adopt" not in advice and "mediarouter jobs forget" not in advice
    assert "fake's dashboard" in advice and "order-3" in advice  # still says what can be done, and where


def test_the_advice_for_a_journal_file_names_the_commands(journal: SQLiteJobStore) -> None:
    advice = unknown_advice(unknown("order 4"), journal)
    assert "mediarouter jobs adopt 'order 4' JOB_ID" in advice and "mediarouter jobs forget 'order 4' --yes" in advice
    assert "in memory" not in advice
    assert unknown_advice(unknown("order 4")) == advice  # without a journal: the commands, as before


async def test_resume_all_and_resume_in_memory_give_the_in_memory_advice(clock: FakeClock, tmp_path: Path) -> None:
    async with Router(
        providers={"fake": ScriptedProvider()}, journal=":memory:", settings=quiet_settings(), clock=clock
    ) as router:
        router.require_journal().add(unknown())
        [report] = await resume_all(router)
        assert report.outcome == "unknown" and report.hint is not None
        assert "keeps nothing after this process ends" in report.hint and "jobs adopt" not in report.hint
        with pytest.raises(InvalidRequest) as caught:
            await router.resume("local-3")
        assert caught.value.hint is not None and "keeps nothing after this process ends" in caught.value.hint


def test_jobs_show_on_a_journal_file_still_prints_the_commands(journal: SQLiteJobStore) -> None:
    journal.add(unknown("order-5"))
    shown = run("jobs", "show", "local-3")
    assert shown.exit_code == 0 and "may be billed: " in shown.stdout
    assert "mediarouter jobs adopt order-5 JOB_ID" in shown.stdout
    by_key = run("jobs", "show", "order-5")  # the idempotency key names the row too, as for adopt and forget
    assert by_key.exit_code == 0 and by_key.stdout == shown.stdout
    missing = run("jobs", "show", "no-such-row")
    assert missing.exit_code == 2 and "no job 'no-such-row' in the journal" in missing.output


def test_an_unknown_submit_under_emulator_does_not_send_the_user_to_jobs_list(tmp_path: Path) -> None:
    """The engine's own SubmitUnknown hint (exit 9) under `--emulator`, whose journal is in memory."""
    from click.testing import CliRunner

    from mediarouter.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "generate",
            "x",
            "--model",
            "fal/fal-ai/veo3",
            "--emulator",
            "--emulator-inject",
            "submit:drop",
            "-o",
            str(tmp_path / "f.mp4"),
        ],
    )
    assert result.exit_code == 9, result.output
    assert "keeps nothing after this process ends" in result.output
    assert "mediarouter jobs adopt" not in result.output and "jobs list" not in result.output
