"""Settings problems are one-line ConfigurationErrors naming the variable or file, never a pydantic traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mediarouter.errors import ConfigurationError
from mediarouter.settings import load_settings

MEDIAROUTER = str(Path(sys.executable).with_name("mediarouter"))


def refused(**overrides: object) -> str:
    with pytest.raises(ConfigurationError) as info:
        load_settings(**overrides)
    text = str(info.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("value", ["{bad", "{'cheap': 'x'}", '{"a": "b",}'])
def test_invalid_aliases_json_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MEDIAROUTER_ALIASES", value)
    text = refused()
    assert text.startswith("MEDIAROUTER_ALIASES is not valid JSON") and "line 1, column" in text


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("MEDIAROUTER_TIMEOUT", "abc", "valid number"),
        ("MEDIAROUTER_MAX_COST", "lots", "valid decimal"),
        ("MEDIAROUTER_POLL_INTERVAL", "-1", "greater than 0"),
        ("MEDIAROUTER_FIT", "nope", "'strict', 'adjust' or 'skip'"),
        ("MEDIAROUTER_ALIASES", '{"a": 3}', "a ref or a list of refs"),
        ("MEDIAROUTER_ALIASES", '{"a/b": "x"}', "without '/'"),
    ],
)
def test_a_bad_environment_value_names_the_variable_and_the_problem(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    monkeypatch.setenv(name, value)
    text = refused()
    assert f"{name}={value!r}" in text and said in text
    assert "Value error" not in text and "type=" not in text


def test_a_bad_config_file_value_names_the_file_and_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[router]\ntimeout = 'soon'\n\n[aliases]\ncheap = 3\n")
    monkeypatch.setenv("MEDIAROUTER_CONFIG", str(config))
    text = refused()
    assert f"timeout in [router] of {config}" in text
    assert f"[aliases] cheap in {config}: must be a ref or a list of refs" in text


def test_a_bad_keyword_names_the_keyword() -> None:
    assert refused(timeout="x").startswith("invalid setting: timeout=:")


@pytest.mark.parametrize(
    ("content", "said"),
    [(b"[router\n", "is not valid TOML"), (b"\xff\xfe[router]\n", "not UTF-8")],
)
def test_an_unreadable_config_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, said: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(content)
    monkeypatch.setenv("MEDIAROUTER_CONFIG", str(config))
    assert said in refused() and str(config) in refused()


def test_a_config_path_that_is_a_directory_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAROUTER_CONFIG", str(tmp_path))
    assert "is a directory, not a file" in refused()


def test_the_cli_prints_one_line_and_exits_with_the_configuration_code(tmp_path: Path) -> None:
    env = {**os.environ, "MEDIAROUTER_ALIASES": "{bad", "MEDIAROUTER_JOURNAL": "off", "OPENROUTER_API_KEY": ""}
    proc = subprocess.run(
        [MEDIAROUTER, "generate", "a dog", "--emulator", "-o", str(tmp_path / "dog.mp4")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("mediarouter: error: MEDIAROUTER_ALIASES is not valid JSON")
    assert not (tmp_path / "dog.mp4").exists()
