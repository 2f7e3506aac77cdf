from __future__ import annotations

import pytest
from mediarouter_contracts.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
