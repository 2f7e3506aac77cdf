"""The secrets policy, end to end: a recognisable API key and signed download URLs never show up.

Whole jobs run against the in-process emulator (signed URLs on, a poll and a download that fail
once) with every output captured: log records at DEBUG (raw, and as the CLI renders them),
spans, metrics, progress lines, the result, the journal's public view and the text of errors.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mediarouter_openrouter.emulator import EmulatorConfig
from mediarouter_openrouter.emulator.config import Injection

from mediarouter import AuthenticationFailed, MediaRouterError, Router
from mediarouter.cli.progress import LiveProgress, PlainProgress, summary_line
from mediarouter.engine import JobEngine
from mediarouter.journal import SQLiteJobStore, dumps
from mediarouter.logs import EventLogger, KeyValueFormatter, configure_cli_logging
from mediarouter.metrics import MetricsRecorder
from mediarouter.request import VideoRequest
from mediarouter.results import VideoResult
from mediarouter.tracing import SpanRecorder

from .conftest import Metrics, Tracing

KEY = "sk-or-SECRET-canary-123"
VEO = "openrouter/google/veo-3.1"
MEDIAROUTER = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))
_TOKEN = re.compile(r"[?&]token=([^&\s\"']+)")


class _TokenTap(logging.Filter):
    """Runs before mediarouter's own filter on httpx's logger: the signed-URL tokens httpx was about to log."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        self.tokens.update(m.group(1) for m in _TOKEN.finditer(record.getMessage()))
        return True


class RawRecords(logging.Handler):
    """Every record of every logger, formatted in full (message, extras, traceback), with no handler filter.

    httpx's records arrive here already redacted by the filter `import mediarouter` puts on its
    logger; `tap` saw them before that, so `tokens()` knows every signed URL that was requested.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(KeyValueFormatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []
        self.tap = _TokenTap()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}\t{self.format(record)}")

    def ours(self) -> list[str]:
        return [line for line in self.lines if line.startswith("mediarouter")]

    def tokens(self) -> set[str]:
        return self.tap.tokens | {m.group(1) for line in self.lines for m in _TOKEN.finditer(line)}


@pytest.fixture
def raw_records() -> Iterator[RawRecords]:
    handler = RawRecords()
    root = logging.getLogger()
    # In-process CLI tests configure logging globally (e.g. httpx held at WARNING): undo that here.
    loggers = [root, logging.getLogger("httpx"), logging.getLogger("mediarouter")]
    levels = [logger.level for logger in loggers]
    root.addHandler(handler)
    loggers[1].filters.insert(0, handler.tap)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    yield handler
    loggers[1].removeFilter(handler.tap)
    root.removeHandler(handler)
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def _config(*injections: Injection) -> EmulatorConfig:
    return EmulatorConfig(
        api_key=KEY, signed_urls=True, polls_before_in_progress=0, polls_before_completed=1, injections=injections
    )


def _router(config: EmulatorConfig, *listeners: Any, api_key: str = KEY) -> Router:
    router = Router(emulator=True, provider_options={"openrouter": {"api_key": api_key, "emulator_config": config}})
    router.listeners = list(listeners)
    return router


def _spans_text(tracing: Tracing) -> str:
    parts = []
    for span in tracing.spans:
        parts.append(span.to_json())
        parts.append(repr(span.status.description))
    return "\n".join(parts)


def _error_text(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, MediaRouterError):
        parts.append(json.dumps(exc.to_dict(), default=str))
        parts.append(json.dumps(exc.details, default=str))
    return "\n".join(parts)


@pytest.mark.usefixtures("restore_logging")
async def test_no_key_and_no_signed_url_anywhere(
    tmp_path: Path,
    tracing: Tracing,
    metrics: Metrics,
    raw_records: RawRecords,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_cli_logging("json", "DEBUG")  # what `mediarouter --log-level debug` shows
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # and everything httpx says
    live_screen = io.StringIO()
    from rich.console import Console

    live = LiveProgress(Console(file=live_screen, force_terminal=True, width=200))
    listeners = [
        EventLogger(),
        SpanRecorder(tracer_provider=tracing.provider),
        MetricsRecorder(meter_provider=metrics.provider),
        PlainProgress(),
        live,
    ]
    outputs: list[str] = []

    # 1. A routed call whose poll and signed-URL download each fail once before they succeed.
    config = _config(Injection("poll", 500, times=1), Injection("content", 503, times=1))
    with live:
        async with _router(config, *listeners) as router:
            result = await router.generate("A cat", model=VEO, output=tmp_path / "cat.mp4", poll_interval=0.01)
            outputs += [repr(router.provider("openrouter")), repr(router.settings)]
    outputs += _result_texts(result)

    # 2. The same provider through the engine with a journal (what `jobs resume` reads back).
    journal = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    async with _router(_config()) as router:
        engine = JobEngine(poll_interval=0.01, listeners=listeners, journal=journal)
        provider = router.provider("openrouter")
        journaled = await engine.run(
            provider, "google/veo-3.1", VideoRequest(prompt="A dog"), output=tmp_path / "d.mp4"
        )
    outputs += _result_texts(journaled)
    for record in journal.list():
        outputs += [dumps(record), json.dumps(record.public_dict())]
    journal.close()

    # 3. Failures: a wrong key (401), and a download every URL refuses (403).
    failures: list[BaseException] = []
    async with _router(_config(), *listeners, api_key=KEY + "-WRONG-456") as router:
        with pytest.raises(AuthenticationFailed) as wrong_key:
            await router.generate("A cat", model=VEO, output=tmp_path / "w.mp4", poll_interval=0.01)
        failures.append(wrong_key.value)
    async with _router(_config(Injection("content", 403)), *listeners) as router:
        with pytest.raises(MediaRouterError) as refused:
            await router.generate("A cat", model=VEO, output=tmp_path / "r.mp4", poll_interval=0.01)
        failures.append(refused.value)
    outputs += [_error_text(exc) for exc in failures]

    captured = capsys.readouterr()
    tokens = raw_records.tokens()
    assert tokens, "the emulator's signed URLs were never requested: this test would prove nothing"
    assert any("/_emulator/signed/" in line for line in raw_records.lines)

    places = {
        "mediarouter's own log records (raw, no filter)": "\n".join(raw_records.ours()),
        "every logger's records, httpx's included, with no handler filter": "\n".join(raw_records.lines),
        "log lines as the CLI renders them (all loggers, DEBUG)": captured.err,
        "live progress": live_screen.getvalue(),
        "spans": _spans_text(tracing),
        "metrics": metrics.reader.get_metrics_data().to_json(),  # type: ignore[union-attr]
        "results, journal and errors": "\n".join(outputs),
    }
    for where, text in places.items():
        assert text, f"nothing captured from {where}"
        assert KEY not in text, f"the API key leaked into {where}"
        assert "Bearer" not in text, f"an Authorization header leaked into {where}"
        for token in tokens:
            assert token not in text, f"a signed URL's token leaked into {where}"
    assert KEY not in captured.out and not any(token in captured.out for token in tokens)
    # The rendered logs did see the signed download go by, redacted.
    assert "/_emulator/signed/" in captured.err and "?[redacted]" in captured.err


def _result_texts(result: VideoResult) -> list[str]:
    return [json.dumps(result.to_dict()), repr(result), str(result), summary_line(result)]


async def test_the_journal_file_holds_no_signed_url(tmp_path: Path, raw_records: RawRecords) -> None:
    journal = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    async with _router(_config()) as router:
        engine = JobEngine(poll_interval=0.01, journal=journal)
        await engine.run(router.provider("openrouter"), "google/veo-3.1", VideoRequest(prompt="A dog"))
    journal.close()
    tokens = raw_records.tokens()
    assert tokens
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as db:
        dump = "\n".join(db.iterdump())
    assert KEY not in dump
    for token in tokens:
        assert token not in dump


async def test_a_journal_record_repr_holds_no_signed_url(tmp_path: Path, raw_records: RawRecords) -> None:
    journal = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    async with _router(_config()) as router:
        engine = JobEngine(poll_interval=0.01, journal=journal)
        await engine.run(router.provider("openrouter"), "google/veo-3.1", VideoRequest(prompt="A dog"))
    [record] = journal.list()
    journal.close()
    tokens = raw_records.tokens()
    assert tokens
    for token in tokens:
        assert token not in repr(record) and token not in str(record)


def test_the_cli_never_prints_the_key_from_the_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "OTEL_", "MEDIAROUTER_LOG"))}
    env.update(OPENROUTER_API_KEY=KEY, OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="console")
    args = ["--log-format", "json", "--log-level", "debug", "generate", "A cat", "--model", VEO, "--emulator"]
    proc = subprocess.run(
        [MEDIAROUTER, *args, "-o", str(tmp_path / "x.mp4"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert KEY not in proc.stdout and KEY not in proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
