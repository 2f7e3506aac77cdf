"""The installed `mediarouter` command, offline: `generate --model gemini/… --emulator` writes a playable MP4."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MEDIAROUTER = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))


@pytest.mark.slow
def test_generate_with_the_emulator_writes_a_playable_mp4(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "GOOGLE_", "MEDIAROUTER_"))}
    env.update(MEDIAROUTER_CONFIG="", XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    env["GEMINI_API_KEY"] = "AIza-must-never-be-used-offline"
    target = tmp_path / "fox.mp4"
    done = subprocess.run(
        [
            MEDIAROUTER,
            "generate",
            "A fox",
            "--model",
            "gemini/veo-3.1-generate-preview",
            "--emulator",
            "-o",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "models/veo-3.1-generate-preview/operations/" in done.stdout + done.stderr
    with av.open(str(target)) as container:
        kinds = sorted(stream.type for stream in container.streams)
        assert kinds == ["audio", "video"]  # Veo 3.1 always has sound
        assert container.duration is not None and abs(container.duration / 1e6 - 4) < 0.5  # the shortest duration
    assert "AIza-must-never-be-used-offline" not in done.stdout + done.stderr
