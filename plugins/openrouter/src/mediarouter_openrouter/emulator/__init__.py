"""An offline, OpenRouter-compatible video API for tests, demos and the offline main job.

The same ASGI app runs in-process (``emulator_transport``) or on loopback (``mediarouter
emulator``). ``create_app`` and ``emulator_transport`` need the ``emulator`` extra (starlette,
PyAV); they are imported on first use so the CLI can load, and explain a missing extra, without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import EMULATOR_BASE_URL, EmulatorConfig, Injection

if TYPE_CHECKING:
    from .app import EmulatorTransport, create_app, emulator_transport
    from .state import EmulatorState

__all__ = [
    "EMULATOR_BASE_URL",
    "EmulatorConfig",
    "EmulatorState",
    "EmulatorTransport",
    "Injection",
    "create_app",
    "emulator_transport",
]

_LAZY = {
    "create_app": "app",
    "emulator_transport": "app",
    "EmulatorTransport": "app",
    "EmulatorState": "state",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
