"""`mediarouter batch`: many videos from a JSONL file, with one progress bar and one results file."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import click

from ..batch import BatchReport, BatchTotals, BatchUpdate, LineResult, prepare_dirs, run_batch
from ..errors import ConfigurationError, MediaRouterError
from ..router import Router
from ..settings import EMULATOR_POLL_INTERVAL
from .errors import BUSY, PAID_NOT_SAVED, PaidJobs, download_command, exit_code_for, fail, paid_advice
from .generate import USDAmount
from .progress import usd
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

    def __init__(self, *, live: bool, quiet: bool, paid: PaidJobs) -> None:
        self.quiet = quiet
        self.live = live and not quiet
        self.paid = paid
        #: Where a job's video was to go (its journal row's target), while the batch's router is open.
        self.target_of: Callable[[str], str | None] = lambda job_id: None
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

    def _line(self, update: BatchUpdate) -> str | None:
        result = update.result
        if result is None:
            return None
        if update.kind == "invalid":
            return f"line {result.line}: invalid, skipped: {result.error}"
        if update.kind == "skipped":
            return f"line {result.line}: done in an earlier run ({result.file})"
        if result.status == "done":
            estimated = f"not reported (estimated {usd(result.estimated_cost)})"
            cost = usd(result.cost) if result.cost is not None else estimated
            return f"line {result.line}: saved {result.file} from {result.provider}/{result.model}, cost {cost}"
        job = f", job {result.job_id}" if result.job_id else ""
        text = f"line {result.line}: failed ({result.error_type}{job}): {result.error}"
        if result.job_id and _line_code(result, self.paid) == PAID_NOT_SAVED:
            advice = paid_advice(
                result.job_id, target=self.target_of(result.job_id), provider=result.provider, paid=self.paid
            )
            text += f"; {advice} (or run the same batch command again)"
        return text


def _terminal() -> bool:
    """A live bar only on a real terminal (not a log file, CI or TERM=dumb)."""
    return sys.stderr.isatty() and os.environ.get("TERM", "") != "dumb"


def counts(totals: BatchTotals) -> str:
    """``3 done · 2 running · 1 failed · $1.20 spent + $0.48 may have been billed / $1.60 estimated``."""
    busy = f" ({totals.busy} busy elsewhere)" if totals.busy else ""
    parts = [f"{totals.done} done", f"{totals.running} running", f"{totals.failed + totals.invalid} failed{busy}"]
    unsure = f" + {usd(totals.may_have_billed)} may have been billed" if totals.may_have_billed else ""
    parts.append(f"{usd(totals.billed)} spent{unsure} / {usd(totals.estimated)} estimated")
    return " · ".join(parts)


def _line_code(result: LineResult, paid: PaidJobs | None = None) -> int:
    if result.exception is None:
        return 1
    return exit_code_for(result.exception, downloading=paid.ids if paid is not None else ())


def exit_code(report: BatchReport, paid: PaidJobs | None = None) -> int:
    """0 when every line is done; else the highest code among this run's failures (2 for invalid lines, 10 for a
    job paid for whose video is not saved); 1 when only the results file could not be written."""
    codes = [2] if report.invalid else []
    for result in report.failures:
        if result.status == "invalid":
            continue
        codes.append(_line_code(result, paid))
    if report.results_error is not None:
        codes.append(1)
    # Busy lines (another process has them) rank just above "anything else": any other failure says more.
    return max(codes, key=lambda code: 1.5 if code == BUSY else code, default=0)


def _check_writable(output_dir: Path, results_path: Path | None) -> None:
    """The output directory and the results file, created and writable, or one error line (exit 2) before
    anything is sent: a batch that cannot record its results must not start paying for videos."""
    try:
        out, path = prepare_dirs(output_dir, results_path)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the output directory {output_dir} ({_why(exc)}); nothing was sent",
            hint="give -o a directory you can write to",
        ) from None
    try:
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write in the output directory {out} ({_why(exc)}); nothing was sent",
            hint="give -o a directory you can write to",
        ) from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the results file {path} ({_why(exc)}); nothing was sent",
            hint="give --results a file you can write to (default: OUTDIR/results.jsonl)",
        ) from None


def _why(exc: OSError) -> str:
    """``/a/b: Permission denied``; ``/a/file is not a directory`` for a file where a directory must be."""
    if isinstance(exc, FileExistsError) and exc.filename:
        return f"{exc.filename} is not a directory"
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def _journal_target(router: Router, job_id: str) -> str | None:
    """The target a job was journaled with (where its video was to go), or None."""
    try:
        journal = router.journal
        record = journal.get(job_id) if journal is not None else None
    except Exception:  # only advice: a journal that cannot be read leaves the command without -o
        return None
    return record.target if record is not None else None


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
    9 submit outcome unknown, 10 paid for but the video is not saved: run
    the same command again or the `jobs download` command printed, 1
    anything else; 11, below every other code, lines another process has
    in hand: nothing sent); 2 also when OUTDIR or the results file cannot be
    written (nothing is sent); a results file that fails mid-run lets the
    lines run to the end and exits at least 1 (the journal has every job:
    run the same command again); 130/143 interrupted (SIGINT/SIGTERM).
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
    paid = PaidJobs(emulated=emulator)  # the jobs seen completing, for exit code 10
    display = _Display(live=_terminal(), quiet=quiet or as_json, paid=paid)
    targets: dict[str, str | None] = {}  # job id → its target, for the paid jobs whose video is not saved

    async def _run() -> BatchReport:
        # An in-process emulator's jobs die with this process: journal them in memory only.
        async with Router(emulator=emulator, journal=":memory:" if emulator else None, listeners=[paid]) as router:
            display.target_of = lambda job_id: _journal_target(router, job_id)
            report = await _run_lines(router)
            for result in report.failures:
                if result.job_id and _line_code(result, paid) == PAID_NOT_SAVED:
                    targets[result.job_id] = _journal_target(router, result.job_id)
            return report

    async def _run_lines(router: Router) -> BatchReport:
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
        _check_writable(output_dir, results_path)
        with display, sigterm_as_interrupt() as terminated:
            report = asyncio.run(_run())
    except MediaRouterError as exc:
        fail(exc, paid=paid)
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
                "busy": totals.busy,
                "invalid": totals.invalid,
                "enqueued": totals.running if no_wait else 0,
                "spent": f"{totals.billed:f}",
                "may_have_been_billed": f"{totals.may_have_billed:f}",
                "estimated": f"{totals.estimated:f}",
            },
            "results": [_result_json(r, paid, targets) for r in report.results] + invalid,
        }
        if report.results_error is not None:
            data["results_error"] = {
                "error": str(report.results_error.strerror or report.results_error),
                "unwritten": report.results_unwritten,
            }
        click.echo(json.dumps(data))
    else:
        skipped = f" ({totals.skipped} from an earlier run)" if totals.skipped else ""
        if no_wait:
            skipped += f", {totals.running} enqueued for the workers (run it again without --no-wait to wait for them)"
        failed = f"{totals.failed} failed"
        if totals.busy:  # held by another live process: nothing sent, its money is in that process's summary
            failed += f" ({totals.busy} busy in another process: nothing sent by this run)"
        unsure = ""
        if totals.may_have_billed:  # estimates of failed lines whose job may exist (an unknown submit, a timeout …)
            unsure = f", {usd(totals.may_have_billed)} more may have been billed (see `mediarouter jobs list`)"
        click.echo(
            f"batch: {totals.done} of {totals.total} done{skipped}, {failed}, {totals.invalid} invalid; "
            f"spent {usd(totals.billed)} (estimated {usd(totals.estimated)}){unsure}; results in {report.results_path}",
            err=True,
        )
        if targets:
            click.echo(
                f"batch: {len(targets)} line(s) are paid for but their video is not saved: run the same command again "
                "to download them without paying again, or `mediarouter jobs download JOB_ID -o FILE` (above)",
                err=True,
            )
    if report.results_error is not None:
        error = report.results_error
        click.echo(
            f"mediarouter: error: could not write the results file {report.results_path} "
            f"({error.strerror or error}): {report.results_unwritten} line result(s) may be missing from it. "
            "Every job is in the journal: run the same command again (with a writable --results) to record them; "
            "done lines are not submitted again",
            err=True,
        )
    code = exit_code(report, paid)
    if code:
        raise SystemExit(code)


def _result_json(result: LineResult, paid: PaidJobs, targets: dict[str, str | None]) -> dict[str, Any]:
    data = result.to_json()
    if result.job_id and result.job_id in targets:
        data["paid_not_saved"] = True
        data["advice"] = paid_advice(result.job_id, target=targets[result.job_id], provider=result.provider, paid=paid)
        if paid.journal and not paid.emulated:
            data["download_command"] = download_command(result.job_id, targets[result.job_id])
    return data
