"""The README's user steps, run as a user would: the installed `mediarouter` command in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import pytest

MEDIAROUTER = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))


def mediarouter(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENROUTER_")}
    full_env.update(env or {})
    return subprocess.run(
        [MEDIAROUTER, *args], capture_output=True, text=True, timeout=120, env=full_env, cwd=cwd, check=False
    )


@pytest.mark.parametrize(("duration", "aspect"), [(None, None), (8, "16:9"), (6, "9:16")])
def test_generate_with_the_emulator_writes_a_playable_mp4(
    tmp_path: Path, duration: int | None, aspect: str | None
) -> None:
    out = tmp_path / "retriever.mp4"
    args = [
        "generate",
        "A golden retriever on a beach",
        "--model",
        "openrouter/google/veo-3.1",
        "--emulator",
        "-o",
        str(out),
    ]
    if duration:
        args += ["--duration", str(duration)]
    if aspect:
        args += ["--aspect-ratio", aspect]
    proc = mediarouter(*args)
    assert proc.returncode == 0, proc.stderr
    assert "status: completed" in proc.stderr
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert container.duration is not None
        seconds = container.duration / av.time_base
        assert abs(seconds - (duration or 4)) <= 0.5  # veo-3.1's smallest duration is the default
        ratio = Fraction(video.width, video.height)
        expected = Fraction(*(int(x) for x in (aspect or "16:9").split(":")))
        assert abs(float(ratio) - float(expected)) < 0.05
        frames = sum(1 for _ in container.decode(video=0))
        assert frames > 0


def test_plugins_lists_openrouter_from_its_entry_point() -> None:
    proc = mediarouter("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in json.loads(proc.stdout)}
    assert plugins["openrouter"]["distribution"] == "mediarouter-openrouter"
    assert plugins["openrouter"]["version"]
    text = mediarouter("plugins").stdout
    assert "openrouter  (mediarouter-openrouter " in text


def test_models_lists_video_models_with_capabilities() -> None:
    proc = mediarouter("models", "--json", "--emulator")
    assert proc.returncode == 0, proc.stderr
    models = {m["ref"]: m for m in json.loads(proc.stdout)}
    for ref in (
        "openrouter/google/veo-3.1",
        "openrouter/openai/sora-2-pro",
        "openrouter/alibaba/wan-2.6",
        "openrouter/alibaba/wan-2.7",
        "openrouter/bytedance/seedance-2.0",
        "openrouter/bytedance/seedance-1.5-pro",
    ):
        assert ref in models
    veo = models["openrouter/google/veo-3.1"]["capabilities"]
    assert veo["durations"] == [4, 6, 8]
    assert "1080p" in veo["resolutions"]
    text = mediarouter("models", "openrouter/google", "--emulator").stdout
    assert "openrouter/google/veo-3.1" in text and "durations (s): 4, 6, 8" in text
    assert "alibaba" not in text
    assert "[live]" not in text and "[emulator]" in text  # what the emulator serves, not the provider today
    assert "live" not in {m.get("source") for m in models.values()}


def test_models_without_network_falls_back_to_the_catalog() -> None:
    # No key, an unreachable base URL: the listing still works, from the built-in catalog.
    proc = mediarouter("models", "--json", env={"OPENROUTER_BASE_URL": "http://127.0.0.1:9/api/v1"})
    assert proc.returncode == 0, proc.stderr
    models = json.loads(proc.stdout)
    assert {m["source"] for m in models} == {"catalog"}
    assert len(models) >= 6


def test_missing_key_names_the_variable_and_exits_3(tmp_path: Path) -> None:
    proc = mediarouter(
        "generate",
        "x",
        "--model",
        "openrouter/google/veo-3.1",
        "-o",
        str(tmp_path / "o.mp4"),
        env={"OPENROUTER_BASE_URL": "http://127.0.0.1:9/api/v1"},
    )
    assert proc.returncode == 3
    assert "OPENROUTER_API_KEY" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("mediarouter: error: no OpenRouter API key")
    assert "Traceback" not in proc.stderr


def test_help_is_true_to_the_commands() -> None:
    proc = mediarouter("--help")
    for command in ("generate", "models", "plugins", "emulator"):
        assert command in proc.stdout
    gen = mediarouter("generate", "--help").stdout
    for option in (
        "--model",
        "--duration",
        "--resolution",
        "--aspect-ratio",
        "--audio",
        "--seed",
        "--image",
        "--frame-image",
        "--reference",
        "--provider-option",
        "--poll-interval",
        "--timeout",
        "--emulator",
        "--json",
        "Exit codes",
    ):
        assert option in gen
