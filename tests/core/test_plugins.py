"""Plugin loading and provider registration, with real pluggy registration."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from mediarouter import ConfigurationError, UnknownProvider, hookimpl, plugins
from mediarouter.router import Router

from .fakes import ScriptedProvider


class FakePlugin:
    @hookimpl
    def register_providers(self, register: Any) -> None:
        register(ScriptedProvider)

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command(name="fake-hello")
        def hello() -> None:
            click.echo("hello from fake")


@pytest.fixture
def fake_plugin() -> Iterator[FakePlugin]:
    plugin = FakePlugin()
    plugins.register(plugin, name="fake")
    yield plugin
    plugins.unregister(plugin)


def test_registered_plugin_provides_a_provider(fake_plugin: FakePlugin) -> None:
    assert "fake" in plugins.provider_factories()
    provider = plugins.create_provider("fake")
    assert isinstance(provider, ScriptedProvider)
    info = {p.name: p for p in plugins.get_plugins()}["fake"]
    assert info.providers == ["fake"]
    assert "register_providers" in info.hooks


def test_unknown_provider_lists_installed_ones(fake_plugin: FakePlugin) -> None:
    with pytest.raises(UnknownProvider) as info:
        plugins.create_provider("nope")
    assert "fake" in str(info.value)
    assert "nope" in str(info.value)


def test_the_openrouter_plugin_comes_from_its_entry_point() -> None:
    infos = {p.name: p for p in plugins.get_plugins()}
    assert infos["openrouter"].distribution == "mediarouter-openrouter"
    assert infos["openrouter"].version
    assert infos["openrouter"].providers == ["openrouter"]


def test_two_plugins_claiming_one_provider_name_is_an_error(fake_plugin: FakePlugin) -> None:
    class Clash:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            register(ScriptedProvider, name="fake")

    clash = Clash()
    plugins.register(clash, name="clash")
    try:
        with pytest.raises(ConfigurationError, match="registered by both"):
            plugins.provider_factories()
    finally:
        plugins.unregister(clash)


async def test_router_uses_one_provider_instance_per_name_and_closes_it(fake_plugin: FakePlugin) -> None:
    router = Router()
    first = router.provider("fake")
    assert router.provider("fake") is first
    await router.aclose()
    assert isinstance(first, ScriptedProvider) and first.closed


def _plugins_cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`mediarouter plugins` in a fresh process (plugin loading happens once per process)."""
    switches = ("MEDIAROUTER_LOAD_PLUGINS", "MEDIAROUTER_BLOCK_PLUGINS")
    full = {k: v for k, v in os.environ.items() if k not in switches}
    mediarouter = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))
    return subprocess.run([mediarouter, "plugins"], capture_output=True, text=True, env={**full, **env}, timeout=60)


@pytest.mark.parametrize("name", ["openrouter", "mediarouter-openrouter", "Mediarouter_OpenRouter"])
def test_load_plugins_takes_entry_point_or_distribution_names(name: str) -> None:
    proc = _plugins_cli({"MEDIAROUTER_LOAD_PLUGINS": name})
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("openrouter  (mediarouter-openrouter ")


def test_a_load_plugins_name_matching_nothing_is_warned_about_and_the_switch_named() -> None:
    proc = _plugins_cli({"MEDIAROUTER_LOAD_PLUGINS": "openruter"})
    assert proc.returncode == 0
    assert "MEDIAROUTER_LOAD_PLUGINS names 'openruter', which matches no installed plugin" in proc.stderr
    assert "openrouter (mediarouter-openrouter)" in proc.stderr  # what is installed, to fix the typo
    assert proc.stdout.startswith("No plugins loaded: MEDIAROUTER_LOAD_PLUGINS / MEDIAROUTER_BLOCK_PLUGINS hid")


def test_a_blocked_plugin_is_named_as_hidden_not_as_missing() -> None:
    proc = _plugins_cli({"MEDIAROUTER_BLOCK_PLUGINS": "mediarouter-openrouter,fal,mediarouter-gemini"})
    assert proc.stderr == "" and "No plugins installed" not in proc.stdout
    assert "hid the installed" in proc.stdout
    assert all(name in proc.stdout for name in ("openrouter", "fal", "gemini"))
    partly = _plugins_cli({"MEDIAROUTER_BLOCK_PLUGINS": "mediarouter-openrouter"})
    assert "hidden by MEDIAROUTER_LOAD_PLUGINS / MEDIAROUTER_BLOCK_PLUGINS: openrouter" in partly.stdout
