"""The shared injection grammar: each backend declares its phases, the outcomes are defined once, and
every bad spec is refused with a message naming the part and listing what is allowed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mediarouter.emulation.injection import (
    JOB_OUTCOMES,
    NETWORK_OUTCOMES,
    Injection,
    InjectionGrammar,
    Injector,
    PhaseSpec,
)

GRAMMAR = InjectionGrammar(
    phases=(
        PhaseSpec("submit", outcomes=NETWORK_OUTCOMES),
        PhaseSpec("status", outcomes=("timeout", *JOB_OUTCOMES)),
        PhaseSpec("result", outcomes=("garbage",)),
        PhaseSpec("cancel", outcomes=("drop",), http=False, takes_model=False),
    ),
    model_example="fal-ai/veo3",
)


@dataclass(frozen=True)
class QueueInjection(Injection):
    grammar = GRAMMAR


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("submit:402", QueueInjection("submit", 402)),
        ("SUBMIT:Timeout", QueueInjection("submit", "timeout")),
        ("submit:drop:fal-ai/veo3x2", QueueInjection("submit", "drop", "fal-ai/veo3", 2)),
        ("submit:slow", QueueInjection("submit", "slow")),
        (
            "status:failed:fal-ai/kling-video/v2.1/master:text",
            QueueInjection("status", "failed", "fal-ai/kling-video/v2.1/master:text"),
        ),
        ("result:garbagex1", QueueInjection("result", "garbage", None, 1)),
        ("cancel:drop", QueueInjection("cancel", "drop")),
    ],
)
def test_good_specs_parse_and_round_trip(spec: str, expected: QueueInjection) -> None:
    parsed = QueueInjection.parse(spec)
    assert parsed == expected
    assert QueueInjection.parse(parsed.spec()) == parsed
    assert isinstance(parsed, QueueInjection)


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("upload:500", "unknown phase 'upload'"),
        ("submit", "invalid injection 'submit'"),
        ("submit:failed", "outcome 'failed' is not allowed for phase submit"),  # job outcomes only where declared
        ("result:timeout", "outcome 'timeout' is not allowed for phase result"),
        ("cancel:500", "outcome 500 is not allowed for phase cancel"),  # a phase without HTTP statuses
        ("submit:399", "outcome 399"),
        ("submit:600", "outcome 600"),
        ("submit:402:", "the model is empty"),
        ("submit:402x0", "times 0 must be >= 1"),
        ("cancel:drop:fal-ai/veo3", "cancel injections take no MODEL"),
    ],
)
def test_bad_specs_name_the_part_and_list_every_rule(spec: str, names: str) -> None:
    with pytest.raises(ValueError) as info:
        QueueInjection.parse(spec)
    message = str(info.value)
    assert names in message
    assert f"invalid injection {spec!r}" in message
    for word in ("submit", "status", "result", "cancel", "400-599", *NETWORK_OUTCOMES, *JOB_OUTCOMES, "fal-ai/veo3"):
        assert word in message


def test_help_says_which_phase_takes_which_outcome() -> None:
    text = GRAMMAR.help()
    assert "an HTTP status 400-599 (submit, status, result)" in text
    assert "for submit only, one of slow" in text
    assert "for status only, one of failed, cancelled, expired" in text
    assert "not taken by cancel" in text
    assert GRAMMAR.outcomes_for("cancel") == ("drop",)


def test_direct_construction_is_checked_like_parsing() -> None:
    with pytest.raises(ValueError, match="not allowed for phase result"):
        QueueInjection("result", "failed")
    assert QueueInjection("submit", "503").outcome == 503  # digits become a status


def test_outcome_kinds_are_told_apart() -> None:
    status, network, job = (
        QueueInjection("submit", 429),
        QueueInjection("submit", "drop"),
        QueueInjection("status", "expired"),
    )
    assert (status.status_code, status.network_outcome, status.job_outcome) == (429, None, None)
    assert (network.status_code, network.network_outcome, network.job_outcome) == (None, "drop", None)
    assert (job.status_code, job.network_outcome, job.job_outcome, job.terminal_status) == (
        None,
        None,
        "expired",
        "expired",
    )


def test_the_base_class_needs_a_grammar() -> None:
    with pytest.raises(TypeError, match="grammar"):
        Injection("submit", 500)


def test_a_grammar_refuses_unknown_outcomes_and_duplicate_phases() -> None:
    with pytest.raises(ValueError, match="allowed values: timeout, drop, garbage, slow, failed"):
        PhaseSpec("poll", outcomes=("explode",))
    with pytest.raises(ValueError, match="unique"):
        InjectionGrammar(phases=(PhaseSpec("poll"), PhaseSpec("poll")))


def test_injector_fires_the_first_match_and_spends_its_firings() -> None:
    injector = Injector(
        [
            QueueInjection.parse("submit:429:fal-ai/veo3x1"),
            QueueInjection.parse("submit:500x2"),
            QueueInjection.parse("status:failed"),
        ]
    )
    taken = [injector.take("submit", "fal-ai/veo3") for _ in range(4)]
    assert [i.spec() if i else None for i in taken] == [
        "submit:429:fal-ai/veo3x1",
        "submit:500x2",
        "submit:500x2",
        None,
    ]
    assert injector.take("status", "fal-ai/veo3") is None  # job outcomes are not request answers
    assert injector.take("status", "fal-ai/veo3", job=True) == QueueInjection("status", "failed")
    assert injector.take("status", "any/model", job=True) is not None  # no xN: every time
    assert len(injector.fired) == 5


def test_injector_reset_rearms_the_configured_ones_only() -> None:
    injector = Injector([QueueInjection.parse("submit:402x1")])
    injector.add(QueueInjection.parse("result:garbage"))
    assert injector.take("submit") is not None and injector.take("submit") is None
    injector.reset()
    assert injector.armed == [(QueueInjection("submit", 402, None, 1), 1)]
    assert injector.fired == []
