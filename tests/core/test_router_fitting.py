"""Capability fitting: strict raises before any request, adjust snaps and reports, skip moves on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import AllCandidatesFailed, BudgetExceeded, Capabilities, CapabilityMismatch, Modality, VideoRequest
from mediarouter.fitting import FIT_POLICIES, Fit, FitPolicy, fit_request, nearest

from .router_fakes import Fleet

VEO = Capabilities(
    durations=(4, 6, 8),
    resolutions=("720p", "1080p"),
    aspect_ratios=("16:9", "9:16"),
    sizes=("1280x720", "720x1280", "1920x1080"),
    frame_images=("first_frame",),
    modalities=(Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO),
    audio=True,
    price_per_second=Decimal("0.50"),
)
TEXT_ONLY = Capabilities(durations=(5, 10), modalities=(Modality.TEXT_TO_VIDEO,), audio=False, seed=False)


def fit(policy: FitPolicy, caps: Capabilities = VEO, **fields: Any) -> Fit:
    return fit_request(VideoRequest(prompt="a dog", **fields), caps, policy=policy, provider="p", model="veo")


# -- fit_request -------------------------------------------------------------------------------


def test_a_request_that_fits_is_sent_unchanged_under_every_policy() -> None:
    for policy in FIT_POLICIES:
        result = fit(policy, duration=8, resolution="1080p")
        assert result.request == VideoRequest(prompt="a dog", duration=8, resolution="1080p")
        assert result.adjustments == {}


@pytest.mark.parametrize(
    ("field", "requested", "applied"),
    [
        ("duration", 7, 8),  # a tie goes to the longer video
        ("duration", 5, 6),
        ("duration", 30, 8),
        ("duration", 1, 4),
        ("resolution", "4K", "1080p"),
        ("resolution", "480p", "720p"),
        ("resolution", "1080P", "1080p"),
        ("aspect_ratio", "21:9", "16:9"),
        ("aspect_ratio", "3:4", "9:16"),
        ("size", "1024x576", "1280x720"),
        ("size", "1080x1920", "720x1280"),
    ],
)
def test_adjust_snaps_to_the_nearest_supported_value_and_records_it(
    field: str, requested: object, applied: object
) -> None:
    result = fit("adjust", VEO, **{field: requested})
    assert result.request is not None
    assert getattr(result.request, field) == applied
    assert result.adjustments == {field: {"requested": requested, "applied": applied}}


def test_adjust_fixes_several_fields_at_once() -> None:
    result = fit("adjust", duration=7, resolution="4K", aspect_ratio="1:1")
    assert result.adjustments == {
        "duration": {"requested": 7, "applied": 8},
        "resolution": {"requested": "4K", "applied": "1080p"},
        "aspect_ratio": {"requested": "1:1", "applied": "16:9"},
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"image_url": "https://x.test/a.png"}, "frame_images"),
        ({"generate_audio": True}, "generate_audio"),
        ({"seed": 3}, "seed"),
        (
            {"input_references": [{"type": "image_url", "image_url": {"url": "https://x.test/r.png"}}]},
            "input_references",
        ),
    ],
)
def test_adjust_never_drops_the_callers_content(fields: dict[str, object], field: str) -> None:
    result = fit("adjust", TEXT_ONLY, **fields)
    assert result.request is None
    assert result.mismatch is not None and result.mismatch.field == field


def test_a_frame_kind_the_model_lacks_is_not_adjusted_away() -> None:
    frame = {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}, "frame_type": "last_frame"}
    result = fit("adjust", frame_images=[frame])
    assert result.request is None and result.mismatch is not None
    assert result.mismatch.field == "frame_images.frame_type"


def test_strict_and_skip_report_the_mismatch_with_the_supported_values() -> None:
    for policy in ("strict", "skip"):
        result = fit(policy, duration=7)
        assert result.request is None and result.mismatch is not None
        assert result.mismatch.supported == [4, 6, 8]


def test_nearest_is_none_when_nothing_is_comparable() -> None:
    assert nearest("weird", ["720p"], lambda v: None) is None


# -- through the router ------------------------------------------------------------------------


@pytest.fixture
def fleet(clock: FakeClock) -> Fleet:
    return Fleet(
        clock, {"p1": {"veo": VEO}, "p2": {"wan": Capabilities(durations=(5, 10), price_per_second=Decimal("0.04"))}}
    )


async def test_strict_raises_before_any_request_listing_the_supported_values(fleet: Fleet) -> None:
    async with fleet.router() as router:
        with pytest.raises(CapabilityMismatch) as info:
            await router.generate("a dog", model="p1/veo", duration=7, fit="strict")
    assert "supported: 4s, 6s, 8s" in str(info.value)
    assert "adjust" in (info.value.hint or "")
    assert fleet.log == []


async def test_strict_checks_the_whole_chain_before_any_request(fleet: Fleet) -> None:
    async with fleet.router(fit="strict") as router:
        with pytest.raises(CapabilityMismatch, match="not supported by wan"):
            await router.generate("a dog", model=["p1/veo", "p2/wan"], duration=8)
    assert fleet.log == []


async def test_adjust_sends_the_snapped_value_and_reports_requested_and_applied(fleet: Fleet) -> None:
    async with fleet.router() as router:
        result = await router.generate("a dog", model="p1/veo", duration=7, fit="adjust")
    assert fleet.providers["p1"].submitted[0].duration == 8
    assert result.adjustments == {"duration": {"requested": 7, "applied": 8}}
    assert result.attempts[0].adjustments == result.adjustments
    assert result.estimated_cost == Decimal("4.00")  # the applied duration is what gets estimated


async def test_skip_moves_on_to_a_candidate_that_fits(fleet: Fleet) -> None:
    async with fleet.router(fit="skip") as router:
        result = await router.generate("a dog", model=["p1/veo", "p2/wan"], duration=5)
    assert [(a.ref, a.outcome, a.error_type) for a in result.attempts] == [
        ("p1/veo", "skipped", "CapabilityMismatch"),
        ("p2/wan", "succeeded", None),
    ]
    assert "supported: 4s, 6s, 8s" in (result.attempts[0].error or "")


async def test_skip_with_no_fitting_candidate_fails_before_any_request(fleet: Fleet) -> None:
    async with fleet.router() as router:
        with pytest.raises(AllCandidatesFailed) as info:
            await router.generate("a dog", model=["p1/veo", "p2/wan"], duration=7, fit="skip")
    assert [a.outcome for a in info.value.attempts] == ["skipped", "skipped"]
    assert fleet.log == []


async def test_adjust_skips_a_candidate_that_cannot_honour_the_frame_image(clock: FakeClock) -> None:
    fleet = Fleet(clock, {"p1": {"text": TEXT_ONLY}, "p2": {"veo": VEO}})
    async with fleet.router(fit="adjust") as router:
        result = await router.generate("a dog", model=["p1/text", "p2/veo"], image_url="https://x.test/a.png")
    assert result.attempts[0].outcome == "skipped"
    assert "image-to-video" in (result.attempts[0].error or "")
    assert fleet.providers["p2"].submitted[0].image_url == "https://x.test/a.png"


async def test_the_per_call_policy_overrides_the_router_default(fleet: Fleet) -> None:
    async with fleet.router(fit="strict") as router:
        result = await router.generate("a dog", model="p1/veo", duration=7, fit="adjust")
    assert result.adjustments["duration"]["applied"] == 8


async def test_a_model_that_forwards_every_slug_is_not_refused_for_another_backends_options(
    clock: FakeClock, tmp_path: Any
) -> None:
    """OpenRouter-style (no passthrough_slug: every key is forwarded, the gateway picks its upstream) in a
    chain with a backend that reads its own slug: that backend's options are not checked against the first
    model's list (they are another installed provider's), yet stay in the request as given."""
    gateway = Capabilities(durations=(4,), passthrough_parameters=("negative_prompt",))
    direct = Capabilities(durations=(4,), passthrough_parameters=("auto_fix",), passthrough_slug="p2")
    fleet = Fleet(clock, {"p1": {"m1": gateway}, "p2": {"m1": direct}})
    options = {"google-vertex": {"parameters": {"negative_prompt": "blur"}}, "p2": {"parameters": {"auto_fix": True}}}
    async with fleet.router() as router:
        result = await router.generate(
            "a dog", model=["p1/m1", "p2/m1"], duration=4, provider_options=options, output=tmp_path / "o.mp4"
        )
        assert result.ref == "p1/m1"
        assert fleet.providers["p1"].submitted[-1].provider_options == options
        # A typo under a slug that is no installed provider is still caught for the gateway model.
        bad = {"google-vertex": {"parameters": {"negative_promt": "blur"}}}
        plan = await router.plan("a dog", model="p1/m1", duration=4, provider_options=bad)
    assert not plan[0].usable and "negative_promt" in (plan[0].reason or "")


@pytest.mark.parametrize(("max_cost", "sent"), [("3.00", 6), ("10", 8), (None, 8)])
async def test_adjust_breaks_a_duration_tie_by_the_budget_only_when_the_larger_is_over_it(
    clock: FakeClock, max_cost: str | None, sent: int
) -> None:
    """7 s between 6 and 8 snaps to 8 (a tie goes to the larger); under max_cost $3 at $0.50/s that is $4,
    over it, while 6 s ($3) fits: the tie goes to the one within budget instead of skipping the candidate."""
    caps = Capabilities(durations=(4, 6, 8), price_per_second=Decimal("0.50"))
    fleet = Fleet(clock, {"p1": {"veo": caps}})
    async with fleet.router() as router:
        result = await router.generate("a fox", model="p1/veo", duration=7, fit="adjust", max_cost=max_cost)
    [submitted] = fleet.providers["p1"].submitted
    assert submitted.duration == sent and result.adjustments["duration"]["applied"] == sent


async def test_a_nearer_duration_is_never_traded_for_a_cheaper_one(clock: FakeClock) -> None:
    """7 s between 4 and 8 snaps to 8, over $3: 4 s would fit but is not as near, so the candidate is refused."""
    caps = Capabilities(durations=(4, 8), price_per_second=Decimal("0.50"))
    fleet = Fleet(clock, {"p1": {"veo": caps}})
    async with fleet.router() as router:
        with pytest.raises(BudgetExceeded):
            await router.generate("a fox", model="p1/veo", duration=7, fit="adjust", max_cost="3")
    assert fleet.submits() == []
