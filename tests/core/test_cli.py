"""The CLI over a scripted provider: exit codes, one-line errors, --json."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mediarouter import (
    AuthenticationFailed,
    InsufficientCredits,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
)
from mediarouter.cli import cli, load_plugin_commands
from mediarouter.cli.signals import sigterm_as_interrupt

from ..cli.fake_provider import use_provider
from .fakes import VIDEO, ScriptedProvider

__all__ = ["use_provider"]  # the fixture, used by name


def run(*args: str) -> Any:
    load_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def gen(tmp_path: Path, *extra: str) -> Any:
    return run(
        "generate", "a dog", "--model", "fake/video-1", "-o", str(tmp_path / "o.mp4"), "--poll-interval", "0.01", *extra
    )


def test_generate_saves_the_file_and_prints_progress(use_provider: Any, tmp_path: Path) -> None:
    use_provider(lambda **kw: ScriptedProvider(polls=["pending", "in_progress", "completed"]))
    result = gen(tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o.mp4").read_bytes() == VIDEO
    assert "status: in_progress" in result.stderr
    assert "job job-1" in result.stdout


def test_generate_json_prints_exactly_one_object(use_provider: Any, tmp_path: Path) -> None:
    use_provider(lambda **kw: ScriptedProvider(polls=["completed"]))
    result = gen(tmp_path, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["job_id"] == "job-1" and data["cost"] == "1.60"
    assert data["files"][0]["path"] == str(tmp_path / "o.mp4")
    assert data["attempts"][0]["outcome"] == "succeeded"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidRequest("Invalid duration", status_code=400, server_message="Invalid duration"), 2),
        (NotFound("Model not found", status_code=404), 2),
        (AuthenticationFailed("No auth credentials found", status_code=401), 3),
        (PermissionDenied("Flagged by moderation", status_code=403), 3),
        (InsufficientCredits("Insufficient credits", status_code=402), 4),
        (RateLimited("Rate limit exceeded", status_code=429), 5),
        (ProviderUnavailable("could not connect", sent=False), 6),
        # After the request may have reached the server, the outcome is unknown (a job may exist): 9.
        (ProviderUnavailable("Internal Server Error", status_code=500), 9),
        (ProtocolError("garbage"), 9),
    ],
)
def test_submit_errors_map_to_documented_exit_codes(
    use_provider: Any, tmp_path: Path, error: Exception, code: int
) -> None:
    use_provider(lambda **kw: ScriptedProvider(submit=[error] * 5))
    result = gen(tmp_path)
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("mediarouter: error: ")
    assert str(error.args[0]) in lines[-1]
    assert "Traceback" not in result.output


def test_failed_job_exits_7_with_the_server_message(use_provider: Any, tmp_path: Path) -> None:
    use_provider(lambda **kw: ScriptedProvider(polls=["failed"]))
    result = gen(tmp_path)
    assert result.exit_code == 7
    assert "the provider said no" in result.stderr


def test_timeout_exits_8_and_prints_the_job_id(use_provider: Any, tmp_path: Path) -> None:
    use_provider(lambda **kw: ScriptedProvider(polls=["in_progress"] * 10_000))
    result = gen(tmp_path, "--timeout", "0.2")
    assert result.exit_code == 8
    assert "job-1" in result.stderr.splitlines()[-1]


def test_capability_mismatch_exits_2_before_any_request(use_provider: Any, tmp_path: Path) -> None:
    made: list[ScriptedProvider] = []

    def factory(**kw: Any) -> ScriptedProvider:
        made.append(ScriptedProvider())
        return made[-1]

    use_provider(factory)
    result = gen(tmp_path, "--duration", "7")
    assert result.exit_code == 2
    assert "supported: 4s, 6s, 8s" in result.stderr
    assert made[0].calls == []


def test_bad_json_option_is_a_usage_error(use_provider: Any, tmp_path: Path) -> None:
    use_provider(lambda **kw: ScriptedProvider())
    result = gen(tmp_path, "--frame-image", "{not json")
    assert result.exit_code == 2
    assert "--frame-image" in result.stderr and "not valid JSON" in result.stderr


def test_unknown_provider_lists_the_installed_ones(tmp_path: Path) -> None:
    result = run("generate", "x", "--model", "nosuch/model", "-o", str(tmp_path / "o.mp4"))
    assert result.exit_code == 2
    assert "no provider plugin named 'nosuch'" in result.stderr
    assert "openrouter" in result.stderr


def test_plugins_json_lists_registered_plugins(use_provider: Any) -> None:
    use_provider(lambda **kw: ScriptedProvider())
    data = json.loads(run("plugins", "--json").stdout)
    names = {p["name"]: p for p in data}
    assert names["fake-cli-0"]["providers"] == ["fake"]


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_sigterm_during_generate_cancels_the_task_at_an_await_like_ctrl_c() -> None:
    seen: list[str] = []

    async def main() -> None:
        signal.raise_signal(signal.SIGTERM)
        seen.append("went on")  # the signal did not raise here, in the middle of whatever ran
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt() as terminated:
        asyncio.run(main())
    assert terminated == [True] and seen == ["went on", "cancelled"]
    assert signal.getsignal(signal.SIGTERM) is before
