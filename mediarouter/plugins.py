"""Plugin loading: entry points in the `mediarouter` group, plus `register()` for tests."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import ConfigurationError, UnknownProvider
from .hookspecs import ProviderFactory
from .provider import Provider

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "pm",
    "load_plugins",
    "register",
    "unregister",
    "get_plugins",
    "provider_factories",
    "create_provider",
]

ENTRY_POINT_GROUP = "mediarouter"

pm = pluggy.PluginManager("mediarouter")
pm.add_hookspecs(hookspecs)

_loaded = False
_dists: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, version)


@dataclass
class PluginInfo:
    name: str
    hooks: list[str]
    distribution: str | None = None
    version: str | None = None
    providers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "hooks": self.hooks,
            "distribution": self.distribution,
            "version": self.version,
            "providers": self.providers,
        }


def _names_from_env(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def load_plugins() -> None:
    """Load every entry-point plugin once.

    `MEDIAROUTER_LOAD_PLUGINS=a,b` loads only those (empty: none);
    `MEDIAROUTER_BLOCK_PLUGINS=a,b` skips those.
    """
    global _loaded
    if _loaded:
        return
    _loaded = True
    allow = _names_from_env("MEDIAROUTER_LOAD_PLUGINS")
    block = _names_from_env("MEDIAROUTER_BLOCK_PLUGINS") or set()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if (allow is not None and ep.name not in allow) or ep.name in block:
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take the CLI down
            print(f"mediarouter: could not load plugin {ep.name!r}: {exc}", file=sys.stderr)
            continue
        pm.register(plugin, name=ep.name)
        if ep.dist is not None:
            _dists[ep.name] = (ep.dist.name, ep.dist.version)


def register(plugin: object, name: str | None = None) -> str | None:
    """Register a plugin object or module by hand (tests, embedded hosts)."""
    return pm.register(plugin, name=name)


def unregister(plugin: object | None = None, name: str | None = None) -> None:
    pm.unregister(plugin=plugin, name=name)


def provider_factories() -> dict[str, ProviderFactory]:
    """Provider name → factory, from every loaded plugin."""
    load_plugins()
    factories: dict[str, ProviderFactory] = {}
    owners: dict[str, str] = {}

    for plugin_name, plugin in pm.list_name_plugin():
        impl = getattr(plugin, "register_providers", None)
        if impl is None:
            continue

        def _register(factory: ProviderFactory, name: str | None = None, *, _owner: str = plugin_name) -> None:
            provider_name = name or getattr(factory, "name", None)
            if not provider_name:
                raise ConfigurationError(f"plugin {_owner!r} registered a provider without a name")
            if provider_name in factories and owners[provider_name] != _owner:
                raise ConfigurationError(
                    f"provider {provider_name!r} is registered by both {owners[provider_name]!r} and {_owner!r}",
                    hint="block one with MEDIAROUTER_BLOCK_PLUGINS",
                )
            factories[provider_name] = factory
            owners[provider_name] = _owner

        impl(register=_register)
    return factories


def get_plugins() -> list[PluginInfo]:
    """Every loaded plugin with its hooks, distribution, version and providers."""
    load_plugins()
    infos = []
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(h.name for h in (pm.get_hookcallers(plugin) or []))
        providers: list[str] = []
        impl = getattr(plugin, "register_providers", None)
        if impl is not None:

            def _collect(factory: ProviderFactory, name: str | None = None, *, _into: list[str] = providers) -> None:
                _into.append(str(name or getattr(factory, "name", "?")))

            impl(register=_collect)
        dist, version = _dists.get(name, (None, None))
        infos.append(PluginInfo(name=name, hooks=hooks, distribution=dist, version=version, providers=providers))
    return infos


def create_provider(name: str, **options: Any) -> Provider:
    """Build the named provider, or say which ones are installed."""
    factories = provider_factories()
    factory = factories.get(name)
    if factory is None:
        installed = ", ".join(sorted(factories)) or "none"
        raise UnknownProvider(
            f"no provider plugin named {name!r}; installed: {installed}",
            provider=name,
            hint="install one (e.g. pip install mediarouter-openrouter) and check `mediarouter plugins`",
        )
    provider = factory(**options)
    if not isinstance(provider, Provider):
        raise ConfigurationError(f"provider factory for {name!r} returned {type(provider).__name__}, not a Provider")
    return provider
