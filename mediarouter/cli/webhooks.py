"""`mediarouter webhooks serve`: the webhook receiver as a standalone process.

Deliveries are verified (OpenRouter's with MEDIAROUTER_WEBHOOK_SECRET, a plugin's such as fal's
with its own scheme) and recorded in the job journal
(MEDIAROUTER_JOURNAL), so a job waited for in another process completes at its next poll or
`mediarouter jobs resume`. starlette and uvicorn are imported only when the command runs.
"""

from __future__ import annotations

import click

from ..errors import ConfigurationError, MediaRouterError
from .errors import fail

__all__ = ["webhooks_group"]

INSTALL_HINT = "pip install 'mediarouter[webhooks]'"


@click.group("webhooks")
def webhooks_group() -> None:
    """Receive provider webhooks: signed "job finished" callbacks (see docs/webhooks.md)."""


@webhooks_group.command(
    "serve",
    epilog="Put it behind HTTPS (a reverse proxy or a tunnel) and pass that URL as --callback-url. "
    "It answers every path: 204 accepted, 401 bad signature, 400 unreadable body.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--log-level",
    "server_log_level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="uvicorn log level.",
)
@click.option(
    "--dbos",
    "durable",
    is_flag=True,
    help="Also wake durable workflows (`mediarouter worker`): send each delivery as a DBOS message to its "
    "request's workflow, on MEDIAROUTER_DBOS_DATABASE (needs mediarouter[dbos]; docs/scale-out.md).",
)
def serve_command(host: str, port: int, server_log_level: str, durable: bool) -> None:
    """Serve the webhook receiver until interrupted.

    OpenRouter deliveries are checked with MEDIAROUTER_WEBHOOK_SECRET (your OpenRouter workspace's);
    installed plugins add their own schemes (fal: Ed25519 over fal's published keys, FAL_WEBHOOK_JWKS_URL).
    The journal comes from MEDIAROUTER_JOURNAL.
    """
    from ..journal import MemoryJobStore, journal_location, open_store
    from ..settings import load_settings

    try:
        try:
            import uvicorn

            from ..webhooks.receiver import create_receiver
        except ImportError as exc:
            raise ConfigurationError(
                f"the webhook receiver needs extra packages ({exc.name or exc})", hint=INSTALL_HINT
            ) from None
        journal = open_store(journal_location(load_settings().journal))
        if journal is None or isinstance(journal, MemoryJobStore):
            # A 204 tells the sender not to deliver again: what this process acknowledges must land where the
            # jobs' own processes and `jobs resume` read it, or the delivery is lost.
            raise ConfigurationError(
                "the webhook receiver needs a journal shared with the processes that submit the jobs "
                f"(MEDIAROUTER_JOURNAL is {'off' if journal is None else 'in memory'})",
                hint="set MEDIAROUTER_JOURNAL to the journal file (or postgresql:// URL) your jobs use",
            )
        waiters = None
        if durable:
            from ..durable import DurableSettings, require_dbos

            require_dbos()
            from ..durable.runner import DurableWaiters, client_for

            waiters = DurableWaiters(client_for(DurableSettings()), journal)
        app = create_receiver(journal=journal, waiters=waiters)
    except MediaRouterError as exc:
        fail(exc)
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"mediarouter webhooks: receiving on http://{shown_host}:{port}/ (Ctrl-C to stop)", err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level=server_log_level)
    finally:
        if journal is not None:
            journal.close()
