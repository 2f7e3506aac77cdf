"""`Router.plan()` says what `generate` would do now: the same refusal for a request no candidate can take
(no prompt), and a candidate in cooldown shown as skipped."""

from __future__ import annotations

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import CapabilityMismatch, RateLimited

from .router_fakes import Fleet, Script

CHAIN = ["p1/m1", "p2/m1"]


async def test_plan_refuses_a_request_without_prompt_as_generate_does(clock: FakeClock) -> None:
    fleet = Fleet(clock)
    async with fleet.router() as router:
        with pytest.raises(CapabilityMismatch) as generated:
            await router.generate(None, model=CHAIN)
        with pytest.raises(CapabilityMismatch) as planned:
            await router.plan(None, model=CHAIN)
    assert planned.value.message == generated.value.message
    assert fleet.log == []


async def test_plan_shows_a_candidate_in_cooldown_as_skipped(clock: FakeClock) -> None:
    fleet = Fleet(clock)
    fleet.script("p1/m1", Script(submit_error=lambda: RateLimited("slow down", status_code=429)))
    async with fleet.router(cooldown=60) as router:
        await router.generate("a dog", model=CHAIN)
        plan = await router.plan("a dog", model=CHAIN)
        assert [(c.ref, c.usable, c.error_type) for c in plan] == [
            ("p1/m1", False, "RateLimited"),
            ("p2/m1", True, None),
        ]
        assert "cooling down for" in (plan[0].reason or "")
        clock.advance(61)
        assert all(c.usable for c in await router.plan("a dog", model=CHAIN))
