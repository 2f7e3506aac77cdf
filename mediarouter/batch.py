"""Many videos from one JSONL file, on one machine: validated first, paid for once, resumable.

Each input line is one JSON object: a `prompt`, a `model` (ref, alias or list) or `candidates`
(a list), any VideoRequest field, an optional `idempotency_key` (default: a sha256 of the
canonical line) and an optional `output` file name inside the output directory.

Money rules, in order of importance:
- Every line is validated before anything is submitted; bad lines are reported and skipped.
- Each line runs through `router.generate_request(..., idempotency_key=key)`, so a line whose job
  is journaled is resumed, never submitted again; a key held by a submit of unknown outcome
  raises Conflict, which is recorded and never retried here.
- The batch budget is checked before each submit against what is spent (reported cost, else the
  estimate of the candidate that ran) plus what the lines in flight reserved. A line reserves the
  dearest candidate it may fail over to, and the call may cost at most that (and at most the
  router's own `max_cost`), so failover never takes the batch past its budget.
- A failed line counts its estimate when its job may still bill (see `LineResult.spent`); a line another
  live process holds (a rerun while the first run still polls its job) sends nothing and counts nothing:
  it is `busy` in the totals, and its job's money is that process's to report.
- The results file is appended and flushed as each line finishes, so a crash keeps what was done;
  a rerun skips lines the results file says are done and whose file is still whole: the size and
  sha256 the journal row holding the line's key recorded for it (`saved_whole`). A line whose file
  is missing, changed or truncated is run again, which resumes (re-downloads) its journaled job:
  the key is held, so nothing is submitted twice.

The DBOS batch (`mediarouter.durable.runner`) writes the same results file with the same rules, through the
public helpers here: `prepare_dirs`, `read_results`, `ResultsFile`, `done_before`, `saved_whole` and
`request_fields`.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .downloads import still_whole
from .errors import (
    BudgetExceeded,
    ConfigurationError,
    Conflict,
    InvalidRequest,
    JobFailed,
    JobTimeout,
    MediaRouterError,
    SubmitUnknown,
    held_elsewhere,
    paid_not_saved,
)
from .journal import JobStore, saves
from .pricing import format_usd
from .request import VideoRequest
from .validation import validate_request_level

if TYPE_CHECKING:
    from .router import Router

__all__ = [
    "BatchLine",
    "BatchListener",
    "BatchReport",
    "BatchTotals",
    "BatchUpdate",
    "InvalidLine",
    "LineResult",
    "ResultsFile",
    "default_key",
    "done_before",
    "parse_lines",
    "prepare_dirs",
    "read_results",
    "settle_known_lines",
    "request_fields",
    "run_batch",
    "saved_whole",
]

#: Keys of an input line that are about the batch, not the request.
LINE_KEYS = ("model", "candidates", "idempotency_key", "output")

Status = Literal["done", "failed", "invalid"]


@dataclass(frozen=True)
class BatchLine:
    """One validated input line."""

    number: int
    key: str
    request: VideoRequest
    model: str | list[str] | None
    output: str
    provider: str


@dataclass(frozen=True)
class InvalidLine:
    """An input line that was not run, with the reason (reported before anything is submitted)."""

    number: int
    error_type: str
    message: str


@dataclass
class LineResult:
    """One line of the results file."""

    line: int
    idempotency_key: str | None
    status: Status
    file: str | None = None
    cost: Decimal | None = None
    estimated_cost: Decimal | None = None
    job_id: str | None = None
    provider: str | None = None
    model: str | None = None
    error_type: str | None = None
    error: str | None = None
    #: The exception itself (this run only; not written): the CLI's exit code keys off its class.
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "idempotency_key": self.idempotency_key,
            "status": self.status,
            "file": self.file,
            "cost": str(self.cost) if self.cost is not None else None,
            "estimated_cost": str(self.estimated_cost) if self.estimated_cost is not None else None,
            "job_id": self.job_id,
            "provider": self.provider,
            "model": self.model,
            "error_type": self.error_type,
            "error": self.error,
        }

    @property
    def spent(self) -> Decimal:
        """What this line counts against the budget: the reported cost, else the estimate; a failure
        counts its estimate only when a job may still run or have billed (`may_bill`)."""
        if self.status == "done":
            return self.cost if self.cost is not None else (self.estimated_cost or Decimal(0))
        if self.may_bill:
            return self.estimated_cost or Decimal(0)
        return Decimal(0)

    @property
    def busy_elsewhere(self) -> bool:
        """Refused because another live process holds the line (this run only, from the exception's details):
        its job's lease (it is polling and downloading the job) or its key's submit lease (it is submitting
        it right now). Nothing was sent by this run, and what the job costs is that process's to count. A
        Conflict over a submit of unknown outcome (`ambiguous_submit`) or without a holder is not busy."""
        return self.status == "failed" and self.exception is not None and held_elsewhere(self.exception)

    @property
    def may_bill(self) -> bool:
        """A failure after which a job may exist and be billed by this run: an unknown submit, a timeout, a key
        held by a job or an ambiguous submit (Conflict), or any error once a job was accepted (a poll that kept
        failing, its output gone) except a job that ended `failed`, which produced nothing. A line busy in
        another process (`busy_elsewhere`) is not: that process counts its job."""
        if self.status != "failed" or self.busy_elsewhere:
            return False
        billing = (SubmitUnknown, JobTimeout, Conflict)
        if isinstance(self.exception, billing) or self.error_type in {c.__name__ for c in billing}:
            return True
        ended_failed = isinstance(self.exception, JobFailed) or self.error_type == JobFailed.__name__
        return self.job_id is not None and not ended_failed


@dataclass
class BatchTotals:
    """Counts and money so far, for progress displays."""

    total: int = 0
    done: int = 0
    running: int = 0
    failed: int = 0
    skipped: int = 0
    invalid: int = 0
    #: What counts against the budget: what was billed plus `may_have_billed`.
    spent: Decimal = Decimal(0)
    estimated: Decimal = Decimal(0)
    #: The part of `spent` not known to be billed: the estimates of failed lines whose job may bill (an unknown
    #: submit, a timeout …); a job that completed but whose video was not saved is billed, and not counted here.
    may_have_billed: Decimal = Decimal(0)
    #: Failed lines another live process holds (`LineResult.busy_elsewhere`): nothing sent, nothing counted.
    busy: int = 0

    @property
    def billed(self) -> Decimal:
        """What the done lines (and the completed jobs whose video was not saved) cost: `spent` less the unsure."""
        return self.spent - self.may_have_billed

    def count(self, result: LineResult) -> None:
        """Add a finished line: its money, and done or failed."""
        self.spent += result.spent
        if result.status != "done" and (result.exception is None or not paid_not_saved(result.exception)):
            self.may_have_billed += result.spent
        if result.status == "done":
            self.done += 1
        else:
            self.failed += 1
            self.busy += int(result.busy_elsewhere)


@dataclass(frozen=True)
class BatchUpdate:
    """What batch listeners get: `kind` is started | finished | skipped | invalid."""

    kind: str
    line: int
    totals: BatchTotals
    result: LineResult | None = None


BatchListener = Callable[[BatchUpdate], None]


@dataclass
class BatchReport:
    """The outcome of one run: every line's result (skipped done lines included) and the totals."""

    results: list[LineResult]
    invalid: list[InvalidLine]
    totals: BatchTotals
    results_path: Path
    #: The first write of the results file that failed (the lines kept running: the journal has every job).
    results_error: OSError | None = None
    #: How many results were not written to the results file after `results_error`.
    results_unwritten: int = 0

    @property
    def ok(self) -> bool:
        return not self.invalid and all(r.status == "done" for r in self.results) and self.results_error is None

    @property
    def failures(self) -> list[LineResult]:
        return [r for r in self.results if r.status != "done"]


# -- parsing ------------------------------------------------------------------------------------


def default_key(obj: Mapping[str, Any]) -> str:
    """A stable key for a line without one: the sha256 of its canonical JSON (key order and spacing ignored)."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "batch-" + hashlib.sha256(canonical.encode()).hexdigest()


def _output_name(value: Any, number: int, key: str) -> str:
    if value is None:
        return f"{number:04d}-{hashlib.sha256(key.encode()).hexdigest()[:8]}.mp4"
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest('output must be a file name (a string), e.g. "cat.mp4"', details={"field": "output"})
    if os.path.basename(value.replace(os.sep, "/")) in ("", ".", ".."):  # "birds/", "birds/.": a directory
        raise InvalidRequest(
            f'output {value!r} names a directory, not a file: give a file name such as "cat.mp4" or "birds/cat.mp4"',
            details={"field": "output"},
        )
    parts = Path(value).parts
    if Path(value).is_absolute() or ".." in parts or not parts:
        raise InvalidRequest(
            f"output {value!r} must be a file name inside the output directory (no absolute path, no '..')",
            details={"field": "output"},
        )
    return os.path.normpath(value)  # `./a.mp4` and `a.mp4`, `x//a.mp4` and `x/a.mp4` are one file


def _model(obj: Mapping[str, Any]) -> str | list[str] | None:
    model, candidates = obj.get("model"), obj.get("candidates")
    if model is not None and candidates is not None:
        raise InvalidRequest("give either model or candidates, not both", details={"field": "candidates"})
    if candidates is not None:
        if not isinstance(candidates, list) or not candidates or not all(isinstance(c, str) for c in candidates):
            raise InvalidRequest(
                "candidates must be a non-empty list of model refs or aliases", details={"field": "candidates"}
            )
        return list(candidates)
    if model is not None and not (
        isinstance(model, str) or (isinstance(model, list) and model and all(isinstance(m, str) for m in model))
    ):
        raise InvalidRequest("model must be a ref, an alias or a list of them", details={"field": "model"})
    return model


def _same_file(name: str) -> str:
    """What two output names are compared by: one file on a case-insensitive file system (macOS, Windows)
    too, so a batch does not depend on the machine it runs on."""
    return name.casefold()


def _first_output(name: str) -> str | None:
    """For `a-2.mp4`: `a.mp4`, the name whose job would save its third output here (`output_path`)."""
    path = Path(name)
    stem, dash, index = path.stem.rpartition("-")
    return str(path.with_name(stem + path.suffix)) if dash and stem and index.isdigit() else None


class _Outputs:
    """The output names the lines so far take, so two lines never save (and pay for) one file."""

    def __init__(self, output_dir: Path | None, results_path: Path | None) -> None:
        self.lines: dict[str, int] = {}
        self.output_dir = output_dir
        self.results = _same_file(os.path.abspath(results_path)) if results_path is not None else None

    def check(self, name: str) -> None:
        key = _same_file(name)
        taken = self.lines.get(key)
        if taken is not None:
            raise InvalidRequest(f"output {name!r} is also line {taken}'s", details={"field": "output"})
        first = _first_output(name)
        taken = self.lines.get(_same_file(first)) if first is not None else None
        if taken is not None:
            shown = Path(str(first))
            raise InvalidRequest(
                f"output {name!r} is where line {taken}'s job would save a further output (a job with several "
                f"saves {shown}, then {shown.stem}-1{shown.suffix}, …)",
                hint="give this line another output name",
                details={"field": "output"},
            )
        later = next((n for k, n in self.lines.items() if _first_output(k) == key), None)
        if later is not None:
            raise InvalidRequest(
                f"line {later}'s output would be where this line's job saves a further output (after {name!r})",
                hint="give one of the two lines another output name",
                details={"field": "output"},
            )
        here = os.path.abspath(self.output_dir / name) if self.output_dir is not None else None
        if here is not None and _same_file(here) == self.results:
            raise InvalidRequest(
                f"output {name!r} is the batch's results file",
                hint="name the video otherwise",
                details={"field": "output"},
            )

    def take(self, name: str, number: int) -> None:
        self.lines[_same_file(name)] = number


def parse_lines(
    router: Router, lines: Iterable[str], *, output_dir: Path | None = None, results_path: Path | None = None
) -> tuple[list[BatchLine], list[InvalidLine]]:
    """Validate every line (JSON, fields, model refs, output names, duplicates); submits nothing. With
    `output_dir` and `results_path`, a line whose output would be the results file is invalid too."""
    good: list[BatchLine] = []
    bad: list[InvalidLine] = []
    taken = _Outputs(output_dir, results_path)
    keys: dict[str, int] = {}
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            bad.append(InvalidLine(number, "InvalidRequest", f"not JSON: {exc.msg} (column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            bad.append(InvalidLine(number, "InvalidRequest", f"must be a JSON object, not {type(obj).__name__}"))
            continue
        try:
            key = obj.get("idempotency_key")
            if key is None:
                key = default_key(obj)
            elif not isinstance(key, str) or not key.strip():
                raise InvalidRequest(
                    "idempotency_key must be a non-empty string (leave it out for the default: a hash of the line)",
                    details={"field": "idempotency_key"},
                )
            model = _model(obj)
            output = _output_name(obj.get("output"), number, key)
            fields = {k: v for k, v in obj.items() if k not in LINE_KEYS}
            request = VideoRequest.build(max_body_bytes=router.settings.max_request_bytes, **fields)
            refs = router.resolve(model)
            validate_request_level(
                request, model=refs[0].model_id, provider=refs[0].provider
            )  # e.g. no prompt: `invalid` now, not a failure once the batch runs
            if key in keys:
                raise InvalidRequest(f"idempotency_key {key!r} is also line {keys[key]}'s: it would be one job")
            taken.check(output)
        except MediaRouterError as exc:
            text_ = exc.message + (f" ({exc.hint})" if exc.hint else "")
            bad.append(InvalidLine(number, type(exc).__name__, text_))
            continue
        keys[key] = number
        taken.take(output, number)
        good.append(BatchLine(number, key, request, model, output, refs[0].provider))
    return good, bad


# -- the results file (also written by the DBOS batch, mediarouter.durable.runner) ---------------------


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    """The last record per idempotency key in an earlier results file (a torn last line is ignored)."""
    found: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return found
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("idempotency_key"), str):
            found[record["idempotency_key"]] = record
    return found


class ResultsFile:
    """The results file, append-only: one flushed (and fsynced) line per finished input line.

    `keep_going`: a write that fails (a full disk …) is recorded in `error` / `unwritten` instead of raised,
    so the lines in flight (paid jobs) run to the end; the journal still has every job for a rerun.
    """

    def __init__(self, path: Path, *, emulated: bool = False, keep_going: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._emulated = emulated
        self._keep_going = keep_going
        self.error: OSError | None = None
        self.unwritten = 0

    def write(self, result: LineResult) -> None:
        record = result.to_json()
        if self._emulated:  # an emulator's test pattern, never to be taken for a paid video by a real run
            record["emulated"] = True
        try:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            if not self._keep_going:
                raise
            self.error = self.error or exc
            self.unwritten += 1

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:  # what a failed write left in the buffer
            if not self._keep_going:
                raise
            self.error = self.error or exc


def _decimal(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


# -- running ----------------------------------------------------------------------------------------


class _Batch:
    def __init__(
        self,
        router: Router,
        *,
        output_dir: Path,
        concurrency: int,
        max_total_cost: Decimal | None,
        per_provider: Mapping[str, int],
        listeners: Sequence[BatchListener],
        poll_interval: float | None,
        results: ResultsFile,
    ) -> None:
        self.router = router
        self.output_dir = output_dir
        self.max_total_cost = max_total_cost
        self.listeners = list(listeners)
        self.poll_interval = poll_interval
        self.results = results
        self.slots = asyncio.Semaphore(concurrency)
        self.per_provider = {name: asyncio.Semaphore(n) for name, n in per_provider.items()}
        self.totals = BatchTotals()
        self.in_flight: dict[int, Decimal] = {}

    def notify(self, kind: str, line: int, result: LineResult | None = None) -> None:
        update = BatchUpdate(kind=kind, line=line, totals=self.totals, result=result)
        for listener in self.listeners:
            listener(update)

    async def run_line(self, line: BatchLine) -> LineResult:
        limit = self.per_provider.get(line.provider)
        if limit is None:
            async with self.slots:
                return await self._run(line)
        async with limit, self.slots:
            return await self._run(line)

    async def _run(self, line: BatchLine) -> LineResult:
        result = LineResult(line=line.number, idempotency_key=line.key, status="failed", provider=line.provider)
        target = self.output_dir / line.output
        self.totals.running += 1
        self.notify("started", line.number)
        estimates: dict[str, Decimal | None] = {}
        counted = Decimal(0)
        try:
            journal = self.router.require_journal()
            held = journal.find_idempotent(line.key)
            already_accepted = held is not None and held.state.holds_key
            estimates = await self._estimates(line, required=not already_accepted)
            max_cost: Decimal | None = None
            if already_accepted:
                assert held is not None
                # Resumed, not submitted: its own candidate's estimate (else the dearest) is what it may cost.
                known = [e for e in estimates.values() if e is not None]
                own = estimates.get(held.ref)
                result.estimated_cost = own if own is not None else max(known, default=None)
                reserved = result.estimated_cost or Decimal(0)
                if self.max_total_cost is not None:
                    # If the resumed job ends failed the call fails over to the candidates after it: only
                    # to those the budget left fits, reserved now like a new line's.
                    max_cost = self._reserve_failover(estimates, held.ref)
                    reserved = max(reserved, max_cost)
            elif self.max_total_cost is not None:
                result.estimated_cost, reserved = self._reserve(line, estimates)
                max_cost = reserved
            else:
                result.estimated_cost = next(iter(estimates.values()), None)
                reserved = result.estimated_cost or Decimal(0)
            self.in_flight[line.number] = reserved
            counted = result.estimated_cost or Decimal(0)
            self.totals.estimated += counted
            video = await self.router.generate_request(
                line.request,
                model=line.model,
                output=target,
                max_cost=max_cost,
                poll_interval=self.poll_interval,
                idempotency_key=line.key,
            )
        except MediaRouterError as exc:
            result.error_type, result.error, result.exception = type(exc).__name__, exc.message, exc
            result.job_id = exc.job_id
            if exc.provider:
                result.provider, result.model = exc.provider, exc.model
            ran = _ran_estimate(exc, estimates)
            if ran is not None:
                result.estimated_cost = ran
            elif result.may_bill and line.number in self.in_flight:
                result.estimated_cost = self.in_flight[line.number]  # not known which one ran: the reservation
        else:
            result.status = "done"
            result.file = str(video.files[0].path) if video.files and video.files[0].path else str(target)
            result.cost, result.job_id = video.cost, video.job_id
            result.provider, result.model = video.provider, video.model
            ran = video.estimated_cost if video.estimated_cost is not None else estimates.get(video.ref)
            if ran is not None:
                result.estimated_cost = ran  # the candidate that served, not the first one planned
        finally:
            self.in_flight.pop(line.number, None)
            self.totals.running -= 1
        self.totals.estimated += (result.estimated_cost or Decimal(0)) - counted
        self._finish(result)
        return result

    async def _estimates(self, line: BatchLine, *, required: bool) -> dict[str, Decimal | None]:
        """The usable candidates' estimates, in the order the router tries them (planning submits nothing;
        the plan applies the router's own max_cost and cooldowns, so a candidate it skips is left out)."""
        try:
            plan = await self.router.plan(model=line.model, **request_fields(line.request))
        except MediaRouterError:
            if required:
                raise
            return {}  # a journaled job is resumed whatever its plan says now
        usable = {c.ref: c.estimated_cost for c in plan if c.usable}
        if not usable and required:
            # Of the class of the last candidate's reason, as `generate` would raise (a cooldown keeps the
            # class of its cause, e.g. RateLimited), with every candidate's reason.
            cause = plan[-1].error
            error = copy.copy(cause) if cause is not None else InvalidRequest("")
            error.message = f"no candidate can serve line {line.number}: " + "; ".join(
                f"{c.ref}: {c.reason}" for c in plan
            )
            error.details = dict(error.details)
            raise error
        return usable

    def _cap(self) -> tuple[Decimal, Decimal]:
        """(what is spent or reserved by the lines in flight, the most one more call may cost)."""
        assert self.max_total_cost is not None
        committed = self.totals.spent + sum(self.in_flight.values(), Decimal(0))
        left = self.max_total_cost - committed
        return committed, left if self.router.max_cost is None else min(left, self.router.max_cost)

    def _reserve_failover(self, estimates: Mapping[str, Decimal | None], ran: str) -> Decimal:
        """The max_cost of a resumed line's call: the dearest candidate after the one that ran (`ran`) that
        fits what is left, else 0 (its failover is then refused as over budget)."""
        refs = list(estimates)
        later = refs[refs.index(ran) + 1 :] if ran in refs else []
        _, cap = self._cap()
        fitting = [e for ref in later if (e := estimates[ref]) is not None and e <= cap]
        return max(fitting, default=Decimal(0))

    def _reserve(self, line: BatchLine, estimates: Mapping[str, Decimal | None]) -> tuple[Decimal, Decimal]:
        """Refuse the submit when it could push the batch over budget; else (the estimate of the candidate
        tried first, the reservation). The reservation is the dearest candidate the call may fail over to
        within what is left and the router's own max_cost, and it is the call's max_cost: the router skips
        every dearer candidate, so failover cannot spend more than was reserved."""
        assert self.max_total_cost is not None
        committed, cap = self._cap()
        known = [e for e in estimates.values() if e is not None]
        if not known:
            raise BudgetExceeded(
                f"line {line.number}'s cost cannot be estimated (no known price) and the batch has a budget",
                max_cost=self.max_total_cost,
                hint="give a model with a published price, or drop --max-total-cost",
            )
        fitting = [e for e in known if e <= cap]
        if not fitting:
            estimate = min(known)
            raise BudgetExceeded(
                f"line {line.number} (estimated {format_usd(estimate)}) would take the batch over its budget: "
                f"{format_usd(committed)} spent or in flight of {format_usd(self.max_total_cost)}; not submitted",
                max_cost=self.max_total_cost,
                hint="raise --max-total-cost and run the same command again: done lines are skipped",
            )
        return fitting[0], max(fitting)

    def _finish(self, result: LineResult) -> None:
        self.totals.count(result)
        self.results.write(result)
        self.notify("finished", result.line, result)


def _ran_estimate(exc: MediaRouterError, estimates: Mapping[str, Decimal | None]) -> Decimal | None:
    """The estimate of the candidate a failed call ended on: its attempt's (the one with the error's job id,
    else the last one tried), else its ref's from the plan; None when the error names no candidate."""
    attempts = [a for a in exc.details.get("attempts", ()) if isinstance(a, Mapping)]
    tried = [a for a in attempts if a.get("outcome") not in ("skipped", "cooldown")]
    mine = [a for a in tried if exc.job_id and a.get("job_id") == exc.job_id] or tried[-1:]
    if mine and mine[0].get("estimated_cost") is not None:
        return Decimal(str(mine[0]["estimated_cost"]))
    if exc.provider and exc.model:
        return estimates.get(f"{exc.provider}/{exc.model}")
    return None


def prepare_dirs(output_dir: str | os.PathLike[str], results_path: str | os.PathLike[str] | None) -> tuple[Path, Path]:
    """The output directory, absolute and created, and the results file (default: `results.jsonl` in it)."""
    out = Path(os.path.abspath(os.fspath(output_dir)))
    out.mkdir(parents=True, exist_ok=True)
    return out, Path(results_path) if results_path is not None else out / "results.jsonl"


def saved_whole(journal: JobStore | None, key: str, file: object) -> bool:
    """Whether `file`, which an earlier run of the line with idempotency key `key` saved, is still its video:
    the journal row holding the key lists it, with the size and sha256 the file still has. Without such a row
    (no journal given, a journal that never saw the key, a row that let it go) only the file's existence
    can be checked: running the line then would submit (and pay) again."""
    if not isinstance(file, str) or not file:
        return False
    path = Path(file)
    row = journal.find_idempotent(key) if journal is not None else None
    if row is None or not row.state.holds_key:
        return path.exists()
    return any(still_whole(path, entry) for entry in saves(row, path))


def done_before(
    earlier: Mapping[str, Any] | None, line: BatchLine, *, emulated: bool = False, journal: JobStore | None = None
) -> LineResult | None:
    """The earlier run's result when it says done, it was made the same way (an emulated run's video is not a
    real run's) and its file is still whole (`saved_whole`, by the `journal`); else None: the line runs again,
    and its journaled job is resumed (its file downloaded again), never submitted twice."""
    if earlier is None or earlier.get("status") != "done" or bool(earlier.get("emulated")) != emulated:
        return None
    if not saved_whole(journal, line.key, earlier.get("file")):
        return None
    return LineResult(
        line=line.number,
        idempotency_key=line.key,
        status="done",
        file=earlier.get("file"),
        cost=_decimal(earlier.get("cost")),
        estimated_cost=_decimal(earlier.get("estimated_cost")),
        job_id=earlier.get("job_id"),
        provider=earlier.get("provider"),
        model=earlier.get("model"),
    )


class _Reports(Protocol):
    totals: BatchTotals

    def notify(self, kind: str, line: int, result: LineResult | None = None) -> None: ...


def settle_known_lines(
    batch: _Reports,
    bad: Sequence[InvalidLine],
    good: Sequence[BatchLine],
    previous: Mapping[str, Mapping[str, Any]],
    results_file: ResultsFile,
    results: list[LineResult],
    *,
    emulated: bool = False,
    journal: JobStore | None = None,
) -> list[BatchLine]:
    """What a batch knows before running anything: each invalid line's result is written, each line an
    earlier run finished (`done_before`, its file checked against the `journal`) is added to `results` as
    skipped; returns the lines still to run. The same rules for the in-process batch and the durable one
    (mediarouter.durable.runner)."""
    for invalid in bad:
        result = LineResult(
            line=invalid.number,
            idempotency_key=None,
            status="invalid",
            error_type=invalid.error_type,
            error=invalid.message,
        )
        results_file.write(result)
        batch.totals.invalid += 1
        batch.notify("invalid", invalid.number, result)
    todo: list[BatchLine] = []
    for line in good:
        done = done_before(previous.get(line.key), line, emulated=emulated, journal=journal)
        if done is None:
            todo.append(line)
            continue
        results.append(done)
        batch.totals.done += 1
        batch.totals.skipped += 1
        batch.totals.spent += done.spent
        batch.totals.estimated += done.estimated_cost or done.spent
        batch.notify("skipped", line.number, done)
    return todo


def refuse_emulating_over_paid_videos(
    previous: Mapping[str, Mapping[str, Any]], good: Sequence[BatchLine], results_path: Path
) -> None:
    """An emulated run would write its test patterns over the videos a real run paid for (same lines, same
    output names): refused before anything runs."""
    paid = [
        line.number
        for line in good
        if (earlier := previous.get(line.key)) is not None
        and earlier.get("status") == "done"
        and not earlier.get("emulated")
        and Path(str(earlier.get("file"))).exists()
    ]
    if paid:
        shown = ", ".join(map(str, paid[:5])) + (", …" if len(paid) > 5 else "")
        raise ConfigurationError(
            f"{results_path} says line(s) {shown} were made by a real (paid) run; an emulated run would write its "
            "test videos over them; nothing was run",
            hint="give the emulated run another output directory (-o) or results file (--results)",
        )


def request_fields(request: VideoRequest) -> dict[str, Any]:
    """The request fields the line set (the keyword arguments to plan or generate it with)."""
    return {name: getattr(request, name) for name in request.model_fields_set}


async def run_batch(
    router: Router,
    lines: Iterable[str],
    *,
    output_dir: str | os.PathLike[str],
    concurrency: int = 4,
    max_total_cost: Decimal | float | int | str | None = None,
    per_provider: Mapping[str, int] | None = None,
    results_path: str | os.PathLike[str] | None = None,
    listeners: Sequence[BatchListener] = (),
    poll_interval: float | None = None,
) -> BatchReport:
    """Run every valid line of a JSONL batch through `router`; see the module docstring for the rules.

    Bad lines are reported (in the report, the results file and an `invalid` update) and skipped
    before anything is submitted. Cancelling (Ctrl-C) leaves accepted jobs journaled: run again.
    """
    if concurrency < 1:
        raise InvalidRequest("concurrency must be at least 1", details={"field": "concurrency"})
    limits = dict(per_provider or {})
    for name, n in limits.items():
        if n < 1:
            raise InvalidRequest(f"the concurrency limit of provider {name!r} must be at least 1 (got {n})")
    unknown = sorted(set(limits) - set(router.provider_names()))
    if unknown:  # a typo's limit would silently not apply (one meant to cap spending, say)
        raise InvalidRequest(
            f"per-provider concurrency names {', '.join(map(repr, unknown))}, which is not an installed provider; "
            f"installed: {', '.join(router.provider_names()) or 'none'}",
            hint="fix the NAME of --provider-concurrency NAME=N; `mediarouter plugins` lists the providers",
            details={"field": "per_provider"},
        )
    budget = Decimal(str(max_total_cost)) if max_total_cost is not None else None
    if budget is not None and (not budget.is_finite() or budget < 0):
        raise InvalidRequest(f"max_total_cost must be a non-negative amount in USD (got {max_total_cost!r})")
    if router.journal is None:
        raise ConfigurationError(
            "a batch needs the job journal (it is what makes a rerun submit nothing twice), which is off",
            hint="unset MEDIAROUTER_JOURNAL=off",
        )
    out, path = prepare_dirs(output_dir, results_path)

    good, bad = parse_lines(router, lines, output_dir=out, results_path=path)
    previous = read_results(path)
    if router.emulator:
        refuse_emulating_over_paid_videos(previous, good, path)
    results_file = ResultsFile(path, emulated=router.emulator, keep_going=True)
    batch = _Batch(
        router,
        output_dir=out,
        concurrency=concurrency,
        max_total_cost=budget,
        per_provider=limits,
        listeners=listeners,
        poll_interval=poll_interval,
        results=results_file,
    )
    batch.totals.total = len(good) + len(bad)
    results: list[LineResult] = []
    try:
        todo = settle_known_lines(
            batch, bad, good, previous, results_file, results, emulated=router.emulator, journal=router.journal
        )
        # A TaskGroup: an unexpected error or a cancel (Ctrl-C) stops every line; accepted jobs stay journaled.
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(batch.run_line(line)) for line in todo]
        results.extend(task.result() for task in tasks)
    finally:
        results_file.close()
    results.sort(key=lambda r: r.line)
    return BatchReport(
        results=results,
        invalid=bad,
        totals=batch.totals,
        results_path=path,
        results_error=results_file.error,
        results_unwritten=results_file.unwritten,
    )
