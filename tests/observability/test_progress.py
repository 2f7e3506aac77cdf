"""Progress: the live line on a terminal, plain lines otherwise, and the summary line."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock
from rich.console import Console

from mediarouter.cli.progress import (
    LiveProgress,
    NullProgress,
    PlainProgress,
    human_bytes,
    progress_for,
    summary_line,
)
from mediarouter.events import (
    DownloadProgressEvent,
    DownloadStartedEvent,
    Event,
    EventPayload,
    JobPolledEvent,
    JobStatusChangedEvent,
    JobSubmittedEvent,
    JobSubmittingEvent,
    RouterAttemptFinishedEvent,
    RouterCallFinishedEvent,
    RouterEstimateEvent,
    RouterFailoverEvent,
)
from mediarouter.results import Attempt, MediaFile, VideoResult

from .conftest import make_router

VEO = "openrouter/google/veo-3.1"


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_the_display_depends_on_the_terminal_and_the_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    assert isinstance(progress_for(quiet=True, stream=_Stream(True)), NullProgress)
    assert isinstance(progress_for(as_json=True, stream=_Stream(True)), NullProgress)
    assert isinstance(progress_for(stream=_Stream(False)), PlainProgress)
    assert isinstance(progress_for(stream=_Stream(True)), LiveProgress)
    monkeypatch.setenv("TERM", "dumb")
    assert isinstance(progress_for(stream=_Stream(True)), PlainProgress)


def _event(payload: EventPayload) -> Event:
    return Event(provider="openrouter", model="google/veo-3.1", job_id="gen-1", elapsed=1.0, payload=payload)


def test_the_live_line_shows_model_status_elapsed_polls_then_bytes_and_rate() -> None:
    screen = io.StringIO()
    live = LiveProgress(Console(file=screen, force_terminal=True, width=120))
    live.started = 100.0
    live(_event(JobSubmittingEvent(attempt=1)))
    assert live.text(now=100.5) == f"{VEO} · submitting · 0:00"
    live(_event(JobSubmittedEvent(polling_url=None)))
    live(_event(JobStatusChangedEvent(status="in_progress", previous="queued", raw_status=None, polls=7)))
    assert live.text(now=162.0) == f"{VEO} · in_progress · 1:02 · 7 polls"
    live(_event(DownloadStartedEvent(index=0, origin=None, content_length=8_000_000, offset=0)))
    live.download_started = 170.0
    live(_event(DownloadProgressEvent(index=0, bytes=3_000_000)))
    assert live.text(now=172.0) == f"{VEO} · downloading · 1:12 · 3.0 MB / 8.0 MB · 1.5 MB/s"
    assert "job gen-1 accepted" in screen.getvalue()  # printed above the live line, to keep


def test_the_live_line_runs_a_whole_call(tmp_path: Path, clock: FakeClock) -> None:
    import asyncio

    screen = io.StringIO()
    live = LiveProgress(Console(file=screen, force_terminal=True, width=120))

    async def run() -> VideoResult:
        async with make_router(live, emulator=True, clock=clock) as router:
            return await router.generate("A cat", model=VEO, output=tmp_path / "cat.mp4")

    with live:
        result = asyncio.run(run())
    assert live.status == "saved" and live.polls == result.polls
    assert f"job {result.job_id} accepted" in screen.getvalue()


def test_plain_lines_keep_the_status_format_and_say_when_the_router_fails_over(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ticks = iter([50.0, 51.0])
    plain = PlainProgress(clock=lambda: next(ticks))
    plain(_event(JobStatusChangedEvent(status="completed", previous="in_progress", raw_status=None, polls=3)))
    plain(_event(JobPolledEvent(status="completed", polls=4)))  # per-poll noise: nothing
    plain(Event(elapsed=2.0, payload=RouterFailoverEvent(from_ref="a/b", to_ref=VEO, error_type=None)))
    assert capsys.readouterr().err.splitlines() == ["[  1.0s] status: completed", f"[  2.0s] failing over to {VEO}"]


def test_plain_lines_run_on_one_clock_when_the_engine_counts_from_its_own_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The router's estimate counts from the call (0.6 s of planning); the engine's submit, a moment
    # later, counts from its own run (0.0 s): the log must not go back in time.
    ticks = iter([100.0, 100.1, 101.1])
    plain = PlainProgress(clock=lambda: next(ticks))
    estimate = RouterEstimateEvent(ref=VEO, estimated_cost=Decimal("2.00"), price_rule="4 s × $0.50/s")
    plain(Event(elapsed=0.6, payload=estimate))
    plain(Event(provider="openrouter", model="google/veo-3.1", elapsed=0.0, payload=JobSubmittingEvent(attempt=1)))
    plain(Event(job_id="gen-1", elapsed=1.0, payload=JobSubmittedEvent(polling_url=None)))
    assert capsys.readouterr().err.splitlines() == [
        f"[  0.6s] estimated cost on {VEO}: 4 s × $0.50/s",
        "[  0.7s] submitting to openrouter/google/veo-3.1",
        "[  1.7s] job gen-1 accepted",
    ]


def test_a_failed_candidate_is_said_with_its_failover_and_the_last_one_not_twice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain = PlainProgress()

    def failed(ref: str) -> Event:
        payload = RouterAttemptFinishedEvent(
            ref=ref, outcome="failed", error_type="RateLimited", status_code=429, cost=None
        )
        return Event(elapsed=1.0, call_id="c1", payload=payload)

    plain(failed("a/b"))
    plain(Event(elapsed=1.0, call_id="c1", payload=RouterFailoverEvent(from_ref="a/b", to_ref=VEO, error_type=None)))
    plain(failed(VEO))  # the last candidate: the CLI's error line says it
    plain(Event(elapsed=2.0, call_id="c1", payload=RouterCallFinishedEvent(outcome="failed", ref=VEO, error_type=None)))
    assert capsys.readouterr().err.splitlines() == [
        f"[  1.0s] a/b failed (RateLimited, HTTP 429); failing over to {VEO}"
    ]


def _result(path: Path, **extra: object) -> VideoResult:
    return VideoResult(
        files=[MediaFile(path=path, size=path.stat().st_size)],
        provider="openrouter",
        model="google/veo-3.1",
        job_id="gen-1",
        cost=Decimal("0.40"),
        **extra,  # type: ignore[arg-type]
    )


async def test_the_summary_line_names_path_size_duration_resolution_cost_and_job(
    tmp_path: Path, clock: FakeClock
) -> None:
    pytest.importorskip("av")
    async with make_router(emulator=True, clock=clock) as router:
        result = await router.generate("A cat", model=VEO, duration=6, output=tmp_path / "cat.mp4")
    line = summary_line(result)
    size = human_bytes(result.files[0].size)
    assert line.startswith(f"{tmp_path / 'cat.mp4'} ({size}, 6.0s, ")
    assert f"from {VEO}, job {result.job_id}, cost ${result.cost}" in line
    width, height = line.split(", ")[2].split(")")[0].split("x")
    assert int(width) > 0 and int(height) > 0


def test_the_summary_line_without_pyav_or_with_a_non_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "o.mp4"
    path.write_bytes(b"not a video" * 100)
    attempts = [Attempt(ref="a/b", outcome="failed"), Attempt(ref=VEO, outcome="succeeded")]
    adjustments = {"duration": {"requested": 5, "applied": 6}}
    expected = f"{path} (1.1 kB) from {VEO}, job gen-1, cost $0.40 (duration 5 → 6; after 1 other candidate)"
    assert summary_line(_result(path, attempts=attempts, adjustments=adjustments)) == expected
    monkeypatch.setitem(sys.modules, "av", None)  # PyAV not installed
    assert summary_line(_result(path)) == f"{path} (1.1 kB) from {VEO}, job gen-1, cost $0.40"


def test_human_bytes() -> None:
    assert [human_bytes(n) for n in (0, 999, 1000, 87_474, 2_100_000, 3 * 10**9)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "87.5 kB",
        "2.1 MB",
        "3.0 GB",
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_generate_on_a_terminal_shows_one_live_line_then_the_summary(tmp_path: Path) -> None:
    import pty

    command = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "OTEL_", "MEDIAROUTER_LOG"))}
    env.update(TERM="xterm", COLUMNS="160")
    out = tmp_path / "cat.mp4"
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [command, "generate", "A cat", "--model", VEO, "--emulator", "-o", str(out)],
        stdin=child, stdout=child, stderr=child, env=env,
    )  # fmt: skip
    os.close(child)
    screen = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(main)
    assert proc.wait(timeout=60) == 0, screen
    text = screen.decode(errors="replace")
    assert f"{VEO} · in_progress · 0:0" in text  # the live line: model, status, elapsed …
    assert " polls" in text  # … and the poll count
    assert "status: in_progress" not in text  # no plain lines on a terminal
    assert "\x1b[2K" in text  # the line is redrawn in place
    last = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith(f"{out} (") and f"from {VEO}, job gen-" in last  # the summary line


def test_the_summary_says_when_the_cost_is_only_an_estimate(tmp_path: Path) -> None:
    """fal and Gemini report no cost: the summary shows the estimate, labelled as one."""
    from decimal import Decimal

    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 10)
    result = VideoResult(
        files=[MediaFile(path=video, size=10)], provider="fal", model="fal-ai/veo3", job_id="req-1", cost=None
    )
    result.estimated_cost = Decimal("3.20")
    assert "cost not reported (estimated $3.20)" in summary_line(result)
