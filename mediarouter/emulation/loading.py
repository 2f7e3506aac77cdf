"""Building a backend's in-process emulator transport, or saying which extra is missing (nothing heavy here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..errors import ConfigurationError

__all__ = ["load_emulator"]

T = TypeVar("T")


def load_emulator(build: Callable[[], T], *, provider: str, label: str, hint: str) -> T:
    """`build()` (which imports starlette/PyAV), or a ConfigurationError naming the missing package and `hint`
    (the extra to install) instead of an ImportError traceback."""
    try:
        return build()
    except ImportError as exc:
        raise ConfigurationError(
            f"the {label} emulator needs extra packages ({exc.name or exc})", provider=provider, hint=hint
        ) from None
