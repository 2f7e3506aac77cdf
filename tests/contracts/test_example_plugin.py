"""The example plugin of docs/plugin-authors.md passes the contract suite, and loads through its hook."""

from __future__ import annotations

import tomllib

import httpx

from mediarouter import Provider
from mediarouter.plugins import create_provider, register, unregister

from .example_plugin import EXAMPLE, AcmeVideoProvider, TestAcmeContract

__all__ = ["TestAcmeContract"]  # collected here: every rule of the suite, run on the example plugin


def test_example_declares_its_entry_point_and_the_kit_as_a_test_extra() -> None:
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["mediarouter"] == {"acme": "mediarouter_example.plugin"}
    assert any(dep.startswith("mediarouter-contracts") for dep in project["optional-dependencies"]["test"])


def test_example_registers_its_provider_through_the_hook() -> None:
    import mediarouter_example.plugin as plugin

    register(plugin, name="acme-example-test")
    try:
        provider = create_provider(
            "acme", options={"api_key": "k", "transport": httpx.MockTransport(lambda r: httpx.Response(404))}
        )
    finally:
        unregister(name="acme-example-test")
    assert isinstance(provider, AcmeVideoProvider)
    assert isinstance(provider, Provider)
