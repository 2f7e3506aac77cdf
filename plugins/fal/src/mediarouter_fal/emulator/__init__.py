"""An offline, fal-compatible queue API (and CDN) for tests, demos and `--emulator` runs.

Built on the core's shared emulator parts (`mediarouter.emulation`). `create_app` and
`emulator_transport` need the `emulator` extra (starlette, PyAV) and are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import CDN_ORIGIN, EMULATOR_BASE_URL, EMULATOR_KEY, EmulatorConfig, FalInjection, config_from_options

if TYPE_CHECKING:
    from .app import FalEmulator, create_app, emulator_transport

__all__ = [
    "CDN_ORIGIN",
    "EMULATOR_BASE_URL",
    "EMULATOR_KEY",
    "EmulatorConfig",
    "FalEmulator",
    "FalInjection",
    "config_from_options",
    "create_app",
    "emulator_transport",
]

_LAZY = {"create_app", "emulator_transport", "FalEmulator"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import app

    return getattr(app, name)
