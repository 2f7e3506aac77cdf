"""`mediarouter describe`: exit codes and one-line errors as generate, the cache switches, and the
installed command end to end (generate a clip with the emulator, then describe it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mediarouter.cli import cli

MEDIAROUTER = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))
GEMINI = "openrouter/google/gemini-2.5-flash"


@pytest.fixture
def clip_file(tmp_path: Path, clip: bytes) -> Path:
    path = tmp_path / "clip.webm"  # a lying name: the bytes are MP4
    path.write_bytes(clip)
    return path


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["describe", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("inject", "code", "text"),
    [("chat:402", 4, "Insufficient credits"), ("chat:429", 5, "Rate limit"), ("chat:503", 6, "No available provider")],
)
def test_a_refusal_gives_generates_exit_code_and_one_line(clip_file: Path, inject: str, code: int, text: str) -> None:
    status, out, err = _run(str(clip_file), "What?", "--emulator", "--emulator-inject", inject, "--no-cache")
    assert status == code and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mediarouter: error: ") and text in lines[0]


def test_a_model_without_video_input_and_a_missing_file_exit_2(clip_file: Path) -> None:
    status, _, err = _run(str(clip_file), "What?", "--emulator", "--model", "openrouter/google/veo-3.1")
    assert status == 2 and "does not take video input" in err
    status, _, err = _run("/nowhere/clip.mp4", "What?", "--emulator")
    assert status == 2 and "no such file" in err


def test_json_output_then_the_cache_then_clearing_it(clip_file: Path) -> None:
    status, out, _ = _run(str(clip_file), "What?", "--emulator", "--json")
    first = json.loads(out)
    assert status == 0 and first["ok"] and not first["cached"] and first["video"]["mime_type"] == "video/mp4"
    status, out, err = _run(str(clip_file), "What?", "--emulator")
    assert status == 0 and out.strip() == first["text"] and "from the cache" in err
    status, out, _ = _run("--clear-cache")
    assert status == 0 and out.startswith("removed 1 cached answer")
    status, out, _ = _run(str(clip_file), "What?", "--emulator", "--json")
    assert not json.loads(out)["cached"]


def test_list_models_shows_the_video_models() -> None:
    status, out, _ = _run("--list-models", "--emulator", "--json")
    assert status == 0 and GEMINI in [f"{m['provider']}/{m['id']}" for m in json.loads(out)["models"]]


@pytest.mark.slow
def test_the_installed_command_describes_a_clip_the_emulator_generated(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "MEDIAROUTER_"))}
    env.update(MEDIAROUTER_CONFIG="", MEDIAROUTER_JOURNAL="off", MEDIAROUTER_CACHE_DIR=str(tmp_path / "cache"))
    clip = tmp_path / "fox.mp4"

    def mediarouter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MEDIAROUTER, *args], capture_output=True, text=True, env=env, timeout=120, check=False)

    made = mediarouter(
        "generate", "A fox in the snow", "--model", "openrouter/google/veo-3.1", "--duration", "6",
        "--aspect-ratio", "9:16", "--emulator", "-o", str(clip), "--quiet",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    said = mediarouter("describe", str(clip), "What happens?", "--model", GEMINI, "--emulator", "--json")
    assert said.returncode == 0, said.stderr
    result = json.loads(said.stdout)
    # The emulator read the real file: 6 s at 12 fps, 9:16 at 144 px high.
    assert "6.00-second MP4 video" in result["text"] and "82x144" in result["text"] and "72 frames" in result["text"]
    assert result["model"] == "google/gemini-2.5-flash" and result["usage"]["total_tokens"] > 0
    assert result["cost"] is not None


def test_an_interrupt_after_the_answer_arrived_still_prints_the_answer(
    clip_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the router closes its clients: the answer was paid for and is on hand, so it is printed."""
    from mediarouter.router import Router

    close = Router.aclose

    async def interrupted_close(self: Router) -> None:
        await close(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(Router, "aclose", interrupted_close)
    status, out, err = _run(str(clip_file), "What?", "--emulator", "--no-cache")
    assert status == 130
    assert "MP4 video" in out
    assert "interrupted" in err and "answer" in err


def test_an_answer_with_a_lone_surrogate_is_printed_not_lost(capsys: pytest.CaptureFixture[str]) -> None:
    """Any plugin's paid answer may carry half a surrogate pair (JSON can escape one); printing it as
    UTF-8 would fail and lose the answer on the way out, so it is printed with U+FFFD in its place."""
    from mediarouter.cli.describe import _show
    from mediarouter.understanding import DescribeResult

    result = DescribeResult(text="scene one \ud800 scene two", provider="a", model="m1")
    _show(result, as_json=False, quiet=True)
    assert capsys.readouterr().out == "scene one \ufffd scene two\n"


PRO = "openrouter/google/gemini-2.5-pro"


def test_a_chat_injection_with_a_model_fires_for_that_model_only(clip_file: Path) -> None:
    """`chat:STATUS:MODEL` reaches the emulator (the spec names a chat model, not a video model)."""
    chain = ("--emulator", "-m", PRO, "--fallback", GEMINI, "--no-cache")
    status, out, err = _run(
        str(clip_file), "Is there a cow?", *chain, "--emulator-inject", "chat:500:google/gemini-2.5-pro"
    )
    assert status == 6 and out == "" and "HTTP 500" in err and "no other candidate was tried" in err
    # Refused for the first candidate only: the fallback answers.
    status, out, err = _run(
        str(clip_file), "Is there a cow?", *chain, "--emulator-inject", "chat:429:google/gemini-2.5-pro"
    )
    assert status == 0 and out.startswith("Emulated description") and f"described by {GEMINI}" in err
    # Another model's injection leaves the first candidate alone.
    status, out, err = _run(
        str(clip_file), "Is there a cow?", *chain, "--emulator-inject", "chat:500:google/gemini-2.5-flash-lite"
    )
    assert status == 0 and f"described by {PRO}" in err
