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
    # By name: the module (httpx, the emulator's options) is imported only when the command runs,
    # so `mediarouter --help` stays fast. The line must match the command's own help (a test checks).
    cli.add_lazy_command(
        "emulator",
        "mediarouter_openrouter.emulator.cli:emulator_command",
        short_help="Serve an offline OpenRouter-compatible video API (submit, poll, download, models).",
    )
