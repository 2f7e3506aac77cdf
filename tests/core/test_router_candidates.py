"""Candidates from refs, aliases and chains; the config file that defines them; `mediarouter aliases`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mediarouter_contracts.clock import FakeClock

from mediarouter import ConfigurationError, InvalidRequest, NotFound
from mediarouter.candidates import describe_aliases, resolve_candidates
from mediarouter.cli import cli, load_plugin_commands
from mediarouter.config import default_config_file
from mediarouter.settings import MediaRouterSettings, load_settings

from .router_fakes import Fleet, Script, quiet_settings

ALIASES: dict[str, str | list[str]] = {
    "video-default": ["openrouter/google/veo-3.1", "openrouter/bytedance/seedance-2.0", "openrouter/alibaba/wan-2.6"],
    "cheap": "openrouter/alibaba/wan-2.6",
    "nested": ["cheap", "openrouter/openai/sora-2-pro"],
}


def refs(model: Any, fallbacks: list[str] | None = None, default: str = "openrouter/google/veo-3.1") -> list[str]:
    return [str(r) for r in resolve_candidates(model, fallbacks, aliases=ALIASES, default_model=default)]


# -- resolution --------------------------------------------------------------------------------


def test_a_ref_an_alias_a_list_and_fallbacks_resolve_in_order() -> None:
    assert refs("openrouter/google/veo-3.1") == ["openrouter/google/veo-3.1"]
    assert refs("cheap") == ["openrouter/alibaba/wan-2.6"]
    assert refs("video-default")[1] == "openrouter/bytedance/seedance-2.0"
    assert refs(["cheap", "openrouter/google/veo-3.1"], ["openrouter/openai/sora-2-pro"]) == [
        "openrouter/alibaba/wan-2.6",
        "openrouter/google/veo-3.1",
        "openrouter/openai/sora-2-pro",
    ]


def test_nested_aliases_expand_in_place_and_duplicates_keep_their_first_position() -> None:
    assert refs("nested", ["openrouter/alibaba/wan-2.6", "video-default"]) == [
        "openrouter/alibaba/wan-2.6",
        "openrouter/openai/sora-2-pro",
        "openrouter/google/veo-3.1",
        "openrouter/bytedance/seedance-2.0",
    ]


def test_the_default_model_may_be_an_alias() -> None:
    assert refs(None, default="cheap") == ["openrouter/alibaba/wan-2.6"]


def test_an_unknown_name_says_it_is_neither_a_ref_nor_an_alias() -> None:
    with pytest.raises(InvalidRequest, match=r"'veo' is neither a model ref nor a known alias \(aliases: cheap"):
        refs("veo")
    with pytest.raises(InvalidRequest, match="no model given"):
        refs([])


def test_alias_cycles_and_dangling_targets_are_configuration_errors() -> None:
    aliases: dict[str, str | list[str]] = {"a": ["b"], "b": "c", "c": ["openrouter/x/y", "a"], "d": "typo"}
    with pytest.raises(ConfigurationError, match="alias cycle: a → b → c → a"):
        resolve_candidates("a", aliases=aliases, default_model="x/y")
    with pytest.raises(ConfigurationError, match="alias 'd' names 'typo'"):
        resolve_candidates("d", aliases=aliases, default_model="x/y")
    infos = {i.name: i for i in describe_aliases(aliases)}
    assert infos["a"].error is not None and infos["d"].error is not None


async def test_the_router_resolves_aliases_from_its_settings(clock: FakeClock) -> None:
    fleet = Fleet(clock)
    settings = quiet_settings(aliases={"pair": ["p1/m1", "p2/m1"]}, default_model="pair")
    async with fleet.router(settings=settings) as router:
        assert [str(r) for r in router.resolve(None)] == ["p1/m1", "p2/m1"]
        result = await router.generate("a dog", model="pair")
    assert result.ref == "p1/m1"


# -- the config file ---------------------------------------------------------------------------

CONFIG = """
[aliases]
video-default = ["openrouter/google/veo-3.1", "openrouter/alibaba/wan-2.6"]
cheap = "openrouter/alibaba/wan-2.6"

[router]
fit = "adjust"
cooldown = 120
max_cost = 2.5
default_model = "video-default"

[openrouter]   # another component's table: left alone
anything = 1
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    for name in ("MEDIAROUTER_FIT", "MEDIAROUTER_COOLDOWN", "MEDIAROUTER_MAX_COST", "MEDIAROUTER_ALIASES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEDIAROUTER_CONFIG", str(path))
    return path


def test_the_config_file_sets_aliases_and_router_defaults(config: Path) -> None:
    settings = load_settings()
    assert settings.aliases["cheap"] == "openrouter/alibaba/wan-2.6"
    assert (settings.fit, settings.cooldown, str(settings.max_cost)) == ("adjust", 120.0, "2.5")
    assert settings.default_model == "video-default"
    assert settings.config_location.path == config and settings.config_location.exists


def test_environment_variables_win_over_the_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAROUTER_FIT", "strict")
    monkeypatch.setenv("MEDIAROUTER_ALIASES", '{"cheap": "openrouter/alibaba/wan-2.7"}')
    settings = load_settings()
    assert settings.fit == "strict"
    assert settings.aliases["cheap"] == "openrouter/alibaba/wan-2.7"


def test_the_default_location_follows_platform_conventions_and_may_be_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDIAROUTER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_config_file().parent.name == "mediarouter"
    settings = MediaRouterSettings()
    assert settings.aliases == {} and not settings.config_location.explicit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[aliases\n", "is not valid TOML"),
        ('[router]\nfitt = "adjust"\n', r"unknown setting\(s\) in \[router\]: fitt"),
        ('[router]\nfit = "sometimes"\n', r"fit in \[router\] of .*: Input should be"),
        ('aliases = "x"\n', r"\[aliases\] must be a table"),
        ('[aliases]\n"a/b" = "openrouter/x/y"\n', "alias name 'a/b'"),
    ],
)
def test_a_broken_config_file_is_a_configuration_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    monkeypatch.setenv("MEDIAROUTER_CONFIG", str(path))
    with pytest.raises(ConfigurationError, match=message) as info:
        load_settings()
    assert str(path) in str(info.value)


def test_an_explicit_config_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAROUTER_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings()
    monkeypatch.setenv("MEDIAROUTER_CONFIG", "")  # empty: no config file at all
    assert load_settings().config_location.path is None


# -- `mediarouter aliases` ---------------------------------------------------------------------


def run(*args: str) -> Any:
    load_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_aliases_lists_names_their_chains_and_the_config_file(config: Path) -> None:
    result = run("aliases")
    assert result.exit_code == 0, result.output
    assert f"config file: {config}" in result.stdout
    assert "video-default  → openrouter/google/veo-3.1, openrouter/alibaba/wan-2.6" in result.stdout
    data = json.loads(run("aliases", "--json").stdout)
    assert data["config_file"] == str(config) and data["config_file_exists"] is True
    assert data["aliases"]["cheap"]["candidates"] == ["openrouter/alibaba/wan-2.6"]


def test_aliases_shows_a_broken_alias_without_hiding_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[aliases]\nloop = ["loop"]\nok = "openrouter/x/y"\n')
    monkeypatch.setenv("MEDIAROUTER_CONFIG", str(path))
    result = run("aliases")
    assert result.exit_code == 0
    assert "loop  error: alias cycle: loop → loop" in result.stdout
    assert "ok    → openrouter/x/y" in result.stdout


def test_aliases_with_a_malformed_config_file_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[router\n")
    monkeypatch.setenv("MEDIAROUTER_CONFIG", str(path))
    result = run("aliases")
    assert result.exit_code == 2
    assert "is not valid TOML" in result.stderr


@pytest.mark.parametrize(("asked", "meant"), [("M1", "p1/m1"), ("m11", "p1/m1")])
async def test_a_submit_refused_as_not_found_names_the_listed_model_meant(
    clock: FakeClock, asked: str, meant: str
) -> None:
    """Not in the listing, so sent as is (the provider decides); its 404 then names the listed id in another case,
    or the closest spelling. Nothing else is submitted."""
    fleet = Fleet(clock)
    fleet.script(f"p1/{asked}", Script(submit_error=lambda: NotFound("model not found", status_code=404)))
    async with fleet.router() as router:
        with pytest.raises(NotFound) as raised:
            await router.generate("a fox", model=f"p1/{asked}", duration=4)
    assert raised.value.hint is not None and f"did you mean {meant}?" in raised.value.hint
    assert fleet.submits() == [f"p1/{asked}"]


async def test_a_not_found_without_a_close_listed_model_keeps_its_own_hint(clock: FakeClock) -> None:
    fleet = Fleet(clock)
    fleet.script("p1/zzz", Script(submit_error=lambda: NotFound("model not found", status_code=404, hint="see docs")))
    async with fleet.router() as router:
        with pytest.raises(NotFound) as raised:
            await router.generate("a fox", model="p1/zzz", duration=4)
    assert raised.value.hint == "see docs"
