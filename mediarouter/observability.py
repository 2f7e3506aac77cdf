"""The library's observability defaults: the listeners every Router installs, and redacted HTTP logs.

Each is close to free when nothing consumes it (no log handler at that level, no OpenTelemetry
SDK installed), so they are always on; a host turns the output on by configuring logging or an
OpenTelemetry SDK, never by changing how it calls mediarouter. The modules are imported here,
on first use, so `import mediarouter` stays free of OpenTelemetry.

Importing this module (which `import mediarouter` does) puts `RedactingFilter` on httpx's and
httpcore's loggers: their records carry full request URLs, and a signed download URL is a credential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .redact import install_http_log_redaction

if TYPE_CHECKING:
    from .events import Listener

install_http_log_redaction()

__all__ = ["default_listeners"]


def default_listeners() -> list[Listener]:
    """`EventLogger`, `SpanRecorder` and `MetricsRecorder`, each on the global logging/OpenTelemetry set-up."""
    from .logs import EventLogger
    from .metrics import MetricsRecorder
    from .tracing import SpanRecorder

    return [EventLogger(), SpanRecorder(), MetricsRecorder()]
