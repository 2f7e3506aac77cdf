"""The cost estimate uses the rate that applies to the request (resolution, audio, size), not the dearest SKU."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from mediarouter_openrouter.catalog import CATALOG, catalog_model
from mediarouter_openrouter.emulator.state import validate_submission

from mediarouter import Capabilities, VideoRequest
from mediarouter.pricing import PriceRule, estimate, rules_from_skus

D = Decimal
TIERED = {  # a model billed by resolution and audio, as OpenRouter names such SKUs
    "duration_seconds_without_audio_720p": "0.10",
    "duration_seconds_with_audio_720p": "0.20",
    "duration_seconds_without_audio_1080p": "0.30",
    "duration_seconds_with_audio_1080p": "0.40",
    "prompt_tokens": "99",
}


def rule(price: str, **conditions: Any) -> PriceRule:
    return PriceRule(price_per_second=D(price), **conditions)


@pytest.mark.parametrize(
    ("sku", "price", "conditions"),
    [
        ("duration_seconds", "0.13", {}),
        ("duration_seconds_with_audio", "0.40", {"audio": True}),
        ("duration_seconds_without_audio", "0.20", {"audio": False}),
        ("duration_seconds_720p", "0.10", {"resolution": "720p"}),
        ("duration_seconds_without_audio_1080p", "0.30", {"audio": False, "resolution": "1080p"}),
        ("duration_seconds_with_audio_4k", "0.60", {"audio": True, "resolution": "4K"}),
        ("text_to_video_duration_seconds_720p", "0.05", {"mode": "text-to-video", "resolution": "720p"}),
        ("image_to_video_duration_seconds_480p", "0.04", {"mode": "image-to-video", "resolution": "480p"}),
        ("cents_per_second_output", "12", {}),  # cents: 0.12 USD
        ("per_second", "0.40", {}),  # the bundled catalog's names
        ("per_second_with_audio", "0.50", {"audio": True}),
    ],
)
def test_rules_from_skus_reads_the_sku_grammar(sku: str, price: str, conditions: dict[str, Any]) -> None:
    (parsed,) = rules_from_skus({sku: price})
    expected = D(price) / 100 if sku.startswith("cents") else D(price)
    assert parsed == PriceRule(price_per_second=expected, sku=sku, **conditions)


@pytest.mark.parametrize(
    "skus",
    [
        {"prompt_tokens": "0.01", "video_tokens_1080p": "0.00001"},
        {"reference_images": "0.04", "per_video": "9.00"},
        {"duration_seconds": "free"},
        {"duration_seconds": "-1"},
        {"duration_seconds": "NaN"},
        None,
    ],
)
def test_rules_from_skus_skips_what_is_not_a_price_per_second(skus: dict[str, str] | None) -> None:
    assert rules_from_skus(skus) == ()


def test_veo_without_audio_is_estimated_at_the_rate_it_is_billed() -> None:
    veo = catalog_model("google/veo-3.1")
    assert veo is not None
    caps = Capabilities(durations=(4, 6, 8), prices=rules_from_skus(veo["pricing_skus"]))
    assert caps.estimate_cost(VideoRequest.build(prompt="x", duration=4, generate_audio=False)) == D("1.60")
    assert caps.estimate_cost(VideoRequest.build(prompt="x", duration=4, generate_audio=True)) == D("2.00")


def test_an_unset_price_field_with_an_unknown_default_is_priced_at_the_dearest_and_says_so() -> None:
    caps = Capabilities(durations=(4,), prices=rules_from_skus({"per_second": "0.40", "per_second_with_audio": "0.50"}))
    found = caps.estimate(VideoRequest.build(prompt="x"))
    assert found is not None
    assert (found.amount, found.assumed, found.exact) == (D("2.00"), ("generate_audio",), False)
    assert "dearest rate assumed: generate_audio unset" in found.describe()
    known = caps.model_copy(update={"default_audio": False}).estimate(VideoRequest.build(prompt="x"))
    assert known is not None and (known.amount, known.exact) == (D("1.60"), True)


def test_resolution_picks_its_rule_and_the_supported_resolutions_bound_the_guess() -> None:
    caps = Capabilities(durations=(5,), prices=rules_from_skus(TIERED))
    cheap = VideoRequest.build(prompt="x", resolution="720p", generate_audio=False)
    assert caps.estimate_cost(cheap) == D("0.50")
    unset = caps.estimate(VideoRequest.build(prompt="x", generate_audio=False))
    assert unset is not None and unset.amount == D("1.50") and unset.assumed == ("resolution",)
    only_720 = caps.model_copy(update={"resolutions": ("720p",)})
    bounded = only_720.estimate(VideoRequest.build(prompt="x", generate_audio=True))
    assert bounded is not None and (bounded.amount, bounded.exact) == (D("1.00"), True)


def test_a_size_implies_its_resolution() -> None:
    caps = Capabilities(durations=(5,), prices=rules_from_skus(TIERED))
    assert caps.estimate_cost(VideoRequest.build(prompt="x", size="1280x720", generate_audio=False)) == D("0.50")
    assert caps.estimate_cost(VideoRequest.build(prompt="x", size="1080x1920", generate_audio=True)) == D("2.00")


def test_the_most_specific_rule_wins_and_no_matching_rule_falls_back_to_the_dearest() -> None:
    rules = (rule("0.10"), rule("0.30", resolution="1080p"), rule("0.50", resolution="1080p", audio=True))
    assert estimate(rules, 10, resolution="1080p", audio=False) == estimate((rule("0.30"),), 10)
    assert estimate(rules, 10, resolution="720p", audio=True).amount == D("1.00")  # type: ignore[union-attr]
    sparse = (rule("0.20", audio=True), rule("0.05", audio=False, resolution="720p"))
    found = estimate(sparse, 10, resolution="1080p", audio=False)
    assert found is not None and found.amount == D("2.00")  # nothing applies: the dearest, never the cheapest


def test_a_model_without_audio_is_never_priced_with_audio() -> None:
    caps = Capabilities(durations=(4,), audio=False, prices=(rule("0.40", audio=False), rule("0.90", audio=True)))
    found = caps.estimate(VideoRequest.build(prompt="x"))
    assert found is not None and (found.amount, found.exact) == (D("1.60"), True)


def test_estimate_cost_of_a_bare_duration_still_works_and_price_per_second_is_the_dearest_rule() -> None:
    caps = Capabilities(durations=(4, 8), prices=rules_from_skus(TIERED))
    assert caps.price_per_second == D("0.40")
    assert caps.estimate_cost(8) == D("3.20")
    assert caps.estimate_cost(None) == D("3.20")  # no declared default: the longest supported duration
    assert Capabilities(price_per_second=D("0.25")).estimate_cost(4) == D("1.00")
    assert Capabilities(durations=(4,)).estimate_cost(4) is None


# -- the emulator bills what the estimate says ----------------------------------------------------------


def _emulator_bill(model: dict[str, Any], request: VideoRequest) -> Decimal | None:
    body = {"model": model["id"], **request.model_dump(exclude_none=True)}
    submission = validate_submission(body, {model["id"]: model})
    price = submission.price_per_second
    return None if price is None else price * submission.duration


def _caps_for(model: dict[str, Any]) -> Capabilities:
    """What the OpenRouter plugin is to build from a /videos/models entry."""
    return Capabilities(
        durations=tuple(model["supported_durations"]),
        resolutions=tuple(model["supported_resolutions"]) if model.get("supported_resolutions") else None,
        sizes=tuple(model["supported_sizes"]) if model.get("supported_sizes") else None,
        audio=model.get("generate_audio"),
        default_audio=bool(model.get("generate_audio")),  # OpenRouter's documented default
        prices=rules_from_skus(model.get("pricing_skus")),
    )


TIERED_MODEL = {
    **CATALOG[0],
    "id": "acme/tiered",
    "supported_resolutions": ["720p", "1080p"],
    "supported_sizes": None,
    "pricing_skus": TIERED,
}


@pytest.mark.parametrize("model", [*CATALOG, TIERED_MODEL], ids=lambda m: str(m["id"]))
def test_the_emulator_bills_exactly_the_estimate_for_every_audio_and_resolution(model: dict[str, Any]) -> None:
    caps = _caps_for(model)
    resolutions = [None, *(model.get("supported_resolutions") or [])]
    for audio, resolution in itertools.product([None, True, False], resolutions):
        request = VideoRequest.build(
            prompt="x", duration=model["supported_durations"][-1], generate_audio=audio, resolution=resolution
        )
        found = caps.estimate(request)
        assert found is not None
        if found.exact:
            assert found.amount == _emulator_bill(model, request), (audio, resolution)
        else:  # the request left the price open: the estimate is an upper bound of the bill
            bill = _emulator_bill(model, request)
            assert bill is not None and found.amount >= bill, (audio, resolution)
