"""`mediarouter webhooks serve`: refuses to start without a secret, naming the variable."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mediarouter.cli import cli


def test_serve_without_a_secret_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIAROUTER_WEBHOOK_SECRET", raising=False)
    result = CliRunner().invoke(cli, ["webhooks", "serve", "--port", "0"])
    assert result.exit_code != 0
    assert "MEDIAROUTER_WEBHOOK_SECRET" in result.output


def test_serve_is_listed_under_webhooks() -> None:
    result = CliRunner().invoke(cli, ["webhooks", "--help"])
    assert result.exit_code == 0 and "serve" in result.output
