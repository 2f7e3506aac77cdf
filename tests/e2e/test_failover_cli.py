"""Failover as a new user meets it: the installed `mediarouter` command against a real emulator process.

Each test starts `mediarouter emulator` (uvicorn, loopback, a free port) with the failures it
needs, runs `mediarouter generate` in a subprocess pointed at it through OPENROUTER_BASE_URL,
and reads what the emulator saw from its journal (`GET /_emulator/requests`).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from .conftest import FAST, MEDIAROUTER, VEO, WAN, Emulator


@pytest.fixture(scope="module")
def _shared(emulator: Callable[..., Emulator]) -> Emulator:
    return emulator("--polls-before-completed", "1")


@pytest.fixture
def plain(_shared: Emulator) -> Emulator:
    """A well-behaved emulator shared by the tests that need no injection, its journal emptied first."""
    httpx.delete(_shared.base_url.removesuffix("/api/v1") + "/_emulator/requests").raise_for_status()
    return _shared


def _is_mp4(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[4:8] == b"ftyp"


def test_a_402_on_veo_fails_over_to_wan_with_one_submit_per_model(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator("--inject", "submit:402:google/veo-3.1", "--polls-before-completed", "1")
    out = tmp_path / "dog.mp4"
    proc = emu.generate("--model", VEO, "--fallback", WAN, "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True and data["model"] == "alibaba/wan-2.6"
    assert [(a["ref"], a["outcome"], a["error_type"], a["status_code"]) for a in data["attempts"]] == [
        (VEO, "failed", "InsufficientCredits", 402),
        (WAN, "succeeded", None, None),
    ]
    assert data["attempts"][1]["job_id"] == data["job_id"]
    assert emu.submits() == [("google/veo-3.1", 402), ("alibaba/wan-2.6", 202)]
    assert _is_mp4(out)


def test_a_job_still_running_at_the_timeout_exits_8_with_its_id_and_no_failover(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator("--polls-before-completed", "100000")
    # 5 s: room for the model listing and the submit on a loaded machine; the job itself never completes.
    proc = emu.generate("--model", VEO, "--fallback", WAN, "-o", str(tmp_path / "dog.mp4"), "--timeout", "5")
    assert proc.returncode == 8, proc.stderr
    assert emu.submits() == [("google/veo-3.1", 202)]  # nothing for wan
    job_id = next(r["job_id"] for r in emu.journal() if r["method"] == "POST")
    assert job_id in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "dog.mp4").exists()


def test_max_cost_below_every_estimate_exits_2_naming_them_and_sends_nothing(plain: Emulator, tmp_path: Path) -> None:
    emu = plain
    proc = emu.generate("--model", VEO, "--fallback", WAN, "-o", str(tmp_path / "dog.mp4"), "--max-cost", "0.10")
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    # No duration: OpenRouter declares no default, so each is priced at its longest (8 s, 15 s).
    assert f"{VEO} $4.00" in last and f"{WAN} $0.60" in last and "max_cost $0.10" in last
    assert emu.submits() == []


def test_duration_7_under_strict_fails_with_the_supported_values(plain: Emulator, tmp_path: Path) -> None:
    emu = plain
    proc = emu.generate("--model", VEO, "--duration", "7", "--fit", "strict", "-o", str(tmp_path / "dog.mp4"))
    assert proc.returncode == 2
    assert "duration=7s is not supported by google/veo-3.1; supported: 4s, 6s, 8s" in proc.stderr
    assert emu.submits() == []


def test_duration_7_under_adjust_becomes_8_and_says_so(plain: Emulator, tmp_path: Path) -> None:
    emu = plain
    out = tmp_path / "dog.mp4"
    proc = emu.generate("--model", VEO, "--duration", "7", "--fit", "adjust", "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["adjustments"] == {"duration": {"requested": 7, "applied": 8}}
    assert data["attempts"][0]["adjustments"] == data["adjustments"]
    assert data["estimated_cost"] == "4.00"
    assert emu.submits() == [("google/veo-3.1", 202)]
    assert _is_mp4(out)


def test_duration_7_under_skip_moves_on_to_the_next_candidate(plain: Emulator, tmp_path: Path) -> None:
    emu = plain
    out = tmp_path / "dog.mp4"
    # wan-2.6 does not do 7 s either: both are skipped with their reasons, and nothing is sent.
    proc = emu.generate("--model", VEO, "--fallback", WAN, "--duration", "7", "--fit", "skip", "-o", str(out))
    assert proc.returncode == 2
    assert f"{VEO}: skipped — CapabilityMismatch: duration=7s is not supported" in proc.stderr
    assert f"{WAN}: skipped — CapabilityMismatch: duration=7s is not supported" in proc.stderr
    assert emu.submits() == []
    # A duration only the fallback supports: skip moves past veo and wan serves it.
    proc = emu.generate("--model", VEO, "--fallback", WAN, "--duration", "5", "--fit", "skip", "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    assert [a["outcome"] for a in json.loads(proc.stdout)["attempts"]] == ["skipped", "succeeded"]
    assert emu.submits() == [("alibaba/wan-2.6", 202)]


def test_in_process_emulator_injections_from_the_command_line(tmp_path: Path) -> None:
    """`--emulator --emulator-inject`: the same failover without starting a server."""
    from mediarouter_openrouter.provider import OpenRouterVideoProvider

    if "emulator_options" not in inspect.signature(OpenRouterVideoProvider.__init__).parameters:
        pytest.skip("the OpenRouter provider does not read emulator_options yet")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "MEDIAROUTER_"))}
    env.update(MEDIAROUTER_CONFIG="", MEDIAROUTER_JOURNAL=str(tmp_path / "jobs.sqlite3"))
    proc = subprocess.run(
        [
            MEDIAROUTER,
            "generate",
            "A dog",
            *FAST,
            *("--model", VEO, "--fallback", WAN, "--emulator", "--json"),
            *("--emulator-inject", "submit:402:google/veo-3.1", "--emulator-polls-before-completed", "1"),
            *("-o", str(tmp_path / "dog.mp4")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [a["outcome"] for a in json.loads(proc.stdout)["attempts"]] == ["failed", "succeeded"]
