"""`mediarouter jobs`: see, resume, download, cancel, adopt and forget journaled jobs."""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click

from ..errors import ConfigurationError, MediaRouterError
from ..journal import (
    JOURNAL_ENV,
    JobRecord,
    JobStore,
    RecordState,
    describe_store,
    dumps,
    journal_location,
    open_store,
)
from ..pricing import format_usd
from ..recovery import (
    RowReport,
    adopt_checked,
    cancel_job,
    forget,
    get_record,
    resume_all,
    resume_job,
    unknown_advice,
)
from ..results import VideoResult
from ..router import Router
from .errors import fail
from .params import QUIET_HELP
from .progress import progress_for
from .signals import interrupted_exit, sigterm_as_interrupt

T = TypeVar("T")

STATES = [s.value for s in RecordState]


def open_journal() -> JobStore:
    location = journal_location()
    try:
        store = open_store(location)
    except ConfigurationError as exc:
        fail(exc)
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
    if record.state.ambiguous:
        parts.append("MAY BE BILLED: no job id")
        if record.idempotency_key:
            parts.append(f"key {record.idempotency_key}")
    if record.reported:  # a webhook's end no poll has confirmed: `jobs resume` asks the provider
        parts.append("webhook reported an end: unconfirmed")
    if record.cost is not None:
        parts.append(format_usd(record.cost))
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
        with progress, sigterm_as_interrupt() as terminated:
            return asyncio.run(main())
    except MediaRouterError as exc:
        fail(exc)
    except KeyboardInterrupt:
        signal_name, code = interrupted_exit(terminated)
        click.echo(f"mediarouter: {signal_name}; the job stays resumable", err=True)
        raise SystemExit(code) from None


def _print_result(result: VideoResult, as_json: bool, quiet: bool = False) -> None:
    """The result on stdout: JSON with --json; else one line, unless --quiet (as `generate -q`: the exit code
    says how it went)."""
    if as_json:
        click.echo(json.dumps({"ok": True, **result.to_dict()}))
        return
    if quiet:
        return
    first = result.files[0]
    click.echo(f"{first.path} ({first.size} bytes), job {result.job_id}")


@click.group()
def jobs_group() -> None:
    """Jobs in the journal: every accepted job is recorded before anything else happens.

    \b
    The journal lives in the user data directory; set MEDIAROUTER_JOURNAL to
    another file, a postgresql://user@host/db URL (one journal for every
    worker: pip install 'mediarouter[postgres]'), ':memory:' or 'off'.
    `jobs info` shows where it is and its schema version.
    """


@jobs_group.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_command(as_json: bool) -> None:
    """Show where the journal is, its kind and its schema version (opening it migrates it)."""
    store = open_journal()
    kind, location, version, current = describe_store(store)
    if as_json:
        click.echo(json.dumps({"kind": kind, "location": location, "schema_version": version, "current": current}))
        return
    click.echo(f"journal: {location} ({kind})")
    if version is not None:
        click.echo(f"schema version: {version} (this mediarouter writes {current})")


@jobs_group.command("list")
@click.option("--state", "states", type=click.Choice(STATES), multiple=True, help="Only these states (repeatable).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many, newest first."
)
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
    """Show one journaled job, by JOB_ID, its local key (`local-…`) or its idempotency key."""
    store = open_journal()
    try:
        record = store.get(job_id) or store.find_idempotent(job_id) or get_record(store, job_id)
    except MediaRouterError as exc:
        fail(exc)
    if as_json:
        click.echo(dumps(record))
        return
    data = record.public_dict()
    for key, value in data.items():
        if value not in (None, [], {}):
            click.echo(f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    if record.state.resumable and record.job_id is not None:
        click.echo(f"resume: mediarouter jobs resume {shlex.quote(record.job_id)} -o FILE")
    elif record.state.ambiguous:
        click.echo(f"may be billed: {unknown_advice(record, store)}")


@jobs_group.command("resume")
@click.argument("job_id", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Save to FILE.")
@click.option("--all", "resume_all", is_flag=True, help="Resume every resumable job (to its original target).")
@click.option("--poll-interval", type=click.FloatRange(min=0, min_open=True), help="Seconds between polls.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Overall deadline in seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress lines on stderr and, for one JOB_ID, no result line on stdout (the exit code says how "
    "it went; --json still prints the result). With --all the per-row report is still printed.",
)
def resume_command(
    job_id: str | None,
    output: Path | None,
    resume_all: bool,
    poll_interval: float | None,
    timeout: float | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Keep polling a journaled job and download it. Never submits again.

    \b
    --all goes through every resumable row, oldest first, prints one line per row
    (unknown submits included, with what to do about them) and exits 1 if any row
    failed. A job being resumed by another process is refused (one resume per job).
    """
    if job_id and resume_all:
        raise click.UsageError("JOB_ID and --all cannot be combined: give one JOB_ID, or --all for every resumable row")
    if not job_id and not resume_all:
        raise click.UsageError("give a JOB_ID or --all")
    if resume_all and output is not None:
        raise click.UsageError("--output goes with one JOB_ID; --all saves each job to its original target")
    store = open_journal()
    if job_id is None:
        _resume_every_row(store, poll_interval=poll_interval, timeout=timeout, as_json=as_json, quiet=quiet)
        return
    result = _run(
        lambda router: resume_job(router, job_id, output=output, poll_interval=poll_interval, timeout=timeout),
        store,
        quiet=quiet or as_json,
    )
    _print_result(result, as_json, quiet)


def _report_line(report: RowReport) -> str:
    parts = [report.job_id or f"({report.key})", report.outcome, report.ref]
    if report.outcome == "downloaded":
        parts.append(str(report.path))
    elif report.outcome == "unknown":
        parts.append(f"may be billed ({report.state}): {report.hint}")
    elif report.error:
        parts.append(" ".join(report.error.split()))
    return "  ".join(parts)


def _resume_every_row(
    store: JobStore, *, poll_interval: float | None, timeout: float | None, as_json: bool, quiet: bool
) -> None:
    reports = _run(
        lambda router: resume_all(router, poll_interval=poll_interval, timeout=timeout), store, quiet=quiet or as_json
    )
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2))
    elif not reports:
        click.echo("Nothing to resume.")
    else:
        for report in reports:
            click.echo(_report_line(report))
    if any(r.failed for r in reports):
        raise SystemExit(1)


@jobs_group.command("download")
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Save to FILE.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help=QUIET_HELP,
)
def download_command(job_id: str, output: Path | None, as_json: bool, quiet: bool) -> None:
    """Download the output of a completed job again (e.g. after a failed or interrupted download).

    Always downloads, even a file that is still saved. A job that has not finished upstream (pending,
    running, or interrupted before it ended) is refused without a request: `jobs resume` waits for it.
    """
    store = open_journal()
    result = _run(
        lambda router: resume_job(router, job_id, output=output, redownload=True), store, quiet=quiet or as_json
    )
    _print_result(result, as_json, quiet)


@jobs_group.command("cancel")
@click.argument("job_id")
def cancel_command(job_id: str) -> None:
    """Ask the provider to cancel a job (OpenRouter cannot: the job keeps running and is billed)."""
    store = open_journal()
    _run(lambda router: cancel_job(router, job_id), store, quiet=True)
    click.echo(
        f"cancel requested for {job_id}; the provider may still finish it: "
        f"`mediarouter jobs resume {job_id}` records how it ended (and saves the video if there is one)"
    )


@jobs_group.command("forget")
@click.argument("key")
@click.option("--yes", is_flag=True, help="Confirm: the key is freed, so a new call may submit (and pay) again.")
def forget_command(key: str, yes: bool) -> None:
    """Stop tracking an unknown submit (no job id), freeing its idempotency key.

    KEY is the idempotency key or the row's local key. Check the provider's dashboard
    first: if the job exists, `jobs adopt` it instead. The row is kept as `forgotten`.
    """
    store = open_journal()
    try:
        record = forget(store, key, confirm=yes)
    except MediaRouterError as exc:
        fail(exc)
    click.echo(f"forgot {key} ({record.ref}); its idempotency key is free again")


@jobs_group.command("adopt")
@click.argument("key")
@click.argument("job_id")
@click.option(
    "--no-check",
    is_flag=True,
    help="Adopt without asking the provider about JOB_ID first (when it cannot be reached and you are sure "
    "of the id). A wrong id then only shows at `jobs resume`.",
)
def adopt_command(key: str, job_id: str, no_check: bool) -> None:
    """Give an unknown submit the JOB_ID found on the provider's side, so `jobs resume` can finish it.

    KEY is the idempotency key or the row's local key. JOB_ID is checked first with one poll of the
    row's provider (nothing is submitted): a job it does not know, or reports for another model than
    the row's, is refused and nothing changes; so is a provider that cannot be reached (retry, or
    --no-check). A row whose job id was itself adopted, and that the provider does not know (404),
    takes the new JOB_ID in its place (never with --no-check).
    """
    store = open_journal()
    adoption = _run(lambda router: adopt_checked(router, key, job_id, check=not no_check), store, quiet=True)
    record = adoption.record
    assert record.job_id is not None
    if adoption.status is None:
        seen = f" without checking it with {record.provider}"
    else:
        seen = f"; {record.provider} says it is {adoption.status.state.value}"
    instead = f" in place of {adoption.replaced}" if adoption.replaced else ""
    click.echo(
        f"adopted {record.job_id} as {key} ({record.ref}){instead}{seen}: "
        f"mediarouter jobs resume {shlex.quote(record.job_id)}"
    )
