"""`mediarouter batch`: many videos from a JSONL file, with one progress bar and one results file."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import click

from ..batch import BatchReport, BatchTotals, BatchUpdate, run_batch
from ..errors import MediaRouterError
from ..router import Router
from .errors import exit_code_for, fail
from .generate import EMULATOR_POLL_INTERVAL, USDAmount
from .signals import interrupted_exit, sigterm_as_interrupt

__all__ = ["batch_command"]


class ProviderLimit(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """NAME=N: at most N jobs at once on provider NAME."""

    name = "NAME=N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, int]:
        if isinstance(value, tuple):
            return value
        name, sep, number = str(value).partition("=")
        if not sep or not name.strip() or not number.strip().isdigit() or int(number) < 1:
            self.fail(f"expected NAME=N with N >= 1, e.g. openrouter=4 (got {value!r})", param, ctx)
        return name.strip(), int(number)


class _Display:
    """Progress for a batch: a rich bar on a terminal, one plain line per finished line otherwise."""

    def __init__(self, *, live: bool, quiet: bool) -> None:
        self.quiet = quiet
        self.live = live and not quiet
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Display:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("batch"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                transient=True,
            )
            self._task = self._bar.add_task("batch", total=None, counts="")
            self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, update: BatchUpdate) -> None:
        totals = update.totals
        if self._bar is not None:
            finished = totals.done + totals.failed + totals.invalid
            self._bar.update(self._task, total=totals.total, completed=finished, counts=counts(totals))
        line = self._line(update)
        if line is None or self.quiet:
            return
        if self._bar is not None:
            self._bar.console.print(line, style="dim", markup=False, highlight=False)
        else:
            click.echo(line, err=True)

    @staticmethod
    def _line(update: BatchUpdate) -> str | None:
        result = update.result
        if result is None:
            return None
        if update.kind == "invalid":
            return f"line {result.line}: invalid, skipped: {result.error}"
        if update.kind == "skipped":
            return f"line {result.line}: done in an earlier run ({result.file})"
        if result.status == "done":
            cost = (
                f"${result.cost}" if result.cost is not None else f"not reported (estimated ${result.estimated_cost})"
            )
            return f"line {result.line}: saved {result.file} from {result.provider}/{result.model}, cost {cost}"
        job = f", job {result.job_id}" if result.job_id else ""
        return f"line {result.line}: failed ({result.error_type}{job}): {result.error}"


def _terminal() -> bool:
    """A live bar only on a real terminal (not a log file, CI or TERM=dumb)."""
    return sys.stderr.isatty() and os.environ.get("TERM", "") != "dumb"


def counts(totals: BatchTotals) -> str:
    """``3 done · 2 running · 1 failed · $1.20 spent / $1.60 estimated``."""
    parts = [f"{totals.done} done", f"{totals.running} running", f"{totals.failed + totals.invalid} failed"]
    parts.append(f"${totals.spent} spent / ${totals.estimated} estimated")
    return " · ".join(parts)


def exit_code(report: BatchReport) -> int:
    """0 when every line is done; else the highest code among this run's failures (2 for invalid lines)."""
    codes = [2] if report.invalid else []
    for result in report.failures:
        if result.status == "invalid":
            continue
        codes.append(exit_code_for(result.exception) if result.exception is not None else 1)
    return max(codes, default=0)


@click.command()
@click.argument("requests", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o", "--output-dir", "output_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Directory the videos are saved in (an `output` name in a line is relative to it).",
)  # fmt: skip
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="Lines run at once.")
@click.option(
    "--max-total-cost",
    type=USDAmount(),
    help="Budget of the whole batch in USD: each line reserves the dearest candidate it may fail over to "
    "within what is left (spent plus the reservations of the lines in flight), and is not submitted when none "
    "fits. The router's max_cost still caps each line.",
)
@click.option(
    "--provider-concurrency",
    "provider_limits",
    type=ProviderLimit(),
    multiple=True,
    help="At most N lines at once on provider NAME (from each line's first candidate); repeatable.",
)
@click.option(
    "--results",
    "results_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results file (JSONL, appended as each line finishes) [default: OUTDIR/results.jsonl].",
)
@click.option("--poll-interval", type=click.FloatRange(min=0, min_open=True), help="Seconds between first polls.")
@click.option(
    "--emulator",
    is_flag=True,
    help="Run every line against its provider's bundled emulator, in-process and offline.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "dbos"]),
    default="local",
    show_default=True,
    help="local: this process runs every line. dbos: every line becomes a durable DBOS workflow that any "
    "`mediarouter worker` on the same database runs (this process too, unless --no-wait); see docs/scale-out.md.",
)
@click.option("--no-wait", is_flag=True, help="With --engine dbos: only enqueue the lines, for the workers to run.")
@click.option(
    "--database",
    envvar="MEDIAROUTER_DBOS_DATABASE",
    help="With --engine dbos: the DBOS database, sqlite:///FILE or postgresql://… "
    "[env: MEDIAROUTER_DBOS_DATABASE; default: dbos.sqlite3 next to the journal].",
)
@click.option(
    "--collect-only",
    is_flag=True,
    help="With --engine dbos: wait for the workers' results without running any line in this process.",
)
@click.option(
    "--worker-id",
    help="With --engine dbos: this process's worker id while it runs lines [default: the host name].",
)
@click.option("--json", "as_json", is_flag=True, help="Print every line's result and the totals as one JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def batch_command(
    requests: Path,
    output_dir: Path,
    concurrency: int,
    max_total_cost: Decimal | None,
    provider_limits: tuple[tuple[str, int], ...],
    results_path: Path | None,
    poll_interval: float | None,
    emulator: bool,
    engine: str,
    no_wait: bool,
    database: str | None,
    collect_only: bool,
    worker_id: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Generate one video per line of REQUESTS (JSONL) into OUTDIR.

    \b
    Each line is a JSON object: "prompt", "model" (or "candidates": [...]),
    any generate field ("duration", "resolution", "aspect_ratio", ...), and
    optionally "idempotency_key" (default: a hash of the line) and "output"
    (a file name inside OUTDIR). Every line is checked before anything is
    submitted; bad lines are reported by number and skipped.

    \b
    Running the same command again after a crash or Ctrl-C submits nothing
    twice: lines the results file says are done are skipped, accepted jobs
    are resumed from the journal.

    \b
    Exit codes: 0 every line done; otherwise the highest code among the
    failed lines (as for `generate`: 2 bad input or over budget, 3 auth,
    4 credits, 5 rate limited, 6 unavailable, 7 job failed, 8 timeout,
    9 submit outcome unknown, 1 anything else); 130/143 interrupted (SIGINT/SIGTERM).
    """
    if engine == "dbos" and emulator:
        raise click.UsageError(
            "--emulator runs in this process, which durable workers cannot reach: serve it instead "
            "(`mediarouter emulator`) and set OPENROUTER_BASE_URL to it"
        )
    if (no_wait or collect_only) and engine != "dbos":
        raise click.UsageError("--no-wait and --collect-only need --engine dbos")
    if emulator and poll_interval is None:
        poll_interval = EMULATOR_POLL_INTERVAL
    try:
        lines = requests.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {requests}: {exc}", param_hint="REQUESTS") from None
    display = _Display(live=_terminal(), quiet=quiet or as_json)

    async def _run() -> BatchReport:
        # An in-process emulator's jobs die with this process: journal them in memory only.
        async with Router(emulator=emulator, journal=":memory:" if emulator else None) as router:
            if engine == "dbos":
                return await _run_durable(router)
            return await run_batch(
                router,
                lines,
                output_dir=output_dir,
                concurrency=concurrency,
                max_total_cost=max_total_cost,
                per_provider=dict(provider_limits),
                results_path=results_path,
                listeners=[display],
                poll_interval=poll_interval,
            )

    async def _run_durable(router: Router) -> BatchReport:
        from ..durable import DurableSettings, require_dbos

        require_dbos()
        from ..durable.runner import run_durable_batch

        options: dict[str, Any] = {"database_url": database or "", "concurrency": concurrency}
        if worker_id:
            options["executor_id"] = worker_id
        options["provider_limits"] = dict(provider_limits)
        return await run_durable_batch(
            router,
            lines,
            output_dir=output_dir,
            settings=DurableSettings(**options),
            wait=not no_wait,
            execute=not collect_only,
            max_total_cost=max_total_cost,
            results_path=results_path,
            listeners=[display],
            poll_interval=poll_interval,
        )

    try:
        with display, sigterm_as_interrupt() as terminated:
            report = asyncio.run(_run())
    except MediaRouterError as exc:
        fail(exc)
    except KeyboardInterrupt:
        signal_name, code = interrupted_exit(terminated)
        click.echo(
            f"mediarouter: {signal_name}; accepted jobs are journaled: run the same command again to resume",
            err=True,
        )
        raise SystemExit(code) from None
    totals = report.totals
    if as_json:
        invalid = [
            {"line": b.number, "status": "invalid", "error_type": b.error_type, "error": b.message}
            for b in report.invalid
        ]
        data = {
            "ok": report.ok,
            "results_file": str(report.results_path),
            "totals": {
                "lines": totals.total,
                "done": totals.done,
                "skipped": totals.skipped,
                "failed": totals.failed,
                "invalid": totals.invalid,
                "enqueued": totals.running if no_wait else 0,
                "spent": str(totals.spent),
                "estimated": str(totals.estimated),
            },
            "results": [r.to_json() for r in report.results] + invalid,
        }
        click.echo(json.dumps(data))
    else:
        skipped = f" ({totals.skipped} from an earlier run)" if totals.skipped else ""
        if no_wait:
            skipped += f", {totals.running} enqueued for the workers (run it again without --no-wait to wait for them)"
        click.echo(
            f"batch: {totals.done} of {totals.total} done{skipped}, {totals.failed} failed, {totals.invalid} invalid; "
            f"spent ${totals.spent} (estimated ${totals.estimated}); results in {report.results_path}",
            err=True,
        )
    code = exit_code(report)
    if code:
        raise SystemExit(code)
