"""Emulator settings and failure injections.

Kept free of starlette, uvicorn and PyAV so the CLI can parse its options (and report a
missing extra cleanly) before any of them is imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from mediarouter.emulation.injection import CALLBACK_OUTCOMES, JOB_OUTCOMES, SLOW, InjectionGrammar, PhaseSpec
from mediarouter.emulation.injection import Injection as _Injection
from mediarouter.emulation.jobs import Schedule

__all__ = [
    "EMULATOR_BASE_URL",
    "GRAMMAR",
    "CALLBACK_FAULTS",
    "CALLBACK_PHASE",
    "PHASES",
    "POLL_TERMINALS",
    "EmulatorConfig",
    "Injection",
    "Phase",
]

#: What in-process clients use as their base URL; the host part never resolves, it only names the origin.
EMULATOR_BASE_URL = "http://openrouter.emulator/api/v1"

Phase = Literal["submit", "poll", "content", "models", "chat", "callback"]
#: The phases of requests the emulator answers (each takes an HTTP status); `chat` is `POST /chat/completions`.
PHASES: tuple[Phase, ...] = ("submit", "poll", "content", "models", "chat")
#: The webhook call the emulator makes itself (no HTTP status to answer with).
CALLBACK_PHASE: Phase = "callback"
#: Terminal statuses a `poll` injection can force instead of `completed`.
POLL_TERMINALS: tuple[str, ...] = JOB_OUTCOMES
#: What a `callback` injection can do to the webhook call: late, twice, badly signed, never.
CALLBACK_FAULTS: tuple[str, ...] = (SLOW, *CALLBACK_OUTCOMES)

#: OpenRouter's phases: HTTP statuses on requests, job outcomes on poll, no MODEL for the model
#: listing; `chat` is `POST /chat/completions` (video understanding); `callback` is the webhook call
#: the emulator makes (no status to answer with).
GRAMMAR = InjectionGrammar(
    phases=(
        PhaseSpec("submit"),
        PhaseSpec("poll", outcomes=POLL_TERMINALS),
        PhaseSpec("content"),
        PhaseSpec("models", takes_model=False),
        PhaseSpec(CALLBACK_PHASE, outcomes=CALLBACK_FAULTS, http=False),
        PhaseSpec("chat"),
    ),
    model_example="google/veo-3.1",
)


@dataclass(frozen=True)
class Injection(_Injection):
    """One planned misbehaviour: answer a phase with an HTTP error, or end a job in a failure state.

    ``times=None`` fires on every match; otherwise the emulator fires it that many times and then
    behaves normally. ``model=None`` matches every model. The grammar is the shared one
    (:mod:`mediarouter.emulation.injection`) with OpenRouter's phases.
    """

    grammar = GRAMMAR

    phase: Phase
    outcome: int | str
    model: str | None = None
    times: int | None = None

    @classmethod
    def parse(cls, spec: str) -> Injection:
        """Parse ``PHASE:OUTCOME[:MODEL][xN]`` (e.g. ``poll:500x1``, ``submit:402:google/veo-3.1``)."""
        parsed = super().parse(spec)
        assert isinstance(parsed, Injection)
        return parsed


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves. The defaults follow the real API where it is documented.

    ``api_key``: when set, only this bearer is accepted; otherwise any non-empty bearer is. The
    emulator's state keeps only a digest of it.
    ``polls_before_in_progress`` / ``polls_before_completed``: the first N polls answer
    ``pending``, polls up to M in total answer ``in_progress``, the next one the terminal status.
    ``signed_urls``: completed jobs also carry credential-free ``urls`` and ``expires_at``.
    ``absolute_polling_url``: return an absolute ``polling_url`` (live API) instead of the
    relative one the docs show.
    ``foreign_download_host``: put ``unsigned_urls`` on this other origin, which serves downloads
    without auth, so tests can check a client never sends its key off the API origin.
    ``models``: the listing and validation source; the built-in catalog when None.
    ``clock``: wall-clock seconds, used for job ids, ``expires_at`` and callback signatures.

    Webhooks (a submit with ``callback_url``): when such a job ends, the emulator POSTs the
    ``video.generation.<status>`` envelope to it, signed with ``callback_secret`` (unsigned when
    None, like a workspace without a signing secret). ``callback_after``: seconds after submit
    when such a job ends by itself (None: it ends by polls like any job). Where the call goes:
    through ``callback_transport`` (in-process, e.g. an ``httpx.ASGITransport`` to a receiver);
    else to ``callback_forward`` (an origin such as ``http://127.0.0.1:8787`` standing for the
    tunnel in front of a local receiver; the callback URL's path is kept); else to the callback
    URL itself only when its host is loopback. Any other host is never called (the journal in
    ``EmulatorState.webhooks.calls`` says so). ``callback_sleep`` sleeps for ``callback_after`` and
    for ``slow`` callbacks (``callback_slow_seconds``); a fake clock's sleep in tests.
    ``chat_models``: the `GET /models` listing of chat models (the video chat catalog when None).
    ``chat_max_body_bytes``: a chat completion body over it answers 413 (the live API documents
    no limit for chat; this stands for a provider's).
    ``clock``: wall-clock seconds, used for job ids and ``expires_at``.
    """

    api_key: str | None = field(default=None, repr=False)
    polls_before_in_progress: int = 1
    polls_before_completed: int = 2
    injections: Sequence[Injection] = ()
    signed_urls: bool = False
    signed_url_ttl: int = 3600
    absolute_polling_url: bool = False
    retry_after: int = 1
    foreign_download_host: str | None = None
    outputs_per_job: int = 1
    models: tuple[dict[str, Any], ...] | None = field(default=None, repr=False)
    chat_models: tuple[dict[str, Any], ...] | None = field(default=None, repr=False)
    chat_max_body_bytes: int = 50 * 1024 * 1024
    clock: Callable[[], float] | None = field(default=None, repr=False, compare=False)
    callback_secret: SecretStr | None = field(default=None, repr=False)
    callback_after: float | None = None
    callback_slow_seconds: float = 2.0
    callback_transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False, compare=False)
    callback_forward: str | None = None
    callback_sleep: Callable[[float], Awaitable[None]] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.schedule()  # the shared schedule checks the poll counts
        if isinstance(self.callback_secret, str):
            secret = self.callback_secret
            object.__setattr__(self, "callback_secret", SecretStr(secret) if secret else None)
        if (self.callback_after is not None and self.callback_after < 0) or self.callback_slow_seconds < 0:
            raise ValueError("callback_after and callback_slow_seconds must be >= 0 seconds")
        if self.callback_forward is not None and not self.callback_forward.lower().startswith(("http://", "https://")):
            raise ValueError(f"callback_forward must be an http(s):// origin, got {self.callback_forward!r}")
        if self.signed_url_ttl < 0 or self.retry_after < 0:
            raise ValueError("signed_url_ttl and retry_after must be >= 0")
        if self.outputs_per_job < 1:
            raise ValueError("outputs_per_job must be >= 1")
        object.__setattr__(self, "injections", tuple(self.injections))
        if self.api_key is not None and not self.api_key:
            object.__setattr__(self, "api_key", None)

    def schedule(self) -> Schedule:
        """The job schedule these poll counts describe."""
        return Schedule(self.polls_before_in_progress, self.polls_before_completed)
