"""`import mediarouter` stays light: no OpenTelemetry SDK, no rich, no click, no structlog; no logging set-up."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("opentelemetry.sdk", "rich", "click", "structlog")


def _modules_after(code: str) -> dict[str, object]:
    script = (
        "import json, logging, sys\n"
        f"{code}\n"
        "root = logging.getLogger()\n"
        "print(json.dumps({'modules': sorted(sys.modules), 'root_handlers': len(root.handlers),"
        " 'ours': [type(h).__name__ for h in logging.getLogger('mediarouter').handlers]}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def _loaded(modules: object, prefix: str) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if m == prefix or m.startswith(prefix + ".")]


def test_importing_mediarouter_imports_no_sdk_rich_click_or_structlog() -> None:
    state = _modules_after("import mediarouter")
    for heavy in HEAVY:
        assert not _loaded(state["modules"], heavy), heavy
    assert not _loaded(state["modules"], "opentelemetry")  # even the API waits for the first Router
    assert state["root_handlers"] == 0  # a library never configures logging for its host
    assert state["ours"] == ["NullHandler"]


def test_a_router_with_its_default_listeners_uses_only_the_opentelemetry_api() -> None:
    state = _modules_after(
        "import mediarouter\n"
        "from mediarouter.observability import default_listeners\n"
        "listeners = default_listeners()\n"
        "router = mediarouter.Router()"
    )
    for heavy in HEAVY:
        assert not _loaded(state["modules"], heavy), heavy
    assert _loaded(state["modules"], "opentelemetry.trace")
    assert state["root_handlers"] == 0


def test_the_cli_module_does_not_import_rich_structlog_or_the_sdk_until_it_runs() -> None:
    state = _modules_after("import mediarouter.cli")
    for heavy in ("opentelemetry.sdk", "rich", "structlog"):
        assert not _loaded(state["modules"], heavy), heavy
