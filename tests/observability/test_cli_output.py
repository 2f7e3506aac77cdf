"""The CLI's output contract with telemetry on: `--json` is one object on stdout; spans go to stderr."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MEDIAROUTER = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))
VEO = "openrouter/google/veo-3.1"
SPAN = "generate_content google/veo-3.1"  # GenAI: {gen_ai.operation.name} {gen_ai.request.model}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "OTEL_", "MEDIAROUTER_LOG"))}
    full.update(env or {})
    return subprocess.run([MEDIAROUTER, *args], capture_output=True, text=True, timeout=120, env=full, check=False)


def _one_json_object(stdout: str) -> dict[str, object]:
    """stdout is exactly one JSON object (one line) and nothing else."""
    assert stdout.endswith("\n") and stdout.count("\n") == 1, stdout
    value = json.loads(stdout)
    assert isinstance(value, dict)
    return value


ALL_ON = {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "console", "MEDIAROUTER_LOG_LEVEL": "debug"}


def test_json_prints_exactly_one_object_even_with_every_telemetry_output_on(tmp_path: Path) -> None:
    proc = _cli("generate", "A cat", "--model", VEO, "--emulator", "-o", str(tmp_path / "x.mp4"), "--json", env=ALL_ON)
    assert proc.returncode == 0, proc.stderr
    data = _one_json_object(proc.stdout)
    assert data["ok"] is True and data["job_id"]
    assert "generate_content" in proc.stderr  # the spans went to stderr


def test_json_on_failure_is_one_object_too(tmp_path: Path) -> None:
    proc = _cli(
        "generate", "A cat", "--model", VEO, "--emulator", "--duration", "5", "--fit", "strict",
        "-o", str(tmp_path / "x.mp4"), "--json", env=ALL_ON,
    )  # fmt: skip
    assert proc.returncode == 2
    data = _one_json_object(proc.stdout)
    assert data["ok"] is False and data["error"]["type"] == "CapabilityMismatch"  # type: ignore[index]


def test_trace_tree_prints_the_span_tree_with_its_attributes(tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    proc = _cli(
        "--trace-tree", "generate", "A cat", "--model", VEO, "--emulator", "--duration", "8", "-o", str(out), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    job_id = _one_json_object(proc.stdout)["job_id"]
    tree = proc.stderr[proc.stderr.index("trace ") :]
    lines = tree.splitlines()
    assert lines[1].startswith(f"{SPAN}  ")
    for attribute in (
        "gen_ai.operation.name = generate_content",
        "gen_ai.provider.name = openrouter",
        "gen_ai.request.model = google/veo-3.1",
        f"gen_ai.response.id = {job_id}",
        "server.address = openrouter.emulator",
        "server.port = 80",
        "mediarouter.cost_usd = ",
        "mediarouter.duration.requested = 8",
        "mediarouter.duration.applied = 8",
        "mediarouter.job.polls = ",
        "mediarouter.attempt = 0",
        f"mediarouter.candidate = {VEO}",
    ):
        assert attribute in tree, attribute
    assert any(line.startswith(f"└── {SPAN}  ") for line in lines)
    for child in ("├── submit", "├── poll", "└── download"):
        assert any(line.lstrip("│ ").startswith(child) for line in lines), child


def test_the_tree_is_also_switched_on_by_mediarouter_trace_tree(tmp_path: Path) -> None:
    proc = _cli(
        "generate", "A cat", "--model", VEO, "--emulator", "-o", str(tmp_path / "x.mp4"), "--json",
        env={"MEDIAROUTER_TRACE_TREE": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert any(line.startswith(f"└── {SPAN}  ") for line in proc.stderr.splitlines())


def test_otel_console_is_the_sdks_standard_json_output(tmp_path: Path) -> None:
    proc = _cli(
        "generate", "A cat", "--model", VEO, "--emulator", "-o", str(tmp_path / "x.mp4"), "--json",
        env={"OTEL_TRACES_EXPORTER": "console"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "└── " not in proc.stderr  # not the tree
    spans = [json.loads(chunk) for chunk in _json_objects(proc.stderr)]
    by_name = {(s["name"], s["kind"]) for s in spans}
    assert (SPAN, "SpanKind.INTERNAL") in by_name and (SPAN, "SpanKind.CLIENT") in by_name
    assert {"submit", "poll", "download"} <= {s["name"] for s in spans}
    root = next(s for s in spans if s["parent_id"] is None)
    assert root["attributes"]["gen_ai.request.model"] == "google/veo-3.1"


def _json_objects(text: str) -> list[str]:
    """The multi-line JSON objects the SDK's ConsoleSpanExporter writes, one after the other."""
    objects, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "{" and depth == 0:
            start = i
        if char in "{}":
            depth += 1 if char == "{" else -1
            if depth == 0:
                objects.append(text[start : i + 1])
    return [o for o in objects if '"trace_id"' in o]


# Runs the CLI with `opentelemetry.sdk` made unimportable, as in an install without the `otel` extra.
_WITHOUT_SDK = """
import sys
class _NoSdk:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
            raise ModuleNotFoundError(name)
        return None
sys.meta_path.insert(0, _NoSdk())
from mediarouter.cli import main
sys.argv = ["mediarouter", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize(
    ("args", "env", "asked"),
    [
        (["plugins"], {"OTEL_TRACES_EXPORTER": "console"}, "OTEL_TRACES_EXPORTER=console"),
        (["plugins"], {"OTEL_METRICS_EXPORTER": "console"}, "OTEL_METRICS_EXPORTER=console"),
        (["--trace-tree", "plugins"], {}, "--trace-tree"),
    ],
)
def test_an_exporter_without_the_sdk_names_the_extra_in_one_line(
    args: list[str], env: dict[str, str], asked: str
) -> None:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MEDIAROUTER_LOG", "MEDIAROUTER_TRACE"))}
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_SDK, *args], capture_output=True, text=True, timeout=60, env={**full, **env}
    )
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"mediarouter: error: {asked} needs the OpenTelemetry SDK"), line
    assert "mediarouter[otel]" in line


def test_an_unknown_exporter_is_a_one_line_error() -> None:
    proc = _cli("plugins", env={"OTEL_TRACES_EXPORTER": "zipkin"})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("mediarouter: error: OTEL_TRACES_EXPORTER='zipkin'")


@pytest.mark.slow
def test_an_unreachable_otlp_collector_does_not_fail_the_command(tmp_path: Path) -> None:
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
    }
    proc = _cli("generate", "A cat", "--model", VEO, "--emulator", "-o", str(tmp_path / "x.mp4"), "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert _one_json_object(proc.stdout)["ok"] is True
