"""The `mediarouter` command: a thin layer over the Python API; plugins add their own commands."""

from __future__ import annotations

import click

from ..plugins import load_plugins, pm
from .generate import generate_command
from .models import models_command
from .plugins import plugins_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mediarouter", prog_name="mediarouter")
def cli() -> None:
    """Route media generation requests to provider plugins.

    \b
    Examples:
      mediarouter generate "A golden retriever on a beach" \\
          --model openrouter/google/veo-3.1 --emulator -o retriever.mp4
      mediarouter models openrouter
      mediarouter plugins --json
    """


cli.add_command(generate_command, name="generate")
cli.add_command(models_command, name="models")
cli.add_command(plugins_command, name="plugins")

_plugin_commands_loaded = False


def load_plugin_commands() -> None:
    """Let every loaded plugin add its commands (once)."""
    global _plugin_commands_loaded
    if _plugin_commands_loaded:
        return
    _plugin_commands_loaded = True
    load_plugins()
    pm.hook.register_commands(cli=cli)


def main() -> None:
    load_plugin_commands()
    cli(prog_name="mediarouter")
