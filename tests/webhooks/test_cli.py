"""`mediarouter webhooks serve`: refuses to start without anything to verify with, naming the variable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from mediarouter import plugins
from mediarouter.cli import cli


@pytest.fixture
def without_plugin_schemes() -> Iterator[None]:
    """No installed plugin offers a webhook scheme (fal's would let the receiver start without a secret)."""
    plugins.load_plugins()
    fal = plugins.pm.get_plugin("fal")
    if fal is not None:
        plugins.unregister(name="fal")
    try:
        yield
    finally:
        if fal is not None:
            plugins.register(fal, name="fal")


@pytest.mark.usefixtures("without_plugin_schemes")
def test_serve_without_a_secret_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIAROUTER_WEBHOOK_SECRET", raising=False)
    result = CliRunner().invoke(cli, ["webhooks", "serve", "--port", "0"])
    assert result.exit_code != 0
    assert "MEDIAROUTER_WEBHOOK_SECRET" in result.output


def test_serve_is_listed_under_webhooks() -> None:
    result = CliRunner().invoke(cli, ["webhooks", "--help"])
    assert result.exit_code == 0 and "serve" in result.output


@pytest.mark.parametrize("journal", ["off", ":memory:"])
def test_serve_without_a_shared_journal_refuses_to_start_rather_than_acknowledge_deliveries_it_loses(
    monkeypatch: pytest.MonkeyPatch, journal: str
) -> None:
    # A 204 tells the sender not to deliver again: a standalone receiver must record what it acknowledges
    # where the jobs' processes (and `jobs resume`) read it.
    import uvicorn

    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    monkeypatch.setenv("MEDIAROUTER_WEBHOOK_SECRET", "whsec-test")
    monkeypatch.setenv("MEDIAROUTER_JOURNAL", journal)
    result = CliRunner().invoke(cli, ["webhooks", "serve", "--port", "0"])
    assert result.exit_code != 0 and served == []
    assert "MEDIAROUTER_JOURNAL" in result.output
