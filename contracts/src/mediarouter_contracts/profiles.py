"""The kit's hypothesis profiles: `ci` (every push) and `thorough` (nightly, before a release).

The profiles apply to the contract suite only; the rest of a project's hypothesis tests keep
their own settings. Pick one with `pytest --contract-profile=thorough` or
`MEDIAROUTER_CONTRACT_PROFILE=thorough` (the option wins; the default is `ci`).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

__all__ = ["PROFILES", "ENV_VAR", "active_profile", "set_active_profile", "contract_settings"]

ENV_VAR = "MEDIAROUTER_CONTRACT_PROFILE"

#: Examples per property (before a test's own scale factor).
PROFILES: dict[str, int] = {"ci": 100, "thorough": 1000}

_HEALTH = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.differing_executors,
]

_active: str | None = None


def set_active_profile(name: str | None) -> None:
    """Select a profile for this process (None: back to the environment variable or `ci`)."""
    global _active
    if name is not None and name not in PROFILES:
        raise ValueError(f"unknown contract profile {name!r}; choose one of: {', '.join(PROFILES)}")
    _active = name


def active_profile() -> str:
    """The profile in force: set by the pytest option, else `MEDIAROUTER_CONTRACT_PROFILE`, else `ci`."""
    if _active is not None:
        return _active
    name = os.environ.get(ENV_VAR, "").strip() or "ci"
    if name not in PROFILES:
        raise ValueError(f"{ENV_VAR}={name!r} is not a contract profile; choose one of: {', '.join(PROFILES)}")
    return name


def contract_settings(scale: float = 1.0, *, minimum: int = 2) -> settings:
    """Settings for one property: the active profile's example count × `scale` (at least `minimum`)."""
    examples = max(minimum, round(PROFILES[active_profile()] * scale))
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=_HEALTH,
        print_blob=True,
        # No "explain" phase: it traces every line of every run, which costs more than the search itself.
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
        report_multiple_bugs=False,
    )
