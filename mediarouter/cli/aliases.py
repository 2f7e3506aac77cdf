"""`mediarouter aliases`: what the configured names expand to, and where they come from."""

from __future__ import annotations

import json
from typing import Any

import click

from ..candidates import describe_aliases
from ..errors import MediaRouterError
from ..settings import load_settings
from .errors import fail


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def aliases_command(as_json: bool) -> None:
    """List model aliases and failover chains from the config file and MEDIAROUTER_ALIASES.

    \b
    Define them in the config file (see `config file:` below), e.g.
      [aliases]
      video-default = ["openrouter/google/veo-3.1", "openrouter/alibaba/wan-2.6"]
      cheap = "openrouter/alibaba/wan-2.6"
    then: mediarouter generate "A cat" --model video-default -o cat.mp4
    """
    try:
        settings = load_settings()
    except MediaRouterError as exc:
        fail(exc)
    location = settings.config_location
    infos = describe_aliases(settings.aliases)
    if as_json:
        data: dict[str, Any] = {
            "config_file": str(location.path) if location.path is not None else None,
            "config_file_exists": location.exists,
            "default_model": settings.default_model,
            "aliases": {
                info.name: {"targets": info.targets, "candidates": info.candidates, "error": info.error}
                for info in infos
            },
        }
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"config file: {location.describe()}")
    if not infos:
        click.echo("No aliases configured.")
        return
    width = max(len(info.name) for info in infos)
    for info in infos:
        if info.error:
            click.echo(f"{info.name.ljust(width)}  error: {info.error}")
        else:
            click.echo(f"{info.name.ljust(width)}  → {', '.join(info.candidates)}")
