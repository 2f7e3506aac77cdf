"""The CLI in-process over a scripted provider registered as plugin `fake` (model `fake/video-1`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mediarouter import hookimpl, plugins
from mediarouter.cli import cli, load_plugin_commands
from tests.core.fakes import VIDEO, ScriptedProvider

__all__ = ["VIDEO", "ScriptedProvider", "instant_retries", "invoke", "registered_as_fake", "use_provider"]

Factory = Callable[..., ScriptedProvider]


@pytest.fixture
def use_provider() -> Iterator[Callable[[Factory], None]]:
    """Register `factory` as the provider `fake` for this test."""
    registered: list[object] = []

    def install(factory: Factory) -> None:
        class Plugin:
            @hookimpl
            def register_providers(self, register: Any) -> None:
                register(factory, name="fake")

        plugin = Plugin()
        plugins.register(plugin, name=f"fake-cli-{len(registered)}")
        registered.append(plugin)

    yield install
    for plugin in registered:
        plugins.unregister(plugin)


@pytest.fixture
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without their backoff waits (the rule under test is what happens after them, not when)."""
    monkeypatch.setattr("mediarouter.retry.Backoff.delay", lambda self, attempt, retry_after=None: 0.0)


@contextmanager
def registered_as_fake(instance: object, name: str) -> Iterator[None]:
    """`instance` as the one `fake` provider every router builds (plugin `name`), while the block runs."""

    class Plugin:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            register(lambda **kw: instance, name="fake")

    plugin = Plugin()
    plugins.register(plugin, name=name)
    try:
        yield
    finally:
        plugins.unregister(plugin)


def invoke(*args: str) -> Result:
    load_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)
