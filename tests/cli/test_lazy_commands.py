"""`mediarouter --help` lists every command, plugin commands included, without importing any of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mediarouter.cli import BUILTIN_COMMANDS, cli, load_plugin_commands
from mediarouter.cli.lazy import LazyGroup

#: What a command's module pulls in; `--help` needs none of it (issue #15: start-up).
NOT_FOR_HELP = (
    "httpx",
    "rich",
    "pygments",
    "pydantic",
    "pydantic_settings",
    "sqlite3",
    "mediarouter.router",
    "mediarouter.cli.generate",
    "mediarouter_openrouter.emulator.cli",
)


def _help_in_a_fresh_process() -> tuple[str, set[str]]:
    script = (
        "import json, sys\n"
        "from mediarouter.cli import main\n"
        "sys.argv = ['mediarouter', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout, set(json.loads(proc.stderr.strip().splitlines()[-1]))


def test_help_lists_every_command_without_importing_them() -> None:
    text, loaded = _help_in_a_fresh_process()
    for name in [*BUILTIN_COMMANDS, "emulator"]:
        assert f"\n  {name} " in text, name
    assert "Serve an offline OpenRouter-compatible video API" in text
    assert sorted(m for m in NOT_FOR_HELP if m in loaded) == []


def test_each_registered_line_is_the_commands_own_help_and_the_listing_is_unchanged_by_loading() -> None:
    load_plugin_commands()
    assert isinstance(cli, LazyGroup)
    ctx = click.Context(cli)
    before = cli.get_help(ctx)
    registered = dict(cli.lazy_commands)
    assert {"generate", "emulator"} <= set(registered)
    for name, lazy in registered.items():
        command = cli.get_command(ctx, name)
        assert command is not None
        assert lazy.short_help == command.get_short_help_str(limit=10_000), name
    assert cli.get_help(click.Context(cli)) == before  # the same text whether the modules are loaded or not


def _group_with(path: str) -> LazyGroup:
    @click.group(cls=LazyGroup)
    def group() -> None:
        """A test group."""

    assert isinstance(group, LazyGroup)
    group.add_lazy_command("thing", path, short_help="Do the thing.")
    return group


def test_a_lazy_command_runs_the_real_command_on_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lazy_cmd_sample.py").write_text(
        "import click\n\n@click.command()\ndef thing():\n    'Do the thing.'\n    click.echo('did it')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    group = _group_with("lazy_cmd_sample:thing")
    assert "lazy_cmd_sample" not in sys.modules
    assert "Do the thing." in CliRunner().invoke(group, ["--help"]).output
    assert "lazy_cmd_sample" not in sys.modules
    result = CliRunner().invoke(group, ["thing"])
    assert result.exit_code == 0 and result.output == "did it\n"


def test_a_lazy_command_that_cannot_load_fails_naming_it_and_help_still_lists_it() -> None:
    group = _group_with("no_such_module_for_mediarouter:thing")
    listing = CliRunner().invoke(group, ["--help"])
    assert listing.exit_code == 0 and "thing" in listing.output
    result = CliRunner().invoke(group, ["thing"])
    assert result.exit_code == 1
    assert "could not load the 'thing' command from no_such_module_for_mediarouter:thing" in result.output


def test_a_lazy_path_without_an_attribute_is_refused() -> None:
    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        _group_with("just.a.module")
