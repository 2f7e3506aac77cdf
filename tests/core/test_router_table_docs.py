"""docs/failover.md lists exactly the keys the config file's `[router]` table accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mediarouter import ConfigurationError
from mediarouter.settings import load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "failover.md"


def _documented_keys() -> list[str]:
    paragraph = re.search(r"`\[router\]` accepts exactly the router settings \(.*?\): (.*?)\. ", DOC.read_text(), re.S)
    assert paragraph, "docs/failover.md no longer lists the [router] keys"
    return re.findall(r"`([a-z_]+)`", paragraph.group(1))


def _known_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    config = tmp_path / "config.toml"
    config.write_text("[router]\nnot_a_setting = 1\n")
    monkeypatch.setenv("MEDIAROUTER_CONFIG", str(config))
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.hint is not None
    return caught.value.hint.removeprefix("known settings: ").split(", ")


def test_the_documented_router_keys_are_the_ones_the_config_file_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    documented = _documented_keys()
    assert documented == sorted(documented)
    assert documented == _known_keys(tmp_path, monkeypatch)
