"""OpenRouter video provider for mediarouter (and an offline OpenRouter-compatible emulator)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .provider import OpenRouterVideoProvider

try:
    __version__ = version("mediarouter-openrouter")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["OpenRouterVideoProvider", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing the emulator or the catalog does not load the HTTP client.
    if name == "OpenRouterVideoProvider":
        from .provider import OpenRouterVideoProvider

        return OpenRouterVideoProvider
    raise AttributeError(name)
