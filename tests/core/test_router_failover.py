"""Failover by error class, the money rules, cost guard and cooldowns: routed calls over fake providers."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import (
    AllCandidatesFailed,
    AuthenticationFailed,
    BudgetExceeded,
    Capabilities,
    Conflict,
    InsufficientCredits,
    InvalidRequest,
    JobCancelled,
    JobExpired,
    JobTimeout,
    MediaRouterError,
    NotFound,
    PermissionDenied,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
    SubmitUnknown,
    UnknownProvider,
)
from mediarouter.events import Event
from mediarouter.failover import FailoverPolicy

from .router_fakes import HANG, Fleet, Script

CHAIN = ["p1/m1", "p2/m1"]


def refused(error: type[MediaRouterError], status: int | None, **kwargs: object) -> Script:
    return Script(submit_error=lambda: error(f"HTTP {status}", status_code=status, **kwargs))  # type: ignore[arg-type]


@pytest.fixture
def fleet(clock: FakeClock) -> Fleet:
    return Fleet(clock)


# -- the failover table ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "error_type"),
    [
        (refused(InvalidRequest, 400), "InvalidRequest"),
        (refused(NotFound, 404), "NotFound"),
        (refused(AuthenticationFailed, 401), "AuthenticationFailed"),
        (refused(PermissionDenied, 403), "PermissionDenied"),
        (refused(InsufficientCredits, 402), "InsufficientCredits"),
        (refused(RateLimited, 429), "RateLimited"),
        (refused(ProviderUnavailable, None, sent=False), "ProviderUnavailable"),
        (Script(polls=["in_progress", "failed"]), "JobFailed"),
    ],
)
async def test_fails_over_to_the_next_candidate_on_the_design_classes(
    fleet: Fleet, tmp_path: Path, script: Script, error_type: str
) -> None:
    fleet.script("p1/m1", script)
    async with fleet.router() as router:
        result = await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4")
    assert result.ref == "p2/m1"
    assert [(a.ref, a.outcome, a.error_type) for a in result.attempts] == [
        ("p1/m1", "failed", error_type),
        ("p2/m1", "succeeded", None),
    ]
    assert (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (refused(ProviderUnavailable, None), SubmitUnknown),  # no answer: the job may exist
        (refused(ProviderUnavailable, 500), SubmitUnknown),  # a 5xx on submit: the job may exist
        (refused(ProviderUnavailable, 524), SubmitUnknown),
        (refused(ProtocolError, 202), SubmitUnknown),  # accepted but unreadable
        (refused(Conflict, 409), Conflict),
        (Script(polls=["cancelled"]), JobCancelled),
        (Script(polls=["expired"]), JobExpired),
        (Script(polls=[lambda: NotFound("job gone", status_code=404)]), NotFound),
        (Script(polls=[lambda: ProtocolError("garbage")] * 10), ProtocolError),
        (Script(polls=[HANG]), JobTimeout),
    ],
)
async def test_stops_without_a_second_submit_when_failover_could_pay_twice(
    fleet: Fleet, tmp_path: Path, script: Script, error: type[MediaRouterError]
) -> None:
    fleet.script("p1/m1", script)
    async with fleet.router() as router:
        with pytest.raises(error) as info:
            await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4", timeout=120)
    assert "p2/m1" not in fleet.submits()
    attempts = info.value.details["attempts"]
    assert [a["ref"] for a in attempts] == ["p1/m1"]
    accepted = fleet.accepted()
    if accepted:  # the error and the attempt carry the job id so it can be resumed
        assert info.value.job_id == accepted[0].job_id == attempts[0]["job_id"]


async def test_a_timeout_after_acceptance_keeps_the_job_id_and_reports_the_calls_deadline(
    fleet: Fleet, tmp_path: Path
) -> None:
    fleet.script("p1/m1", Script(polls=[HANG]))
    async with fleet.router() as router:
        with pytest.raises(JobTimeout) as info:
            await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4", timeout=30)
    assert info.value.job_id == "p1-m1-job1"
    assert "within 30s" in str(info.value)
    assert fleet.submits() == ["p1/m1"]


async def test_caller_cancellation_after_acceptance_names_the_job_and_does_not_fail_over(
    fleet: Fleet, tmp_path: Path
) -> None:
    fleet.script("p1/m1", Script(polls=[HANG]))
    events: list[Event] = []
    async with fleet.router(listeners=[events.append]) as router:
        accepted = asyncio.Event()
        router.listeners.append(lambda event: accepted.set() if event.name == "job.submitted" else None)
        task = asyncio.create_task(router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4"))
        await accepted.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    assert any("p1-m1-job1" in note for note in getattr(info.value, "__notes__", []))
    assert fleet.submits() == ["p1/m1"]
    finished = [e for e in events if e.name == "router.call_finished"]
    assert finished[-1].data["outcome"] == "cancelled"


async def test_a_single_candidate_raises_its_own_error(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/m1", refused(InsufficientCredits, 402))
    async with fleet.router() as router:
        with pytest.raises(InsufficientCredits) as info:
            await router.generate("a dog", model="p1/m1", output=tmp_path / "o.mp4")
    assert info.value.details["attempts"][0]["outcome"] == "failed"


async def test_all_candidates_failed_carries_attempts_and_one_line_per_candidate(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/m1", refused(InvalidRequest, 400))
    fleet.script("p2/m1", refused(RateLimited, 429))
    async with fleet.router() as router:
        with pytest.raises(AllCandidatesFailed) as info:
            await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4")
    error = info.value
    assert [a.ref for a in error.attempts] == CHAIN
    assert isinstance(error.last_error, RateLimited)
    lines = str(error).splitlines()
    assert lines[0] == "all 2 candidates failed:"
    assert lines[1].strip().startswith("p1/m1: failed — InvalidRequest (HTTP 400)")
    assert lines[2].strip().startswith("p2/m1: failed — RateLimited (HTTP 429)")
    assert error.to_dict()["attempts"][1]["status_code"] == 429
    assert not (tmp_path / "o.mp4").exists()


# -- same-provider rules -----------------------------------------------------------------------


@pytest.mark.parametrize("error", [AuthenticationFailed, PermissionDenied])
async def test_a_key_refusal_skips_the_same_providers_other_models(
    fleet: Fleet, tmp_path: Path, error: type[MediaRouterError]
) -> None:
    fleet.script("p1/m1", refused(error, 401))
    async with fleet.router() as router:
        result = await router.generate("a dog", model=["p1/m1", "p1/m2", "p2/m1"], output=tmp_path / "o.mp4")
    assert [(a.ref, a.outcome) for a in result.attempts] == [
        ("p1/m1", "failed"),
        ("p1/m2", "skipped"),
        ("p2/m1", "succeeded"),
    ]
    assert "p1 refused earlier in this call" in (result.attempts[1].error or "")
    assert fleet.submits() == ["p1/m1", "p2/m1"]


async def test_insufficient_credits_still_tries_a_cheaper_model_of_the_same_provider(clock: FakeClock) -> None:
    dear = Capabilities(durations=(4, 8), price_per_second=Decimal("0.50"))
    cheap = Capabilities(durations=(4, 8), price_per_second=Decimal("0.05"))
    fleet = Fleet(clock, {"p1": {"dear": dear, "dearer": dear, "cheap": cheap}})
    fleet.script("p1/dear", refused(InsufficientCredits, 402))
    async with fleet.router() as router:
        result = await router.generate("a dog", model=["p1/dear", "p1/dearer", "p1/cheap"], duration=8)
    assert [(a.ref, a.outcome) for a in result.attempts] == [
        ("p1/dear", "failed"),
        ("p1/dearer", "skipped"),
        ("p1/cheap", "succeeded"),
    ]
    assert result.attempts[1].error_type == "InsufficientCredits"
    assert fleet.submits() == ["p1/dear", "p1/cheap"]


async def test_an_uninstalled_provider_is_a_failed_candidate_not_a_crash(fleet: Fleet, tmp_path: Path) -> None:
    async with fleet.router() as router:
        result = await router.generate("a dog", model=["nosuch/m", "p1/m1"], output=tmp_path / "o.mp4")
    assert result.attempts[0].error_type == "UnknownProvider"
    assert result.ref == "p1/m1"
    async with fleet.router() as router:
        with pytest.raises(UnknownProvider):
            await router.generate("a dog", model="nosuch/m")


async def test_the_failover_policy_is_overridable_per_router(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/m1", Script(polls=["expired"]))
    policy = FailoverPolicy(after_accept=(JobExpired,))
    async with fleet.router(failover=policy) as router:
        result = await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4")
    assert result.ref == "p2/m1"
    fleet.script("p1/m1", refused(InvalidRequest, 400))
    async with fleet.router(failover=FailoverPolicy(before_accept=())) as router:
        with pytest.raises(InvalidRequest):
            await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4")


# -- events ------------------------------------------------------------------------------------


async def test_router_events_tie_every_step_to_the_call_and_the_candidate(fleet: Fleet, tmp_path: Path) -> None:
    fleet.script("p1/m1", refused(InsufficientCredits, 402))
    events: list[Event] = []
    async with fleet.router(listeners=[events.append]) as router:
        await router.generate("a dog", model=CHAIN, output=tmp_path / "o.mp4")
    call_ids = {e.call_id for e in events}
    assert len(call_ids) == 1 and None not in call_ids
    names = [e.name for e in events if e.name.startswith("router.")]
    assert names == [
        "router.call_started",
        "router.estimate",
        "router.attempt_started",
        "router.attempt_finished",
        "router.cooldown",
        "router.failover",
        "router.estimate",
        "router.attempt_started",
        "router.attempt_finished",
        "router.call_finished",
    ]
    failover = next(e for e in events if e.name == "router.failover")
    assert failover.data == {"from_ref": "p1/m1", "to_ref": "p2/m1", "error_type": "InsufficientCredits"}
    submitted = next(e for e in events if e.name == "job.submitted")
    assert submitted.attempt == 1 and submitted.job_id == "p2-m1-job1"
    assert events[-1].data == {"outcome": "succeeded", "ref": "p2/m1", "error_type": None}


# -- cost guard --------------------------------------------------------------------------------


async def test_max_cost_refuses_candidates_over_budget_and_reports_estimate_and_cost(clock: FakeClock) -> None:
    fleet = Fleet(
        clock,
        {
            "p1": {"dear": Capabilities(durations=(8,), price_per_second=Decimal("0.50"))},
            "p2": {"cheap": Capabilities(durations=(8,), price_per_second=Decimal("0.10"))},
        },
    )
    fleet.script("p2/cheap", Script(cost=Decimal("0.75")))
    async with fleet.router() as router:
        result = await router.generate("a dog", model=["p1/dear", "p2/cheap"], max_cost="1.00")
    assert [(a.ref, a.outcome, a.error_type) for a in result.attempts] == [
        ("p1/dear", "skipped", "BudgetExceeded"),
        ("p2/cheap", "succeeded", None),
    ]
    assert "estimated $4.00 for p1/dear is over max_cost $1.00" in (result.attempts[0].error or "")
    assert result.estimated_cost == Decimal("0.80") and result.cost == Decimal("0.75")
    assert result.attempts[1].estimated_cost == Decimal("0.80") and result.attempts[1].cost == Decimal("0.75")
    assert fleet.submits() == ["p2/cheap"]


async def test_every_candidate_over_budget_fails_before_any_request_naming_the_estimates(fleet: Fleet) -> None:
    async with fleet.router() as router:
        with pytest.raises(BudgetExceeded) as info:
            await router.generate("a dog", model=CHAIN, duration=8, max_cost=Decimal("0.10"))
    assert "p1/m1 $0.80" in str(info.value) and "p2/m1 $0.80" in str(info.value)
    assert info.value.estimates == {"p1/m1": Decimal("0.80"), "p2/m1": Decimal("0.80")}
    assert fleet.log == []


async def test_an_unknown_price_is_refused_under_a_budget(clock: FakeClock) -> None:
    fleet = Fleet(clock, {"p1": {"m1": Capabilities(durations=(4,))}})
    async with fleet.router() as router:
        with pytest.raises(BudgetExceeded, match=r"p1/m1 \(no known price\)"):
            await router.generate("a dog", model="p1/m1", max_cost=5)
        result = await router.generate("a dog", model="p1/m1")  # no budget: no guard
    assert result.estimated_cost is None


async def test_the_router_default_budget_comes_from_settings(fleet: Fleet) -> None:
    from .router_fakes import quiet_settings

    async with fleet.router(settings=quiet_settings(max_cost=Decimal("0.01"))) as router:
        with pytest.raises(BudgetExceeded):
            await router.generate("a dog", model=CHAIN)
    assert fleet.log == []


# -- cooldowns ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [refused(RateLimited, 429), refused(ProviderUnavailable, None, sent=False), refused(InsufficientCredits, 402)],
)
async def test_a_failing_candidate_is_skipped_by_later_calls_until_its_cooldown_ends(
    clock: FakeClock, tmp_path: Path, script: Script
) -> None:
    fleet = Fleet(clock)
    fleet.script("p1/m1", script)
    async with fleet.router(cooldown=60) as router:
        await router.generate("a dog", model=CHAIN, output=tmp_path / "1.mp4")
        submits = len(fleet.submits())
        second = await router.generate("a dog", model=CHAIN, output=tmp_path / "2.mp4")
        assert fleet.submits()[submits:] == ["p2/m1"]
        assert second.attempts[0].outcome == "cooldown"
        assert second.attempts[0].error_type == script.submit_error().__class__.__name__  # type: ignore[misc]
        assert "cooling down for" in (second.attempts[0].error or "")
        assert "p1/m1" in router.cooldowns.snapshot()
        clock.advance(61)
        fleet.script("p1/m1", Script())
        third = await router.generate("a dog", model=CHAIN, output=tmp_path / "3.mp4")
    assert [(a.ref, a.outcome) for a in third.attempts] == [("p1/m1", "succeeded")]


async def test_cooldowns_are_not_started_by_request_errors_and_can_be_turned_off(fleet: Fleet) -> None:
    fleet.script("p1/m1", refused(InvalidRequest, 400))
    async with fleet.router() as router:
        await router.generate("a dog", model=CHAIN)
        assert router.cooldowns.snapshot() == {}
    fleet.script("p1/m1", refused(RateLimited, 429))
    async with fleet.router(cooldown=0) as router:
        await router.generate("a dog", model=CHAIN)
        assert router.cooldowns.snapshot() == {}


async def test_retry_after_longer_than_the_cooldown_wins(fleet: Fleet) -> None:
    fleet.script("p1/m1", Script(submit_error=lambda: RateLimited("slow down", status_code=429, retry_after=300)))
    async with fleet.router(cooldown=60) as router:
        await router.generate("a dog", model=CHAIN)
        assert router.cooldowns.snapshot()["p1/m1"] == pytest.approx(300, abs=5)


async def test_every_candidate_cooling_down_fails_with_the_class_of_the_cause(fleet: Fleet) -> None:
    fleet.script("p1/m1", refused(RateLimited, 429))
    fleet.script("p2/m1", refused(ProviderUnavailable, None, sent=False))
    async with fleet.router() as router:
        with pytest.raises(AllCandidatesFailed):
            await router.generate("a dog", model=CHAIN)
        before = len(fleet.log)
        with pytest.raises(AllCandidatesFailed) as info:
            await router.generate("a dog", model=CHAIN)
    assert len(fleet.log) == before  # no round trip at all
    assert [a.outcome for a in info.value.attempts] == ["cooldown", "cooldown"]
    assert isinstance(info.value.last_error, ProviderUnavailable)


# -- deadline and request-level errors ----------------------------------------------------------


async def test_the_timeout_covers_the_whole_call(fleet: Fleet) -> None:
    fleet.script("p1/m1", Script(polls=["in_progress"] * 5 + ["failed"]))
    fleet.script("p2/m1", Script(polls=[HANG]))
    async with fleet.router() as router:
        with pytest.raises(JobTimeout) as info:
            await router.generate("a dog", model=CHAIN, timeout=100)
    assert info.value.job_id == "p2-m1-job1"
    assert fleet.clock.monotonic() - 1000.0 == pytest.approx(100, abs=1)


async def test_a_request_error_for_every_candidate_is_raised_as_is(fleet: Fleet) -> None:
    async with fleet.router() as router:
        with pytest.raises(InvalidRequest, match="size must look like"):
            await router.generate("a dog", model=CHAIN, size="big")
    assert fleet.log == []
