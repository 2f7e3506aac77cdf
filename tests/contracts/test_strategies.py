"""The kit's strategies draw what they claim: valid requests, requests breaking exactly one rule,
scenarios within the engine's budgets, and small readable counterexamples."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from mediarouter_contracts import (
    DEFAULT_CAPABILITIES,
    EngineOptions,
    HttpError,
    InvalidCase,
    Scenario,
    invalid_cases_for,
    invalid_requests_for,
    requests_for,
    scenarios,
    successful_scenarios,
)
from mediarouter_contracts.strategies import _BREAKERS, FOREIGN_SLUG

from mediarouter import Capabilities, CapabilityMismatch, InvalidRequest, Modality, validate_request

CAPABILITIES = {
    "default": DEFAULT_CAPABILITIES,
    "nothing-advertised": Capabilities(),
    "strict-text-only": Capabilities(
        modalities=(Modality.TEXT_TO_VIDEO,),
        durations=(5,),
        resolutions=("720p",),
        aspect_ratios=("16:9",),
        sizes=(),
        audio=False,
        seed=False,
        prompt_required=True,
    ),
    "sizes-and-passthrough": Capabilities(
        modalities=(Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO, Modality.REFERENCE_TO_VIDEO),
        durations=(4, 8),
        sizes=("1280x720", "720x1280"),
        frame_images=("last_frame",),
        reference_types=("image_url",),
        passthrough_parameters=("negativePrompt",),
        prompt_required=True,
    ),
    "own-passthrough-slug": Capabilities(passthrough_parameters=("negative_prompt",), passthrough_slug="acme"),
}
NO_EXPLAIN = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def check(request: object, caps: Capabilities) -> None:
    validate_request(request, caps, model="m", provider="p")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", CAPABILITIES)
def test_requests_for_draws_only_valid_requests(name: str) -> None:
    caps = CAPABILITIES[name]

    @SETTINGS
    @given(requests_for(caps))
    def valid(request: object) -> None:
        check(request, caps)

    valid()


@pytest.mark.parametrize("name", CAPABILITIES)
def test_invalid_cases_break_exactly_the_one_rule_they_name(name: str) -> None:
    caps = CAPABILITIES[name]

    @SETTINGS
    @given(invalid_cases_for(caps))
    def invalid(case: InvalidCase) -> None:
        check(case.base, caps)  # everything else about the request is fine …
        with pytest.raises(InvalidRequest) as info:  # … and the one broken rule is what is refused
            check(case.request, caps)
        assert type(info.value) is case.error, case.rule
        if isinstance(info.value, CapabilityMismatch):
            assert info.value.field == case.field, case.rule
        changed = {k for k in type(case.base).model_fields if getattr(case.base, k) != getattr(case.request, k)}
        assert changed, "an invalid case must differ from its base"

    invalid()


@pytest.mark.parametrize("name", CAPABILITIES)
def test_invalid_requests_for_are_all_refused(name: str) -> None:
    caps = CAPABILITIES[name]

    @SETTINGS
    @given(invalid_requests_for(caps))
    def refused(request: object) -> None:
        with pytest.raises(InvalidRequest):
            check(request, caps)

    refused()


APPLICABLE = [
    pytest.param(name, breaker, id=f"{name}-{breaker.__name__.removeprefix('_break_')}")
    for name, caps in CAPABILITIES.items()
    for breaker in _BREAKERS
    if breaker(caps) is not None
]


@pytest.mark.parametrize(("name", "breaker"), APPLICABLE)
def test_every_applicable_rule_can_be_broken_alone(name: str, breaker: Any) -> None:
    caps = CAPABILITIES[name]

    @settings(SETTINGS, max_examples=5)
    @given(breaker(caps))
    def alone(case: InvalidCase) -> None:
        check(case.base, caps)
        with pytest.raises(case.error):
            check(case.request, caps)

    alone()


def test_passthrough_goes_under_the_models_own_slug_beside_other_backends_options() -> None:
    """A plugin reading only its own slug is proved on that slug, and must let other backends' options be."""
    caps = CAPABILITIES["own-passthrough-slug"]
    requests = requests_for(caps)
    own = find(requests, lambda r: "acme" in (r.provider_options or {}))
    assert own.provider_options["acme"] == {"parameters": {"negative_prompt": "blurry, low quality"}}
    foreign = find(requests, lambda r: set(r.provider_options or {}) - {"acme"})
    check(foreign, caps)  # another backend's keys are not this model's to refuse
    assert all(k not in caps.passthrough_parameters for k in foreign.provider_options[FOREIGN_SLUG]["parameters"])
    case = find(invalid_cases_for(caps), lambda c: c.field.startswith("provider_options"))
    assert case.field == "provider_options.acme.parameters"


def test_without_an_own_slug_no_foreign_options_are_drawn() -> None:
    """A plugin that forwards every slug (OpenRouter) checks them all: options under any slug must be allowed."""
    caps = CAPABILITIES["sizes-and-passthrough"]

    @SETTINGS
    @given(requests_for(caps))
    def only_allowed(request: Any) -> None:
        for options in (request.provider_options or {}).values():
            assert set(options["parameters"]) <= set(caps.passthrough_parameters or ())

    only_allowed()


def test_the_strict_model_gets_every_kind_of_rule_it_can_break() -> None:
    caps = CAPABILITIES["strict-text-only"]
    applicable = {b.__name__ for b in _BREAKERS if b(caps) is not None}
    assert {"_break_audio", "_break_seed", "_break_frames_modality", "_break_references_modality"} <= applicable
    assert "_break_frame_type" not in applicable  # frames are already refused by modality


def _shrunk(strategy: Any, fails: Any) -> Any:
    """The counterexample hypothesis reports for a property that fails when `fails(example)`."""
    seen: list[Any] = []

    @settings(database=None, max_examples=2000, deadline=None, phases=NO_EXPLAIN)
    @given(strategy)
    def prop(example: Any) -> None:
        if fails(example):
            seen.append(example)
            raise AssertionError

    with pytest.raises(AssertionError):
        prop()
    return seen[-1]


def test_counterexamples_shrink_to_a_readable_line() -> None:
    failing = _shrunk(scenarios(), lambda s: isinstance(s.polls.at(0), HttpError) and s.polls.at(0).status >= 500)
    # Only what makes it fail is left: every other field is back at its plainest value.
    text = repr(failing)
    assert text.startswith("Scenario(job='job-1', polls=") and "HTTP 500 'Insufficient credits'" in text
    assert text.endswith(", statuses=completed, cost=0.40)")
    request = _shrunk(requests_for(DEFAULT_CAPABILITIES), lambda r: r.duration is not None)
    assert request.redacted() == {"prompt": "a dog on a beach", "duration": 4}


@SETTINGS
@given(successful_scenarios(EngineOptions(submit_retries=1, download_retries=2)))
def test_successful_scenarios_stay_within_the_retry_budgets(scenario: Scenario) -> None:
    assert scenario.final_status == "completed"
    assert len(scenario.submit.first) <= 1
    assert len(scenario.download.first) <= 2
    assert len(scenario.polls.first) <= 5
    assert scenario.submit.then == scenario.polls.then == scenario.download.then == scenario.models.then
    assert not scenario.redirect_download


@SETTINGS
@given(scenarios(), st.integers(0, 20))
def test_scripts_answer_first_then_fallback(scenario: Scenario, n: int) -> None:
    for phase in ("submit", "poll", "download", "models"):
        script = scenario.script(phase)  # type: ignore[arg-type]
        expected = script.first[n] if n < len(script.first) else script.then
        assert script.at(n) == expected
    assert scenario.status_at(n) == scenario.statuses[min(n, len(scenario.statuses) - 1)]
    assert scenario.cost is None or scenario.cost >= Decimal(0)
