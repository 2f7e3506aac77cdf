"""The real OpenRouter. Skipped unless asked for: MEDIAROUTER_LIVE_TESTS=1 and OPENROUTER_API_KEY.

Listing models costs nothing. Generating costs real money, so it also needs
MEDIAROUTER_LIVE_GENERATE=1 (it makes the cheapest clip the catalog knows: wan-2.6, 5 s).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mediarouter import Router

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        os.environ.get("MEDIAROUTER_LIVE_TESTS") != "1" or not os.environ.get("OPENROUTER_API_KEY"),
        reason="live OpenRouter tests need MEDIAROUTER_LIVE_TESTS=1 and OPENROUTER_API_KEY",
    ),
]


async def test_live_models_listing_parses() -> None:
    async with Router(journal="off") as router:
        models = await router.models("openrouter/")
    assert models and all(m.source == "live" for m in models)


@pytest.mark.skipif(
    os.environ.get("MEDIAROUTER_LIVE_GENERATE") != "1", reason="costs money: MEDIAROUTER_LIVE_GENERATE=1"
)
async def test_live_generation_of_the_cheapest_clip(tmp_path: Path) -> None:
    async with Router() as router:
        result = await router.generate(
            "A cat playing with yarn", model="openrouter/alibaba/wan-2.6", duration=5, output=tmp_path / "cat.mp4"
        )
    assert result.files[0].size > 0 and result.job_id
