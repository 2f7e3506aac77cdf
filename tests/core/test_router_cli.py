"""`mediarouter generate` with failover options, over fake providers registered as a real plugin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mediarouter import (
    AllCandidatesFailed,
    Capabilities,
    InsufficientCredits,
    InvalidRequest,
    JobTimeout,
    ProviderUnavailable,
    RateLimited,
    SystemClock,
    hookimpl,
    plugins,
)
from mediarouter.cli import cli, load_plugin_commands
from mediarouter.cli.errors import exit_code_for
from mediarouter.results import Attempt

from .router_fakes import HANG, Fleet, Script

VEO = Capabilities(durations=(4, 6, 8), price_per_second=Decimal("0.50"))
WAN = Capabilities(durations=(5, 10), price_per_second=Decimal("0.04"))


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    """Providers `p1` (model veo) and `p2` (model wan) behind the plugin hook; `fleet.options` has their kwargs."""
    monkeypatch.setenv("MEDIAROUTER_CONFIG", "")
    fleet = Fleet(SystemClock(), {"p1": {"veo": VEO}, "p2": {"wan": WAN}})
    options: dict[str, dict[str, Any]] = {}
    fleet.options = options  # type: ignore[attr-defined]

    class Plugin:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            for name, provider in fleet.providers.items():

                def factory(_provider: Any = provider, _name: str = name, **kwargs: Any) -> Any:
                    options[_name] = kwargs
                    return _provider

                factory.supports_emulator = True  # type: ignore[attr-defined]
                register(factory, name=name)

    plugin = Plugin()
    plugins.register(plugin, name="fleet-cli")
    yield fleet
    plugins.unregister(plugin)


def gen(tmp_path: Path, *extra: str) -> Any:
    load_plugin_commands()
    args = ["generate", "a dog", "-o", str(tmp_path / "o.mp4"), "--poll-interval", "0.01", *extra]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_fallback_succeeds_on_the_second_candidate_and_json_shows_both_attempts(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/veo", Script(submit_error=lambda: InsufficientCredits("no credits", status_code=402)))
    result = gen(tmp_path, "--model", "p1/veo", "--fallback", "p2/wan", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["model"] == "wan"
    assert [(a["ref"], a["outcome"], a["status_code"]) for a in data["attempts"]] == [
        ("p1/veo", "failed", 402),
        ("p2/wan", "succeeded", None),
    ]
    assert fleet.submits() == ["p1/veo", "p2/wan"]


def test_progress_lines_say_what_failed_and_where_the_call_goes_next(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/veo", Script(submit_error=lambda: InsufficientCredits("no credits", status_code=402)))
    result = gen(tmp_path, "--model", "p1/veo", "--fallback", "p2/wan")
    assert result.exit_code == 0
    assert "p1/veo failed (InsufficientCredits, HTTP 402)" in result.stderr
    assert "failing over to p2/wan" in result.stderr
    assert "from p2/wan" in result.stdout and "after 1 other candidate" in result.stdout


def test_when_every_candidate_fails_the_exit_code_is_the_last_attempts(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/veo", Script(submit_error=lambda: InvalidRequest("bad", status_code=400)))
    fleet.script("p2/wan", Script(submit_error=lambda: ProviderUnavailable("down", sent=False)))
    result = gen(tmp_path, "--model", "p1/veo", "--fallback", "p2/wan")
    assert result.exit_code == 6
    lines = result.stderr.strip().splitlines()[-3:]
    assert lines[0] == "mediarouter: error: all 2 candidates failed:"
    assert lines[1].strip().startswith("p1/veo: failed — InvalidRequest (HTTP 400): bad")
    assert lines[2].strip().startswith("p2/wan: failed — ProviderUnavailable: down")


def test_json_on_failure_carries_the_attempts(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/veo", Script(submit_error=lambda: RateLimited("slow", status_code=429, retry_after=0)))
    fleet.script("p2/wan", Script(polls=["failed"]))
    result = gen(tmp_path, "--model", "p1/veo", "--fallback", "p2/wan", "--json")
    assert result.exit_code == 7
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["error"]["type"] == "AllCandidatesFailed"
    assert [a["error_type"] for a in data["attempts"]] == ["RateLimited", "JobFailed"]
    assert data["attempts"][1]["job_id"] == "p2-wan-job1"


def test_a_running_job_past_the_timeout_exits_8_without_failing_over(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/veo", Script(polls=[HANG]))
    result = gen(tmp_path, "--model", "p1/veo", "--fallback", "p2/wan", "--timeout", "0.3", "--json")
    assert result.exit_code == 8
    data = json.loads(result.stdout)
    assert data["error"]["job_id"] == "p1-veo-job1"
    assert [a["ref"] for a in data["attempts"]] == ["p1/veo"]
    assert fleet.submits() == ["p1/veo"]


def test_max_cost_below_every_estimate_exits_2_before_any_request(fleet: Fleet, tmp_path: Path) -> None:
    result = gen(tmp_path, "--model", "p1/veo", "--fallback", "p2/wan", "--max-cost", "0.05")
    assert result.exit_code == 2
    # No duration and no declared default: each is priced at its longest duration (8 s, 10 s).
    assert "p1/veo $4.00" in result.stderr and "p2/wan $0.40" in result.stderr
    assert fleet.submits() == []
    assert gen(tmp_path, "--model", "p1/veo", "--max-cost", "lots").exit_code == 2


@pytest.mark.parametrize(
    ("fit", "code", "expect"),
    [
        ("strict", 2, "supported: 4s, 6s, 8s"),
        ("adjust", 0, "duration 7 → 8"),
        ("skip", 2, "p1/veo: skipped — CapabilityMismatch"),
    ],
)
def test_fit_policies_from_the_command_line(fleet: Fleet, tmp_path: Path, fit: str, code: int, expect: str) -> None:
    result = gen(tmp_path, "--model", "p1/veo", "--fallback", "p2/wan", "--duration", "7", "--fit", fit)
    assert result.exit_code == code, result.output
    assert expect in result.output
    assert fleet.submits() == (["p1/veo"] if fit == "adjust" else [])


def test_an_unknown_alias_exits_2(fleet: Fleet, tmp_path: Path) -> None:
    result = gen(tmp_path, "--model", "veo")
    assert result.exit_code == 2
    assert "neither a model ref nor a known alias" in result.stderr


def test_emulator_options_reach_every_provider_factory(fleet: Fleet, tmp_path: Path) -> None:
    result = gen(
        tmp_path,
        "--model",
        "p1/veo",
        "--emulator",
        "--emulator-inject",
        "submit:402:veo",
        "--emulator-inject",
        "poll:failedx1",
        "--emulator-polls-before-completed",
        "0",
    )
    assert result.exit_code == 0, result.output
    options = fleet.options["p1"]  # type: ignore[attr-defined]
    assert options["emulator"] is True
    assert options["emulator_options"] == {"inject": ["submit:402:veo", "poll:failedx1"], "polls_before_completed": 0}


def test_emulator_options_need_the_emulator(fleet: Fleet, tmp_path: Path) -> None:
    result = gen(tmp_path, "--model", "p1/veo", "--emulator-inject", "submit:402")
    assert result.exit_code == 2
    assert "need --emulator" in result.stderr


def test_exit_code_of_all_candidates_failed_is_the_last_errors() -> None:
    attempts = [Attempt(ref="a/b", outcome="failed"), Attempt(ref="c/d", outcome="failed")]
    assert exit_code_for(AllCandidatesFailed(attempts, [InvalidRequest("x"), JobTimeout("y")])) == 8
    assert exit_code_for(AllCandidatesFailed(attempts, [RateLimited("x"), InsufficientCredits("y")])) == 4
    assert exit_code_for(AllCandidatesFailed([], [])) == 1
