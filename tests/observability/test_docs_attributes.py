"""docs/observability.md lists every span attribute and span event name the SpanRecorder can set."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_span_attribute_in_tracing_is_documented() -> None:
    source = (ROOT / "mediarouter" / "tracing.py").read_text()
    names = set(re.findall(r'"((?:gen_ai|mediarouter|server|error|http)\.[a-z_.]+)"', source))
    assert "gen_ai.request.model" in names and "mediarouter.download.origin" in names  # the pattern finds them
    documented = set(re.findall(r"`([a-z_]+\.[a-z_.]+)`", (ROOT / "docs" / "observability.md").read_text()))
    assert sorted(names - documented) == []
