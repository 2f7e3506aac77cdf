"""`mediarouter plugins`."""

from __future__ import annotations

import json

import click

from .. import plugins


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins, where they come from and what they provide."""
    infos = plugins.get_plugins()
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    hidden = plugins.hidden_plugins()
    switches = "MEDIAROUTER_LOAD_PLUGINS / MEDIAROUTER_BLOCK_PLUGINS"
    if not infos:
        if hidden:
            click.echo(f"No plugins loaded: {switches} hid the installed {', '.join(hidden)}.")
        else:
            click.echo(
                "No plugins installed. Install one with `mediarouter install NAME`, e.g. mediarouter-openrouter "
                "(until it is published, from a clone of the repository: mediarouter install ./plugins/openrouter)."
            )
        return
    for info in infos:
        origin = f"{info.distribution} {info.version}" if info.distribution else "registered in-process"
        click.echo(f"{info.name}  ({origin})")
        if info.providers:
            click.echo(f"  providers: {', '.join(info.providers)}")
        click.echo(f"  hooks: {', '.join(info.hooks)}")
    if hidden:
        click.echo(f"(not loaded, hidden by {switches}: {', '.join(hidden)})")
