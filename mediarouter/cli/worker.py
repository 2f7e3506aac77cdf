"""`mediarouter worker`: run durable request workflows (DBOS) until SIGTERM or Ctrl-C.

dbos is imported only when the command runs (the `dbos` extra); see docs/scale-out.md.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from typing import Any

import click

from ..errors import MediaRouterError
from ..router import Router
from .batch import ProviderLimit
from .errors import fail

__all__ = ["worker_command"]


class ProviderRate(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """NAME=N/SECONDS: at most N jobs of provider NAME started per SECONDS, across every worker."""

    name = "NAME=N/SECONDS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, int, float]:
        if isinstance(value, tuple):
            return value
        name, sep, rest = str(value).partition("=")
        limit, slash, period = rest.partition("/")
        try:
            n, seconds = int(limit), float(period)
        except ValueError:
            n, seconds = 0, 0.0
        if not sep or not slash or not name.strip() or n < 1 or seconds <= 0:
            self.fail(f"expected NAME=N/SECONDS with N >= 1, e.g. openrouter=10/60 (got {value!r})", param, ctx)
        return name.strip(), n, seconds


@click.command()
@click.option("--id", "worker_id", help="This worker's id: a restart with the same id recovers its workflows "
              "[default: the host name; give each worker on one host its own].")  # fmt: skip
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=4, show_default=True,
    help="Workflows of one provider's queue this worker runs at once.",
)  # fmt: skip
@click.option(
    "--provider-concurrency", "provider_limits", type=ProviderLimit(), multiple=True,
    help="At most N jobs at once on provider NAME across every worker; repeatable.",
)  # fmt: skip
@click.option(
    "--provider-rate", "provider_rates", type=ProviderRate(), multiple=True,
    help="At most N jobs of provider NAME started per SECONDS across every worker; repeatable.",
)  # fmt: skip
@click.option(
    "--database", envvar="MEDIAROUTER_DBOS_DATABASE",
    help="The DBOS database, sqlite:///FILE (one machine) or postgresql://… (several) "
    "[env: MEDIAROUTER_DBOS_DATABASE; default: dbos.sqlite3 next to the journal].",
)  # fmt: skip
@click.option(
    "--recover", "recover", multiple=True, metavar="ID",
    help="First take over the pending workflows of the dead worker ID (refused while it is alive); repeatable.",
)  # fmt: skip
@click.option(
    "--grace", type=click.FloatRange(min=0), default=10.0, show_default=True,
    help="Seconds a stopping worker lets running workflows finish; the rest stay pending for a restart.",
)  # fmt: skip
@click.option(
    "--queue-poll-interval", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
    help="Seconds between looks at the queues for new work.",
)  # fmt: skip
def worker_command(
    worker_id: str | None,
    concurrency: int,
    provider_limits: tuple[tuple[str, int], ...],
    provider_rates: tuple[tuple[str, int, float], ...],
    database: str | None,
    recover: tuple[str, ...],
    grace: float,
    queue_poll_interval: float,
) -> None:
    """Run durable request workflows until SIGTERM or Ctrl-C.

    \b
    Every worker on one database shares its queues (one per provider):
    `mediarouter batch FILE -o DIR --engine dbos --no-wait` enqueues,
    workers run the lines. A worker killed mid-run leaves its workflows
    pending: start it again with the same --id (or another worker with
    --recover ID) and they go on, never submitting a job twice.

    \b
    Exit codes: 0 stopped by a signal; 2 bad settings (database, id in use).
    """
    from ..durable import DurableSettings, require_dbos

    async def _run() -> None:
        require_dbos()
        from ..durable.runner import run_worker

        settings = DurableSettings(
            database_url=database or "",
            executor_id=worker_id or socket.gethostname(),
            concurrency=concurrency,
            provider_limits=dict(provider_limits),
            provider_rates={name: (n, seconds) for name, n, seconds in provider_rates},
            queue_poll=queue_poll_interval,
            notification_poll=min(1.0, queue_poll_interval),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        def ready() -> None:
            click.echo(
                f"mediarouter worker {settings.executor_id}: running workflows from {settings.shown_database} "
                "(SIGTERM or Ctrl-C to stop)",
                err=True,
            )

        async with Router() as router:
            await run_worker(router, settings, stop=stop, recover=recover, grace=grace, ready=ready)
        click.echo(f"mediarouter worker {settings.executor_id}: stopped", err=True)

    try:
        asyncio.run(_run())
    except MediaRouterError as exc:
        fail(exc)
