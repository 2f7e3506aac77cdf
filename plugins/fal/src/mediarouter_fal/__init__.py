"""fal.ai queue video provider for mediarouter (refs `fal/<fal model id>`).

This package holds the I/O-free parts: wire shapes (`wire`), the model catalog
(`catalog`), the request → fal input mapping (`inputs`) and queue URL rules (`urls`).
The provider class, its HTTP client and the emulator build on them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mediarouter-fal")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["PROVIDER_NAME", "__version__"]

#: The provider name in refs (`fal/fal-ai/veo3`) and in every error's context.
PROVIDER_NAME = "fal"
