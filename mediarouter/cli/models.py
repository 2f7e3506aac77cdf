"""`mediarouter models`."""

from __future__ import annotations

import asyncio
import json

import click

from ..capabilities import ModelInfo
from ..errors import MediaRouterError
from ..pricing import format_usd
from ..router import Router
from .errors import fail


@click.command()
@click.argument("prefix", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--emulator", is_flag=True, help="List what the providers' bundled emulators serve (no network).")
def models_command(prefix: str | None, as_json: bool, emulator: bool) -> None:
    """List video models and their capabilities, optionally only refs starting with PREFIX."""

    async def _list() -> list[ModelInfo]:
        async with Router(emulator=emulator) as router:
            return await router.models(prefix)

    try:
        infos = asyncio.run(_list())
    except MediaRouterError as exc:
        fail(exc)
    if emulator:  # read from the emulator's listing: not what the provider serves today
        infos = [i.model_copy(update={"source": "emulator"}) if i.source == "live" else i for i in infos]
    if as_json:
        data = []
        for info in infos:
            item = info.model_dump(mode="json", exclude_none=True)
            item["ref"] = info.ref
            data.append(item)
        click.echo(json.dumps(data, indent=2))
        return
    if not infos:
        click.echo("No models found." + (f" (prefix {prefix!r})" if prefix else ""))
        return
    for info in infos:
        caps = info.capabilities
        click.echo(f"{info.ref}" + (f"  — {info.name}" if info.name else "") + f"  [{info.source}]")
        rows = [
            ("modalities", caps.modalities),
            ("durations (s)", caps.durations),
            ("resolutions", caps.resolutions),
            ("aspect ratios", caps.aspect_ratios),
            ("sizes", caps.sizes),
            ("frame images", caps.frame_images),
            ("audio", caps.audio),
            ("seed", caps.seed),
            ("passthrough", caps.passthrough_parameters),
            ("price", f"{format_usd(caps.price_per_second)}/s" if caps.price_per_second is not None else None),
        ]
        for label, value in rows:
            if value is None:
                continue
            text = ", ".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
            click.echo(f"  {label}: {text or '—'}")
