"""Plugin loading: entry points in the `mediarouter` group, plus `register()` for tests."""

from __future__ import annotations

import inspect
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .errors import ConfigurationError, UnknownProvider
from .hookspecs import ProviderFactory

if TYPE_CHECKING:  # imported where used: `mediarouter --help` loads plugins but builds no provider
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
    "supports_emulator",
    "hidden_plugins",
]

ENTRY_POINT_GROUP = "mediarouter"

pm = pluggy.PluginManager("mediarouter")
pm.add_hookspecs(hookspecs)

_loaded = False
_dists: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, version)
_hidden: list[str] = []  # entry-point plugins MEDIAROUTER_LOAD_PLUGINS / MEDIAROUTER_BLOCK_PLUGINS kept out


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


def _normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (`Mediarouter_OpenRouter` is `mediarouter-openrouter`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _matches(names: set[str], ep: metadata.EntryPoint) -> set[str]:
    """The names in `names` that pick out `ep`: its entry-point name or its distribution's name."""
    dist = _normalize(ep.dist.name) if ep.dist is not None else None
    return {n for n in names if n == ep.name or (dist is not None and _normalize(n) == dist)}


def load_plugins() -> None:
    """Load every entry-point plugin once.

    `MEDIAROUTER_LOAD_PLUGINS=a,b` loads only those (empty: none); `MEDIAROUTER_BLOCK_PLUGINS=a,b`
    skips those. Each name is an entry-point name (`openrouter`) or a distribution name
    (`mediarouter-openrouter`); a name that matches no installed plugin is warned about on stderr,
    since it most likely is a typo that would otherwise load nothing without a word.
    """
    global _loaded
    if _loaded:
        return
    _loaded = True
    allow = _names_from_env("MEDIAROUTER_LOAD_PLUGINS")
    block = _names_from_env("MEDIAROUTER_BLOCK_PLUGINS") or set()
    entry_points = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    for var, names in (("MEDIAROUTER_LOAD_PLUGINS", allow or set()), ("MEDIAROUTER_BLOCK_PLUGINS", block)):
        used = set().union(*(_matches(names, ep) for ep in entry_points)) if entry_points else set()
        for name in sorted(names - used):
            installed = ", ".join(
                sorted(f"{ep.name} ({ep.dist.name})" if ep.dist is not None else ep.name for ep in entry_points)
            )
            print(
                f"mediarouter: warning: {var} names {name!r}, which matches no installed plugin "
                f"(installed: {installed or 'none'})",
                file=sys.stderr,
            )
    for ep in entry_points:
        if (allow is not None and not _matches(allow, ep)) or _matches(block, ep):
            if ep.name not in _hidden:
                _hidden.append(ep.name)
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


def hidden_plugins() -> list[str]:
    """Installed entry-point plugins that MEDIAROUTER_LOAD_PLUGINS / MEDIAROUTER_BLOCK_PLUGINS kept out."""
    load_plugins()
    return list(_hidden)


def register(plugin: object, name: str | None = None) -> str | None:
    """Register a plugin object or module by hand (tests, embedded hosts)."""
    _factories_cache.clear()
    return pm.register(plugin, name=name)


def unregister(plugin: object | None = None, name: str | None = None) -> None:
    _factories_cache.clear()
    pm.unregister(plugin=plugin, name=name)


#: provider name → (factory, owning plugin); filled on first use, cleared when the plugin set changes.
_factories_cache: dict[str, tuple[ProviderFactory, str]] = {}


def _collect_factories() -> dict[str, tuple[ProviderFactory, str]]:
    load_plugins()
    if _factories_cache:
        return _factories_cache
    found: dict[str, tuple[ProviderFactory, str]] = {}
    for plugin_name, plugin in pm.list_name_plugin():
        impl = getattr(plugin, "register_providers", None)
        if impl is None:
            continue

        def _register(factory: ProviderFactory, name: str | None = None, *, _owner: str = plugin_name) -> None:
            provider_name = name or getattr(factory, "name", None)
            if not provider_name or not isinstance(provider_name, str):
                raise ConfigurationError(f"plugin {_owner!r} registered a provider without a name")
            if provider_name in found and found[provider_name][1] != _owner:
                raise ConfigurationError(
                    f"provider {provider_name!r} is registered by both {found[provider_name][1]!r} and {_owner!r}",
                    hint="block one with MEDIAROUTER_BLOCK_PLUGINS",
                )
            found[provider_name] = (factory, _owner)

        impl(register=_register)
    _factories_cache.update(found)
    return _factories_cache


def provider_factories() -> dict[str, ProviderFactory]:
    """Provider name → factory, from every loaded plugin."""
    return {name: factory for name, (factory, _) in _collect_factories().items()}


def get_plugins() -> list[PluginInfo]:
    """Every loaded plugin with its hooks, distribution, version and providers."""
    owned = _collect_factories()
    infos = []
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(h.name for h in (pm.get_hookcallers(plugin) or []))
        providers = sorted(p for p, (_, owner) in owned.items() if owner == name)
        dist, version = _dists.get(name, (None, None))
        infos.append(PluginInfo(name=name, hooks=hooks, distribution=dist, version=version, providers=providers))
    return infos


def supports_emulator(factory: ProviderFactory) -> bool:
    """Whether a provider declared an emulator (`supports_emulator = True` on its class or factory)."""
    return bool(getattr(factory, "supports_emulator", False))


def _accepted_options(factory: ProviderFactory) -> tuple[set[str], bool]:
    """(keyword names the factory takes, whether it takes **kwargs)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check against
        return set(), True
    names = {
        p.name
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())


def create_provider(
    name: str,
    *,
    options: Mapping[str, Any] | None = None,
    clock: Any = None,
    emulator: bool = False,
    emulator_options: Mapping[str, Any] | None = None,
) -> Provider:
    """Build the named provider, or explain why not, before anything is sent.

    `options` are the host's own options for this provider: each must be a parameter of the
    factory. `clock` is passed when the factory takes one. `emulator=True` is refused for a
    provider that does not declare an emulator (it would send real, paid requests).
    """
    factories = provider_factories()
    factory = factories.get(name)
    if factory is None:
        installed = ", ".join(sorted(factories)) or "none"
        hidden = hidden_plugins()
        hint = (
            f"MEDIAROUTER_LOAD_PLUGINS / MEDIAROUTER_BLOCK_PLUGINS hid {', '.join(hidden)}"
            if hidden
            else "install a provider plugin with `mediarouter install NAME`, then check `mediarouter plugins`"
        )
        raise UnknownProvider(f"no provider plugin named {name!r}; installed: {installed}", provider=name, hint=hint)
    given = dict(options or {})
    if emulator:
        if not supports_emulator(factory):
            with_emulator = ", ".join(sorted(n for n, f in factories.items() if supports_emulator(f))) or "none"
            raise ConfigurationError(
                f"provider {name!r} has no emulator, so --emulator cannot run it offline; nothing was sent "
                f"(providers with an emulator: {with_emulator})",
                provider=name,
                hint=f"drop --emulator to use the real {name} service, or choose a provider with an emulator",
            )
        given.setdefault("emulator", True)
        if emulator_options:
            given.setdefault("emulator_options", dict(emulator_options))
    accepted, takes_any = _accepted_options(factory)
    if not takes_any:
        unknown = sorted(set(given) - accepted)
        if unknown:
            raise ConfigurationError(
                f"provider {name!r} does not take option(s) {', '.join(map(repr, unknown))}; "
                f"it takes: {', '.join(sorted(accepted)) or 'none'}",
                provider=name,
            )
    if clock is not None and (takes_any or "clock" in accepted):
        given.setdefault("clock", clock)
    from .provider import Provider

    provider = factory(**given)
    if not isinstance(provider, Provider):
        raise ConfigurationError(f"provider factory for {name!r} returned {type(provider).__name__}, not a Provider")
    return provider
