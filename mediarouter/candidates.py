"""From what the caller wrote (`model=`, `fallbacks=`) to the ordered list of candidate refs.

An entry is a ref (`provider/model-id`, always with a `/`) or an alias name (never with a
`/`) from configuration; an alias names one ref or an ordered chain, and may name other
aliases. Duplicates keep their first position, so `fallbacks` can repeat a chain's member
without trying it twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import ConfigurationError, InvalidRequest
from .refs import ModelRef

__all__ = ["Aliases", "AliasInfo", "describe_aliases", "expand", "resolve_candidates"]

Aliases = Mapping[str, str | Sequence[str]]


def resolve_candidates(
    model: str | Sequence[str] | None,
    fallbacks: Sequence[str] | None = None,
    *,
    aliases: Aliases,
    default_model: str,
) -> list[ModelRef]:
    """Candidates in order: `model` (a ref, an alias or a list of them, else the default), then `fallbacks`."""
    if model is None:
        model = default_model
    entries = [model] if isinstance(model, str) else list(model)
    entries += list(fallbacks or [])
    if not entries:
        raise InvalidRequest("no model given: pass a ref, an alias or a list of them")
    refs: list[ModelRef] = []
    for entry in entries:
        for ref in expand(entry, aliases):
            if ref not in refs:
                refs.append(ref)
    return refs


def expand(entry: str, aliases: Aliases) -> list[ModelRef]:
    """One ref or alias → its refs (an alias's chain, with nested aliases expanded in place)."""
    return _expand(entry.strip(), aliases, ())


def _expand(entry: str, aliases: Aliases, path: tuple[str, ...]) -> list[ModelRef]:
    if entry in aliases:
        if entry in path:
            cycle = " → ".join((*path[path.index(entry) :], entry))
            raise ConfigurationError(f"alias cycle: {cycle}", hint="an alias may not name itself, even indirectly")
        target = aliases[entry]
        targets = [target] if isinstance(target, str) else list(target)
        refs: list[ModelRef] = []
        for item in targets:
            for ref in _expand(item.strip(), aliases, (*path, entry)):
                if ref not in refs:
                    refs.append(ref)
        return refs
    if "/" not in entry:
        known = ", ".join(sorted(aliases)) or "none configured"
        hint = "a ref looks like openrouter/google/veo-3.1; `mediarouter aliases` lists the aliases"
        if path:
            raise ConfigurationError(
                f"alias {path[-1]!r} names {entry!r}, which is neither a model ref nor an alias (aliases: {known})",
                hint=hint,
            )
        raise InvalidRequest(f"{entry!r} is neither a model ref nor a known alias (aliases: {known})", hint=hint)
    return [ModelRef.parse(entry)]


@dataclass(frozen=True)
class AliasInfo:
    """One configured alias as written, and what it expands to (or why it cannot)."""

    name: str
    targets: list[str]
    candidates: list[str]
    error: str | None = None


def describe_aliases(aliases: Aliases) -> list[AliasInfo]:
    """Every alias with its expansion; a broken one carries its error instead of hiding the others."""
    infos = []
    for name in sorted(aliases):
        target = aliases[name]
        targets = [target] if isinstance(target, str) else list(target)
        try:
            candidates = [str(ref) for ref in expand(name, aliases)]
            error = None
        except (ConfigurationError, InvalidRequest) as exc:
            candidates, error = [], exc.message
        infos.append(AliasInfo(name=name, targets=targets, candidates=candidates, error=error))
    return infos
