"""`mediarouter emulator`: serve the OpenRouter emulator on loopback.

Imports uvicorn and the app only when the command runs, so `mediarouter --help` works without
the ``emulator`` extra and a missing extra is reported with the install command.
"""

from __future__ import annotations

import click
from pydantic import SecretStr

from ..errors import EMULATOR_HINT
from .config import CALLBACK_PHASE, GRAMMAR, EmulatorConfig, Injection

__all__ = ["emulator_command"]

INSTALL_HINT = EMULATOR_HINT


def _parse_injections(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[Injection, ...]:
    try:
        return tuple(Injection.parse(value) for value in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


#: Built from the grammar the injections are parsed with (the sentence every parse error ends with), so the
#: help names every phase and outcome there is and cannot drift from them.
_INJECT_HELP = (
    "Make the emulator misbehave; repeatable. "
    + GRAMMAR.help().removeprefix("expected ")
    + f". {CALLBACK_PHASE} is the webhook call the emulator makes to a job's callback_url; chat is "
    "POST /chat/completions. Examples: submit:402, submit:402:google/veo-3.1, poll:500x1, poll:failed, "
    f"content:410, models:500, {CALLBACK_PHASE}:duplicate."
)


@click.command(
    "emulator",
    epilog="Point a client at it with OPENROUTER_BASE_URL=http://HOST:PORT/api/v1. "
    "The request journal is at /_emulator/requests.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--inject",
    "injections",
    multiple=True,
    metavar="PHASE:OUTCOME[:MODEL][xN]",
    callback=_parse_injections,
    help=_INJECT_HELP,
)
@click.option(
    "--polls-before-in-progress",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="Polls that answer 'pending' before the job reports 'in_progress'.",
)
@click.option(
    "--polls-before-completed",
    default=2,
    show_default=True,
    type=click.IntRange(min=0),
    help="Polls answered before the job reaches its terminal status (on the next poll).",
)
@click.option(
    "--api-key",
    envvar="MEDIAROUTER_EMULATOR_API_KEY",
    show_envvar=True,
    default=None,
    help="Accept only this bearer token (default: any non-empty bearer).",
)
@click.option(
    "--signed-urls/--no-signed-urls",
    default=False,
    show_default=True,
    help="Also give completed jobs credential-free 'urls' with 'expires_at'.",
)
@click.option(
    "--absolute-polling-url",
    is_flag=True,
    default=False,
    help="Return an absolute polling_url (as live submits do) instead of the documented relative one.",
)
@click.option(
    "--retry-after",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seconds sent in Retry-After on 429 and 503 answers.",
)
@click.option(
    "--callback-secret",
    envvar="MEDIAROUTER_EMULATOR_CALLBACK_SECRET",
    show_envvar=True,
    default=None,
    help="Sign webhook calls (X-OpenRouter-Signature) with this secret (default: unsigned).",
)
@click.option(
    "--callback-after",
    type=click.FloatRange(min=0),
    default=None,
    help="A job submitted with callback_url ends by itself this many seconds after submit, then calls back "
    "(default: it ends by polls, and calls back then).",
)
@click.option(
    "--callback-forward",
    metavar="ORIGIN",
    default=None,
    help="Send every webhook to this origin (e.g. http://127.0.0.1:8787, standing for a tunnel), keeping the "
    "callback URL's path. Without it only loopback callback URLs are called.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="uvicorn log level.",
)
def emulator_command(
    host: str,
    port: int,
    injections: tuple[Injection, ...],
    polls_before_in_progress: int,
    polls_before_completed: int,
    api_key: str | None,
    signed_urls: bool,
    absolute_polling_url: bool,
    retry_after: int,
    callback_secret: str | None,
    callback_after: float | None,
    callback_forward: str | None,
    log_level: str,
) -> None:
    """Serve an offline OpenRouter-compatible video API (submit, poll, download, models).

    It writes real, playable MP4s and needs no network or OpenRouter key.
    """
    try:
        config = EmulatorConfig(
            api_key=api_key,
            polls_before_in_progress=polls_before_in_progress,
            polls_before_completed=polls_before_completed,
            injections=injections,
            signed_urls=signed_urls,
            absolute_polling_url=absolute_polling_url,
            retry_after=retry_after,
            callback_secret=SecretStr(callback_secret) if callback_secret else None,
            callback_after=callback_after,
            callback_forward=callback_forward,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        import av  # noqa: F401  # fail now, not at the first download
        import uvicorn  # noqa: F401

        from mediarouter.emulation.transport import serve

        from .app import create_app
    except ImportError as exc:
        raise click.ClickException(f"the emulator needs extra packages ({exc.name or exc}): {INSTALL_HINT}") from None

    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"OpenRouter emulator on http://{shown_host}:{port}/api/v1 (OPENROUTER_BASE_URL)")
    serve(create_app(config), host=host, port=port, log_level=log_level)
