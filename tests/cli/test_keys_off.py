"""`mediarouter keys list|path` with the key store switched off say so, instead of suggesting `keys set`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mediarouter.cli import cli


@pytest.mark.parametrize("value", ["off", "OFF", ""])
def test_keys_list_says_the_store_is_off_and_suggests_no_command(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MEDIAROUTER_KEYS", value)
    result = CliRunner().invoke(cli, ["keys", "list"])
    assert result.exit_code == 0, result.output
    assert f"the key store is off (MEDIAROUTER_KEYS={value})" in result.output
    assert "keys set" not in result.output


def test_keys_path_says_the_store_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAROUTER_KEYS", "off")
    result = CliRunner().invoke(cli, ["keys", "path"])
    assert result.exit_code == 1
    assert "the key store is off (MEDIAROUTER_KEYS=off)" in result.output


def test_keys_list_with_an_empty_store_still_suggests_keys_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDIAROUTER_KEYS", str(tmp_path / "keys.json"))
    result = CliRunner().invoke(cli, ["keys", "list"])
    assert result.exit_code == 0
    assert "No keys stored. Try: mediarouter keys set openrouter" in result.output
