"""Google Gemini API (Veo) video provider for mediarouter.

`provider.GeminiVideoProvider` is the backend (refs `gemini/<model>`); the I/O-free parts are the
wire models (`wire`), the model catalog (`catalog`), the request-body builder (`body`) and the
google.rpc mapping (`rpc`). `emulator` is an offline Gemini-compatible API (the `emulator` extra).
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
