"""The example plugin of docs/plugin-authors.md passes the contract suite, and loads through its hook."""

from __future__ import annotations

import tomllib

import httpx
import pytest
from mediarouter_contracts import FakeClock
from pydantic import SecretStr

from mediarouter import ConfigurationError, Provider
from mediarouter.plugins import create_provider, provider_factories, register, supports_emulator, unregister

from .example_plugin import EXAMPLE, AcmeVideoProvider, TestAcmeContract

__all__ = ["TestAcmeContract"]  # collected here: every rule of the suite, run on the example plugin


def test_example_declares_its_entry_point_and_the_kit_as_a_test_extra() -> None:
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    assert project["version"]  # pip install from a path needs one
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


def test_example_factory_takes_exactly_its_signature() -> None:
    """Rule: an option the provider does not know is an error, never dropped; `clock=` comes because it is accepted."""
    import mediarouter_example.plugin as plugin

    register(plugin, name="acme-example-test")
    try:
        assert supports_emulator(provider_factories()["acme"]) is False
        with pytest.raises(ConfigurationError, match=r"does not take option\(s\) 'emulator_mode'.*it takes: api_key"):
            create_provider("acme", options={"emulator_mode": True})
        clock = FakeClock(wall=1_000.0)
        provider = create_provider("acme", options={"api_key": SecretStr("k")}, clock=clock)
    finally:
        unregister(name="acme-example-test")
    assert isinstance(provider, AcmeVideoProvider)
    assert provider.http.now() == 1_000.0  # the core's clock, not the wall clock


def test_example_reads_its_own_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule: the CLI never passes a key; the provider reads ACME_API_KEY and holds it as a secret."""
    monkeypatch.setenv("ACME_API_KEY", " acme-key-from-env ")
    provider = AcmeVideoProvider()
    assert provider.http.secrets() == ("acme-key-from-env",)
    assert "acme-key-from-env" not in repr(vars(provider))


def test_example_falls_back_to_the_key_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """`mediarouter keys set acme` works for the example too; the environment variable wins."""
    from mediarouter.keys import set_key

    monkeypatch.delenv("ACME_API_KEY", raising=False)
    set_key("acme", "acme-key-from-store")
    assert AcmeVideoProvider().http.secrets() == ("acme-key-from-store",)
    monkeypatch.setenv("ACME_API_KEY", "acme-key-from-env")
    assert AcmeVideoProvider().http.secrets() == ("acme-key-from-env",)
