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
