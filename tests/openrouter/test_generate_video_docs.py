"""docs/openrouter.md's "The full signature" of `generate_video` is the method's real signature."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from mediarouter_openrouter import OpenRouterVideoProvider

DOC = Path(__file__).resolve().parents[2] / "docs" / "openrouter.md"


def _documented_parameters() -> dict[str, str]:
    block = re.search(r"async def generate_video\(\n(.*?)\n\) -> VideoResult", DOC.read_text(), re.S)
    assert block, "docs/openrouter.md has no generate_video signature block"
    parameters: dict[str, str] = {}
    for line in block.group(1).splitlines():
        text = line.strip().rstrip(",")
        if text in ("self", ""):
            continue
        name, _, rest = text.partition(":")
        parameters[name.strip()] = rest.strip().replace('"', "'")  # the docs quote like black
    return parameters


def test_the_documented_signature_names_every_parameter_with_its_annotation_and_default() -> None:
    real = inspect.signature(OpenRouterVideoProvider.generate_video).parameters
    documented = _documented_parameters()
    expected: dict[str, str] = {}
    for name, parameter in real.items():
        if name == "self":
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            expected[f"**{name}"] = str(parameter.annotation)
            continue
        text = str(parameter.annotation)
        if parameter.default is not inspect.Parameter.empty:
            text += f" = {parameter.default!r}"
        expected[name] = text
    assert documented == expected


async def test_an_emulated_generate_video_polls_on_the_emulators_schedule(tmp_path: Path) -> None:
    """docs/openrouter.md: with `emulator=True` the call polls every 0.2 s (first after 0.4 s), not after 20 s."""
    from mediarouter_contracts.clock import FakeClock

    clock = FakeClock()
    provider = OpenRouterVideoProvider(emulator=True, clock=clock)
    result = await provider.generate_video("a fox", model="google/veo-3.1", duration=4, output=tmp_path / "fox.mp4")
    assert result.files[0].path == tmp_path / "fox.mp4"
    polls = [s for s in clock.sleeps if s >= 0.2]
    assert polls and polls[0] == 0.4 and max(polls) <= 10.0 and sum(polls) < 10.0
