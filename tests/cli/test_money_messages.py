"""Money as people read it: plain decimals, no "below" an unknown price, billed apart from "may have been billed"."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import BudgetExceeded, Capabilities
from mediarouter.cli.progress import usd
from tests.core.router_fakes import Fleet

from ..e2e.conftest import FAST, VEO, WAN, Emulator, emulator
from .fake_provider import ScriptedProvider, invoke, use_provider

__all__ = ["emulator", "use_provider"]  # fixtures, imported for their side effect


def test_usd_prints_plain_decimals() -> None:
    assert usd(Decimal("1E-7")) == "$0.0000001"
    assert usd(Decimal("0.20")) == "$0.20"
    assert usd(Decimal("5")) == "$5.00" and usd(Decimal("4.2")) == "$4.20"  # at least cents
    assert usd(Decimal("0.0005")) == "$0.0005" and usd(Decimal("2.500")) == "$2.50"
    assert usd(None) == "unknown"


def test_max_cost_is_not_said_to_be_below_a_price_nobody_knows(use_provider: Any, tmp_path: Path) -> None:
    use_provider(lambda **kw: ScriptedProvider(capabilities=Capabilities(durations=(4, 8), price_per_second=None)))
    result = invoke("generate", "a dog", "--model", "fake/video-1", "--max-cost", "5", "-o", str(tmp_path / "o.mp4"))
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert "below" not in last
    assert "none can be held to max_cost $5.00: fake/video-1 (no known price)" in last


async def test_a_plan_mixing_dear_and_unpriced_candidates_says_which_is_which(clock: FakeClock) -> None:
    fleet = Fleet(
        clock,
        {
            "p1": {"dear": Capabilities(durations=(8,), price_per_second=Decimal("1"))},
            "p2": {"m1": Capabilities(durations=(8,))},
        },
    )
    async with fleet.router() as router:
        with pytest.raises(BudgetExceeded) as caught:
            await router.generate("a dog", model=["p1/dear", "p2/m1"], duration=8, max_cost=Decimal("5"))
    text = str(caught.value)
    assert "below" not in text
    assert "estimated over it: p1/dear $8" in text and "cannot be held to max_cost: p2/m1 (no known price)" in text
    assert fleet.log == []


def test_max_cost_below_a_known_price_still_says_so(use_provider: Any, tmp_path: Path) -> None:
    use_provider(lambda **kw: ScriptedProvider())  # $0.40/s
    result = invoke(
        "generate", "a dog", "--model", "fake/video-1", "--duration", "8", "--max-cost", "0.0000001",
        "-o", str(tmp_path / "o.mp4"),
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert "max_cost $0.0000001" in last and "E-" not in last


def test_describe_prints_a_tiny_max_cost_as_a_plain_decimal(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    made = invoke("generate", "A cat", "--model", VEO, "--emulator", "-q", "-o", str(video))
    assert made.exit_code == 0, made.output
    said = invoke("describe", str(video), "What is it?", "--emulator", "--max-cost", "0.0000001")
    assert said.exit_code == 2, said.output
    assert "over max_cost $0.0000001" in said.stderr and "E-7" not in said.stderr
    as_json = invoke("describe", str(video), "What is it?", "--emulator", "--max-cost", "0.0000001", "--json")
    error = json.loads(as_json.stdout)["error"]
    assert error["max_cost"] == "0.0000001" and "E-7" not in as_json.stdout


@pytest.mark.slow
def test_the_batch_summary_shows_what_was_billed_apart_from_what_may_have_been(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    """A submit of unknown outcome (HTTP 500 on submit) may have billed its estimate; it is not "spent"."""
    emu = emulator("--polls-before-completed", "1", "--inject", "submit:500:google/veo-3.1x1")
    requests = tmp_path / "requests.jsonl"
    # Estimated $4.00 (no duration: Veo's longest, 8 s) and $0.20.
    lines = [{"prompt": "A cat", "model": VEO}, {"prompt": "A dog", "model": WAN}]
    requests.write_text("".join(json.dumps(line) + "\n" for line in lines))
    proc = emu.run("batch", str(requests), "-o", str(tmp_path / "out"), *FAST)
    assert proc.returncode == 9, proc.stderr
    summary = next(t for t in proc.stderr.splitlines() if t.startswith("batch: "))
    assert "spent $0.20 " in summary and "$4.00 more may have been billed" in summary

    as_json = emu.run("batch", str(requests), "-o", str(tmp_path / "again"), "--json", *FAST)
    totals = json.loads(as_json.stdout)["totals"]
    assert totals["spent"] == "0.20" and totals["may_have_been_billed"] == "4.00"
