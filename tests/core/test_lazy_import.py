"""`import mediarouter` stays light: the router, settings, journal and plugin loading load on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import mediarouter

#: Pulled in only through the router, settings, journal and plugin loading (issue #15: start-up).
LAZY_MODULES = (
    "sqlite3",  # the journal
    "pluggy",  # plugin loading, hookimpl
    "pydantic_settings",  # MediaRouterSettings
    "platformdirs",  # default journal and config paths
    "pydantic",  # the request, job and result models
    "httpx",  # the providers' HTTP clients
    "rich",  # the CLI's progress display
    "asyncio",  # SystemClock.sleep imports it when first awaited
    "mediarouter.router",
    "mediarouter.journal",
    "mediarouter.plugins",
    "mediarouter.settings",
    "mediarouter.request",
    "mediarouter.capabilities",
    "mediarouter.events",
)


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(json.loads(out))


def test_a_plain_import_does_not_load_the_journal_settings_or_plugin_machinery() -> None:
    loaded = _modules_after("import mediarouter")
    assert sorted(m for m in LAZY_MODULES if m in loaded) == []


def test_the_lazy_names_load_on_first_use_and_are_the_real_objects() -> None:
    loaded = _modules_after("from mediarouter import Router")
    assert {"mediarouter.router", "sqlite3", "pluggy"} <= loaded
    loaded = _modules_after("from mediarouter import VideoRequest\nVideoRequest(prompt='a cat')")
    assert {"mediarouter.request", "pydantic"} <= loaded and "mediarouter.router" not in loaded
    from mediarouter.router import Router
    from mediarouter.settings import MediaRouterSettings

    assert mediarouter.Router is Router
    assert mediarouter.MediaRouterSettings is MediaRouterSettings


@pytest.mark.parametrize("name", mediarouter.__all__)
def test_every_public_name_imports(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from mediarouter import {name}", namespace)  # the form users write
    assert namespace[name] is getattr(mediarouter, name)
    assert name in dir(mediarouter)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Routr'"):
        mediarouter.Routr  # type: ignore[attr-defined]  # noqa: B018
