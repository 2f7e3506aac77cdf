"""Log events: stdlib records from the library, structlog rendering (console / JSON lines) in the CLI."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import InsufficientCredits, JobFailed, ProviderUnavailable
from mediarouter.events import Event, JobPolledEvent, JobSubmittedEvent
from mediarouter.logs import EVENTS_LOGGER, EventLogger, KeyValueFormatter, configure_cli_logging

from ..core.fakes import ScriptedProvider
from .conftest import make_router

MEDIAROUTER = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))


def test_each_event_is_one_record_named_after_it_with_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=EVENTS_LOGGER)
    log = EventLogger()
    log(
        Event(
            name="job.submitted",
            provider="openrouter",
            model="google/veo-3.1",
            job_id="gen-1",
            elapsed=0.12345,
            call_id="c1",
            attempt=0,
            payload=JobSubmittedEvent(polling_url="https://api.test/v1/videos/gen-1?sig=abc123"),
        )
    )
    log(Event(job_id="gen-1", payload=JobPolledEvent(status="in_progress", polls=2)))
    submitted, polled = caplog.records
    assert submitted.name == EVENTS_LOGGER and submitted.getMessage() == "job.submitted"
    assert submitted.levelno == logging.INFO and polled.levelno == logging.DEBUG
    fields: dict[str, Any] = submitted.__dict__
    assert fields["provider"] == "openrouter" and fields["model"] == "google/veo-3.1"
    assert fields["job_id"] == "gen-1" and fields["call_id"] == "c1" and fields["attempt"] == 0
    assert fields["elapsed"] == 0.123
    assert fields["polling_url"] == "https://api.test/v1/videos/gen-1?[redacted]"
    assert polled.__dict__["status"] == "in_progress"


def test_nothing_is_formatted_when_nobody_listens() -> None:
    logger = logging.getLogger("mediarouter.events.test-silent")
    logger.setLevel(logging.WARNING)
    calls: list[Any] = []
    logger.makeRecord = lambda *a, **k: calls.append(a)  # type: ignore[method-assign]
    EventLogger(logger)(Event(job_id="gen-1", payload=JobSubmittedEvent(polling_url=None)))
    assert calls == []


def test_key_value_formatter_shows_the_fields_to_plain_logging_hosts() -> None:
    record = logging.makeLogRecord({"msg": "job.completed", "levelname": "INFO", "job_id": "gen-1", "cost": "0.40"})
    assert KeyValueFormatter("%(levelname)s %(message)s").format(record) == "INFO job.completed job_id=gen-1 cost=0.40"


async def _eventful_calls(tmp_path: Path) -> None:
    """A failover (with a cooldown), a poll retry, a download, and a failed job."""
    refused = ScriptedProvider(submit=[InsufficientCredits("no credits", status_code=402)])
    served = ScriptedProvider(polls=[ProviderUnavailable("502", status_code=502), "in_progress", "completed"])
    served.name = "other"
    providers = {"fake": refused, "other": served}
    async with make_router(EventLogger(), providers=providers, clock=FakeClock()) as router:
        await router.generate("A cat", model=["fake/video-1", "other/video-1"], output=tmp_path / "o.mp4")
    failing = ScriptedProvider(polls=["failed"])
    async with make_router(EventLogger(), providers={"fake": failing}, clock=FakeClock()) as router:
        with pytest.raises(JobFailed):
            await router.generate("A cat", model="fake/video-1", output=tmp_path / "p.mp4")


@pytest.mark.usefixtures("restore_logging")
async def test_json_lines_carry_every_step_with_the_job_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure_cli_logging("json", "INFO")
    await _eventful_calls(tmp_path)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    events = [line for line in lines if line.get("logger") == EVENTS_LOGGER]
    names = {e["event"] for e in events}
    for name in (
        "router.call_started",
        "router.attempt_started",
        "job.submit_failed",
        "router.cooldown",
        "router.failover",
        "job.submitting",
        "job.submitted",
        "job.poll_retry",
        "job.status_changed",
        "job.completed",
        "download.started",
        "download.finished",
        "job.failed",
        "router.call_finished",
    ):
        assert name in names, name
    assert "poll.started" not in names  # DEBUG
    for event in events:
        assert event["level"] in ("info", "warning") and event["timestamp"].endswith("Z")
        if event["event"].startswith(("job.", "download.")) and event["event"] not in ("job.submitting",):
            if event["event"] != "job.submit_failed":
                assert event["job_id"] == "job-1", event
            assert event["provider"] in ("fake", "other") and event["model"] == "video-1"
    completed = next(e for e in events if e["event"] == "job.completed")
    assert completed["cost"] == "1.60" and completed["polls"] == 2 and completed["attempt"] == 1
    assert isinstance(completed["elapsed"], float) and completed["call_id"]


@pytest.mark.usefixtures("restore_logging")
async def test_console_lines_on_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure_cli_logging("console", "DEBUG")
    await _eventful_calls(tmp_path)
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "job.submitted" in line)
    assert "job_id=job-1" in line and "provider=other" in line
    assert "poll.started" in err  # DEBUG shows the per-poll noise


@pytest.mark.usefixtures("restore_logging")
def test_third_party_records_are_rendered_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_cli_logging("json", "DEBUG")
    logging.getLogger("httpx").info(
        'HTTP Request: GET %s "HTTP/1.1 200 OK"', "https://cdn.test/v/1.mp4?token=sekret-token-value"
    )
    [line] = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert line["logger"] == "httpx"
    assert line["event"] == 'HTTP Request: GET https://cdn.test/v/1.mp4?[redacted] "HTTP/1.1 200 OK"'


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "OTEL_", "MEDIAROUTER_LOG"))}
    full.update(env or {})
    return subprocess.run([MEDIAROUTER, *args], capture_output=True, text=True, timeout=120, env=full, check=False)


def _generate(tmp_path: Path, *extra: str) -> list[str]:
    out = str(tmp_path / "x.mp4")
    return ["generate", "A cat", "--model", "openrouter/google/veo-3.1", "--emulator", "-o", out, *extra]


def test_cli_log_format_json_gives_parseable_lines_with_the_job_id(tmp_path: Path) -> None:
    proc = _cli("--log-format", "json", *_generate(tmp_path, "--quiet"))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines()]  # every line is JSON
    events = {line["event"]: line for line in lines if line["logger"] == EVENTS_LOGGER}
    job_id = events["job.submitted"]["job_id"]
    for name in ("job.status_changed", "job.completed", "download.started", "download.finished"):
        assert events[name]["job_id"] == job_id
        assert events[name]["provider"] == "openrouter" and events[name]["model"] == "google/veo-3.1"
    assert events["router.call_finished"]["outcome"] == "succeeded"
    assert "poll.started" not in events


def test_cli_log_level_from_the_environment(tmp_path: Path) -> None:
    proc = _cli(
        *_generate(tmp_path, "--quiet"), env={"MEDIAROUTER_LOG_LEVEL": "debug", "MEDIAROUTER_LOG_FORMAT": "json"}
    )
    assert proc.returncode == 0, proc.stderr
    names = {json.loads(line)["event"] for line in proc.stderr.splitlines()}
    assert "poll.started" in names and "job.submitted" in names


def test_cli_default_is_quiet_logging_next_to_the_progress_lines(tmp_path: Path) -> None:
    proc = _cli(*_generate(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "status: completed" in proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.startswith("{")]
