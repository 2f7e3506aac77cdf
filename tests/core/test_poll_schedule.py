"""The default polling schedule: the first poll waits two intervals, then every poll_interval (docs/jobs.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import VideoRequest
from mediarouter.engine import JobEngine
from mediarouter.router import Router
from mediarouter.settings import MediaRouterSettings

from .fakes import ScriptedProvider
from .router_fakes import quiet_settings

REQ = VideoRequest(prompt="a dog", duration=8)


async def test_the_engine_waits_first_poll_before_the_first_poll_and_keeps_its_schedule_after(
    clock: FakeClock, tmp_path: Path
) -> None:
    provider = ScriptedProvider(polls=["in_progress"] * 3 + ["completed"])
    engine = JobEngine(clock=clock, first_poll=20.0, poll_interval=10.0, poll_growth=2.0, max_poll_interval=40.0)
    await engine.run(provider, "video-1", REQ, output=tmp_path / "o.mp4")
    assert clock.sleeps == [20.0, 20.0, 40.0, 40.0]  # the later waits are those of a first poll at poll_interval


def test_the_defaults_poll_at_20_s_then_every_10_s() -> None:
    settings = MediaRouterSettings(config_file="")
    assert (settings.first_poll, settings.poll_interval, settings.max_poll_interval) == (None, 10.0, 10.0)


async def test_a_router_polls_first_after_two_intervals_unless_told_otherwise(tmp_path: Path) -> None:
    clock = FakeClock()
    provider = ScriptedProvider(polls=["in_progress", "in_progress", "completed"])
    settings = quiet_settings(poll_interval=3.0, max_poll_interval=3.0)
    router = Router(providers={"fake": provider}, settings=settings, clock=clock)
    await router.generate("a dog", model="fake/video-1", output=tmp_path / "a.mp4")
    assert clock.sleeps[:3] == [6.0, 3.0, 3.0]

    clock = FakeClock()
    provider = ScriptedProvider(polls=["in_progress", "completed"])
    settings = quiet_settings(first_poll=45.0, poll_interval=5.0, poll_growth=2.0, max_poll_interval=30.0)
    router = Router(providers={"fake": provider}, settings=settings, clock=clock)
    await router.generate("a dog", model="fake/video-1", output=tmp_path / "b.mp4")
    assert clock.sleeps[:2] == [45.0, 10.0]


async def test_a_callers_own_poll_interval_sets_the_cadence_from_the_first_poll(tmp_path: Path) -> None:
    clock = FakeClock()
    provider = ScriptedProvider(polls=["in_progress", "completed"])
    router = Router(providers={"fake": provider}, settings=quiet_settings(poll_interval=3.0), clock=clock)
    await router.generate("a dog", model="fake/video-1", output=tmp_path / "o.mp4", poll_interval=0.5)
    assert clock.sleeps[:2] == [0.5, 0.625]  # then growing as usual


def test_a_poll_growth_below_one_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="poll_growth"):
        MediaRouterSettings(config_file="", poll_growth=0.5)
