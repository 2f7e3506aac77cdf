"""The served emulator fixture of the end-to-end tests, for the scale-out end to end."""

from __future__ import annotations

from ..e2e.conftest import emulator

__all__ = ["emulator"]
