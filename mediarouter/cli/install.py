"""`mediarouter install` / `mediarouter uninstall`: plugins into the environment mediarouter runs in, like llm's.

A thin wrapper over that environment's own installer, so a plugin always lands next to the
running mediarouter (never in another Python on PATH): `uv pip … --python <this interpreter>`
in an environment uv made or runs, else `python -m pip`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from ..errors import ConfigurationError
from .errors import fail

__all__ = ["install_command", "installer", "uninstall_command"]

#: Uninstalling these would remove the command itself.
_PROTECTED = frozenset({"mediarouter"})


def _made_by_uv(prefix: Path) -> bool:
    """A virtual environment uv created has a `uv = <version>` line in its pyvenv.cfg (and often no pip)."""
    try:
        lines = (prefix / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return any(line.split("=", 1)[0].strip() == "uv" for line in lines if "=" in line)


def _has_pip() -> bool:
    from importlib.util import find_spec

    return find_spec("pip") is not None


def installer() -> list[str]:
    """The command that installs into this interpreter's environment, without the verb.

    `uv run` sets UV to its own binary; an environment uv created is marked in pyvenv.cfg.
    """
    uv = os.environ.get("UV") or shutil.which("uv")
    under_uv = bool(os.environ.get("UV")) or _made_by_uv(Path(sys.prefix))
    if uv and (under_uv or not _has_pip()):
        return [uv, "pip", "{verb}", "--python", sys.executable]
    if _has_pip():
        return [sys.executable, "-m", "pip", "{verb}"]
    raise ConfigurationError(
        f"no installer for {sys.prefix}: neither uv nor pip is available",
        hint="install uv (https://docs.astral.sh/uv/) or pip into this environment",
    )


def _command(verb: str, args: list[str]) -> list[str]:
    try:
        base = installer()
    except ConfigurationError as exc:
        fail(exc)
    return [verb if part == "{verb}" else part for part in base] + args


def _run(command: list[str]) -> None:
    click.echo(f"mediarouter: running {' '.join(command)}", err=True)
    try:
        code = subprocess.run(command, check=False).returncode
    except OSError as exc:
        fail(ConfigurationError(f"cannot run {command[0]}: {exc.strerror or exc}"))
    if code != 0:
        raise SystemExit(code)


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade the named packages to their newest versions.")
@click.option("-e", "--editable", "editable", multiple=True, help="Install this local directory in editable mode.")
def install_command(names: tuple[str, ...], upgrade: bool, editable: tuple[str, ...]) -> None:
    """Install plugins (any requirement: a name, `name==1.2`, a path, a URL) next to this mediarouter.

    \b
    Examples:
      mediarouter install mediarouter-openrouter
      mediarouter install ./plugins/openrouter        # from a clone, until it is published
      mediarouter install -U mediarouter-openrouter

    Under `uv run` in this repository's workspace, the next `uv run` syncs the
    environment back to uv.lock; add a plugin there with `uv add` instead.
    """
    args = (["--upgrade"] if upgrade else []) + [a for path in editable for a in ("-e", path)] + list(names)
    _run(_command("install", args))
    click.echo("Installed. `mediarouter plugins` lists what is loaded.", err=True)


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def uninstall_command(names: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugins from the environment this mediarouter runs in."""
    protected = sorted(n for n in names if n.lower().replace("_", "-") in _PROTECTED)
    if protected:
        fail(
            ConfigurationError(
                f"refusing to uninstall {', '.join(protected)}: it is mediarouter itself",
                hint="use pip or uv directly to remove mediarouter",
            )
        )
    if not yes and not click.confirm(f"Uninstall {', '.join(names)}?", default=False, err=True):
        raise SystemExit(1)
    command = _command("uninstall", list(names))
    if "pip" in command and "-m" in command:  # pip asks again unless told not to; uv never asks
        command.insert(command.index("uninstall") + 1, "-y")
    _run(command)
