"""Fixtures for the observability tests: in-memory span and metric exporters, isolated logging."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mediarouter import Router
from mediarouter.events import Listener


class OpenSpans(SpanProcessor):
    """Spans started and not yet ended: must be empty once a call is over (no span leaks)."""

    def __init__(self) -> None:
        self.open: dict[int, str] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.open[span.context.span_id] = span.name

    def on_end(self, span: ReadableSpan) -> None:
        assert span.context is not None
        self.open.pop(span.context.span_id, None)


@dataclass
class Tracing:
    provider: TracerProvider
    exporter: InMemorySpanExporter
    tracker: OpenSpans

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == prefix or s.name.startswith(prefix + " ")]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        assert parent.context is not None
        kids = [s for s in self.spans if s.parent is not None and s.parent.span_id == parent.context.span_id]
        return sorted(kids, key=lambda s: s.start_time or 0)

    def roots(self) -> list[ReadableSpan]:
        return [s for s in self.spans if s.parent is None]


@pytest.fixture
def tracing() -> Iterator[Tracing]:
    exporter = InMemorySpanExporter()
    tracker = OpenSpans()
    provider = TracerProvider()
    provider.add_span_processor(tracker)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Tracing(provider, exporter, tracker)
    provider.shutdown()


@dataclass
class Metrics:
    provider: MeterProvider
    reader: InMemoryMetricReader
    _cache: dict[str, Any] = field(default_factory=dict)

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    yield Metrics(provider, reader)
    provider.shutdown()


def make_router(*listeners: Listener, **kwargs: Any) -> Router:
    """A Router whose listeners are exactly these (whatever the defaults), so tests see each event once."""
    router = Router(**kwargs)
    router.listeners = list(listeners)
    return router


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI's logging set-up changes the root logger and structlog: put both back."""
    import structlog

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "mediarouter.events")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
    structlog.reset_defaults()
