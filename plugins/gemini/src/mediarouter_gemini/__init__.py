"""Google Gemini API (Veo) video provider for mediarouter.

This release holds the I/O-free parts: the wire models (`wire`), the model catalog
(`catalog`), the request-body builder (`body`) and the google.rpc error mapping (`rpc`).
The provider class, its HTTP client and the emulator come in a later phase.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mediarouter-gemini")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

#: The provider name: refs look like `gemini/veo-3.1-generate-preview`.
PROVIDER_NAME = "gemini"

__all__ = ["PROVIDER_NAME", "__version__"]
