"""Plugin loading and provider registration, with real pluggy registration."""

from __future__ import annotations

from collections.abc import Iterator
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
