"""`mediarouter jobs`: see, resume, download and cancel journaled jobs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click

from ..errors import ConfigurationError, MediaRouterError
from ..journal import JOURNAL_ENV, JobRecord, JobStore, RecordState, dumps, journal_location, open_store
from ..recovery import cancel_job, get_record, resume_job
from ..results import VideoResult
from ..router import Router
from .errors import fail
from .progress import progress_for

T = TypeVar("T")

STATES = [s.value for s in RecordState]


def open_journal() -> JobStore:
    location = journal_location()
    store = open_store(location)
    if store is None:
        fail(ConfigurationError(f"the job journal is off ({JOURNAL_ENV}={location!r})"))
    return store


def _age(when: datetime) -> str:
    seconds = int((datetime.now(UTC) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _line(record: JobRecord) -> str:
    parts = [record.job_id or f"({record.key})", record.state.value, record.ref, _age(record.created_at)]
    if record.cost is not None:
        parts.append(f"${record.cost}")
    if record.state is RecordState.COMPLETED and record.expires_at is not None:
        parts.append(f"output expires {record.expires_at.isoformat(timespec='seconds')}")
    if record.files:
        parts.append(str(record.files[0]["path"]))
    elif record.target:
        parts.append(f"→ {record.target}")
    return "  ".join(parts)


def _run(coro_factory: Callable[[Router], Awaitable[T]], store: JobStore, *, quiet: bool = False) -> T:
    progress = progress_for(quiet=quiet)

    async def main() -> T:
        async with Router(listeners=[progress], journal=store) as router:
            return await coro_factory(router)

    try:
        with progress:
            return asyncio.run(main())
    except MediaRouterError as exc:
        fail(exc)
    except KeyboardInterrupt:
        click.echo("mediarouter: interrupted; the job stays resumable", err=True)
        raise SystemExit(130) from None


def _print_result(result: VideoResult, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"ok": True, **result.to_dict()}))
        return
    first = result.files[0]
    click.echo(f"{first.path} ({first.size} bytes), job {result.job_id}")


@click.group()
def jobs_group() -> None:
    """Jobs in the journal: every accepted job is recorded before anything else happens.

    \b
    The journal lives in the user data directory; set MEDIAROUTER_JOURNAL to
    another file, ':memory:' or 'off'.
    """


@jobs_group.command("list")
@click.option("--state", "states", type=click.Choice(STATES), multiple=True, help="Only these states (repeatable).")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(states: tuple[str, ...], limit: int, as_json: bool) -> None:
    """List journaled jobs, newest first."""
    store = open_journal()
    records = store.list(states=[RecordState(s) for s in states] or None, limit=limit)
    if as_json:
        click.echo(json.dumps([r.public_dict() for r in records], indent=2))
        return
    if not records:
        click.echo("No jobs in the journal.")
        return
    for record in records:
        click.echo(_line(record))


@jobs_group.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_command(job_id: str, as_json: bool) -> None:
    """Show one journaled job."""
    store = open_journal()
    try:
        record = get_record(store, job_id)
    except MediaRouterError as exc:
        fail(exc)
    if as_json:
        click.echo(dumps(record))
        return
    data = record.public_dict()
    for key, value in data.items():
        if value not in (None, [], {}):
            click.echo(f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    if record.state.resumable:
        click.echo(f"resume: mediarouter jobs resume {record.job_id} -o FILE")


@jobs_group.command("resume")
@click.argument("job_id", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Save to FILE.")
@click.option("--all", "resume_all", is_flag=True, help="Resume every resumable job (to its original target).")
@click.option("--poll-interval", type=click.FloatRange(min=0, min_open=True), help="Seconds between polls.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Overall deadline in seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def resume_command(
    job_id: str | None,
    output: Path | None,
    resume_all: bool,
    poll_interval: float | None,
    timeout: float | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Keep polling a journaled job and download it. Never submits again."""
    if bool(job_id) == resume_all:
        raise click.UsageError("give a JOB_ID or --all")
    if resume_all and output is not None:
        raise click.UsageError("--output goes with one JOB_ID; --all saves each job to its original target")
    store = open_journal()
    ids = [job_id] if job_id else [r.job_id for r in store.list(states=_RESUMABLE) if r.job_id]
    if not ids:
        click.echo("Nothing to resume.")
        return
    for one in ids:
        assert one is not None
        result = _run(
            lambda router, one=one: resume_job(  # type: ignore[misc]
                router, one, output=output, poll_interval=poll_interval, timeout=timeout
            ),
            store,
            quiet=quiet or as_json,
        )
        _print_result(result, as_json)


_RESUMABLE = [s for s in RecordState if s.resumable]


@jobs_group.command("download")
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Save to FILE.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def download_command(job_id: str, output: Path | None, as_json: bool, quiet: bool) -> None:
    """Download the output of a completed job again (e.g. after a failed or interrupted download)."""
    store = open_journal()
    result = _run(
        lambda router: resume_job(router, job_id, output=output, redownload=True), store, quiet=quiet or as_json
    )
    _print_result(result, as_json)


@jobs_group.command("cancel")
@click.argument("job_id")
def cancel_command(job_id: str) -> None:
    """Ask the provider to cancel a job (OpenRouter cannot: the job keeps running and is billed)."""
    store = open_journal()
    _run(lambda router: cancel_job(router, job_id), store, quiet=True)
    click.echo(f"cancelled {job_id}")
