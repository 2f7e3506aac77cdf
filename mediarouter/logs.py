"""Structured log events from the event stream, and the CLI's logging set-up.

The library only *emits*: `EventLogger` turns each lifecycle `Event` into a standard-library
log record on the ``mediarouter.events`` logger (message = the event name, the structured
fields as record attributes). A host keeps full control of where that goes and how it looks:
with structlog's ``ProcessorFormatter`` + ``ExtraAdder`` the fields arrive as keys; with plain
logging `KeyValueFormatter` shows them. The library never calls `configure_cli_logging`; the
`mediarouter` command does.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from decimal import Decimal
from typing import Any, Literal

from .events import Event, payload_fields
from .redact import RedactingFilter, redact_text, redact_url, redact_value

__all__ = [
    "EVENTS_LOGGER",
    "DEBUG_EVENTS",
    "EventLogger",
    "KeyValueFormatter",
    "LogFormat",
    "configure_cli_logging",
    "event_fields",
]

EVENTS_LOGGER = "mediarouter.events"
#: Per-poll and per-chunk noise: DEBUG. Every other event is a step of a job's life: INFO.
DEBUG_EVENTS = frozenset({"poll.started", "job.polled", "download.progress"})

LogFormat = Literal["auto", "console", "json"]

#: Payload fields that hold URLs (redacted like any URL: no query string).
_URL_KEYS = frozenset({"polling_url", "url", "origin"})
#: LogRecord's own attribute names: an `extra` key must not collide with them.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def event_fields(event: Event) -> dict[str, Any]:
    """The event's structured fields (None left out, URLs redacted, money as a decimal string), as logged.

    A payload field whose name collides with a LogRecord attribute or a context field is `data_<name>`.
    """
    fields: dict[str, Any] = {}
    for key in ("provider", "model", "job_id", "call_id", "attempt"):
        value = getattr(event, key)
        if value is not None:
            fields[key] = value
    if event.elapsed is not None:
        fields["elapsed"] = round(event.elapsed, 3)
    for key, value in payload_fields(event.payload).items():
        if value is None:
            continue
        if isinstance(value, Decimal):
            value = str(value)
        elif key in _URL_KEYS and isinstance(value, str):
            value = redact_url(value)
        elif key == "signed_url" and isinstance(value, str):
            value = redact_url(value, signed=True)
        else:
            value = redact_value(value)
        fields[f"data_{key}" if key in _RESERVED or key in fields else key] = value
    return fields


class EventLogger:
    """Listener: one log record per event on ``mediarouter.events`` (a no-op when nothing listens)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(EVENTS_LOGGER)

    def __call__(self, event: Event) -> None:
        level = logging.DEBUG if event.name in DEBUG_EVENTS else logging.INFO
        if self.logger.isEnabledFor(level):
            self.logger.log(level, event.name, extra=event_fields(event))


class KeyValueFormatter(logging.Formatter):
    """A stdlib formatter for hosts without structlog: the message followed by ``key=value`` extras."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")}
        if not extras:
            return text
        pairs = " ".join(f"{k}={_plain(v)}" for k, v in extras.items())
        head, sep, tail = text.partition("\n")  # keep a traceback below the line
        return f"{head} {pairs}{sep}{tail}"


def _plain(value: Any) -> str:
    text = str(value)
    return repr(text) if (not text or any(c.isspace() for c in text)) else text


# -- the CLI's configuration ------------------------------------------------------------------------


class _StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is *now*: a live progress display redirects it to print above itself."""

    mediarouter_cli = True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def _redact_processor(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: URLs, bearer tokens and known secrets out of every value."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):
            continue
        if isinstance(value, str):
            event_dict[key] = redact_text(value)
        elif isinstance(value, (list, tuple, dict)):
            event_dict[key] = redact_value(value)
    return event_dict


def resolve_format(fmt: LogFormat | str, stream: Any = None) -> Literal["console", "json"]:
    """`auto` is console on a terminal, JSON lines otherwise."""
    if fmt == "console":
        return "console"
    if fmt == "json":
        return "json"
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return "console" if (isatty is not None and isatty()) else "json"


def configure_cli_logging(fmt: LogFormat | str = "auto", level: int | str = logging.WARNING) -> None:
    """Render every stdlib record (ours and third parties') on stderr through structlog.

    Pretty console lines on a terminal, JSON lines otherwise. Called by the `mediarouter`
    command only; calling it again replaces the previous configuration. structlog (which
    imports rich) is loaded on the first record, so a command that logs nothing starts fast.
    """
    if isinstance(level, str):
        level = level_from(level, logging.WARNING)
    handler = _StderrHandler(level)
    handler.setFormatter(_LazyStructlogFormatter(resolve_format(fmt)))
    handler.addFilter(RedactingFilter())

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "mediarouter_cli", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request (with its full URL) at INFO; our own events already say what happened.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else max(level, logging.WARNING))
    if "structlog" in sys.modules:  # a plugin uses it already: route its loggers through our handler now
        _configure_structlog()


class _LazyStructlogFormatter(logging.Formatter):
    """structlog's ProcessorFormatter, built on the first record."""

    def __init__(self, chosen: Literal["console", "json"]) -> None:
        super().__init__()
        self.chosen = chosen
        self._inner: logging.Formatter | None = None

    def format(self, record: logging.LogRecord) -> str:
        if self._inner is None:
            self._inner = _structlog_formatter(self.chosen)
            _configure_structlog()
        return self._inner.format(record)


def _structlog_formatter(chosen: Literal["console", "json"]) -> logging.Formatter:
    import structlog

    shared: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if chosen == "json":
        renderer = structlog.processors.JSONRenderer(default=str)
    else:
        isatty = getattr(sys.stderr, "isatty", None)
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(isatty and isatty()),
            exception_formatter=structlog.dev.plain_traceback,  # no locals: they may hold a key
            sort_keys=False,
        )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_processor,
            renderer,
        ],
    )


def _configure_structlog() -> None:
    """structlog-native loggers (a plugin may use them) go through the stdlib handler, never to stdout."""
    import structlog

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def level_from(value: str | int | None, default: int) -> int:
    """A level name (any case) or number; `default` when None or empty."""
    if value is None or value == "":
        return default
    if isinstance(value, int):
        return value
    text = value.strip().upper()
    if text.isdigit():
        return int(text)
    mapping: Mapping[str, int] = logging.getLevelNamesMapping()
    if text not in mapping:
        raise ValueError(f"unknown log level {value!r}; use debug, info, warning, error or critical")
    return mapping[text]
