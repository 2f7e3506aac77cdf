"""httpx's own log records never carry a signed URL's token, whatever handlers the host set up (issue #10).

httpx logs every request's full URL at INFO; with the Python API a host's handler on ``httpx``
(or on the root logger) would write a signed download URL, a credential, to its logs.
`import mediarouter` puts the one redaction filter on the HTTP stack's loggers.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

import mediarouter  # noqa: F401  (importing it is what installs the filter)

TOKEN = "tok-9f3b2c1d-SIGNED-secret"
SIGNATURE = "sig-77aa55bb-SIGNED-secret"
SIGNED = f"https://cdn.test/videos/gen-1/0.mp4?token={TOKEN}&X-Amz-Signature={SIGNATURE}&expires=1700000000"


class Capture(logging.Handler):
    """A host's own handler: keeps each record as it arrives, and the line its formatter makes."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def host_handlers() -> Iterator[tuple[Capture, Capture]]:
    """A host app's logging: a DEBUG handler on `httpx` itself and an INFO handler on the root logger."""
    httpx_logger, root = logging.getLogger("httpx"), logging.getLogger()
    debug, info = Capture(logging.DEBUG), Capture(logging.INFO)
    old_levels = httpx_logger.level, root.level
    httpx_logger.addHandler(debug)
    root.addHandler(info)
    httpx_logger.setLevel(logging.DEBUG)
    root.setLevel(logging.INFO)
    yield debug, info
    httpx_logger.removeHandler(debug)
    root.removeHandler(info)
    httpx_logger.setLevel(old_levels[0])
    root.setLevel(old_levels[1])


async def test_a_signed_download_through_httpx_leaves_no_token_in_any_host_record(
    host_handlers: tuple[Capture, Capture],
) -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        assert request.url.params["token"] == TOKEN  # the request itself is untouched
        return httpx.Response(200, content=b"\x00\x00\x00\x18ftypmp42")

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as client:
        response = await client.get(SIGNED)
    assert response.content.endswith(b"mp42")

    debug, info = host_handlers
    for capture in (debug, info):
        [request_line] = [line for line in capture.lines if "HTTP Request" in line]
        assert "https://cdn.test/videos/gen-1/0.mp4?[redacted]" in request_line  # what was fetched stays readable
        for record, line in zip(capture.records, capture.lines, strict=True):
            seen = [
                line,
                record.getMessage(),
                str(record.msg),
                repr(record.args),
                json.dumps(record.__dict__, default=str),
            ]
            for text in seen:
                assert TOKEN not in text and SIGNATURE not in text, text


def test_importing_mediarouter_installs_the_filter_once_with_no_level_or_handler_change() -> None:
    script = (
        "import importlib, json, logging\n"
        "def state():\n"
        "    from mediarouter.redact import HTTP_LOGGERS, RedactingFilter\n"
        "    loggers = {n: logging.getLogger(n) for n in HTTP_LOGGERS}\n"
        "    return {n: [g.level, len(g.handlers), sum(isinstance(f, RedactingFilter) for f in g.filters)]\n"
        "            for n, g in loggers.items()}\n"
        "import mediarouter\n"
        "after_import = state()\n"
        "from mediarouter.redact import install_http_log_redaction\n"
        "install_http_log_redaction()\n"
        "importlib.reload(importlib.import_module('mediarouter.observability'))\n"
        "print(json.dumps([after_import, state()]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    after_import, after_more_installs = json.loads(proc.stdout)
    assert set(after_import) >= {"httpx", "httpcore", "httpcore.connection", "httpcore.http11"}
    for state in (after_import, after_more_installs):
        for name, (level, handlers, filters) in state.items():
            assert (level, handlers, filters) == (logging.NOTSET, 0, 1), name
