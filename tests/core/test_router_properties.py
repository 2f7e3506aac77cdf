"""Properties of routed calls: random candidate chains × random backend failures, on a fake clock.

Each example runs a few calls on one router (time moving on between them) and checks the
invariants the money rules promise, whatever the backends do:

- at most one accepted job per call is left running or billed: every accepted job but the
  last ended `failed`, and nothing is submitted after a job that did not;
- every candidate considered leaves exactly one attempt, in candidate order;
- a call moves past a candidate only for an error class the failover policy allows, and never
  to the same provider's models after a key refusal;
- no ref is submitted to while it is cooling down, and a `cooldown` skip only happens inside one.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mediarouter_contracts.clock import FakeClock

from mediarouter import (
    AllCandidatesFailed,
    AuthenticationFailed,
    Capabilities,
    Conflict,
    InsufficientCredits,
    InvalidRequest,
    MediaRouterError,
    NotFound,
    PermissionDenied,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
    VideoResult,
)
from mediarouter.events import Event
from mediarouter.failover import FailoverPolicy
from mediarouter.results import Attempt

from .router_fakes import HANG, Fleet, Script

COOLDOWN = 60.0
POLICY = FailoverPolicy()
MODELS = {
    "p1": {
        "m1": Capabilities(durations=(4, 8), price_per_second=Decimal("0.50")),
        "m2": Capabilities(durations=(4, 8), price_per_second=Decimal("0.10")),
    },
    "p2": {
        "m1": Capabilities(durations=(4, 8), price_per_second=Decimal("0.20")),
        "m2": Capabilities(durations=(5, 10), price_per_second=Decimal("0.05")),  # never fits duration=8
    },
    "p3": {"m1": Capabilities(durations=(8,), price_per_second=Decimal("0.30"))},
}
REFS = [f"{p}/{m}" for p, models in MODELS.items() for m in models]

#: name → script: how a backend behaves for one call.
BEHAVIOURS: dict[str, Script] = {
    "ok": Script(),
    "slow-ok": Script(polls=["pending", "in_progress", "in_progress", "completed"]),
    "400": Script(submit_error=lambda: InvalidRequest("bad for this model", status_code=400)),
    "401": Script(submit_error=lambda: AuthenticationFailed("bad key", status_code=401)),
    "402": Script(submit_error=lambda: InsufficientCredits("no credits", status_code=402)),
    "403": Script(submit_error=lambda: PermissionDenied("moderation", status_code=403)),
    "404": Script(submit_error=lambda: NotFound("no such model", status_code=404)),
    "409": Script(submit_error=lambda: Conflict("previous job not done", status_code=409)),
    "429": Script(submit_error=lambda: RateLimited("slow down", status_code=429)),
    "500": Script(submit_error=lambda: ProviderUnavailable("boom", status_code=500)),
    "no-answer": Script(submit_error=lambda: ProviderUnavailable("read timeout", sent=True)),
    "refused-connect": Script(submit_error=lambda: ProviderUnavailable("connect", sent=False)),
    "garbled": Script(submit_error=lambda: ProtocolError("unreadable 202")),
    "failed": Script(polls=["in_progress", "failed"]),
    "cancelled": Script(polls=["cancelled"]),
    "expired": Script(polls=["in_progress", "expired"]),
    "poll-404": Script(polls=[lambda: NotFound("job vanished", status_code=404)]),
    "poll-5xx": Script(polls=[lambda: ProviderUnavailable("down", status_code=502)] * 20),
    "hang": Script(polls=[HANG]),
}

candidate_lists = st.lists(st.sampled_from(REFS), min_size=1, max_size=5, unique=True)
behaviour_maps = st.fixed_dictionaries({ref: st.sampled_from(sorted(BEHAVIOURS)) for ref in REFS})


@st.composite
def calls(draw: st.DrawFn) -> list[tuple[list[str], dict[str, str], float]]:
    """1-3 calls: (candidates, behaviour per ref, seconds the clock moves on before the call)."""
    count = draw(st.integers(min_value=1, max_value=3))
    return [
        (draw(candidate_lists), draw(behaviour_maps), draw(st.sampled_from([0.0, 10.0, 59.0, 61.0, 300.0])))
        for _ in range(count)
    ]


@dataclass
class Outcome:
    candidates: list[str]
    attempts: list[Attempt]
    result: VideoResult | None
    error: BaseException | None
    log_from: int
    log_to: int


def _error_class(name: str | None) -> type[MediaRouterError] | None:
    import mediarouter

    cls = getattr(mediarouter, name or "", None)
    return cls if isinstance(cls, type) and issubclass(cls, MediaRouterError) else None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=calls(), fit=st.sampled_from(["skip", "adjust"]))
def test_routing_invariants_hold_for_any_chain_and_any_backend_behaviour(
    plan: list[tuple[list[str], dict[str, str], float]], fit: str
) -> None:
    clock = FakeClock()
    fleet = Fleet(clock, MODELS)
    timeline: list[tuple[str, str, float, int]] = []  # (kind, ref, time, log index)

    def watch(event: Event) -> None:
        if event.name == "router.cooldown":
            timeline.append(("cooldown", event.data["ref"], clock.monotonic(), len(fleet.log)))
            timeline.append(("until", event.data["ref"], clock.monotonic() + event.data["seconds"], len(fleet.log)))
        elif event.name == "router.skipped" and event.data["reason"].startswith("cooling down"):
            timeline.append(("cooldown-skip", event.data["ref"], clock.monotonic(), len(fleet.log)))

    outcomes: list[Outcome] = []

    async def scenario(tmp: Path) -> None:
        async with fleet.router(cooldown=COOLDOWN, fit=fit, listeners=[watch]) as router:  # type: ignore[arg-type]
            for number, (candidates, behaviours, pause) in enumerate(plan):
                clock.advance(pause)
                for ref in REFS:
                    fleet.script(ref, BEHAVIOURS[behaviours[ref]])
                start = len(fleet.log)
                result: VideoResult | None = None
                error: BaseException | None = None
                try:
                    result = await router.generate(
                        "a dog", model=candidates, duration=8, output=tmp / f"{number}.mp4", timeout=900
                    )
                except MediaRouterError as exc:
                    error = exc
                attempts = result.attempts if result else _attempts_of(error)
                outcomes.append(Outcome(candidates, attempts, result, error, start, len(fleet.log)))

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(Path(tmp)))

    for outcome in outcomes:
        _check_one_call(fleet, outcome)
    _check_cooldowns(fleet, timeline)


def _attempts_of(error: BaseException | None) -> list[Attempt]:
    if isinstance(error, AllCandidatesFailed):
        return error.attempts
    assert isinstance(error, MediaRouterError)
    return [Attempt.model_validate(a) for a in error.details.get("attempts", [])]


def _check_one_call(fleet: Fleet, outcome: Outcome) -> None:
    log = fleet.log[outcome.log_from : outcome.log_to]
    refs = [a.ref for a in outcome.attempts]

    # Attempts: one per candidate considered, in candidate order.
    assert refs == outcome.candidates[: len(refs)], (refs, outcome.candidates)
    if isinstance(outcome.error, AllCandidatesFailed) or outcome.result is not None:
        assert len(refs) == len(outcome.candidates) or outcome.result is not None

    # Money: every accepted job but the last ended failed; nothing is submitted after one that did not.
    accepted = [e for e in log if e.kind == "accepted"]
    failed_jobs = {e.job_id for e in log if e.kind == "terminal" and e.detail == "failed"}
    for job in accepted[:-1]:
        assert job.job_id in failed_jobs, f"job {job.job_id} was not failed, yet the call submitted again"
    if accepted and accepted[-1].job_id not in failed_jobs:
        after = log[log.index(accepted[-1]) + 1 :]
        assert not [e for e in after if e.kind == "submit"], "a submit followed a job that may still bill"

    # Success: the last attempt succeeded, and only it.
    outcomes = [a.outcome for a in outcome.attempts]
    if outcome.result is not None:
        assert outcomes[-1] == "succeeded" and "succeeded" not in outcomes[:-1]
        assert outcome.result.ref == refs[-1]
    else:
        assert "succeeded" not in outcomes

    # Failover only on the allowed classes; never to the same provider after a key refusal.
    for index, attempt in enumerate(outcome.attempts[:-1]):
        if attempt.outcome != "failed":
            assert attempt.outcome in ("skipped", "cooldown")
            continue
        cls = _error_class(attempt.error_type)
        assert cls is not None
        if attempt.job_id:
            assert issubclass(cls, POLICY.after_accept), f"failed over after an accepted {attempt.error_type}"
        else:
            assert issubclass(cls, POLICY.before_accept), f"failed over after {attempt.error_type}"
            assert not (cls is ProviderUnavailable and attempt.status_code is None and attempt.error == "read timeout")
        if issubclass(cls, AuthenticationFailed):
            provider = attempt.ref.split("/")[0]
            for later in outcome.attempts[index + 1 :]:
                if later.ref.startswith(provider + "/"):
                    assert later.outcome == "skipped", f"{later.ref} tried after {attempt.ref} refused the key"
        if issubclass(cls, InsufficientCredits):
            provider = attempt.ref.split("/")[0]
            for later in outcome.attempts[index + 1 :]:
                if later.ref.startswith(provider + "/") and later.outcome in ("failed", "succeeded"):
                    assert later.estimated_cost is not None and attempt.estimated_cost is not None
                    assert later.estimated_cost < attempt.estimated_cost


def _check_cooldowns(fleet: Fleet, timeline: list[tuple[str, str, float, int]]) -> None:
    windows: dict[str, list[tuple[int, float, float]]] = {}
    for (kind, ref, start, index), (_, _, until, _) in itertools.pairwise(timeline):
        if kind == "cooldown":
            windows.setdefault(ref, []).append((index, start, until))
    for position, entry in enumerate(fleet.log):
        if entry.kind != "submit":
            continue
        for index, start, until in windows.get(entry.ref, []):
            assert not (position >= index and start <= entry.time < until), f"{entry.ref} submitted while cooling"
    for kind, ref, time, _ in timeline:
        if kind == "cooldown-skip":
            assert any(start <= time < until for _, start, until in windows.get(ref, [])), f"{ref} skipped, not cooling"
