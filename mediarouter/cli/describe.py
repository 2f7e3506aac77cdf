"""`mediarouter describe`: send a video and a prompt to a multimodal model, print its answer."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import click

from ..describe_cache import DescribeCache
from ..describing import DEFAULT_DESCRIBE_MODEL, describe
from ..errors import AllCandidatesFailed, MediaRouterError
from ..router import Router
from ..understanding import PROCESSING_MODES, SHRINK_MODES, DescribeModel, Describer, DescribeResult, valid_unicode
from .errors import fail
from .generate import USDAmount
from .progress import usd
from .signals import interrupted_exit, sigterm_as_interrupt


@click.command()
@click.argument("video", required=False)
@click.argument("prompt", required=False)
@click.option(
    "-m",
    "--model",
    "model",
    metavar="REF|ALIAS",
    default=DEFAULT_DESCRIBE_MODEL,
    show_default=True,
    help="A model that takes video input (`--list-models`), or an alias from the config file.",
)
@click.option(
    "--fallback",
    "fallbacks",
    metavar="REF|ALIAS",
    multiple=True,
    help="Try this candidate when the ones before it cannot answer; repeatable, tried in order.",
)
@click.option(
    "--max-cost",
    type=USDAmount(),
    help="Refuse candidates whose estimated cost (video seconds × tokens/s × price, plus --max-tokens, plus any "
    "per-request price) is over this; nothing is sent to them.",
)
@click.option("--max-tokens", type=click.IntRange(min=1), help="Longest answer, in tokens (sent to the model) [1024].")
@click.option("--processing", type=click.Choice(PROCESSING_MODES), help="Gemini's video processing mode.")
@click.option(
    "--shrink",
    type=click.Choice(SHRINK_MODES),
    is_flag=False,
    flag_value="auto",
    default=None,
    help="A video over the model's size limit is re-encoded to fit (auto: downscale, else cut; or say which) "
    "instead of being refused. What was done is printed.",
)
@click.option("--no-cache", is_flag=True, help="Ask the model even when the answer is cached, and cache nothing.")
@click.option("--clear-cache", is_flag=True, help="Delete every cached answer and exit.")
@click.option("--list-models", is_flag=True, help="List the models that take video input and exit.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Deadline (s) of the whole call [600].")
@click.option(
    "--emulator",
    is_flag=True,
    help="Answer from each provider's bundled emulator, offline (its answers are cached apart from real ones).",
)
@click.option(
    "--emulator-inject",
    "emulator_inject",
    metavar="PHASE:OUTCOME[:MODEL][xN]",
    multiple=True,
    help="With --emulator: make the emulator misbehave, e.g. chat:429x1; repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def describe_command(
    video: str | None,
    prompt: str | None,
    model: str,
    fallbacks: tuple[str, ...],
    max_cost: Decimal | None,
    max_tokens: int | None,
    processing: str | None,
    shrink: str | None,
    no_cache: bool,
    clear_cache: bool,
    list_models: bool,
    timeout: float | None,
    emulator: bool,
    emulator_inject: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Describe VIDEO (a file or an https:// URL) as PROMPT asks, with a model that watches video.

    \b
    The file's type is told by its bytes (MP4, WebM, MOV, AVI, MKV, MPEG); a
    type the model does not take (OpenRouter: MP4, MPEG, MOV, WebM) or a
    video over its size limit is refused before any upload unless --shrink.
    Answers are cached by the video's content, model, prompt and options.

    \b
    Examples:
      mediarouter describe clip.mp4 "Summarise this video in three sentences"
      mediarouter describe clip.mp4 "Transcribe the speech with timestamps" \\
          --model openrouter/google/gemini-2.5-pro \\
          --fallback openrouter/google/gemini-2.5-flash --max-cost 0.05

    \b
    Exit codes: as `mediarouter generate`: 0 ok; 2 bad input, a model that
    does not take video, over the size limit or --max-cost (nothing sent);
    3 authentication; 4 insufficient credits; 5 rate limited; 6 provider
    unavailable (a 5xx) or the answer was lost after sending: neither is
    retried nor sent to a --fallback, as the model may have run and billed;
    8 timeout; 130/143 interrupted (SIGINT/SIGTERM); 1 anything else.
    """
    if emulator_inject and not emulator:
        raise click.UsageError("--emulator-inject needs --emulator")
    if clear_cache:
        cache = DescribeCache()
        removed = cache.clear()
        click.echo(f"removed {removed} cached answer(s) from {cache.directory}")
        return
    options: dict[str, Any] = {"inject": list(emulator_inject)} if emulator_inject else {}
    if list_models:
        _list_models(emulator, options, as_json=as_json)
        return
    if video is None or prompt is None:
        raise click.UsageError("give VIDEO and PROMPT (or --list-models, --clear-cache)")

    #: The answer as soon as it is on hand: an interrupt while the router closes must not lose it.
    answered: list[DescribeResult] = []

    async def _run() -> DescribeResult:
        async with Router(emulator=emulator, emulator_options=options, journal="off") as router:
            result = await describe(
                router,
                video,
                prompt,
                model=model,
                fallbacks=list(fallbacks),
                max_cost=max_cost,
                use_cache=not no_cache,
                shrink=shrink or False,
                max_tokens=max_tokens,
                processing=processing,
                timeout=timeout,
            )
            answered.append(result)
        return result

    try:
        with sigterm_as_interrupt() as terminated:
            result = asyncio.run(_run())
    except MediaRouterError as exc:
        if as_json:
            attempts = [a.model_dump(mode="json") for a in exc.attempts] if isinstance(exc, AllCandidatesFailed) else []
            attempts = attempts or list(exc.details.get("attempts", []))
            click.echo(json.dumps({"ok": False, "error": exc.to_dict(), "attempts": attempts}))
        fail(exc)
    except KeyboardInterrupt:
        signal_name, code = interrupted_exit(terminated)
        if answered:
            _show(answered[0], as_json=as_json, quiet=quiet)
            click.echo(f"mediarouter: {signal_name} after the answer arrived (printed above)", err=True)
        else:
            click.echo(f"mediarouter: {signal_name} (a request already sent may still be billed)", err=True)
        raise SystemExit(code) from None
    _show(result, as_json=as_json, quiet=quiet)


def _show(result: DescribeResult, *, as_json: bool, quiet: bool) -> None:
    """The answer on stdout (text or one JSON object), the shrink report and the summary on stderr."""
    shrunk = result.video.get("shrunk")
    if as_json:
        click.echo(json.dumps({"ok": True, **result.to_dict()}))
    else:
        click.echo(valid_unicode(result.text))
    if shrunk and not as_json:
        click.echo(f"mediarouter: {_shrink_line(shrunk)}", err=True)
    if not quiet and not as_json:
        click.echo(_summary(result), err=True)


def _shrink_line(shrunk: dict[str, Any]) -> str:
    from ..understanding import ShrinkReport

    return ShrinkReport.model_validate(shrunk).describe()


def _summary(result: DescribeResult) -> str:
    parts = [f"described by {result.ref}"]
    if result.usage.total_tokens is not None:
        parts.append(f"{result.usage.total_tokens} tokens")
    if result.cost is not None:
        parts.append(usd(result.cost))
    if result.cached:
        parts.append("from the cache (no request)")
    return "mediarouter: " + ", ".join(parts)


def _list_models(emulator: bool, options: dict[str, Any], *, as_json: bool) -> None:
    async def _collect() -> list[DescribeModel]:
        found: list[DescribeModel] = []
        async with Router(emulator=emulator, emulator_options=options, journal="off") as router:
            for name in router.provider_names():
                try:
                    provider = router.provider(name)
                except MediaRouterError:
                    continue  # a provider that cannot be set up (or emulated) has nothing to list
                if isinstance(provider, Describer):
                    found.extend(await provider.describe_models())
        return sorted(found, key=lambda m: m.ref)

    try:
        models = asyncio.run(_collect())
    except MediaRouterError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps({"ok": True, "models": [m.model_dump(mode="json") for m in models]}))
        return
    for info in models:
        prices = ""
        if info.price_per_input_token is not None and info.price_per_output_token is not None:
            per_million = Decimal(1_000_000)
            prices = (
                f"  ${(info.price_per_input_token * per_million).normalize():f}/M in, "
                f"${(info.price_per_output_token * per_million).normalize():f}/M out"
            )
        click.echo(f"{info.ref}{prices}  (limit {info.size_limit // (1024 * 1024)} MiB, {info.source})")
