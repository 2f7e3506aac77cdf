"""The listeners every Router installs by default: logs, traces and metrics from the event stream.

Each is close to free when nothing consumes it (no log handler at that level, no OpenTelemetry
SDK installed), so they are always on; a host turns the output on by configuring logging or an
OpenTelemetry SDK, never by changing how it calls mediarouter. The modules are imported here,
on first use, so `import mediarouter` stays free of OpenTelemetry.
"""

from __future__ import annotations

from .events import Listener

__all__ = ["default_listeners"]


def default_listeners() -> list[Listener]:
    """`EventLogger`, `SpanRecorder` and `MetricsRecorder`, each on the global logging/OpenTelemetry set-up."""
    from .logs import EventLogger
    from .metrics import MetricsRecorder
    from .tracing import SpanRecorder

    return [EventLogger(), SpanRecorder(), MetricsRecorder()]
