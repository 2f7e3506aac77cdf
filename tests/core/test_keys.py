"""The key store (`mediarouter.keys`, `mediarouter keys ...`): a private user file, never printed, env wins."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from mediarouter_openrouter import OpenRouterVideoProvider

from mediarouter import ConfigurationError, VideoRequest, keys
from mediarouter.cli import cli

SECRET = "sk-or-v1-very-secret-value"


@pytest.fixture
def keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "conf" / "keys.json"
    monkeypatch.setenv("MEDIAROUTER_KEYS", str(path))
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    return path


def test_a_stored_key_comes_back_as_a_secret_from_a_0600_file(keys_file: Path) -> None:
    assert keys.get_key("openrouter") is None
    assert keys.set_key("openrouter", f"  {SECRET}\n") == keys_file
    key = keys.get_key("openrouter")
    assert key is not None and key.get_secret_value() == SECRET
    assert SECRET not in repr(key) and SECRET not in str(key)
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert json.loads(keys_file.read_text()) == {"openrouter": SECRET}


def test_setting_a_key_keeps_the_others_and_leaves_no_temporary_file(keys_file: Path) -> None:
    keys.set_key("fal", "fal-1")
    keys.set_key("openrouter", "or-1")
    keys.set_key("fal", "fal-2")
    assert json.loads(keys_file.read_text()) == {"fal": "fal-2", "openrouter": "or-1"}
    assert keys.key_names() == ["fal", "openrouter"]
    assert sorted(p.name for p in keys_file.parent.iterdir()) == ["keys.json"]


def test_a_failed_write_leaves_the_old_file_whole(keys_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys.set_key("openrouter", "old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        keys.set_key("openrouter", "new")
    assert json.loads(keys_file.read_text()) == {"openrouter": "old"}
    assert sorted(p.name for p in keys_file.parent.iterdir()) == ["keys.json"]


def test_a_broken_file_is_an_error_naming_the_file_not_its_content(keys_file: Path) -> None:
    keys_file.parent.mkdir(parents=True)
    keys_file.write_text('{"openrouter": "' + SECRET)
    with pytest.raises(ConfigurationError) as caught:
        keys.get_key("openrouter")
    assert str(keys_file) in str(caught.value) and SECRET not in str(caught.value)


@pytest.mark.parametrize("name", ["", "OpenRouter", "a b", "../x", "-x"])
def test_a_bad_key_name_is_refused_saying_what_is_allowed(keys_file: Path, name: str) -> None:
    with pytest.raises(ConfigurationError, match="lower-case letters, digits"):
        keys.set_key(name, "v")
    assert not keys_file.exists()


def test_off_switches_the_file_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAROUTER_KEYS", "off")
    assert keys.keys_path() is None and keys.get_key("openrouter") is None
    with pytest.raises(ConfigurationError, match="MEDIAROUTER_KEYS"):
        keys.set_key("openrouter", "v")


def test_cli_set_reads_stdin_and_never_prints_the_key(keys_file: Path) -> None:
    result = CliRunner().invoke(cli, ["keys", "set", "openrouter"], input=SECRET + "\n")
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert keys.get_key("openrouter") is not None
    listed = CliRunner().invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0 and listed.output == "openrouter\n"
    path = CliRunner().invoke(cli, ["keys", "path"])
    assert path.output.strip() == str(keys_file)


def test_cli_set_takes_value_and_warns_about_a_name_no_provider_has(keys_file: Path) -> None:
    result = CliRunner().invoke(cli, ["keys", "set", "openruter", "--value", SECRET])
    assert result.exit_code == 0, result.output
    assert "no installed provider is named 'openruter'" in result.output
    assert SECRET not in result.output
    assert keys.key_names() == ["openruter"]


def test_cli_set_with_an_empty_value_saves_nothing_and_exits_2(keys_file: Path) -> None:
    result = CliRunner().invoke(cli, ["keys", "set", "openrouter"], input="\n")
    assert result.exit_code == 2
    assert "empty" in result.output and not keys_file.exists()


async def _submit_with(api_key: str | None = None) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"id": "gen-1", "status": "pending"})

    async with OpenRouterVideoProvider(
        api_key=api_key, base_url="https://openrouter.test/api/v1", transport=httpx.MockTransport(handler)
    ) as provider:
        await provider.submit("google/veo-3.1", VideoRequest(prompt="a dog"))
    return seen


async def test_openrouter_falls_back_to_the_stored_key(keys_file: Path) -> None:
    keys.set_key("openrouter", SECRET)
    seen = await _submit_with()
    assert seen[0].headers["Authorization"] == f"Bearer {SECRET}"


async def test_the_environment_variable_wins_over_the_stored_key(
    keys_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys.set_key("openrouter", "sk-stored")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-from-env")
    seen = await _submit_with()
    assert seen[0].headers["Authorization"] == "Bearer sk-from-env"
