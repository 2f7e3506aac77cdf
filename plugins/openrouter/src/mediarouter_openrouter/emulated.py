"""The core's provider-neutral `emulator_options` as an OpenRouter EmulatorConfig."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediarouter import ConfigurationError
from mediarouter.emulation.injection import specs_for

from .catalog import catalog_model
from .chat_catalog import CHAT_CATALOG
from .models import PROVIDER_NAME

__all__ = ["EMULATOR_OPTIONS", "emulator_config_from_options"]

#: The keys `mediarouter generate --emulator-inject …` and `Router(emulator_options=…)` may carry.
EMULATOR_OPTIONS = frozenset({"inject", "polls_before_completed", "polls_before_in_progress"})


def _serves(model_id: str) -> bool:
    """Whether the emulator serves this model: a video model (submits, jobs) or a chat model (describe)."""
    return catalog_model(model_id) is not None or any(m["id"] == model_id for m in CHAT_CATALOG)


def emulator_config_from_options(options: Mapping[str, Any]) -> Any:
    """`inject` (PHASE:OUTCOME[:MODEL][xN] specs), `polls_before_completed`, `polls_before_in_progress`."""
    from .emulator import EmulatorConfig, Injection

    unknown = sorted(set(options) - EMULATOR_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"unknown emulator option(s) for openrouter: {', '.join(unknown)}; "
            f"known: {', '.join(sorted(EMULATOR_OPTIONS))}",
            provider=PROVIDER_NAME,
        )
    defaults = EmulatorConfig()
    completed, in_progress = options.get("polls_before_completed"), options.get("polls_before_in_progress")
    polls_completed = int(completed) if completed is not None else defaults.polls_before_completed
    if in_progress is not None:
        polls_in_progress = int(in_progress)
    elif completed is not None:
        polls_in_progress = min(defaults.polls_before_in_progress, polls_completed)
    else:
        polls_in_progress = defaults.polls_before_in_progress
    try:
        # A spec naming a model OpenRouter does not serve is another backend's, in a chain that mixes them.
        ours = specs_for(options.get("inject") or (), _serves)
        injections = tuple(Injection.parse(spec) for spec in ours)
        return EmulatorConfig(
            injections=injections,
            polls_before_completed=polls_completed,
            polls_before_in_progress=polls_in_progress,
        )
    except ValueError as exc:
        raise ConfigurationError(f"invalid emulator option: {exc}", provider=PROVIDER_NAME) from None
