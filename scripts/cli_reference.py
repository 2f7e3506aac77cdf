"""Write docs/cli.md from the commands' own --help, so the reference cannot drift from the code.

uv run python scripts/cli_reference.py          # rewrite docs/cli.md
uv run python scripts/cli_reference.py --check  # exit 1 if docs/cli.md is stale (the tests do this)
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

from mediarouter.cli import cli, load_plugin_commands

COMMANDS = [
    ["generate"],
    ["describe"],
    ["batch"],
    ["worker"],
    ["models"],
    ["plugins"],
    ["aliases"],
    ["jobs", "info"],
    ["jobs", "list"],
    ["jobs", "show"],
    ["jobs", "resume"],
    ["jobs", "download"],
    ["jobs", "cancel"],
    ["jobs", "forget"],
    ["jobs", "adopt"],
    ["keys", "set"],
    ["keys", "list"],
    ["keys", "path"],
    ["install"],
    ["uninstall"],
    ["webhooks", "serve"],
    ["emulator"],
]

INTRO = """# Command-line reference

`mediarouter` is a thin layer over the Python API (`mediarouter.Router`); plugins add their own commands
(`emulator` comes from the OpenRouter plugin). Global options (`--log-format`, `--log-level`, `--trace-tree`) go
before the command: `mediarouter --log-format json generate ...`. Exit codes are listed in the README and under
`generate`. Shell completion: `eval "$(_MEDIAROUTER_COMPLETE=bash_source mediarouter)"` (`zsh_source`,
`fish_source` for the others; see the README).

This page is generated from the commands' `--help` by `scripts/cli_reference.py`; a test fails when it is stale.
"""


def help_text(args: list[str]) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], terminal_width=100, prog_name="mediarouter")
    if result.exit_code != 0:
        raise SystemExit(f"mediarouter {' '.join(args)} --help failed: {result.output}")
    return result.output.rstrip()


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every runnable command under `group`, as the words that name it."""
    found = []
    for name in group.list_commands(click.Context(group)):  # lazy commands too (mediarouter.cli.lazy)
        command = group.get_command(click.Context(group), name)
        if command is None:
            continue
        if isinstance(command, click.Group):
            found += leaf_commands(command, (*prefix, name))
        else:
            found.append([*prefix, name])
    return found


def render() -> str:
    load_plugin_commands()
    missing = [" ".join(c) for c in leaf_commands(cli) if c not in COMMANDS]
    if missing:
        raise SystemExit(f"scripts/cli_reference.py: add to COMMANDS: {', '.join(missing)}")
    parts = [INTRO, "## mediarouter\n", "```text", help_text([]), "```\n"]
    for args in COMMANDS:
        parts += [f"## mediarouter {' '.join(args)}\n", "```text", help_text(args), "```\n"]
    return "\n".join(parts)


def main() -> None:
    target = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
    text = render()
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != text:
            print("docs/cli.md is stale: run `uv run python scripts/cli_reference.py`", file=sys.stderr)
            raise SystemExit(1)
        return
    target.write_text(text)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
