"""`Router(emulator=True)` polls an emulated job every 0.2 s, as `--emulator` does, unless the caller's
settings, the environment or the config file choose a schedule: the README's Python emulator examples
finish in about a second, not after the real 20 s first poll."""

from __future__ import annotations

import pytest

from mediarouter import Router
from mediarouter.settings import EMULATOR_POLL_INTERVAL, MediaRouterSettings


def test_an_emulated_router_polls_fast_by_default() -> None:
    router = Router(emulator=True, journal=":memory:")
    assert router.settings.poll_interval == EMULATOR_POLL_INTERVAL
    assert router.engine().poll_interval == EMULATOR_POLL_INTERVAL


def test_a_real_router_keeps_the_documented_schedule() -> None:
    assert Router(journal=":memory:").settings.poll_interval == 10.0


@pytest.mark.parametrize("variable", ["MEDIAROUTER_POLL_INTERVAL", "MEDIAROUTER_FIRST_POLL"])
def test_a_configured_schedule_wins_over_the_emulated_default(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, "3")
    router = Router(emulator=True, journal=":memory:")
    assert router.settings.poll_interval == (3.0 if variable == "MEDIAROUTER_POLL_INTERVAL" else 10.0)


def test_the_callers_own_settings_are_used_as_given() -> None:
    settings = MediaRouterSettings(config_file="")
    assert Router(emulator=True, settings=settings, journal=":memory:").settings is settings
