"""The kit's strategies know durations tied to a resolution or to references (`durations_by_resolution`,
`reference_durations`): valid draws respect them, and breaking them alone is a rule of its own."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from mediarouter_contracts import InvalidCase, invalid_cases_for, requests_for
from mediarouter_contracts.strategies import _break_duration_at_resolution, _break_duration_with_references

from mediarouter import Capabilities, CapabilityMismatch, InvalidRequest, Modality, validate_request

TIED = Capabilities(
    modalities=(Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO, Modality.REFERENCE_TO_VIDEO),
    durations=(4, 6, 8),
    resolutions=("720p", "1080p", "4K"),
    sizes=("1280x720", "1920x1080", "3840x2160"),
    reference_types=("image_url",),
    durations_by_resolution={"1080p": (8,), "4K": (8,)},
    reference_durations=(8,),
    default_duration=4,
    price_per_second=Decimal("0.40"),
)
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def check(request: object) -> None:
    validate_request(request, TIED, model="m", provider="p")  # type: ignore[arg-type]


def test_requests_for_a_model_with_tied_durations_are_all_valid() -> None:
    @SETTINGS
    @given(requests_for(TIED))
    def valid(request: object) -> None:
        check(request)

    valid()


def test_invalid_cases_for_a_model_with_tied_durations_break_the_rule_they_name() -> None:
    @SETTINGS
    @given(invalid_cases_for(TIED))
    def invalid(case: InvalidCase) -> None:
        check(case.base)
        with pytest.raises(InvalidRequest) as info:
            check(case.request)
        assert type(info.value) is case.error, case.rule
        if isinstance(info.value, CapabilityMismatch):
            assert info.value.field == case.field, case.rule

    invalid()


@pytest.mark.parametrize("breaker", [_break_duration_at_resolution, _break_duration_with_references])
def test_a_tied_duration_can_be_broken_alone(breaker: object) -> None:
    strategy = breaker(TIED)  # type: ignore[operator]
    assert strategy is not None

    @settings(SETTINGS, max_examples=20)
    @given(strategy)
    def alone(case: InvalidCase) -> None:
        check(case.base)
        with pytest.raises(CapabilityMismatch) as info:
            check(case.request)
        assert info.value.field == "duration" and info.value.supported == [8]

    alone()


def test_a_model_that_ties_nothing_gets_no_tied_rule() -> None:
    plain = Capabilities(durations=(4, 6, 8), resolutions=("720p", "1080p"))
    assert _break_duration_at_resolution(plain) is None
    assert _break_duration_with_references(plain) is None
