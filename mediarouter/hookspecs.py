"""Hook declarations. Plugin authors implement these with `@mediarouter.hookimpl`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

__all__ = ["hookspec", "hookimpl", "ProviderFactory", "Register"]

hookspec = pluggy.HookspecMarker("mediarouter")
hookimpl = pluggy.HookimplMarker("mediarouter")

#: Builds a Provider. Called with keyword options only (`transport=`, `clock=`, `emulator=`,
#: `api_key=`, …); a factory must accept and ignore options it does not know.
ProviderFactory = Callable[..., Any]
#: `register(factory, name=None)`; `name` defaults to the factory's `name` attribute.
Register = Callable[..., None]


@hookspec
def register_providers(register: Register) -> None:
    """Register provider factories: `register(OpenRouterVideoProvider)`. Called once at plugin load."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the `mediarouter` click group (e.g. `cli.add_command(my_command)`)."""
