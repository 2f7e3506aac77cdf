"""The installed `mediarouter` command, end to end against the fal emulator (one real process)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MEDIAROUTER = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))


@pytest.mark.slow
def test_generate_with_a_fal_ref_and_emulator_writes_a_playable_mp4(tmp_path: Path) -> None:
    """Rule: `generate --model fal/fal-ai/veo3 --emulator` works offline and saves a real, playable video."""
    pytest.importorskip("av")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAL_")}
    env["FAL_KEY"] = "must-not-be-needed-or-sent"  # emulator mode never reads it
    target = tmp_path / "fox.mp4"
    args = ["generate", "A fox", "--model", "fal/fal-ai/veo3", "--emulator", "--duration", "4", "-o", str(target)]
    done = subprocess.run(
        [MEDIAROUTER, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"{target}" in done.stdout and "from fal/fal-ai/veo3" in done.stdout
    import av

    with av.open(str(target)) as container:
        assert container.duration / 1_000_000 == pytest.approx(4.0, abs=0.2)
        assert container.streams.video and container.streams.audio  # Veo 3 makes audio by default
    assert "must-not-be-needed-or-sent" not in done.stdout + done.stderr
