"""The kit's pytest plugin: found through its entry point, profiles by option or environment, the marker."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points

import pytest
from mediarouter_contracts import active_profile, contract_settings, profiles

from .example_plugin import EXAMPLE

EXAMPLE_TEST = str(EXAMPLE / "tests" / "test_acme_contract.py")


@pytest.fixture
def restore_profile() -> Iterator[None]:
    saved = profiles._active
    yield
    profiles.set_active_profile(saved)


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins["mediarouter_contracts"] == "mediarouter_contracts.pytest_plugin"


def test_profiles_come_from_the_option_else_the_environment_else_ci(
    monkeypatch: pytest.MonkeyPatch, restore_profile: None
) -> None:
    profiles.set_active_profile(None)
    monkeypatch.delenv("MEDIAROUTER_CONTRACT_PROFILE", raising=False)
    assert active_profile() == "ci"
    assert contract_settings().max_examples == profiles.PROFILES["ci"]
    monkeypatch.setenv("MEDIAROUTER_CONTRACT_PROFILE", "thorough")
    assert contract_settings().max_examples == profiles.PROFILES["thorough"]
    assert contract_settings(scale=0.1).max_examples == round(profiles.PROFILES["thorough"] * 0.1)
    profiles.set_active_profile("ci")  # what --contract-profile=ci does
    assert active_profile() == "ci"
    assert contract_settings(scale=0.0).max_examples == 2  # never fewer than the minimum


def test_an_unknown_profile_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch, restore_profile: None) -> None:
    profiles.set_active_profile(None)
    monkeypatch.setenv("MEDIAROUTER_CONTRACT_PROFILE", "nightly")
    with pytest.raises(ValueError, match="ci, thorough"):
        active_profile()
    with pytest.raises(ValueError, match="ci, thorough"):
        profiles.set_active_profile("fast")


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_option_selects_the_profile_and_every_rule_is_marked_contract() -> None:
    thorough = _pytest("--collect-only", EXAMPLE_TEST, "--contract-profile=thorough")
    assert thorough.returncode == 0, thorough.stdout + thorough.stderr
    assert "mediarouter-contracts: profile thorough (1000 examples per property)" in thorough.stdout
    assert "test_rule10_cancellation_at_any_await_point_leaves_nothing_behind" in thorough.stdout
    unmarked = _pytest("--collect-only", "-q", EXAMPLE_TEST, "-m", "not contract")
    assert "no tests collected" in unmarked.stdout or "deselected" in unmarked.stdout, unmarked.stdout
