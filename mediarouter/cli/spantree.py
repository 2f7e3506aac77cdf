"""`--trace-tree` (MEDIAROUTER_TRACE_TREE=1): each finished trace printed as an indented tree on stderr.

For a person reading one run; `OTEL_TRACES_EXPORTER=console` gives the SDK's standard
one-JSON-object-per-span output instead. Imported only when asked for (it needs the SDK).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

__all__ = ["SpanTreeExporter", "render_tree"]


class SpanTreeExporter(SpanExporter):
    """Buffers spans per trace and prints the tree when the trace's root span ends."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out
        self._traces: dict[int, list[ReadableSpan]] = {}
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        done: list[list[ReadableSpan]] = []
        with self._lock:
            for span in spans:
                if span.context is None:
                    continue
                trace_id = span.context.trace_id
                self._traces.setdefault(trace_id, []).append(span)
                if span.parent is None:
                    done.append(self._traces.pop(trace_id))
        for trace_spans in done:
            self._write(render_tree(trace_spans))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            leftovers, self._traces = list(self._traces.values()), {}
        for trace_spans in leftovers:  # traces whose root never ended (an interrupted run)
            self._write(render_tree(trace_spans))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def _write(self, text: str) -> None:
        out = self._out or sys.stderr
        out.write(text)
        out.flush()


def render_tree(spans: Sequence[ReadableSpan]) -> str:
    """One trace as text: a span per line with its duration and status, its attributes below it."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in by_id else None, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: s.start_time or 0)
    first = next(iter(spans), None)
    trace_id = f"{first.context.trace_id:032x}" if first is not None and first.context is not None else "?"
    lines = [f"trace {trace_id}"]

    def walk(span: ReadableSpan, head: str, body: str) -> None:
        lines.append(f"{head}{_title(span)}")
        kids = children.get(span.context.span_id if span.context is not None else None, [])
        detail = body + ("│   " if kids else "    ")
        for key, value in (span.attributes or {}).items():
            lines.append(f"{detail}{key} = {_value(value)}")
        for event in span.events:
            attrs = ", ".join(f"{k}={_value(v)}" for k, v in (event.attributes or {}).items())
            lines.append(f"{detail}event {event.name}" + (f" ({attrs})" if attrs else ""))
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            walk(kid, body + ("└── " if last else "├── "), body + ("    " if last else "│   "))

    for root in children.get(None, []):
        walk(root, "", "")
    return "\n".join(lines) + "\n"


def _title(span: ReadableSpan) -> str:
    duration = ""
    if span.start_time is not None and span.end_time is not None:
        duration = f"  {(span.end_time - span.start_time) / 1e9:.3f}s"
    status = ""
    if span.status.status_code is StatusCode.ERROR:
        status = f"  ERROR {span.status.description or ''}".rstrip()
    return f"{span.name}{duration}{status}"


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)
