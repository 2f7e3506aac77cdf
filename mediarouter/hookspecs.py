"""Hook declarations. Plugin authors implement these with `@mediarouter.hookimpl`.

A hook implementation may take only the arguments it needs; arguments may be added to a
spec later, never removed or reordered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:  # not at run time: a plugin module imports this, and `mediarouter --help` loads every plugin
    from .provider import Provider

__all__ = ["CORE_OPTIONS", "EMULATOR_OPTIONS", "ProviderFactory", "Register", "hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("mediarouter")
hookimpl = pluggy.HookimplMarker("mediarouter")

#: Builds a Provider from keyword options. Usually the Provider subclass itself.
#:
#: The core passes only: `clock=` (when the factory accepts it; a Clock for polling and expiry),
#: `emulator=True` and `emulator_options=` (only to factories whose `supports_emulator` is true),
#: plus whatever the host configured for that provider (`Router(provider_options={"acme": {...}})`).
#: An option the factory does not accept is a ConfigurationError before anything is sent: a typo
#: or an option meant for another provider is never silently dropped. The CLI never passes a key;
#: a provider reads its own (e.g. `ACME_API_KEY`).
ProviderFactory = Callable[..., "Provider"]

#: Core options passed only when the factory accepts them.
CORE_OPTIONS = frozenset({"clock"})
#: Options that exist only for an emulated provider.
EMULATOR_OPTIONS = frozenset({"emulator", "emulator_options"})


class Register(Protocol):
    """`register(factory, name=None)`; `name` defaults to the factory's `name` attribute."""

    def __call__(self, factory: ProviderFactory, name: str | None = None) -> None: ...


@hookspec
def register_providers(register: Register) -> None:
    """Register provider factories: `register(AcmeVideoProvider)`.

    Called when mediarouter first needs the provider list (a Router resolving a ref, `mediarouter
    plugins`, `mediarouter models`), and again after a plugin is registered or unregistered. It must
    only register: no I/O, no reading of keys (a provider reads those when it is built).
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the `mediarouter` click group.

    Prefer `cli.add_lazy_command("name", "package.module:command", short_help="...")`: `mediarouter
    --help` shows the line and the module is imported only when the command runs.
    `cli.add_command(my_command)` works too, at the cost of importing it on every start.
    Called once per process, when the `mediarouter` command starts, after plugins load.
    """
