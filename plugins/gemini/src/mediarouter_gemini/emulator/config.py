"""Emulator settings and failure injections, free of starlette and PyAV (the provider parses them first)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from mediarouter import ConfigurationError
from mediarouter.emulation.injection import (
    JOB_OUTCOMES,
    NETWORK_OUTCOMES,
    Injection,
    InjectionGrammar,
    PhaseSpec,
    specs_for,
)
from mediarouter.emulation.jobs import Schedule

from .. import PROVIDER_NAME
from ..catalog import catalog_model

__all__ = [
    "INLINE_FIELDS",
    "EMULATOR_BASE_URL",
    "EMULATOR_OPTIONS",
    "FOREIGN_HOST",
    "GRAMMAR",
    "EmulatorConfig",
    "GeminiInjection",
    "config_from_options",
]

#: In-process clients use this base URL; `.invalid` never resolves, it only names the origin.
EMULATOR_BASE_URL = "https://generativelanguage.emulator.invalid/v1beta"
#: Where the API's download URIs redirect to: a file host that must never see the key.
FOREIGN_HOST = "video-files.emulator.invalid"
#: The `emulator_options` keys every provider accepts (`--emulator-inject`, `--emulator-polls-before-completed`).
EMULATOR_OPTIONS = frozenset({"inject", "polls_before_completed", "polls_before_in_progress"})

#: The spellings of an inline video the plugin reads (docs/providers/gemini.md, "Inline videos"): the field that
#: holds the base64 bytes → the field that names their MIME type (None: the proto form has none).
INLINE_FIELDS: dict[str, str | None] = {"encodedVideo": "encoding", "video": None, "bytesBase64Encoded": "mimeType"}

GRAMMAR = InjectionGrammar(
    phases=(
        PhaseSpec("submit", outcomes=NETWORK_OUTCOMES),
        PhaseSpec("poll", outcomes=(*NETWORK_OUTCOMES, *JOB_OUTCOMES)),
        PhaseSpec("download", outcomes=NETWORK_OUTCOMES),
    ),
    model_example="veo-3.1-generate-preview",
)


@dataclass(frozen=True)
class GeminiInjection(Injection):
    """`PHASE:OUTCOME[:MODEL][xN]` on the phases submit, poll (also failed/cancelled/expired) and download."""

    grammar = GRAMMAR


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves.

    ``api_key``: when set only this key is accepted, else any non-empty one (only a digest is kept).
    ``polls_before_in_progress`` / ``polls_before_completed``: operations finish on the poll after
    ``polls_before_completed`` polls (the first ones are not done, as on the live API).
    ``failed_as``: what a ``poll:failed`` injection ends in: ``error`` (done + google.rpc INTERNAL) or
    ``filtered`` (done, no sample, ``raiMediaFilteredReasons``). ``cancelled`` is CANCELLED and ``expired``
    DEADLINE_EXCEEDED.
    ``foreign_host``: download URIs on the API origin answer 302 to this host, which serves the bytes
    without a key (None: the API origin serves them itself).
    ``inline_video``: a finished operation carries its video inline, as base64 in the sample (no URI, nothing
    to download), in the spelling ``inline_field`` names: ``encodedVideo`` + ``encoding`` (what Google's SDK
    reads on the Gemini API), ``video`` (the proto field) or ``bytesBase64Encoded`` + ``mimeType`` (Vertex).
    """

    api_key: str | None = field(default=None, repr=False)
    polls_before_in_progress: int = 0
    polls_before_completed: int = 1
    injections: Sequence[GeminiInjection] = ()
    failed_as: Literal["error", "filtered"] = "error"
    foreign_host: str | None = FOREIGN_HOST
    retry_delay: int = 1
    inline_video: bool = False
    inline_field: str = "encodedVideo"
    clock: Callable[[], float] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.schedule()
        if self.failed_as not in ("error", "filtered"):
            raise ValueError(f"failed_as must be 'error' or 'filtered', got {self.failed_as!r}")
        if self.inline_field not in INLINE_FIELDS:
            raise ValueError(f"inline_field must be one of {', '.join(INLINE_FIELDS)}, got {self.inline_field!r}")
        object.__setattr__(self, "injections", tuple(self.injections))

    def schedule(self) -> Schedule:
        return Schedule(self.polls_before_in_progress, self.polls_before_completed)


def config_from_options(options: Mapping[str, Any]) -> EmulatorConfig:
    """The core's provider-neutral `emulator_options` as a Gemini EmulatorConfig.

    An injection naming a MODEL this backend does not serve is for another backend in the chain
    (`submit:402:google/veo-3.1` is OpenRouter's) and is skipped, so one `--emulator-inject` list
    can drive a whole failover chain.
    """
    unknown = sorted(set(options) - EMULATOR_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"unknown emulator option(s) for gemini: {', '.join(unknown)}; "
            f"known: {', '.join(sorted(EMULATOR_OPTIONS))}",
            provider=PROVIDER_NAME,
        )
    defaults = EmulatorConfig()
    try:
        completed = options.get("polls_before_completed")
        in_progress = options.get("polls_before_in_progress")
        polls_completed = int(completed) if completed is not None else defaults.polls_before_completed
        polls_in_progress = int(in_progress) if in_progress is not None else min(0, polls_completed)
        specs = [str(spec) for spec in options.get("inject") or ()]
        ours = specs_for(specs, lambda model: catalog_model(model) is not None)
        return EmulatorConfig(
            injections=tuple(cast(GeminiInjection, GeminiInjection.parse(spec)) for spec in ours),
            polls_before_completed=polls_completed,
            polls_before_in_progress=polls_in_progress,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"invalid emulator option for gemini: {exc}", provider=PROVIDER_NAME) from None
