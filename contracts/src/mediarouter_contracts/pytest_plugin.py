"""pytest plugin entry point of the contract kit (registered as `pytest11: mediarouter_contracts`).

Adds `--contract-profile={ci,thorough}` (or `MEDIAROUTER_CONTRACT_PROFILE`), the `contract`
marker on every `ProviderContract` test (`pytest -m contract` runs only the suite,
`-m "not contract"` skips it), and the `fake_clock` and `contract_profile` fixtures.
"""

from __future__ import annotations

import pytest

from .clock import FakeClock
from .profiles import ENV_VAR, PROFILES, active_profile, set_active_profile


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mediarouter-contracts", "mediarouter provider contract suite")
    group.addoption(
        "--contract-profile",
        action="store",
        choices=sorted(PROFILES),
        default=None,
        help=f"how hard the provider contract suite searches: ci (default) or thorough; also {ENV_VAR}",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract: a rule of the mediarouter provider contract suite")
    set_active_profile(config.getoption("--contract-profile", default=None))
    active_profile()  # a bad MEDIAROUTER_CONTRACT_PROFILE fails here, with the list of profiles


def pytest_report_header(config: pytest.Config) -> str:
    return f"mediarouter-contracts: profile {active_profile()} ({PROFILES[active_profile()]} examples per property)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from .suite import ProviderContract

    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and issubclass(cls, ProviderContract):
            item.add_marker(pytest.mark.contract)


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh FakeClock: sleeps advance it instantly and are recorded in `.sleeps`."""
    return FakeClock()


@pytest.fixture
def contract_profile() -> str:
    """The contract profile in force (`ci` or `thorough`)."""
    return active_profile()
