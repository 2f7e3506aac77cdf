"""The CLI's observability set-up: logging (structlog) and, when asked for, the OpenTelemetry SDK.

The library itself never configures either; the `mediarouter` command does, from its global
options and the standard environment variables:

- `--log-format auto|console|json` (MEDIAROUTER_LOG_FORMAT), `--log-level` (MEDIAROUTER_LOG_LEVEL);
- OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER = console | otlp | none (comma-separated lists
  allowed), with the usual OTEL_EXPORTER_OTLP_* / OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES.
  `console` is the SDK's standard ConsoleSpanExporter / ConsoleMetricExporter on stderr (stdout
  stays clean for `--json`) and works offline;
- `--trace-tree` (MEDIAROUTER_TRACE_TREE=1): each finished trace as a readable tree on stderr.

The library depends on the OpenTelemetry API only: exporters need the SDK, from the
`mediarouter[otel]` extra (console, the tree) or `mediarouter[otlp]` (adds OTLP over
HTTP/protobuf). Asked for one that is not installed, the command says which extra and exits 2.

Only the standard library is imported at module level: `mediarouter --help` stays fast.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError

__all__ = [
    "LOG_FORMATS",
    "LOG_LEVELS",
    "Telemetry",
    "default_log_level",
    "setup_cli_observability",
    "setup_otel_from_env",
    "trace_tree_from_env",
]

LOG_FORMATS = ("auto", "console", "json")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_EXPORTERS = ("console", "otlp", "none")
OTEL_HINT = "install the extra mediarouter[otel]: pip install 'mediarouter[otel]' (from a clone: pip install '.[otel]')"
OTLP_HINT = "install the extra mediarouter[otlp]: pip install 'mediarouter[otlp]' (from a clone: pip install '.[otlp]')"


def _require_sdk(what: str) -> None:
    """Fail with the extra to install when `what` needs the OpenTelemetry SDK and it is missing."""
    from importlib.util import find_spec

    try:
        found = find_spec("opentelemetry.sdk") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ConfigurationError(f"{what} needs the OpenTelemetry SDK, which is not installed", hint=OTEL_HINT)


def trace_tree_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """MEDIAROUTER_TRACE_TREE=1|true|yes|on asks for the span tree."""
    env = os.environ if environ is None else environ
    return env.get("MEDIAROUTER_TRACE_TREE", "").strip().lower() in ("1", "true", "yes", "on")


def default_log_level(log_format: str) -> int:
    """WARNING, so a terminal shows the progress line and not the events; INFO when JSON logs were asked for."""
    return logging.INFO if log_format == "json" else logging.WARNING


@dataclass
class Telemetry:
    """What `setup_otel_from_env` installed; `shutdown()` flushes and stops it (idempotent)."""

    traces: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    _shutdowns: list[Callable[[], Any]] = field(default_factory=list, repr=False)

    def shutdown(self) -> None:
        shutdowns, self._shutdowns = self._shutdowns, []
        for stop in shutdowns:
            try:
                stop()
            except Exception:  # exporting telemetry must never change the command's outcome
                logging.getLogger("mediarouter.cli").debug("telemetry shutdown failed", exc_info=True)


def _exporters(environ: Mapping[str, str], name: str) -> list[str]:
    raw = environ.get(name, "")
    values = [v.strip().lower() for v in raw.split(",") if v.strip()]
    unknown = [v for v in values if v not in _EXPORTERS]
    if unknown:
        raise ConfigurationError(
            f"{name}={raw!r}: unsupported exporter {unknown[0]!r}",
            hint=f"use one of {', '.join(_EXPORTERS)}",
        )
    return [v for v in values if v != "none"]


def _protocol(environ: Mapping[str, str], signal: str) -> str:
    value = environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    protocol = (value or "http/protobuf").strip().lower()
    if protocol != "http/protobuf":
        raise ConfigurationError(
            f"OTLP protocol {protocol!r} is not supported by mediarouter's CLI",
            hint="set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (the collector's port 4318)",
        )
    return protocol


def setup_otel_from_env(environ: Mapping[str, str] | None = None, *, trace_tree: bool = False) -> Telemetry | None:
    """Install the OpenTelemetry SDK as the environment (and `trace_tree`) asks; None when nothing is asked.

    Imports the SDK only then. Leaves an already-installed global provider alone.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    traces = _exporters(env, "OTEL_TRACES_EXPORTER")
    metrics_ = _exporters(env, "OTEL_METRICS_EXPORTER")
    if trace_tree:
        traces.append("tree")
    if not traces and not metrics_:
        return None
    if trace_tree:
        _require_sdk("--trace-tree")
    for name, chosen in (("OTEL_TRACES_EXPORTER", traces), ("OTEL_METRICS_EXPORTER", metrics_)):
        exporter = next((e for e in chosen if e != "tree"), None)
        if exporter is not None:
            _require_sdk(f"{name}={exporter}")

    from opentelemetry.sdk.resources import Resource

    named = "OTEL_SERVICE_NAME" in env or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    resource = Resource.create({} if named else {"service.name": "mediarouter"})
    telemetry = Telemetry(traces=traces, metrics=metrics_)
    if traces:
        _setup_traces(env, traces, resource, telemetry)
    if metrics_:
        _setup_metrics(env, metrics_, resource, telemetry)
    return telemetry


def _setup_traces(env: Mapping[str, str], names: list[str], resource: Any, telemetry: Telemetry) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return  # a host (or an earlier call) installed one already
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    for name in names:
        if name in ("console", "tree"):
            if name == "console":
                exporter: Any = ConsoleSpanExporter(out=sys.stderr)
            else:
                from .spantree import SpanTreeExporter

                exporter = SpanTreeExporter()
            # Simple, so each span is out before the process exits or the next line is printed.
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            _protocol(env, "TRACES")
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError:
                raise ConfigurationError(
                    "OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter, which is not installed", hint=OTLP_HINT
                ) from None
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    telemetry._shutdowns.append(provider.shutdown)


def _setup_metrics(env: Mapping[str, str], names: list[str], resource: Any, telemetry: Telemetry) -> None:
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricReader, PeriodicExportingMetricReader

    if type(metrics.get_meter_provider()).__name__ != "_ProxyMeterProvider":
        return
    readers: list[MetricReader] = []
    for name in names:
        if name == "console":
            readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(out=sys.stderr)))
        else:
            _protocol(env, "METRICS")
            try:
                from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            except ImportError:
                raise ConfigurationError(
                    "OTEL_METRICS_EXPORTER=otlp needs the OTLP exporter, which is not installed", hint=OTLP_HINT
                ) from None
            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    provider = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
    metrics.set_meter_provider(provider)
    telemetry._shutdowns.append(provider.shutdown)


def setup_cli_observability(log_format: str, log_level: str | None, *, trace_tree: bool = False) -> Telemetry | None:
    """What the root command does before any subcommand: logging, then OpenTelemetry from the environment."""
    from ..logs import configure_cli_logging, level_from

    configure_cli_logging(log_format, level_from(log_level, default_log_level(log_format)))
    return setup_otel_from_env(trace_tree=trace_tree)
