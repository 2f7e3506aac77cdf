"""Entry-point module: how mediarouter finds the OpenRouter provider and its commands."""

from __future__ import annotations

from typing import Any

from mediarouter import hookimpl


@hookimpl
def register_providers(register: Any) -> None:
    from .provider import OpenRouterVideoProvider

    register(OpenRouterVideoProvider, name="openrouter")


@hookimpl
def register_commands(cli: Any) -> None:
    from .emulator.cli import emulator_command

    cli.add_command(emulator_command, name="emulator")
