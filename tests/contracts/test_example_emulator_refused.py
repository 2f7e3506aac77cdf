"""A provider without an emulator is refused under `--emulator` before anything is sent.

The example plugin declares no emulator, so `mediarouter generate … --emulator` for `acme/…` must
exit 2 with one line naming the provider, and send nothing: an "offline" run that reached the
real (paid) API with the real key is the mistake this guards. Requests are caught at httpx's
network transport, the one a provider built by the CLI uses, so none of them can leave the process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from mediarouter.cli import cli, load_plugin_commands
from mediarouter.plugins import register, unregister

from .example_plugin import EXAMPLE  # noqa: F401  (puts the example plugin on sys.path)

KEY = "acme-real-key-do-not-send"


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example plugin registered through its hook, as its entry point would, with a key in the environment."""
    import mediarouter_example.plugin as plugin

    monkeypatch.setenv("ACME_API_KEY", KEY)
    monkeypatch.delenv("ACME_BASE_URL", raising=False)
    register(plugin, name="acme-example-cli")
    yield
    unregister(name="acme-example-cli")


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Every request that reaches httpx's real network transport, answered here with a 503 (never sent)."""
    sent: list[httpx.Request] = []

    async def record(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(503, json={"type": "unavailable", "detail": "recorded, not sent"}, request=request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", record)
    return sent


def generate(tmp_path: Path, *extra: str) -> Result:
    load_plugin_commands()
    args = ["generate", "x", "--model", "acme/acme-motion-2", "-o", str(tmp_path / "x.mp4"), *extra]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.mark.parametrize("quiet", [False, True], ids=["progress", "quiet"])
def test_emulator_for_a_provider_without_one_exits_2_naming_it_and_sends_nothing(
    acme: None, network: list[httpx.Request], tmp_path: Path, quiet: bool
) -> None:
    """Rule: `--emulator` never reaches a real API; the refusal is one error line that names the provider."""
    result = generate(tmp_path, "--emulator", *(["-q"] if quiet else []))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("mediarouter: error:")]
    assert len(errors) == 1, result.stderr
    assert "'acme'" in errors[0] and "no emulator" in errors[0] and "nothing was sent" in errors[0]
    if quiet:  # without progress lines, the error is all there is
        assert lines == errors
    assert network == []
    assert KEY not in result.output
    assert not (tmp_path / "x.mp4").exists()


def test_without_emulator_the_same_command_does_reach_the_network(
    acme: None, network: list[httpx.Request], tmp_path: Path
) -> None:
    """The control: the recorder sees the example plugin's requests, so an empty record above means none left."""
    result = generate(tmp_path, "--timeout", "30")
    assert result.exit_code != 0
    assert network, "the example plugin sent nothing without --emulator: the recorder is blind"
    first = network[0]
    assert (first.url.host, first.url.path) == ("api.acme-video.test", "/v2/models")
    assert first.headers["x-api-key"] == KEY
