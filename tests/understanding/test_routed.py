"""The routed describe on fakes: failover by error class, cooldowns, the cost guard, the money stop."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from mediarouter_contracts import FakeClock

from mediarouter import (
    AllCandidatesFailed,
    AuthenticationFailed,
    BudgetExceeded,
    CapabilityMismatch,
    Provider,
    ProviderUnavailable,
    RateLimited,
)
from mediarouter.describing import describe
from mediarouter.router import Router

from .fakes import FakeDescriber, NotADescriber

PRICED = {"price_per_input_token": Decimal("0.000001"), "price_per_output_token": Decimal("0.000004")}


def _router(clock: FakeClock, *providers: Provider, **kwargs: Any) -> Router:
    return Router(providers={p.name: p for p in providers}, clock=clock, journal="off", **kwargs)


async def test_a_rate_limited_model_fails_over_and_is_skipped_by_the_next_call_while_cooling(
    clock: FakeClock, clip: bytes
) -> None:
    a = FakeDescriber("a", scripts={"m1": [lambda: RateLimited("slow down", status_code=429, retry_after=5)]})
    b = FakeDescriber("b")
    async with _router(clock, a, b, cooldown=60) as router:
        first = await describe(router, clip, "What?", model="a/m1", fallbacks=["b/m1"], use_cache=False)
        assert first.ref == "b/m1" and [t.outcome for t in first.attempts] == ["failed", "succeeded"]
        second = await describe(router, clip, "What?", model="a/m1", fallbacks=["b/m1"], use_cache=False)
    assert [t.outcome for t in second.attempts] == ["cooldown", "succeeded"]
    assert len(a.calls) == 1 and len(b.calls) == 2


async def test_a_refused_key_skips_every_model_of_that_provider(clock: FakeClock, clip: bytes) -> None:
    a = FakeDescriber(
        "a",
        models={"m1": {}, "m2": {}},
        scripts={"m1": [lambda: AuthenticationFailed("bad key", status_code=401)]},
    )
    b = FakeDescriber("b")
    async with _router(clock, a, b) as router:
        result = await describe(router, clip, "What?", model="a/m1", fallbacks=["a/m2", "b/m1"], use_cache=False)
    outcomes = [(t.ref, t.outcome) for t in result.attempts]
    assert outcomes == [("a/m1", "failed"), ("a/m2", "skipped"), ("b/m1", "succeeded")]
    assert [m for m, _ in a.calls] == ["m1"]


async def test_a_server_error_after_sending_stops_the_call_so_nothing_is_paid_twice(
    clock: FakeClock, clip: bytes
) -> None:
    """A 5xx to a sent POST is an unknown outcome (outcomes.py): the model may have run and billed."""
    a = FakeDescriber("a", scripts={"m1": [lambda: ProviderUnavailable("HTTP 502", status_code=502)]})
    b = FakeDescriber("b")
    async with _router(clock, a, b, cooldown=60) as router:
        with pytest.raises(ProviderUnavailable) as caught:
            await describe(router, clip, "What?", model="a/m1", fallbacks=["b/m1"], use_cache=False)
        assert router.cooldowns.active("a/m1") is not None
    assert b.calls == []
    assert caught.value.hint is not None and "billed" in caught.value.hint
    assert [t["outcome"] for t in caught.value.details["attempts"]] == ["failed"]


async def test_a_server_error_to_a_request_that_was_never_sent_fails_over(clock: FakeClock, clip: bytes) -> None:
    a = FakeDescriber("a", scripts={"m1": [lambda: ProviderUnavailable("connect refused", sent=False)]})
    b = FakeDescriber("b")
    async with _router(clock, a, b) as router:
        result = await describe(router, clip, "What?", model="a/m1", fallbacks=["b/m1"], use_cache=False)
    assert result.ref == "b/m1"


async def test_an_answer_lost_after_sending_stops_the_call_so_nothing_is_paid_twice(
    clock: FakeClock, clip: bytes
) -> None:
    a = FakeDescriber("a", scripts={"m1": [lambda: ProviderUnavailable("ReadTimeout", sent=True)]})
    b = FakeDescriber("b")
    async with _router(clock, a, b) as router:
        with pytest.raises(ProviderUnavailable) as caught:
            await describe(router, clip, "What?", model="a/m1", fallbacks=["b/m1"], use_cache=False)
    assert b.calls == []
    assert caught.value.hint is not None and "billed" in caught.value.hint


async def test_a_provider_without_video_understanding_and_an_unknown_model_are_skipped(
    clock: FakeClock, clip: bytes
) -> None:
    b = FakeDescriber("b")
    async with _router(clock, NotADescriber(), b) as router:
        result = await describe(router, clip, "What?", model="gen/x", fallbacks=["b/nope", "b/m1"], use_cache=False)
        assert [t.error_type for t in result.attempts] == ["CapabilityMismatch", "CapabilityMismatch", None]
        with pytest.raises(CapabilityMismatch) as caught:
            await describe(router, clip, "What?", model="b/nope", use_cache=False)
    assert "does not take video input" in caught.value.message and "m1" in caught.value.message


async def test_the_cost_guard_skips_a_dear_model_and_uses_a_cheaper_one(clock: FakeClock, clip: bytes) -> None:
    dear = {"price_per_input_token": Decimal("0.001"), "price_per_output_token": Decimal("0.001")}
    a = FakeDescriber("a", models={"pro": dear, "lite": PRICED})
    async with _router(clock, a) as router:
        result = await describe(
            router, clip, "What?", model="a/pro", fallbacks=["a/lite"], max_cost="0.01", use_cache=False
        )
        assert result.ref == "a/lite" and result.attempts[0].error_type == "BudgetExceeded"
        # 2 s x 300 tokens/s + prompt at $1/M in, 1024 tokens at $4/M out: about half a cent.
        assert result.estimated_cost is not None and Decimal("0.004") < result.estimated_cost < Decimal("0.006")
        with pytest.raises(BudgetExceeded) as caught:
            await describe(router, clip, "What?", model="a/pro", fallbacks=["a/lite"], max_cost="0.001")
    assert "every candidate" in caught.value.message
    assert [m for m, _ in a.calls] == ["lite"]


async def test_an_unpriced_model_is_refused_under_a_cost_guard(clock: FakeClock, clip: bytes) -> None:
    a = FakeDescriber("a")  # no prices advertised
    async with _router(clock, a) as router:
        with pytest.raises(BudgetExceeded, match="cannot be estimated"):
            await describe(router, clip, "What?", model="a/m1", max_cost=1)
    assert a.calls == []


async def test_every_candidate_failing_names_each_of_them(clock: FakeClock, clip: bytes) -> None:
    fail = [lambda: RateLimited("slow down", status_code=429)]
    a = FakeDescriber("a", scripts={"m1": list(fail)})
    b = FakeDescriber("b", scripts={"m1": list(fail)})
    async with _router(clock, a, b) as router:
        with pytest.raises(AllCandidatesFailed) as caught:
            await describe(router, clip, "What?", model="a/m1", fallbacks=["b/m1"], use_cache=False)
    assert [t.ref for t in caught.value.attempts] == ["a/m1", "b/m1"]
    assert isinstance(caught.value.last_error, RateLimited)


async def test_the_result_says_who_answered_what_it_cost_and_what_was_sent(clock: FakeClock, clip: bytes) -> None:
    a = FakeDescriber("a", models={"m1": PRICED})
    async with _router(clock, a) as router:
        result = await describe(router, clip, "Summarise", model="a/m1", use_cache=False, max_tokens=50)
    assert (result.provider, result.model, result.cost) == ("a", "m1", Decimal("0.001"))
    assert result.usage.total_tokens == 12 and "total" in result.timings
    assert result.video["mime_type"] == "video/mp4" and result.video["size"] == len(clip)
    assert a.calls[0][1].max_tokens == 50
