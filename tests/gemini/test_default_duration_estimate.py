"""Google's 8-second rules (1080p and 4K on Veo 3.1, reference images) are capabilities the core reads: the
estimate prices 8 s where 8 s is sent, validation refuses a shorter duration before any request naming the
resolution, `fit='adjust'` snaps it, and what the body sends without a duration is what was estimated."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock
from mediarouter_gemini.body import InlineImage, ResolvedImages, build_body
from mediarouter_gemini.catalog import CATALOG, GeminiModel
from mediarouter_gemini.provider import GeminiVideoProvider

from mediarouter import BudgetExceeded, CapabilityMismatch, Router, VideoRequest

emulator = pytest.importorskip("mediarouter_gemini.emulator")

MODEL = "veo-3.1-generate-preview"
KEY = "emulator-test-key"
PNG = InlineImage(mime_type="image/png", data_b64="iVBORw0KGgo=")
REFS = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]


@pytest.fixture(autouse=True)
def _no_gemini_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


def emulated() -> tuple[GeminiVideoProvider, Any]:
    transport = emulator.emulator_transport(emulator.EmulatorConfig(api_key=KEY))
    provider = GeminiVideoProvider(api_key=KEY, base_url=emulator.EMULATOR_BASE_URL, transport=transport)
    return provider, transport.emulator


def made(state: Any) -> list[int]:
    """The `durationSeconds` of every operation the emulator was asked for."""
    return [job.submission.duration for job in state.machine.jobs.values()]


def shapes(model: GeminiModel) -> list[dict[str, Any]]:
    """Every resolution / size / references combination a request to `model` may have, without a duration."""
    caps = model.capabilities
    shape: list[dict[str, Any]] = [{}]
    shape += [{"resolution": r} for r in caps.resolutions or ()]
    shape += [{"size": s} for s in caps.sizes or ()]
    refs: list[dict[str, Any]] = [{}] + ([{"input_references": REFS}] if caps.reference_types else [])
    return [{**a, **b} for a, b in itertools.product(shape, refs)]


@pytest.mark.parametrize("model", CATALOG, ids=lambda m: m.id)
def test_the_duration_sent_without_one_is_the_duration_estimated(model: GeminiModel) -> None:
    for fields in shapes(model):
        request = VideoRequest(prompt="a fox", **fields)
        images = ResolvedImages(references=(PNG,)) if "input_references" in fields else None
        sent = build_body(model.id, request, images)["parameters"]["durationSeconds"]
        found = model.capabilities.estimate(request)
        assert found is not None and found.duration == sent, (model.id, fields)
        assert found.exact, (model.id, fields)  # the plugin declares what it sends: nothing is assumed


def test_veo31_ties_8_seconds_to_1080p_4k_and_references_in_its_capabilities() -> None:
    caps = next(m for m in CATALOG if m.id == MODEL).capabilities
    assert caps.durations_by_resolution == {"1080p": (8,), "4K": (8,)}
    assert caps.reference_durations == (8,)
    assert (caps.default_duration, caps.default_resolution) == (4, "720p")


@pytest.mark.parametrize("resolution", ["1080p", "4K"])
async def test_max_cost_2_refuses_a_1080p_or_4k_request_without_a_duration(resolution: str, tmp_path: Path) -> None:
    """QA: `--resolution 1080p --max-cost 2` made an 8 s video "estimated $1.60" (4 s were priced)."""
    provider, state = emulated()
    async with Router(providers={"gemini": provider}, clock=FakeClock(), journal=":memory:") as router:
        with pytest.raises(BudgetExceeded, match=r"\$3\.20"):
            await router.generate(
                "A fox", model=f"gemini/{MODEL}", resolution=resolution, max_cost="2", output=tmp_path / "x.mp4"
            )
        result = await router.generate(
            "A fox", model=f"gemini/{MODEL}", resolution=resolution, max_cost="3.20", output=tmp_path / "y.mp4"
        )
    assert result.estimated_cost == Decimal("3.20")
    assert made(state) == [8]


async def test_the_dry_run_adjusts_1080p_at_4_seconds_to_8_as_the_run_does(tmp_path: Path) -> None:
    """QA: `--resolution 1080p --duration 4 --fit adjust --dry-run` showed $1.60 and no adjustment, exit 0,
    while the run exited 2 ("1080p output … needs duration=8s")."""
    provider, state = emulated()
    fields: dict[str, Any] = {"resolution": "1080p", "duration": 4}
    async with Router(providers={"gemini": provider}, clock=FakeClock(), journal=":memory:") as router:
        [planned] = await router.plan("A fox", model=f"gemini/{MODEL}", fit="adjust", **fields)
        assert planned.adjustments == {"duration": {"requested": 4, "applied": 8}}
        assert planned.estimated_cost == Decimal("3.20") and planned.price == "$3.20 (8 s × $0.40/s)"
        result = await router.generate(
            "A fox", model=f"gemini/{MODEL}", fit="adjust", output=tmp_path / "x.mp4", **fields
        )
        assert result.adjustments == planned.adjustments and result.estimated_cost == planned.estimated_cost
        with pytest.raises(CapabilityMismatch) as caught:
            await router.generate("A fox", model=f"gemini/{MODEL}", fit="strict", output=tmp_path / "y.mp4", **fields)
    assert caught.value.field == "duration" and caught.value.supported == [8]
    assert "duration=4s" in caught.value.message and "resolution=1080p" in caught.value.message
    assert made(state) == [8]  # the strict call never reached the emulator


async def test_reference_images_without_a_duration_are_estimated_and_sent_at_8_seconds(tmp_path: Path) -> None:
    provider, state = emulated()
    async with Router(providers={"gemini": provider}, clock=FakeClock(), journal=":memory:") as router:
        result = await router.generate(
            "A fox", model=f"gemini/{MODEL}", input_references=REFS, max_cost="3.20", output=tmp_path / "x.mp4"
        )
    assert result.estimated_cost == Decimal("3.20")
    assert made(state) == [8]
