"""Entry-point module: how mediarouter finds the fal provider."""

from __future__ import annotations

from typing import Any

from mediarouter import hookimpl


@hookimpl
def register_providers(register: Any) -> None:
    from .provider import FalVideoProvider

    register(FalVideoProvider, name="fal")
