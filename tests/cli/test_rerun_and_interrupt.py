"""An unkeyed rerun of a request whose job is journaled and unfinished (left by Ctrl-C or a timeout) pays again:
`generate` warns, naming that job and `jobs resume`; and Ctrl-C after the job completed says so."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mediarouter.journal import JobRecord, RecordState, SQLiteJobStore

from .fake_provider import ScriptedProvider, invoke, use_provider

__all__ = ["use_provider"]  # the fixture, imported for its side effect


def _journal_row(target: Path, *, prompt: str, state: RecordState, model: str = "video-1") -> None:
    store = SQLiteJobStore(os.environ["MEDIAROUTER_JOURNAL"])
    try:
        store.add(
            JobRecord(
                key="old-1", provider="fake", model=model, job_id="old-job-1", state=state,
                request={"prompt": prompt}, target=str(target),
            )
        )  # fmt: skip
    finally:
        store.close()


def test_a_rerun_of_an_interrupted_request_warns_and_names_the_job_to_resume(
    use_provider: Callable[..., None], tmp_path: Path
) -> None:
    use_provider(lambda **_: ScriptedProvider(polls=["completed"]))
    out = tmp_path / "otter.mp4"
    _journal_row(out, prompt="an otter", state=RecordState.INTERRUPTED)
    result = invoke("generate", "an otter", "--model", "fake/video-1", "-o", str(out), "--poll-interval", "0.01")
    assert result.exit_code == 0, result.output
    assert "job old-job-1 (interrupted) was submitted earlier" in result.output
    assert "mediarouter jobs resume old-job-1" in result.output and out.exists()


def test_no_warning_for_another_prompt_another_file_or_a_downloaded_job(
    use_provider: Callable[..., None], tmp_path: Path
) -> None:
    use_provider(lambda **_: ScriptedProvider(polls=["completed"]))
    out = tmp_path / "otter.mp4"
    _journal_row(out, prompt="a beaver", state=RecordState.INTERRUPTED)
    result = invoke("generate", "an otter", "--model", "fake/video-1", "-o", str(out), "--poll-interval", "0.01")
    assert result.exit_code == 0, result.output
    assert "was submitted earlier" not in result.output
    again = invoke("generate", "an otter", "--model", "fake/video-1", "-o", str(out), "--poll-interval", "0.01")
    assert "was submitted earlier" not in again.output  # the first run's own job is downloaded
    keyed = invoke(
        "generate", "a beaver", "--model", "fake/video-1", "-o", str(out), "--idempotency-key", "k-1",
        "--poll-interval", "0.01",
    )  # fmt: skip
    assert "was submitted earlier" not in keyed.output  # a key resumes by itself


class _StoppedWhileDownloading(ScriptedProvider):
    """A job that completes, then Ctrl-C lands while its video downloads."""

    def open_download(self, *args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt


def test_ctrl_c_during_the_download_of_a_completed_job_says_it_completed_not_that_it_keeps_running(
    use_provider: Callable[..., None], tmp_path: Path
) -> None:
    use_provider(lambda **_: _StoppedWhileDownloading(polls=["completed"]))
    out = tmp_path / "otter.mp4"
    result = invoke("generate", "an otter", "--model", "fake/video-1", "-o", str(out), "--poll-interval", "0.01")
    assert result.exit_code == 130, result.output
    assert "completed upstream (and is billed); its video was not saved yet" in result.output
    assert "keeps running" not in result.output and "mediarouter jobs resume" in result.output
