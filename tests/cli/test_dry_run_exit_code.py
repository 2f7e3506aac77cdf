"""`generate --dry-run` exits with the code the real run would exit with for that plan.

Rule: a script checking a plan with --dry-run learns what the real call would do; a plan whose every
candidate is skipped exits 2, as the real run does (before any request), not 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .fake_provider import invoke

VEO = "openrouter/google/veo-3.1"
WAN = "openrouter/alibaba/wan-2.6"


@pytest.mark.parametrize(
    "request_args",
    [
        ("--model", VEO, "--size", "999x333"),
        ("--model", VEO, "--fallback", WAN, "--duration", "7"),
    ],
    ids=["size", "duration-with-fallback"],
)
def test_a_dry_run_whose_every_candidate_is_skipped_exits_as_the_real_run(
    tmp_path: Path, request_args: tuple[str, ...]
) -> None:
    common = ["generate", "A fox", *request_args, "--emulator", "-o", str(tmp_path / "fox.mp4")]
    real = invoke(*common)
    planned = invoke(*common, "--dry-run")
    assert real.exit_code == 2, real.output
    assert planned.exit_code == real.exit_code, planned.output
    assert "skipped" in planned.stdout
    assert "the real run would exit 2" in planned.stderr
    assert not (tmp_path / "fox.mp4").exists()


def test_a_dry_run_json_of_an_unusable_plan_is_not_ok_and_exits_2(tmp_path: Path) -> None:
    result = invoke(
        "generate", "A fox", "--model", VEO, "--duration", "7", "--emulator", "--dry-run", "--json",
        "-o", str(tmp_path / "fox.mp4"),
    )  # fmt: skip
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["dry_run"] is True
    assert [c["usable"] for c in data["candidates"]] == [False]


def test_a_dry_run_with_a_usable_candidate_still_exits_0(tmp_path: Path) -> None:
    result = invoke(
        "generate", "A fox", "--model", VEO, "--fallback", WAN, "--duration", "5", "--emulator", "--dry-run",
        "-o", str(tmp_path / "fox.mp4"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1. openrouter/google/veo-3.1: skipped" in result.stdout
    assert "2. openrouter/alibaba/wan-2.6: estimated" in result.stdout


def test_the_dry_run_help_says_how_it_exits() -> None:
    result = invoke("generate", "--help")
    text = " ".join(result.stdout.split())
    assert "exits as the real run would" in text and "2 when every candidate would be skipped" in text
