"""Luma Ray 2 on fal bills per 5 s unit ($0.50 at 540p, 720p 2x, 1080p 4x, 9 s = 2 units): the estimate is never
below that bill, at any resolution or duration (a flat $0.10/s was the 540p price: 1080p cost 4x the estimate)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from mediarouter_fal.catalog import catalog_entry

from mediarouter import VideoRequest

MULTIPLIER = {"540p": 1, "720p": 2, "1080p": 4}


@pytest.mark.parametrize("resolution", sorted(MULTIPLIER))
@pytest.mark.parametrize("seconds", [5, 9])
def test_the_estimate_covers_the_bill(resolution: str, seconds: int) -> None:
    entry = catalog_entry("fal-ai/luma-dream-machine/ray-2")
    assert entry is not None
    bill = Decimal("0.50") * MULTIPLIER[resolution] * (2 if seconds == 9 else 1)
    estimate = entry.capabilities.estimate_cost(VideoRequest(prompt="p", duration=seconds, resolution=resolution))
    assert estimate is not None and bill <= estimate <= bill * Decimal("1.12")


def test_without_a_resolution_the_dearest_is_assumed() -> None:
    entry = catalog_entry("fal-ai/luma-dream-machine/ray-2")
    assert entry is not None
    found = entry.capabilities.estimate(VideoRequest(prompt="p", duration=9))
    assert found is not None and found.amount >= Decimal("4.00") and "resolution" in found.assumed
