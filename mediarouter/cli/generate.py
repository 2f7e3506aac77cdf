"""`mediarouter generate`."""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from ..errors import AllCandidatesFailed, MediaRouterError
from ..events import Event, JobSubmittedEvent, JobSubmitUnknownEvent, Listener
from ..recovery import unfinished_like
from ..results import VideoResult
from ..router import PlannedCandidate, Router
from ..settings import EMULATOR_POLL_INTERVAL, FIT_POLICIES, FitPolicy
from .errors import PAID_NOT_SAVED, PaidJobs, download_command, exit_code_for, fail, paid_advice
from .params import JSON_OBJECT, QUIET_HELP
from .progress import progress_for, summary_line
from .signals import interrupted_exit, sigterm_as_interrupt


class USDAmount(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """A non-negative amount of US dollars, kept exact (Decimal)."""

    name = "USD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            amount = Decimal(str(value).strip().lstrip("$"))
        except InvalidOperation:
            self.fail(f"not an amount in USD: {value!r} (e.g. 2.50)", param, ctx)
        if not amount.is_finite() or amount < 0:
            self.fail(f"must be a non-negative amount in USD: {value!r}", param, ctx)
        return amount


@click.command()
@click.argument("prompt", required=False)
@click.option(
    "-m",
    "--model",
    "model",
    metavar="REF|ALIAS",
    help="Model ref (e.g. openrouter/google/veo-3.1) or an alias from the config file (`mediarouter aliases`).",
)
@click.option(
    "--fallback",
    "fallbacks",
    metavar="REF|ALIAS",
    multiple=True,
    help="Try this candidate when the ones before it cannot serve; repeatable, tried in order.",
)
@click.option(
    "--max-cost",
    type=USDAmount(),
    help="Refuse candidates whose estimated cost (price per second × duration) is over this many USD.",
)
@click.option(
    "--fit",
    type=click.Choice(FIT_POLICIES),
    help="Candidates that do not support the request: strict = error, adjust = snap duration/resolution/"
    "aspect ratio to the nearest supported value, skip = next candidate [config: fit, default skip].",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Save to FILE (checked before any request)."
)
@click.option("--duration", type=int, help="Seconds (one of the model's supported durations).")
@click.option("--resolution", help="e.g. 720p, 1080p, 4K.")
@click.option("--aspect-ratio", help="e.g. 16:9, 9:16, 1:1.")
@click.option("--size", help="Exact WIDTHxHEIGHT, e.g. 1280x720 (instead of resolution/aspect ratio).")
@click.option("--audio/--no-audio", "generate_audio", default=None, help="Generate an audio track.")
@click.option("--seed", type=int, help="Sampling seed (models that honour it).")
@click.option(
    "--image",
    "image_url",
    metavar="URL|FILE",
    help="First frame: an https:// or data: URL, or a local PNG/JPEG/WebP/GIF file (sent inline as a data: URL; "
    "the whole request must stay under the 50 MiB body limit).",
)
@click.option(
    "--frame-image",
    "frame_images",
    type=JSON_OBJECT,
    multiple=True,
    help='Frame image JSON, e.g. \'{"type":"image_url","image_url":{"url":"https://…"},"frame_type":"last_frame"}\'; '
    "the url may also be a data: URL or a local file.",
)
@click.option(
    "--reference",
    "input_references",
    type=JSON_OBJECT,
    multiple=True,
    help='Input reference JSON, e.g. \'{"type":"image_url","image_url":{"url":"https://…"}}\'; the url may also '
    "be a data: URL or a local file (image, MP4/WebM/MOV video, MP3/WAV/Ogg audio).",
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
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Deadline (s) of the whole call [600].")
@click.option(
    "--emulator",
    is_flag=True,
    help="Run every candidate against its provider's bundled emulator, in-process and offline (a provider "
    "without an emulator is refused before any request).",
)
@click.option(
    "--emulator-inject",
    "emulator_inject",
    metavar="PHASE:OUTCOME[:MODEL][xN]",
    multiple=True,
    help="With --emulator: make the emulator misbehave, as `mediarouter emulator --inject`; repeatable.",
)
@click.option(
    "--emulator-polls-before-completed",
    type=click.IntRange(min=0),
    help="With --emulator: polls the emulator answers before a job reaches its terminal status.",
)
@click.option(
    "--idempotency-key",
    metavar="KEY",
    help="Run at most one job for KEY: a repeated call returns (or resumes) the journaled job instead of paying again.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan (candidates in order, adjustments, estimated cost) and exit; no job is submitted. "
    "It exits as the real run would before sending anything: 2 when every candidate would be skipped.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help=QUIET_HELP,
)
def generate_command(
    prompt: str | None,
    model: str | None,
    fallbacks: tuple[str, ...],
    max_cost: Decimal | None,
    fit: FitPolicy | None,
    output: Path,
    frame_images: tuple[dict[str, Any], ...],
    input_references: tuple[dict[str, Any], ...],
    provider_options: tuple[dict[str, Any], ...],
    poll_interval: float | None,
    timeout: float | None,
    emulator: bool,
    emulator_inject: tuple[str, ...],
    emulator_polls_before_completed: int | None,
    idempotency_key: str | None,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
    **fields: Any,
) -> None:
    """Generate a video from PROMPT and save it to --output.

    \b
    With --fallback (or an alias naming a chain) the candidates are tried in
    order until one delivers; a job that was accepted is never paid for twice.

    \b
    Exit codes: 0 ok; 2 bad input, capability mismatch or over --max-cost
    (nothing sent); 3 authentication (401/403); 4 insufficient credits (402);
    5 rate limited after retries (429); 6 provider unavailable after retries
    (5xx, network); 7 job failed/cancelled/expired; 8 timeout (the job id is
    printed: the job may still finish; or nothing was submitted in time);
    9 the submit's outcome is unknown (a job may exist: see `jobs list`);
    10 the job completed and is billed but its video is not at --output
    (the download failed after retries, or the file could not be written
    there): do not submit again, run the `mediarouter jobs download` command
    printed; 11 another process has this job or this key's submit in hand
    (nothing sent: wait for it); 130/143 interrupted (SIGINT/SIGTERM; a
    resume hint is printed); 1 anything else. When every candidate failed, the code is the last attempt's.
    """
    if (emulator_inject or emulator_polls_before_completed is not None) and not emulator:
        raise click.UsageError("--emulator-inject and --emulator-polls-before-completed need --emulator")
    emulator_options: dict[str, Any] = {}
    if emulator_inject:
        emulator_options["inject"] = list(emulator_inject)
    if emulator_polls_before_completed is not None:
        emulator_options["polls_before_completed"] = emulator_polls_before_completed
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
    if dry_run:
        _dry_run(prompt, model, fallbacks, fit, max_cost, emulator, emulator_options, request_fields, as_json=as_json)
        return
    progress = progress_for(quiet=quiet, as_json=as_json)
    paid = PaidJobs(emulated=emulator)  # the jobs seen completing, for exit code 10
    listeners: list[Listener] = [progress, paid]
    accepted: list[tuple[str, str]] = []  # (job id, provider) accepted during this call, for the resume hint
    unknown: list[str] = []  # refs whose submit may have created a job we have no id for

    def track(event: Event) -> None:
        match event.payload:
            case JobSubmittedEvent() if event.job_id:
                accepted.append((event.job_id, event.provider or "the provider"))
            case JobSubmitUnknownEvent():
                unknown.append(f"{event.provider}/{event.model}")

    listeners.append(track)

    async def _run() -> VideoResult:
        # An in-process emulator's jobs die with this process: journal them in memory only.
        journal = ":memory:" if emulator else None
        async with Router(
            emulator=emulator, emulator_options=emulator_options, listeners=listeners, journal=journal
        ) as router:
            paid.journal = router.journal is not None
            if idempotency_key is None and not emulator and router.journal is not None and not as_json:
                _warn_of_earlier_jobs(router, prompt, output, model, fallbacks)
            return await router.generate(
                prompt,
                model=model,
                fallbacks=list(fallbacks),
                fit=fit,
                max_cost=max_cost,
                output=output,
                poll_interval=poll_interval,
                timeout=timeout,
                idempotency_key=idempotency_key,
                **request_fields,
            )

    try:
        with progress, sigterm_as_interrupt() as terminated:
            result = asyncio.run(_run())
    except MediaRouterError as exc:
        if as_json:
            attempts = [a.model_dump(mode="json") for a in exc.attempts] if isinstance(exc, AllCandidatesFailed) else []
            attempts = attempts or list(exc.details.get("attempts", []))
            data: dict[str, Any] = {"ok": False, "error": exc.to_dict(), "attempts": attempts}
            if exc.job_id and exit_code_for(exc, downloading=paid.ids) == PAID_NOT_SAVED:
                data["paid_not_saved"] = True
                data["advice"] = paid_advice(exc.job_id, target=output, provider=exc.provider, paid=paid)
                if paid.journal and not emulator:
                    data["download_command"] = download_command(exc.job_id, output)
            click.echo(json.dumps(data))
        fail(exc, paid=paid, target=output)
    except KeyboardInterrupt:
        signal_name, code = interrupted_exit(terminated)
        if accepted and not emulator and not paid.journal:
            job_id, provider = accepted[-1]
            click.echo(
                f"mediarouter: {signal_name}; job {job_id} keeps running upstream on {provider} (and is billed). "
                "The journal is off (MEDIAROUTER_JOURNAL=off), so mediarouter cannot resume it: get its video from "
                f"{provider}'s dashboard or its API by the job id {job_id}",
                err=True,
            )
        elif accepted and not emulator:
            job_id = accepted[-1][0]
            state = (  # a job seen completing is done upstream: only its download was stopped
                "completed upstream (and is billed); its video was not saved yet"
                if job_id in paid.ids
                else "keeps running upstream (and is billed)"
            )
            click.echo(
                f"mediarouter: {signal_name}; job {job_id} {state}. "
                f"Resume it: mediarouter jobs resume {shlex.quote(job_id)} -o {shlex.quote(str(output))}",
                err=True,
            )
        elif unknown:
            click.echo(
                f"mediarouter: {signal_name} during the submit to {unknown[-1]}: a job may have been accepted "
                "(and billed). `mediarouter jobs list` shows it as unknown; `mediarouter jobs resume --all` "
                "says what to do (adopt it by id, or forget it)",
                err=True,
            )
        else:
            click.echo(f"mediarouter: {signal_name}" + ("" if accepted else " (nothing was submitted)"), err=True)
        raise SystemExit(code) from None
    if as_json:
        click.echo(json.dumps({"ok": True, **result.to_dict()}))
        return
    if not quiet:
        click.echo(summary_line(result))


def _warn_of_earlier_jobs(
    router: Router, prompt: str | None, output: Path, model: str | None, fallbacks: Sequence[str]
) -> None:
    """An unkeyed rerun of a request whose job is journaled and unfinished (a Ctrl-C, a timeout) pays again:
    say so, and how to get that job's video instead. It is only a warning: the CLI derives no key itself."""
    try:
        refs = [str(r) for r in router.resolve(model, list(fallbacks))]
        earlier = unfinished_like(router.require_journal(), prompt=prompt, target=output, refs=refs)
    except MediaRouterError:
        return  # the call itself reports what is wrong
    for row in earlier:
        click.echo(
            f"mediarouter: warning: job {row.job_id} ({row.state.value}) was submitted earlier for this prompt and "
            f"file and may still finish (it is billed): `mediarouter jobs resume {shlex.quote(row.job_id or '')}` "
            "gets its video without paying again; this run submits a new job (--idempotency-key makes reruns "
            "resume instead)",
            err=True,
        )


def _dry_run(
    prompt: str | None,
    model: str | None,
    fallbacks: tuple[str, ...],
    fit: FitPolicy | None,
    max_cost: Decimal | None,
    emulator: bool,
    emulator_options: dict[str, Any],
    request_fields: dict[str, Any],
    *,
    as_json: bool,
) -> None:
    async def _plan() -> list[PlannedCandidate]:
        async with Router(emulator=emulator, emulator_options=emulator_options, journal="off") as router:
            return await router.plan(
                prompt, model=model, fallbacks=list(fallbacks), fit=fit, max_cost=max_cost, **request_fields
            )

    try:
        plan = asyncio.run(_plan())
    except MediaRouterError as exc:
        fail(exc)
    # The real run raises the last skipped candidate's error when none is usable (`generate` exits with its code).
    code = 0
    if not any(c.usable for c in plan):
        refused = plan[-1].error if plan else None
        code = exit_code_for(refused) if refused is not None else 2
    if as_json:
        click.echo(json.dumps({"ok": not code, "dry_run": True, "candidates": [c.to_dict() for c in plan]}))
        if code:
            raise SystemExit(code)
        return
    click.echo("dry run: nothing is submitted. Candidates in order:")
    for number, candidate in enumerate(plan, 1):
        if not candidate.usable:
            click.echo(f"  {number}. {candidate.ref}: skipped ({candidate.error_type}: {candidate.reason})")
            continue
        cost = candidate.price or "cost unknown (no published price)"
        line = f"  {number}. {candidate.ref}: estimated {cost}"
        if candidate.adjustments:
            changes = ", ".join(
                f"{k} {v.get('requested')!r} → {v.get('applied')!r}" for k, v in candidate.adjustments.items()
            )
            line += f"; adjusted: {changes}"
        click.echo(line)
    if code:
        click.echo(f"mediarouter: error: no candidate can serve this request; the real run would exit {code}", err=True)
        raise SystemExit(code)
