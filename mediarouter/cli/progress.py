"""What a person sees while a job runs, and the one line at the end.

- On a terminal: one live line (rich) with the model, the status, the elapsed time and the
  number of polls; during the download bytes and rate. Lines that matter later (the job id,
  retries, failovers) are printed above it.
- Not a terminal (a log file, CI): one plain line per state change on stderr, e.g.
  ``[ 12.0s] status: in_progress``.
- `--quiet` or `--json`: nothing.

rich is imported only when the live line is shown.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from decimal import Decimal
from types import TracebackType
from typing import Any, TextIO

import click

from ..events import (
    DownloadFinishedEvent,
    DownloadProgressEvent,
    DownloadRetryEvent,
    DownloadStartedEvent,
    Event,
    JobPolledEvent,
    JobPollRetryEvent,
    JobStatusChangedEvent,
    JobSubmitRetryEvent,
    JobSubmittedEvent,
    JobSubmittingEvent,
    JobSubmitUnknownEvent,
    RouterAttemptFinishedEvent,
    RouterAttemptStartedEvent,
    RouterCallFinishedEvent,
    RouterEstimateEvent,
    RouterFailoverEvent,
    RouterSkippedEvent,
)
from ..pricing import format_usd
from ..results import VideoResult

__all__ = [
    "LiveProgress",
    "NullProgress",
    "PlainProgress",
    "Progress",
    "StatusPrinter",
    "human_bytes",
    "progress_for",
    "summary_line",
]


class Progress:
    """A listener that is also a context manager (the live line needs starting and stopping)."""

    def __init__(self) -> None:
        #: Each routed call's last failed candidate, said with the failover that follows it.
        self._failed: dict[str | None, str] = {}

    def __call__(self, event: Event) -> None:
        pass

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


class NullProgress(Progress):
    """`--quiet` / `--json`: nothing on stderr."""


def _status_line(event: Event) -> str | None:
    """The line for one state change, or None (per-poll noise and router events)."""
    match event.payload:
        case JobSubmittingEvent(attempt=1):
            return f"submitting to {event.provider}/{event.model}"
        case JobSubmitRetryEvent(error=error, delay=delay):
            return f"submit refused ({error}), retrying in {delay:.1f}s"
        case JobSubmittedEvent():
            return f"job {event.job_id} accepted"
        case JobStatusChangedEvent(status=status, queue_position=place):
            return f"status: {status}" + (f" (queue position {place})" if place is not None else "")
        case JobPollRetryEvent(error=error, delay=delay):
            return f"poll failed ({error}), retrying in {delay:.1f}s"
        case DownloadStartedEvent(content_length=length):
            return "downloading" + (f" ({length} bytes)" if length else "")
        case DownloadRetryEvent(error=error, delay=delay):
            return f"download failed ({error}), retrying in {delay:.1f}s"
        case DownloadFinishedEvent(path=path, size=size):
            return f"saved {path} ({size} bytes)"
    return None


def _router_line(event: Event, failed: dict[str | None, str]) -> str | None:
    """The router's decisions worth a line: failovers (with why), skipped candidates, estimates.

    A failed candidate is said when the call moves on from it; the last one's failure is the
    error line itself, so it is not said twice. `failed` holds each routed call's last failure
    until then (the caller's own, so nothing outlives the display).
    """
    match event.payload:
        case RouterAttemptFinishedEvent(outcome="failed", ref=ref, error_type=error_type, status_code=code):
            status = f", HTTP {code}" if code is not None else ""
            failed[event.call_id] = f"{ref} failed ({error_type}{status})"
            return None
        case RouterFailoverEvent(to_ref=to_ref):
            said = failed.pop(event.call_id, None)
            return f"{said}; failing over to {to_ref}" if said else f"failing over to {to_ref}"
        case RouterCallFinishedEvent():
            failed.pop(event.call_id, None)
            return None
        case RouterSkippedEvent(ref=ref, reason=reason):
            return f"skipping {ref}: {reason}"
        case RouterEstimateEvent(ref=ref, estimated_cost=cost, price_rule=rule):
            if cost is None:
                return f"estimated cost on {ref}: unknown (no published price)"
            return f"estimated cost on {ref}: {rule or usd(cost)}"
        case JobSubmitUnknownEvent(error=error, status_code=code):
            status = f" (HTTP {code})" if code is not None else ""
            return f"the submit's outcome is unknown after {error}{status}: a job may exist and be billed"
    return None


class StatusPrinter(Progress):
    """One plain line per job state change on stderr (not per poll).

    Every line is stamped on one clock, started when the first event arrived (less that event's own
    `elapsed`): an event's `elapsed` counts from its routed call or from its engine run, and the
    engine's run starts after the call planned, so stamping each with its own would make the log go
    back in time at the submit (and, in a batch, jump between calls).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._origin: float | None = None

    def _stamp(self, event: Event, line: str) -> str:
        now = self._clock()
        if self._origin is None:
            self._origin = now - (event.elapsed or 0.0)
        return f"[{now - self._origin:5.1f}s] {line}"

    def __call__(self, event: Event) -> None:
        line = _status_line(event)
        if line:
            click.echo(self._stamp(event, line), err=True)


class PlainProgress(StatusPrinter):
    """Not a terminal: the state-change lines plus the router's failover decisions."""

    def __call__(self, event: Event) -> None:
        line = _status_line(event) or _router_line(event, self._failed)
        if line:
            click.echo(self._stamp(event, line), err=True)


class LiveProgress(Progress):
    """One live line on a terminal: ``⠋ openrouter/google/veo-3.1 · in_progress · 1:02 · 7 polls``."""

    def __init__(self, console: Any = None, *, refresh_per_second: float = 8.0) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner

        super().__init__()
        self._spinner = Spinner("dots", style="cyan")
        self.console: Any = console or Console(stderr=True)
        self._live = Live(
            self,
            console=self.console,
            refresh_per_second=refresh_per_second,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=True,  # log lines and click.echo(err=True) print above the live line
        )
        self.started = time.monotonic()
        self.ref: str | None = None
        self.status = "starting"
        self.job_id: str | None = None
        self.polls = 0
        self.download_total: int | None = None
        self.download_bytes = 0
        self.download_started: float | None = None

    def __enter__(self) -> LiveProgress:
        self.started = time.monotonic()
        self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._live.stop()

    # -- events -------------------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if event.provider and event.model:
            self.ref = f"{event.provider}/{event.model}"
        match event.payload:
            case RouterAttemptStartedEvent():
                self.status, self.polls, self.job_id = "planning", 0, None
                self.download_total, self.download_bytes, self.download_started = None, 0, None
            case JobSubmittingEvent():
                self.status = "submitting"
            case JobSubmittedEvent():
                self.status, self.job_id = "submitted", event.job_id
                self._print(f"job {event.job_id} accepted by {self.ref}")
            case (
                JobStatusChangedEvent(status=status, polls=polls, queue_position=place)
                | JobPolledEvent(status=status, polls=polls, queue_position=place)
            ):
                self.status = status or self.status
                if place is not None:
                    self.status += f" (queue position {place})"
                self.polls = polls or self.polls
            case DownloadStartedEvent(content_length=length, offset=offset):
                self.status = "downloading"
                self.download_total = length
                self.download_bytes = offset or 0
                self.download_started = time.monotonic()
            case DownloadProgressEvent(bytes=done):
                self.download_bytes = done or self.download_bytes
            case DownloadFinishedEvent(size=size):
                self.status = "saved"
                self.download_bytes = size or self.download_bytes
            case JobSubmitRetryEvent() | JobPollRetryEvent() | DownloadRetryEvent():
                line = _status_line(event)
                if line:
                    self._print(line)
            case _:
                line = _router_line(event, self._failed)
                if line:
                    self._print(line)
        self._live.refresh()

    def _print(self, line: str) -> None:
        from rich.text import Text

        self.console.print(Text(line, style="dim"))

    # -- rendering ----------------------------------------------------------------------------------

    def text(self, now: float | None = None) -> str:
        """The live line's text (without the spinner)."""
        now = time.monotonic() if now is None else now
        parts = [self.ref or "mediarouter", self.status, _clock(now - self.started)]
        if self.status in ("downloading", "saved"):
            size = human_bytes(self.download_bytes)
            if self.download_total:
                size += f" / {human_bytes(self.download_total)}"
            parts.append(size)
            if self.download_started is not None and now > self.download_started and self.status == "downloading":
                parts.append(f"{human_bytes(int(self.download_bytes / (now - self.download_started)))}/s")
        elif self.polls:
            parts.append(f"{self.polls} poll{'s' if self.polls != 1 else ''}")
        return " · ".join(parts)

    def __rich__(self) -> Any:
        self._spinner.update(text=self.text())
        return self._spinner


def progress_for(*, quiet: bool = False, as_json: bool = False, stream: TextIO | None = None) -> Progress:
    """The display for this run: nothing, plain lines (not a terminal), or the live line."""
    if quiet or as_json:
        return NullProgress()
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty() and not _dumb_terminal():
        return LiveProgress()
    return PlainProgress()


def _dumb_terminal() -> bool:
    import os

    return os.environ.get("TERM", "") == "dumb"


# -- the summary line -------------------------------------------------------------------------------


def summary_line(result: VideoResult) -> str:
    """``cat.mp4 (2.1 MB, 8.0s, 1280x720) from openrouter/google/veo-3.1, job gen-…, cost $0.40``."""
    if not result.files:
        return f"no output from {result.ref}, job {result.job_id}"
    first = result.files[0]
    facts = [human_bytes(first.size)]
    probed = _probe(first.path) if first.path is not None else None
    if probed is not None:
        seconds, width, height = probed
        if seconds is not None:
            facts.append(f"{seconds:.1f}s")
        if width and height:
            facts.append(f"{width}x{height}")
    text = f"{first.path} ({', '.join(facts)}) from {result.ref}, job {result.job_id}"
    if result.cost is not None:
        text += f", cost {usd(result.cost)}"
    elif result.estimated_cost is not None:
        text += f", cost not reported (estimated {usd(result.estimated_cost)})"
    notes = [f"{name} {c['requested']} → {c['applied']}" for name, c in result.adjustments.items()]
    tried = len(result.attempts) - 1
    if tried > 0:
        notes.append(f"after {tried} other candidate{'s' if tried > 1 else ''}")
    if len(result.files) > 1:
        notes.append(f"+{len(result.files) - 1} more file{'s' if len(result.files) > 2 else ''}")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _probe(path: Any) -> tuple[float | None, int | None, int | None] | None:
    """(duration s, width, height) of a video, with PyAV when it is installed; None otherwise."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            seconds = container.duration / 1_000_000 if container.duration else None
            video = container.streams.video[0] if container.streams.video else None
            width = int(video.codec_context.width) if video is not None else None
            height = int(video.codec_context.height) if video is not None else None
            return seconds, width, height
    except Exception:  # not a video PyAV can read: the line just says less
        return None


def usd(amount: Decimal | None) -> str:
    """``$0.40``: `mediarouter.pricing.format_usd`."""
    return format_usd(amount)


def human_bytes(size: int | None) -> str:
    """Decimal units, as file managers show them: 512 B, 87.5 kB, 2.1 MB."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
