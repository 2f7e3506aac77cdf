"""Status lines on stderr while a job runs, so a two-minute job visibly stays alive."""

from __future__ import annotations

import click

from ..events import Event

__all__ = ["StatusPrinter"]


class StatusPrinter:
    """Prints one line per state change (not per poll)."""

    def __call__(self, event: Event) -> None:
        elapsed = f"{event.elapsed:5.1f}s" if event.elapsed is not None else ""
        data = event.data
        line: str | None = None
        if event.name == "job.submitting" and data.get("attempt", 1) == 1:
            line = f"submitting to {event.provider}/{event.model}"
        elif event.name == "job.submit_retry":
            line = f"submit refused ({data.get('error')}), retrying in {data.get('delay', 0):.1f}s"
        elif event.name == "job.submitted":
            line = f"job {event.job_id} accepted"
        elif event.name == "job.status_changed":
            line = f"status: {data.get('status')}"
        elif event.name == "job.poll_retry":
            line = f"poll failed ({data.get('error')}), retrying in {data.get('delay', 0):.1f}s"
        elif event.name == "download.started":
            line = "downloading" + (f" ({data['content_length']} bytes)" if data.get("content_length") else "")
        elif event.name == "download.retry":
            line = f"download failed ({data.get('error')}), retrying in {data.get('delay', 0):.1f}s"
        elif event.name == "download.finished":
            line = f"saved {data.get('path')} ({data.get('size')} bytes)"
        if line:
            click.echo(f"[{elapsed}] {line}", err=True)
