"""The example plugin in docs/example-plugin, imported from its source tree.

It is deliberately not a workspace member (so `mediarouter plugins` never lists it); the test
run reaches it through sys.path, exactly as its own `pytest` run does (`pythonpath = src, tests`).
"""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "example-plugin"

for _sub in ("src", "tests"):
    _path = str(EXAMPLE / _sub)
    if _path not in sys.path:
        sys.path.insert(0, _path)

from acme_adapter import AcmeWireAdapter  # noqa: E402
from mediarouter_example import AcmeVideoProvider  # noqa: E402
from test_acme_contract import BASE_URL, TestAcmeContract  # noqa: E402

__all__ = ["EXAMPLE", "BASE_URL", "AcmeVideoProvider", "AcmeWireAdapter", "TestAcmeContract"]
