"""An estimate without a duration prices what the provider makes: its declared default, else the longest
duration the request could get; durations tied to a resolution (or to references) are known before any
request, to validation, to `fit='adjust'` and to the estimate alike."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import BudgetExceeded, Capabilities, CapabilityMismatch, Modality, VideoRequest
from mediarouter.batch import run_batch
from mediarouter.fitting import fit_request
from mediarouter.journal import MemoryJobStore
from mediarouter.validation import validate_request

from .router_fakes import Fleet, Script

D = Decimal

#: A third-party plugin that declares none of the new fields (what every plugin looked like before them).
PLAIN = Capabilities(durations=(4, 6, 8), resolutions=("720p", "1080p"), price_per_second=D("0.40"))
#: fal's Veo 3: fal makes 8 s when no duration is sent.
DEFAULTED = PLAIN.model_copy(update={"default_duration": 8})
#: Gemini's Veo 3.1: 4 s unless Google requires 8 s (1080p, 4K, reference images).
TIED = Capabilities(
    modalities=(Modality.TEXT_TO_VIDEO, Modality.REFERENCE_TO_VIDEO),
    durations=(4, 6, 8),
    resolutions=("720p", "1080p", "4K"),
    sizes=("1280x720", "1920x1080", "3840x2160"),
    reference_types=("image_url",),
    price_per_second=D("0.40"),
    default_resolution="720p",
    default_duration=4,
    durations_by_resolution={"1080p": (8,), "4K": (8,)},
    reference_durations=(8,),
)
REFS = [{"type": "image_url", "image_url": {"url": "https://img.example.test/ref.png"}}]


def request(**fields: Any) -> VideoRequest:
    return VideoRequest(prompt="a fox", **fields)


def check(caps: Capabilities, **fields: Any) -> None:
    validate_request(request(**fields), caps, model="veo", provider="p")


# -- the estimate --------------------------------------------------------------------------------


def test_a_plugin_that_declares_nothing_is_estimated_at_its_longest_duration_and_says_so() -> None:
    found = PLAIN.estimate(request())
    assert found is not None
    assert (found.duration, found.amount, found.assumed) == (8, D("3.20"), ("duration",))
    assert found.describe() == "$3.20 (8 s × $0.40/s; longest duration assumed: duration unset)"
    assert PLAIN.estimate_cost(None) == D("3.20")  # the bare form agrees
    assert PLAIN.estimate_cost(4) == D("1.60")  # a given duration is priced as given


def test_a_plugin_that_declares_nothing_keeps_todays_validation() -> None:
    for seconds in (4, 6, 8):
        check(PLAIN, duration=seconds, resolution="1080p")
    with pytest.raises(CapabilityMismatch, match="duration=5s is not supported") as caught:
        check(PLAIN, duration=5)
    assert caught.value.field == "duration" and caught.value.supported == [4, 6, 8]


def test_a_single_duration_is_not_an_assumption() -> None:
    found = Capabilities(durations=(8,), price_per_second=D("0.40")).estimate(request())
    assert found is not None and (found.duration, found.exact) == (8, True)


def test_a_declared_default_is_what_is_priced_exactly() -> None:
    found = DEFAULTED.estimate(request())
    assert found is not None
    assert (found.duration, found.amount, found.exact) == (8, D("3.20"), True)
    assert found.describe() == "$3.20 (8 s × $0.40/s)"


def test_a_resolution_that_needs_8_seconds_is_estimated_at_8_seconds() -> None:
    for fields in ({"resolution": "1080p"}, {"resolution": "4K"}, {"size": "1920x1080"}, {"size": "3840x2160"}):
        found = TIED.estimate(request(**fields))
        assert found is not None and (found.duration, found.amount, found.exact) == (8, D("3.20"), True), fields
    found = TIED.estimate(request(resolution="720p"))
    assert found is not None and (found.duration, found.exact) == (4, True)  # the declared default
    found = TIED.estimate(request())  # the default resolution, 720p
    assert found is not None and found.duration == 4


def test_references_that_need_8_seconds_are_estimated_at_8_seconds() -> None:
    found = TIED.estimate(request(input_references=REFS))
    assert found is not None and (found.duration, found.amount) == (8, D("3.20"))


def test_an_unknown_resolution_that_decides_the_duration_is_priced_at_the_dearest() -> None:
    caps = TIED.model_copy(update={"default_resolution": None})
    found = caps.estimate(request())
    assert found is not None and (found.duration, found.amount) == (8, D("3.20"))
    assert "duration" in found.assumed


def test_a_default_the_resolution_does_not_allow_gives_way_to_the_longest_it_allows() -> None:
    caps = Capabilities(
        durations=(4, 6, 8),
        resolutions=("720p", "1080p"),
        default_duration=4,
        durations_by_resolution={"1080p": (6, 8)},
    )
    assert caps.default_duration_for(request(resolution="1080p")) == 8
    assert caps.default_duration_for(request(resolution="720p")) == 4
    found = caps.model_copy(update={"price_per_second": D("1")}).estimate(request(resolution="1080p"))
    assert found is not None and (found.duration, found.assumed) == (8, ("duration",))


# -- validation and fitting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"resolution": "1080p"}, "resolution=1080p"),
        ({"resolution": "4K"}, "resolution=4K"),
        ({"size": "1920x1080"}, "size=1920x1080 (1080p)"),
    ],
)
def test_a_duration_the_resolution_does_not_allow_is_refused_naming_both_fields(
    fields: dict[str, str], where: str
) -> None:
    with pytest.raises(CapabilityMismatch) as caught:
        check(TIED, duration=4, **fields)
    error = caught.value
    assert error.field == "duration" and error.value == 4 and error.supported == [8]
    assert f"duration=4s is not allowed at {where}" in error.message and "needs duration=8s" in error.message
    assert error.hint is not None and "8s" in error.hint and "adjust" in error.hint


def test_a_duration_references_do_not_allow_is_refused() -> None:
    with pytest.raises(CapabilityMismatch, match=r"with reference images .* needs duration=8s") as caught:
        check(TIED, duration=6, input_references=REFS)
    assert caught.value.field == "duration" and caught.value.supported == [8]
    check(TIED, duration=8, input_references=REFS)
    check(TIED, duration=4, resolution="720p")


def test_adjust_snaps_the_duration_to_the_one_the_resolution_allows() -> None:
    fit = fit_request(request(resolution="1080p", duration=4), TIED, policy="adjust", provider="p", model="veo")
    assert fit.request is not None and fit.request.duration == 8
    assert fit.adjustments == {"duration": {"requested": 4, "applied": 8}}
    strict = fit_request(request(resolution="1080p", duration=4), TIED, policy="strict", provider="p", model="veo")
    assert strict.request is None and strict.mismatch is not None and strict.mismatch.field == "duration"


def test_adjust_snaps_the_duration_again_when_snapping_the_resolution_ties_it() -> None:
    """5 s at 2K: 5 → 6 s among every duration, 2K → 1080p, then 6 → 8 s, the only one 1080p allows."""
    fit = fit_request(request(resolution="2K", duration=5), TIED, policy="adjust", provider="p", model="veo")
    assert fit.request is not None and (fit.request.resolution, fit.request.duration) == ("1080p", 8)
    assert fit.adjustments == {
        "duration": {"requested": 5, "applied": 8},
        "resolution": {"requested": "2K", "applied": "1080p"},
    }


# -- through the router: the dry run, the guard and the submit agree ----------------------------


def fleet_of(clock: FakeClock, caps: Capabilities) -> Fleet:
    return Fleet(clock, {"p1": {"veo": caps}})


async def test_max_cost_refuses_an_unset_duration_priced_at_the_longest_before_any_request(clock: FakeClock) -> None:
    """Before: priced at 4 s ($1.60), under a $2 guard, while the provider may make (and bill) 8 s."""
    fleet = fleet_of(clock, PLAIN)
    async with fleet.router() as router:
        with pytest.raises(BudgetExceeded, match=r"p1/veo \$3\.20"):
            await router.generate("a fox", model="p1/veo", max_cost="2")
    assert fleet.log == []


async def test_max_cost_prices_the_declared_default(clock: FakeClock) -> None:
    fleet = fleet_of(clock, DEFAULTED)
    async with fleet.router() as router:
        with pytest.raises(BudgetExceeded):
            await router.generate("a fox", model="p1/veo", max_cost="2")
        result = await router.generate("a fox", model="p1/veo", max_cost="3.20")
    assert result.estimated_cost == D("3.20")
    assert fleet.providers["p1"].submitted[0].duration is None  # unset is sent as unset: the default is made


async def test_the_dry_run_and_the_run_agree_on_a_resolution_tied_duration(clock: FakeClock) -> None:
    fleet = fleet_of(clock, TIED)
    async with fleet.router() as router:
        [planned] = await router.plan("a fox", model="p1/veo", resolution="1080p", duration=4, fit="adjust")
        assert planned.usable and planned.adjustments == {"duration": {"requested": 4, "applied": 8}}
        assert planned.estimated_cost == D("3.20") and planned.price == "$3.20 (8 s × $0.40/s)"
        result = await router.generate("a fox", model="p1/veo", resolution="1080p", duration=4, fit="adjust")
        assert result.estimated_cost == D("3.20")
        assert fleet.providers["p1"].submitted[-1].duration == 8
        with pytest.raises(CapabilityMismatch, match="resolution=1080p"):
            await router.generate("a fox", model="p1/veo", resolution="1080p", duration=4, fit="strict")
        [skipped] = await router.plan("a fox", model="p1/veo", resolution="1080p", duration=4, fit="skip")
        assert not skipped.usable and skipped.error_type == "CapabilityMismatch"
    assert len(fleet.submits()) == 1


async def test_a_batch_budget_counts_the_default_duration_not_the_shortest(clock: FakeClock, tmp_path: Path) -> None:
    """Two lines without a duration on a model that makes 8 s by default, $3.30 for the batch: one fits."""
    fleet = fleet_of(clock, DEFAULTED)
    fleet.script("p1/veo", Script(cost=None))  # like fal: no reported cost, the estimate is what counts
    lines = [json.dumps({"prompt": f"fox {n}", "model": "p1/veo"}) for n in (1, 2)]
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(router, lines, output_dir=tmp_path, max_total_cost="3.3", concurrency=1)
    assert len(fleet.submits()) == 1
    assert [r.error_type for r in report.failures] == ["BudgetExceeded"]
    assert report.totals.estimated == D("3.20") and report.totals.spent == D("3.20")


# -- the data ------------------------------------------------------------------------------------


def test_new_fields_are_optional_and_serialize_only_when_set() -> None:
    assert not {"default_duration", "durations_by_resolution", "reference_durations"} & set(
        PLAIN.model_dump(mode="json", exclude_none=True)
    )
    dumped = TIED.model_dump(mode="json", exclude_none=True)
    assert dumped["default_duration"] == 4
    assert dumped["durations_by_resolution"] == {"1080p": [8], "4K": [8]}
    assert dumped["reference_durations"] == [8]
    assert Capabilities.model_validate(dumped) == TIED


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"durations": (4, 6), "default_duration": 8}, "default_duration 8 is not in durations"),
        ({"durations": (4, 6), "durations_by_resolution": {"1080p": (8,)}}, "not all in durations"),
        ({"durations_by_resolution": {"1080p": ()}}, "non-empty"),
        ({"reference_durations": (0,)}, "positive"),
    ],
)
def test_inconsistent_durations_are_a_plugin_error_at_construction(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Capabilities(**fields)


def test_the_duration_a_plugin_sends_unset_is_the_one_the_estimate_prices() -> None:
    """`default_duration_for` is what a plugin that always sends a duration sends: the estimate's duration."""
    unknown_resolution = TIED.model_copy(update={"default_resolution": None})
    for caps in (PLAIN, DEFAULTED, TIED, unknown_resolution):
        for fields in ({}, {"resolution": "1080p"}, {"size": "1920x1080"}, {"input_references": REFS}):
            if "size" in fields and caps.sizes is None:
                continue
            req = request(**fields)
            found = caps.estimate(req)
            assert found is not None and found.duration == caps.default_duration_for(req), (caps, fields)
        bare = caps.estimate(None)
        assert bare is not None and bare.duration == caps.default_duration_for(), caps
