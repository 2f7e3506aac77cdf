"""Emulator settings and failure injections.

Kept free of starlette, uvicorn and PyAV so the CLI can parse its options (and report a
missing extra cleanly) before any of them is imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "EMULATOR_BASE_URL",
    "PHASES",
    "POLL_TERMINALS",
    "EmulatorConfig",
    "Injection",
    "Phase",
]

#: What in-process clients use as their base URL; the host part never resolves, it only names the origin.
EMULATOR_BASE_URL = "http://openrouter.emulator/api/v1"

Phase = Literal["submit", "poll", "content", "models"]
PHASES: tuple[Phase, ...] = ("submit", "poll", "content", "models")
#: Terminal statuses a `poll` injection can force instead of `completed`.
POLL_TERMINALS: tuple[str, ...] = ("failed", "cancelled", "expired")

_SPEC_HELP = (
    "expected PHASE:OUTCOME[:MODEL][xN] where PHASE is one of "
    + ", ".join(PHASES)
    + "; OUTCOME is an HTTP status 400-599 (any phase) or, for poll only, one of "
    + ", ".join(POLL_TERMINALS)
    + "; MODEL is an optional model id (e.g. google/veo-3.1); xN fires the injection N times (N >= 1)"
)
_TIMES = re.compile(r"^(?P<rest>.*)x(?P<times>\d+)$")


@dataclass(frozen=True)
class Injection:
    """One planned misbehaviour: answer a phase with an HTTP error, or end a job in a failure state.

    ``times=None`` fires on every match; otherwise the emulator fires it that many times and then
    behaves normally. ``model=None`` matches every model.
    """

    phase: Phase
    outcome: int | str
    model: str | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"unknown phase {self.phase!r}; {_SPEC_HELP}")
        outcome: int | str = self.outcome
        if isinstance(outcome, str) and outcome.isdigit():
            outcome = int(outcome)
        if isinstance(outcome, bool) or not isinstance(outcome, int | str):
            raise ValueError(f"outcome {self.outcome!r} is not allowed; {_SPEC_HELP}")
        if isinstance(outcome, int):
            if not 400 <= outcome <= 599:
                raise ValueError(f"outcome {self.outcome!r} is not allowed; {_SPEC_HELP}")
        elif self.phase != "poll" or outcome not in POLL_TERMINALS:
            raise ValueError(f"outcome {self.outcome!r} is not allowed for phase {self.phase}; {_SPEC_HELP}")
        object.__setattr__(self, "outcome", outcome)
        if self.model is not None and not self.model:
            raise ValueError(f"the model is empty; {_SPEC_HELP}")
        if self.model is not None and self.phase == "models":
            raise ValueError(f"models injections take no MODEL (the listing has none to match); {_SPEC_HELP}")
        if self.times is not None and (isinstance(self.times, bool) or self.times < 1):
            raise ValueError(f"times {self.times!r} must be >= 1; {_SPEC_HELP}")

    @property
    def status_code(self) -> int | None:
        """The HTTP status to answer with, or None for a terminal-status injection."""
        return self.outcome if isinstance(self.outcome, int) else None

    @property
    def terminal_status(self) -> str | None:
        """The terminal job status to force, or None for an HTTP-status injection."""
        return self.outcome if isinstance(self.outcome, str) else None

    def matches(self, phase: str, model: str | None) -> bool:
        return self.phase == phase and (self.model is None or self.model == model)

    @classmethod
    def parse(cls, spec: str) -> Injection:
        """Parse ``PHASE:OUTCOME[:MODEL][xN]`` (e.g. ``poll:500x1``, ``submit:402:google/veo-3.1``).

        The trailing ``xN`` is split off first, then PHASE and OUTCOME on the first two colons, so
        a model id may itself contain ``/`` or ``:``.
        """
        text = spec.strip()
        times: int | None = None
        match = _TIMES.match(text)
        if match:
            text, times = match["rest"], int(match["times"])
        parts = text.split(":", 2)
        if len(parts) < 2:
            raise ValueError(f"invalid injection {spec!r}: {_SPEC_HELP}")
        phase, outcome = parts[0].strip().lower(), parts[1].strip().lower()
        model = parts[2].strip() if len(parts) == 3 else None
        if phase not in PHASES:
            raise ValueError(f"invalid injection {spec!r}: unknown phase {phase!r}; {_SPEC_HELP}")
        # Direct construction and parsing share the checks; parsing adds the spec to the message.
        try:
            return cls(phase, outcome, model, times)
        except ValueError as exc:
            raise ValueError(f"invalid injection {spec!r}: {exc}") from None

    def spec(self) -> str:
        """The ``PHASE:OUTCOME[:MODEL][xN]`` text that parses back to this injection."""
        text = f"{self.phase}:{self.outcome}"
        if self.model is not None:
            text += f":{self.model}"
        if self.times is not None:
            text += f"x{self.times}"
        return text


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
    clock: Callable[[], float] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.polls_before_in_progress < 0 or self.polls_before_completed < 0:
            raise ValueError("poll counts must be >= 0")
        if self.polls_before_completed < self.polls_before_in_progress:
            raise ValueError(
                f"polls_before_completed ({self.polls_before_completed}) must be >= "
                f"polls_before_in_progress ({self.polls_before_in_progress})"
            )
        if self.signed_url_ttl < 0 or self.retry_after < 0:
            raise ValueError("signed_url_ttl and retry_after must be >= 0")
        if self.outputs_per_job < 1:
            raise ValueError("outputs_per_job must be >= 1")
        object.__setattr__(self, "injections", tuple(self.injections))
        if self.api_key is not None and not self.api_key:
            object.__setattr__(self, "api_key", None)
