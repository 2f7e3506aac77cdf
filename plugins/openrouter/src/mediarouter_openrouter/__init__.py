"""OpenRouter video provider for mediarouter."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .provider import OpenRouterVideoProvider

try:
    __version__ = version("mediarouter-openrouter")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["OpenRouterVideoProvider", "__version__"]
