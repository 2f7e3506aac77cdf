"""fal emulator settings, its injection grammar, and the core's `emulator_options` read into them.

Kept free of starlette and PyAV so the provider can read options (and report a missing extra
cleanly) before either is imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mediarouter import ConfigurationError
from mediarouter.emulation.injection import (
    CALLBACK_OUTCOMES,
    JOB_OUTCOMES,
    NETWORK_OUTCOMES,
    SLOW,
    InjectionGrammar,
    PhaseSpec,
    spec_model,
)
from mediarouter.emulation.injection import Injection as _Injection
from mediarouter.emulation.jobs import Schedule

from .. import PROVIDER_NAME
from ..catalog import catalog_entry

if TYPE_CHECKING:
    import httpx
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "CALLBACK_PHASE",
    "CDN_ORIGIN",
    "EMULATOR_BASE_URL",
    "EMULATOR_KEY",
    "EMULATOR_OPTIONS",
    "GRAMMAR",
    "PHASE_ALIASES",
    "EmulatorConfig",
    "FalInjection",
    "config_from_options",
]

#: What in-process clients use as their queue base URL; the host never resolves, it only names the origin.
EMULATOR_BASE_URL = "http://queue.fal.emulator"
#: Where finished videos are served from: another origin, like fal's CDN, which must never see the key.
CDN_ORIGIN = "http://v3.fal-media.emulator"
#: The key an emulated provider sends when none is given (the real FAL_KEY is never read in emulator mode).
EMULATOR_KEY = "fal-emulator-key:0000"

#: The webhook call the emulator makes itself (to a submit's `fal_webhook`): no HTTP status to answer with.
CALLBACK_PHASE = "callback"

#: fal's phases: every request takes HTTP statuses and the network outcomes; job outcomes end a job at
#: `status`; `callback` (the webhook call) is late (`slow`), twice, badly signed or never sent.
GRAMMAR = InjectionGrammar(
    phases=(
        PhaseSpec("submit", outcomes=NETWORK_OUTCOMES),
        PhaseSpec("status", outcomes=(*NETWORK_OUTCOMES, *JOB_OUTCOMES)),
        PhaseSpec("result", outcomes=NETWORK_OUTCOMES),
        PhaseSpec("download", outcomes=NETWORK_OUTCOMES),
        PhaseSpec("cancel", outcomes=NETWORK_OUTCOMES),
        PhaseSpec(CALLBACK_PHASE, outcomes=(SLOW, *CALLBACK_OUTCOMES), http=False),
    ),
    model_example="fal-ai/veo3",
)

#: Other backends' names for the same phases, so one `--emulator-inject poll:500` works across a mixed chain.
PHASE_ALIASES: Mapping[str, str] = {"poll": "status", "content": "download"}
#: Phases of other backends fal has no counterpart for (a model listing): such specs are not fal's.
FOREIGN_PHASES = frozenset({"models"})
#: The keys `--emulator-inject …` and `Router(emulator_options=…)` may carry (shared by every backend).
EMULATOR_OPTIONS = frozenset({"inject", "polls_before_completed", "polls_before_in_progress"})


@dataclass(frozen=True)
class FalInjection(_Injection):
    """One planned misbehaviour of the fal emulator, in the shared `PHASE:OUTCOME[:MODEL][xN]` grammar."""

    grammar = GRAMMAR


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves; the defaults follow fal's docs where they say anything.

    ``api_key``: when set, only ``Key <api_key>`` is accepted; otherwise any non-empty ``Key …`` is.
    ``polls_before_in_progress`` / ``polls_before_completed``: status looks answering IN_QUEUE, then
    IN_PROGRESS, before the request is COMPLETED.
    ``validate_on``: refuse bad inputs at ``submit`` (422 before queueing) or only on the ``result``
    (the request completes with the error, as a runner that validates late would do).
    ``answer_origin``: put ``status_url``/``response_url``/``cancel_url`` on this other origin, so a
    test can prove a client does not follow them with its key.

    Webhooks (a submit with ``?fal_webhook=URL``): when such a request ends, the emulator POSTs
    fal's ``{request_id, gateway_request_id, status, payload, error}`` to it, signed with
    ``webhook_key`` (an ``Ed25519PrivateKey``; one is generated when None) as fal signs, and
    publishes the public key at ``GET /.well-known/jwks.json`` (kid ``webhook_key_id``).
    ``webhook_user_id`` is the ``X-Fal-Webhook-User-Id`` it sends. ``callback_after``: seconds
    after submit at which such a request ends by itself (else it ends by status looks). Where
    the call goes: ``callback_transport`` (in-process), else ``callback_forward`` (an origin
    standing for the tunnel to a local receiver; the URL's path is kept), else the URL itself
    only when its host is loopback; never anywhere else. ``callback_sleep`` sleeps for
    ``callback_after`` and ``callback_slow_seconds`` (a fake clock's in tests).
    """

    api_key: str | None = field(default=None, repr=False)
    polls_before_in_progress: int = 1
    polls_before_completed: int = 2
    injections: Sequence[FalInjection] = ()
    validate_on: Literal["submit", "result"] = "submit"
    cdn_origin: str = CDN_ORIGIN
    answer_origin: str | None = None
    webhook_key: Ed25519PrivateKey | None = field(default=None, repr=False, compare=False)
    webhook_key_id: str = "fal-emulator-1"
    webhook_user_id: str = "emulator-user"
    callback_after: float | None = None
    callback_slow_seconds: float = 2.0
    callback_transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False, compare=False)
    callback_forward: str | None = None
    callback_sleep: Callable[[float], Awaitable[None]] | None = field(default=None, repr=False, compare=False)
    #: Wall-clock seconds for request times and webhook timestamps (`time.time` when None; a fake clock's in tests).
    clock: Callable[[], float] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.schedule()
        object.__setattr__(self, "injections", tuple(self.injections))
        if self.validate_on not in ("submit", "result"):
            raise ValueError(f"validate_on must be 'submit' or 'result', got {self.validate_on!r}")
        if (self.callback_after is not None and self.callback_after < 0) or self.callback_slow_seconds < 0:
            raise ValueError("callback_after and callback_slow_seconds must be >= 0 seconds")
        if self.callback_forward is not None and not self.callback_forward.lower().startswith(("http://", "https://")):
            raise ValueError(f"callback_forward must be an http(s):// origin, got {self.callback_forward!r}")

    def schedule(self) -> Schedule:
        return Schedule(self.polls_before_in_progress, self.polls_before_completed)


def _fal_spec(spec: str) -> str | None:
    """The spec in fal's phase names, or None when it is plainly another backend's (its model or phase)."""
    text = spec.strip()
    phase, sep, rest = text.partition(":")
    phase = phase.strip().lower()
    model = spec_model(text)
    if model is not None and catalog_entry(model) is None:
        return None  # a model this emulator does not serve (e.g. OpenRouter's google/veo-3.1)
    if phase in FOREIGN_PHASES:
        return None
    return f"{PHASE_ALIASES.get(phase, phase)}{sep}{rest}"


def parse_injections(specs: Sequence[str]) -> tuple[FalInjection, ...]:
    """fal's share of a chain's injections: specs for models it does not serve are left to their backend."""
    parsed = []
    for spec in specs:
        text = _fal_spec(str(spec))
        if text is None:
            continue
        try:
            injection = FalInjection.parse(text)
        except ValueError as exc:
            raise ConfigurationError(f"invalid emulator option: {exc}", provider=PROVIDER_NAME) from None
        assert isinstance(injection, FalInjection)
        parsed.append(injection)
    return tuple(parsed)


def config_from_options(options: Mapping[str, Any]) -> EmulatorConfig:
    """`inject` (PHASE:OUTCOME[:MODEL][xN] specs), `polls_before_completed`, `polls_before_in_progress`."""
    unknown = sorted(set(options) - EMULATOR_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"unknown emulator option(s) for fal: {', '.join(unknown)}; known: {', '.join(sorted(EMULATOR_OPTIONS))}",
            provider=PROVIDER_NAME,
        )
    defaults = EmulatorConfig()
    completed, in_progress = options.get("polls_before_completed"), options.get("polls_before_in_progress")
    try:
        polls_completed = int(completed) if completed is not None else defaults.polls_before_completed
        if in_progress is not None:
            polls_in_progress = int(in_progress)
        else:
            polls_in_progress = min(defaults.polls_before_in_progress, polls_completed)
        return EmulatorConfig(
            injections=parse_injections(list(options.get("inject") or ())),
            polls_before_completed=polls_completed,
            polls_before_in_progress=polls_in_progress,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"invalid emulator option: {exc}", provider=PROVIDER_NAME) from None
