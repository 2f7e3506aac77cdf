"""`mediarouter generate`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from ..errors import MediaRouterError
from ..events import Listener
from ..results import VideoResult
from ..router import Router
from .errors import fail
from .params import JSON_OBJECT
from .progress import StatusPrinter

#: Polling the in-process emulator every 10 s would only make people wait.
EMULATOR_POLL_INTERVAL = 0.2


@click.command()
@click.argument("prompt", required=False)
@click.option("-m", "--model", "model", metavar="REF", help="Model ref, e.g. openrouter/google/veo-3.1.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Save to FILE.")
@click.option("--duration", type=int, help="Seconds (one of the model's supported durations).")
@click.option("--resolution", help="e.g. 720p, 1080p, 4K.")
@click.option("--aspect-ratio", help="e.g. 16:9, 9:16, 1:1.")
@click.option("--size", help="Exact WIDTHxHEIGHT, e.g. 1280x720 (instead of resolution/aspect ratio).")
@click.option("--audio/--no-audio", "generate_audio", default=None, help="Generate an audio track.")
@click.option("--seed", type=int, help="Sampling seed (models that honour it).")
@click.option("--image", "image_url", metavar="URL", help="Image (https:// or data: URL) used as the first frame.")
@click.option(
    "--frame-image",
    "frame_images",
    type=JSON_OBJECT,
    multiple=True,
    help='Frame image JSON, e.g. \'{"type":"image_url","image_url":{"url":"https://…"},"frame_type":"last_frame"}\'.',
)
@click.option(
    "--reference",
    "input_references",
    type=JSON_OBJECT,
    multiple=True,
    help='Input reference JSON, e.g. \'{"type":"image_url","image_url":{"url":"https://…"}}\'.',
)
@click.option(
    "--provider-option",
    "provider_options",
    type=JSON_OBJECT,
    multiple=True,
    help=(
        "Provider passthrough JSON keyed by slug (sent as provider.options), "
        'e.g. \'{"google-vertex":{"parameters":{"negativePrompt":"blur"}}}\'.'
    ),
)
@click.option("--callback-url", help="https:// webhook called when the job finishes.")
@click.option("--previous-job-id", help="Continue or edit a completed job (models that support it).")
@click.option("--poll-interval", type=click.FloatRange(min=0, min_open=True), help="Seconds between first polls.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Overall deadline in seconds [600].")
@click.option("--emulator", is_flag=True, help="Run against the bundled OpenRouter emulator, in-process, offline.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def generate_command(
    prompt: str | None,
    model: str | None,
    output: Path,
    frame_images: tuple[dict[str, Any], ...],
    input_references: tuple[dict[str, Any], ...],
    provider_options: tuple[dict[str, Any], ...],
    poll_interval: float | None,
    timeout: float | None,
    emulator: bool,
    as_json: bool,
    quiet: bool,
    **fields: Any,
) -> None:
    """Generate a video from PROMPT and save it to --output.

    \b
    Exit codes: 0 ok; 2 bad input or capability mismatch (nothing sent);
    3 authentication (401/403); 4 insufficient credits (402);
    5 rate limited after retries (429); 6 provider unavailable after retries
    (5xx, network); 7 job failed/cancelled/expired; 8 timeout (the job id is
    printed: the job may still finish); 1 anything else.
    """
    request_fields: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if frame_images:
        request_fields["frame_images"] = list(frame_images)
    if input_references:
        request_fields["input_references"] = list(input_references)
    if provider_options:
        merged: dict[str, Any] = {}
        for item in provider_options:
            merged.update(item)
        request_fields["provider_options"] = merged
    if emulator and poll_interval is None:
        poll_interval = EMULATOR_POLL_INTERVAL
    listeners: list[Listener] = [] if (quiet or as_json) else [StatusPrinter()]

    async def _run() -> VideoResult:
        async with Router(emulator=emulator, listeners=listeners) as router:
            return await router.generate(
                prompt,
                model=model,
                output=output,
                poll_interval=poll_interval,
                timeout=timeout,
                **request_fields,
            )

    try:
        result = asyncio.run(_run())
    except MediaRouterError as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "error": exc.to_dict()}))
        fail(exc)
    except KeyboardInterrupt:
        click.echo("mediarouter: interrupted", err=True)
        raise SystemExit(130) from None
    if as_json:
        click.echo(json.dumps({"ok": True, **result.to_dict()}))
        return
    if not quiet:
        first = result.files[0]
        cost = f", cost ${result.cost}" if result.cost is not None else ""
        click.echo(f"{first.path} ({first.size} bytes) from {result.ref}, job {result.job_id}{cost}")
