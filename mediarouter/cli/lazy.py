"""A click group whose commands are imported when they run, not when `--help` lists them.

`mediarouter --help` lists every command, the plugins' included; importing each command's module
to read its one-line help would load the router, settings, the journal, httpx and, for the
OpenRouter emulator, rich (issue #15: start-up). A lazy command is registered by name with the
dotted path of its click object and its one-line help; `--help` prints that line and the module is
imported on first use (running the command, its own `--help`, shell completion). A test checks each
registered line against the command's own help so the two cannot drift apart.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import click

__all__ = ["LazyCommand", "LazyGroup"]


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (`package.module:attribute`) and the line `--help` shows for it."""

    import_path: str
    short_help: str

    def load(self, name: str) -> click.Command:
        module_name, _, attribute = self.import_path.partition(":")
        try:
            command = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:  # a broken plugin must not take the whole CLI down
            raise click.ClickException(f"could not load the {name!r} command from {self.import_path}: {exc}") from exc
        if not isinstance(command, click.Command):
            raise click.ClickException(f"{self.import_path} is {type(command).__name__}, not a click command")
        return command


class LazyGroup(click.Group):
    """`click.Group` plus `add_lazy_command(name, "module:attribute", short_help=...)`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, LazyCommand] = {}

    def add_lazy_command(self, name: str, import_path: str, *, short_help: str) -> None:
        """Register `name`; its module is imported the first time the command is looked up to run."""
        if ":" not in import_path:
            raise ValueError(f"import_path must be 'package.module:attribute', got {import_path!r}")
        self.commands.pop(name, None)
        self.lazy_commands[name] = LazyCommand(import_path, short_help)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(cmd, name)
        self.lazy_commands.pop(name or cmd.name or "", None)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = self.lazy_commands.get(cmd_name)
        if lazy is not None and cmd_name not in self.commands:
            self.commands[cmd_name] = lazy.load(cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The `Commands:` section, reading a lazy command's line from its registration, not its module."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows: list[tuple[str, str]] = []
        for name in names:
            command = self.commands.get(name)
            if command is None:
                rows.append(
                    (name, click.Command(name, help=self.lazy_commands[name].short_help).get_short_help_str(limit))
                )
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
