"""Failover across backends, offline, through the installed command: OpenRouter → fal → Gemini."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import MEDIAROUTER, VEO

pytestmark = pytest.mark.slow

FAL = "fal/fal-ai/veo3"
GEMINI = "gemini/veo-3.1-generate-preview"


def generate(tmp_path: Path, *args: str, config: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "MEDIAROUTER_", "FAL_", "GEMINI_"))}
    config_file = tmp_path / "config.toml"
    config_file.write_text(config)
    env.update(MEDIAROUTER_CONFIG=str(config_file), MEDIAROUTER_JOURNAL="off")
    return subprocess.run(
        [MEDIAROUTER, "generate", "A fox", "--emulator", "--poll-interval", "0.05", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_a_402_on_openrouter_is_delivered_by_fal_with_one_submit_each(tmp_path: Path) -> None:
    out = tmp_path / "fox.mp4"
    proc = generate(
        tmp_path, "--model", VEO, "--fallback", FAL, "--emulator-inject", "submit:402:google/veo-3.1", "-o", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["provider"] == "fal"
    assert [(a["ref"], a["outcome"], a["error_type"]) for a in result["attempts"]] == [
        (VEO, "failed", "InsufficientCredits"),
        (FAL, "succeeded", None),
    ]
    assert out.stat().st_size > 0


def test_an_alias_names_a_three_backend_chain(tmp_path: Path) -> None:
    config = f'[aliases]\nveo-anywhere = ["{VEO}", "{FAL}", "{GEMINI}"]\n'
    proc = generate(
        tmp_path,
        "--model",
        "veo-anywhere",
        "--emulator-inject",
        "submit:402:google/veo-3.1",
        "--emulator-inject",
        "submit:403:fal-ai/veo3",
        "-o",
        str(tmp_path / "fox.mp4"),
        config=config,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["provider"] == "gemini"
    assert [a["ref"] for a in result["attempts"]] == [VEO, FAL, GEMINI]
    assert result["cost"] is None and result["estimated_cost"] is not None  # Gemini reports no cost


def test_max_cost_compares_estimates_across_backends(tmp_path: Path) -> None:
    """A budget below OpenRouter's Veo estimate (no duration: its longest, 8 s × $0.50 = $4.00) but above Gemini's
    (its declared 4 s at 720p: $1.60) skips OpenRouter."""
    proc = generate(tmp_path, "--model", VEO, "--fallback", GEMINI, "--max-cost", "1.80", "-o", str(tmp_path / "f.mp4"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [(a["ref"], a["outcome"]) for a in result["attempts"]] == [(VEO, "skipped"), (GEMINI, "succeeded")]
