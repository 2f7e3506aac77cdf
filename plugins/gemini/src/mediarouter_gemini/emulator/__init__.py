"""An offline, Gemini-compatible Veo API (in-process) for tests, demos and `--emulator` runs.

`config` loads without starlette or PyAV, so the provider can parse `emulator_options` and explain
a missing `emulator` extra; `create_app` and `emulator_transport` are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .config import (
    EMULATOR_BASE_URL,
    EMULATOR_OPTIONS,
    FOREIGN_HOST,
    INLINE_FIELDS,
    EmulatorConfig,
    GeminiInjection,
    config_from_options,
)

if TYPE_CHECKING:
    from .app import EmulatorState, create_app, emulator_transport

__all__ = [
    "EMULATOR_BASE_URL",
    "EMULATOR_OPTIONS",
    "FOREIGN_HOST",
    "INLINE_FIELDS",
    "EmulatorConfig",
    "EmulatorState",
    "GeminiInjection",
    "config_from_options",
    "create_app",
    "emulator_transport",
]

_LAZY = {"create_app": "app", "emulator_transport": "app", "EmulatorState": "app"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
