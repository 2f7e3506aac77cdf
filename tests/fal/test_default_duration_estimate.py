"""Without a duration fal makes (and bills) each model's own default, so that is what the estimate, the
`max_cost` guard and a batch budget price: Veo 3 makes 8 s, not the 4 s its shortest duration would say."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import BudgetExceeded, Router, VideoRequest
from mediarouter.batch import run_batch
from mediarouter.journal import MemoryJobStore

pytest.importorskip("starlette")
pytest.importorskip("av")

from mediarouter_fal.catalog import CATALOG
from mediarouter_fal.emulator import emulator_transport
from mediarouter_fal.provider import FalVideoProvider

VEO3 = "fal-ai/veo3"
PRICED = [model for model in CATALOG if model.capabilities.price_rules]


@pytest.fixture(autouse=True)
def _no_fal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("FAL_QUEUE_URL", raising=False)


def emulated() -> tuple[FalVideoProvider, Any]:
    transport = emulator_transport()
    return FalVideoProvider(emulator=True, transport=transport, clock=FakeClock()), transport.emulator


def made(state: Any) -> list[float]:
    """The seconds of every video the emulator was asked for."""
    return [job.submission.duration_s for job in state.machine.jobs.values()]


def test_every_catalog_model_declares_the_default_its_input_mapping_has() -> None:
    for model in CATALOG:
        assert model.inputs.default_duration is not None, model.id
        assert model.capabilities.default_duration == model.inputs.default_duration, model.id


@pytest.mark.parametrize("model", PRICED, ids=lambda m: m.id)
def test_the_estimate_without_a_duration_is_the_default_fal_makes(model: Any) -> None:
    found = model.capabilities.estimate(VideoRequest(prompt="a fox"))
    assert found is not None and found.duration == model.inputs.default_duration
    assert "duration" not in found.assumed


async def test_max_cost_2_refuses_veo3_without_a_duration_before_any_request(tmp_path: Path) -> None:
    """QA: `generate "A fox" --model fal/fal-ai/veo3 --max-cost 2` made an 8 s video "estimated $1.60"."""
    provider, state = emulated()
    async with Router(providers={"fal": provider}, clock=FakeClock(), journal=":memory:") as router:
        with pytest.raises(BudgetExceeded, match=r"fal/fal-ai/veo3 \$3\.20"):
            await router.generate("A fox", model=f"fal/{VEO3}", max_cost="2", output=tmp_path / "x.mp4")
    assert made(state) == []
    assert not (tmp_path / "x.mp4").exists()


async def test_what_is_made_without_a_duration_is_what_was_estimated(tmp_path: Path) -> None:
    provider, state = emulated()
    async with Router(providers={"fal": provider}, clock=FakeClock(), journal=":memory:") as router:
        [planned] = await router.plan("A fox", model=f"fal/{VEO3}")
        result = await router.generate("A fox", model=f"fal/{VEO3}", max_cost="3.20", output=tmp_path / "x.mp4")
    assert planned.estimated_cost == result.estimated_cost == Decimal("3.20")  # 8 s × $0.40/s, audio on
    assert planned.price == "$3.20 (8 s × $0.40/s)"
    assert made(state) == [8.0]


async def test_a_batch_budget_counts_veo3s_default_duration(tmp_path: Path) -> None:
    """QA: two Veo 3 lines without a duration under `--max-total-cost 3.3` "spent $3.20", really ~$6.40."""
    provider, state = emulated()
    lines = [json.dumps({"prompt": f"A fox {n}", "model": f"fal/{VEO3}"}) for n in (1, 2)]
    async with Router(providers={"fal": provider}, clock=FakeClock(), journal=MemoryJobStore()) as router:
        report = await run_batch(router, lines, output_dir=tmp_path, max_total_cost="3.3", concurrency=1)
    assert made(state) == [8.0]  # one 8 s video fits the budget, the second would not
    assert [r.error_type for r in report.failures] == ["BudgetExceeded"]
    assert report.totals.spent == report.totals.estimated == Decimal("3.20")
