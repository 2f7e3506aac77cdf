"""Example mediarouter provider plugin: the imaginary Acme Video API."""

from __future__ import annotations

from .provider import AcmeVideoProvider

__all__ = ["AcmeVideoProvider"]
