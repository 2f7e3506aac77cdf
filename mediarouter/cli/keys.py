"""`mediarouter keys set|list|path`: provider keys in a user file (values are never printed)."""

from __future__ import annotations

import os
import sys

import click

from ..errors import MediaRouterError
from .errors import fail


@click.group()
def keys_group() -> None:
    """Store provider keys in a user file (mode 0600); environment variables still win.

    \b
    Examples:
      mediarouter keys set openrouter          # asks for the key, without echoing it
      printf %s "$KEY" | mediarouter keys set openrouter
      mediarouter keys list
    """


@keys_group.command("set")
@click.argument("name")
@click.option("--value", help="The key itself (beware: it stays in your shell history). Default: prompt, or stdin.")
def keys_set(name: str, value: str | None) -> None:
    """Save the key NAME (a provider name, e.g. openrouter), from a hidden prompt, stdin or --value."""
    from .. import keys, plugins

    try:
        keys._check_name(name)
        if value is None:
            if sys.stdin.isatty():
                value = click.prompt(f"Key for {name}", hide_input=True, prompt_suffix=": ")
            else:
                value = sys.stdin.read()
        path = keys.set_key(name, value or "")
    except MediaRouterError as exc:
        fail(exc)
    installed = sorted(plugins.provider_factories())
    if name not in installed:
        click.echo(
            f"mediarouter: warning: no installed provider is named {name!r} (installed: "
            f"{', '.join(installed) or 'none'}); the key was saved anyway",
            err=True,
        )
    click.echo(f"Saved key {name!r} to {path}")


@keys_group.command("list")
def keys_list() -> None:
    """List the names of the stored keys (never their values)."""
    from .. import keys

    if keys.keys_path() is None:
        click.echo(f"No keys: {_store_off()}; providers read only their environment variables", err=True)
        return
    try:
        names = keys.key_names()
    except MediaRouterError as exc:
        fail(exc)
    if not names:
        click.echo("No keys stored. Try: mediarouter keys set openrouter", err=True)
    for name in names:
        click.echo(name)


@keys_group.command("path")
def keys_path() -> None:
    """Print where keys are stored."""
    from .. import keys

    path = keys.keys_path()
    if path is None:
        fail(MediaRouterError(f"no keys file: {_store_off()}"))
    click.echo(str(path))


def _store_off() -> str:
    """Why there is no keys file, naming the variable and its value (a path or `off`, never a key)."""
    from ..keys import KEYS_ENV

    return f"the key store is off ({KEYS_ENV}={os.environ.get(KEYS_ENV, '').strip()})"
