"""The failure-injection grammar every emulator shares: ``PHASE:OUTCOME[:MODEL][xN]``.

A backend declares its phases (e.g. ``submit``, ``poll``, ``content``) and which named outcomes
each accepts; the outcomes themselves are defined here once:

- an HTTP status 400-599: the request is answered with that error;
- ``timeout``: no answer ever comes; ``drop``: the connection closes without an answer;
- ``garbage``: a 2xx answer whose body cannot be read; ``slow``: the normal answer, but late;
- ``failed``, ``cancelled``, ``expired``: the job ends so instead of completing (a *job outcome*,
  spent when a job would finish, not when a request arrives).
- ``duplicate``, ``bad_signature``, ``lost``: a webhook callback is sent twice, signed with the
  wrong secret, or never sent (``slow`` delays it); for a backend's ``callback`` phase.

``xN`` fires an injection N times, then the emulator behaves normally; without it the injection
fires on every match. It is split off the end first, and PHASE and OUTCOME off the first two
colons, so a model id may itself contain ``/`` or ``:``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

__all__ = [
    "DROP",
    "GARBAGE",
    "BAD_SIGNATURE",
    "CALLBACK_OUTCOMES",
    "DUPLICATE",
    "HTTP_STATUSES",
    "LOST",
    "JOB_OUTCOMES",
    "NETWORK_OUTCOMES",
    "SLOW",
    "TIMEOUT",
    "Injection",
    "InjectionGrammar",
    "Injector",
    "PhaseSpec",
    "spec_model",
    "specs_for",
]

TIMEOUT = "timeout"
DROP = "drop"
GARBAGE = "garbage"
SLOW = "slow"
#: Outcomes about the answer itself, not its status.
NETWORK_OUTCOMES: tuple[str, ...] = (TIMEOUT, DROP, GARBAGE, SLOW)
#: Outcomes that end a job instead of completing it.
JOB_OUTCOMES: tuple[str, ...] = ("failed", "cancelled", "expired")
DUPLICATE = "duplicate"
BAD_SIGNATURE = "bad_signature"
LOST = "lost"
#: Outcomes of a webhook callback the emulator sends (with ``slow``: sent late).
CALLBACK_OUTCOMES: tuple[str, ...] = (DUPLICATE, BAD_SIGNATURE, LOST)
#: The statuses an injection may answer with.
HTTP_STATUSES = range(400, 600)
_KNOWN = (*NETWORK_OUTCOMES, *JOB_OUTCOMES, *CALLBACK_OUTCOMES)
_TIMES = re.compile(r"^(?P<rest>.*)x(?P<times>\d+)$")
_PHASE_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class PhaseSpec:
    """One phase a backend can misbehave in: whether it takes HTTP statuses, which named outcomes, a MODEL."""

    name: str
    outcomes: tuple[str, ...] = ()
    http: bool = True
    takes_model: bool = True

    def __post_init__(self) -> None:
        if not _PHASE_NAME.match(self.name):
            raise ValueError(f"phase name {self.name!r} must be lowercase letters, digits, '-' or '_'")
        unknown = [o for o in self.outcomes if o not in _KNOWN]
        if unknown:
            raise ValueError(f"phase {self.name}: unknown outcomes {unknown}; allowed values: {', '.join(_KNOWN)}")
        if not self.http and not self.outcomes:
            raise ValueError(f"phase {self.name} accepts no outcome at all")


def _scope(phases: list[str], every: bool) -> str:
    if every:
        return "any phase"
    if len(phases) == 1:
        return f"{phases[0]} only"
    return ", ".join(phases)


@dataclass(frozen=True)
class InjectionGrammar:
    """The phases and outcomes one backend accepts; produces the help text and checks injections."""

    phases: tuple[PhaseSpec, ...]
    model_example: str = "vendor/model"
    _by_name: dict[str, PhaseSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.phases:
            raise ValueError("a grammar needs at least one phase")
        by_name = {p.name: p for p in self.phases}
        if len(by_name) != len(self.phases):
            raise ValueError("phase names must be unique")
        object.__setattr__(self, "_by_name", by_name)

    @property
    def phase_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.phases)

    def phase(self, name: str) -> PhaseSpec | None:
        return self._by_name.get(name)

    def outcomes_for(self, phase: str) -> tuple[str, ...]:
        spec = self._by_name[phase]
        return (*(("400-599",) if spec.http else ()), *spec.outcomes)

    def help(self) -> str:
        """One sentence naming every phase, outcome and rule; every parse error ends with it."""
        names = self.phase_names
        parts: list[str] = []
        http = [p.name for p in self.phases if p.http]
        if http:
            parts.append(f"an HTTP status 400-599 ({_scope(http, len(http) == len(names))})")
        groups: dict[tuple[str, ...], list[str]] = {}
        for outcome in _KNOWN:
            where = tuple(p.name for p in self.phases if outcome in p.outcomes)
            if where:
                groups.setdefault(where, []).append(outcome)
        for where, outcomes in groups.items():
            parts.append(f"for {_scope(list(where), len(where) == len(names))}, one of {', '.join(outcomes)}")
        no_model = [p.name for p in self.phases if not p.takes_model]
        model_rule = f"MODEL is an optional model id (e.g. {self.model_example})"
        if no_model:
            model_rule += f", not taken by {', '.join(no_model)}"
        return (
            "expected PHASE:OUTCOME[:MODEL][xN] where PHASE is one of "
            + ", ".join(names)
            + "; OUTCOME is "
            + " or, ".join(parts)
            + f"; {model_rule}; xN fires the injection N times (N >= 1)"
        )

    def check(self, phase: str, outcome: int | str, model: str | None, times: int | None) -> int | str:
        """The normalised outcome (digits become an int status), or ValueError naming the part and the rules."""
        spec = self._by_name.get(phase)
        if spec is None:
            raise ValueError(f"unknown phase {phase!r}; {self.help()}")
        if isinstance(outcome, str) and outcome.isdigit():
            outcome = int(outcome)
        if isinstance(outcome, bool) or not isinstance(outcome, int | str):
            raise ValueError(f"outcome {outcome!r} is not allowed; {self.help()}")
        if isinstance(outcome, int):
            if outcome not in HTTP_STATUSES:
                raise ValueError(f"outcome {outcome!r} is not allowed; {self.help()}")
            if not spec.http:
                raise ValueError(f"outcome {outcome!r} is not allowed for phase {phase}; {self.help()}")
        elif outcome not in spec.outcomes:
            raise ValueError(f"outcome {outcome!r} is not allowed for phase {phase}; {self.help()}")
        if model is not None and not model:
            raise ValueError(f"the model is empty; {self.help()}")
        if model is not None and not spec.takes_model:
            raise ValueError(f"{phase} injections take no MODEL (there is none to match); {self.help()}")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise ValueError(f"times {times!r} must be >= 1; {self.help()}")
        return outcome


@dataclass(frozen=True)
class Injection:
    """One planned misbehaviour. Backends subclass it with their ``grammar``; the checks run on construction.

    ``model=None`` matches every model; ``times=None`` fires on every match.
    """

    grammar: ClassVar[InjectionGrammar]

    phase: str
    outcome: int | str
    model: str | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        grammar = getattr(type(self), "grammar", None)
        if grammar is None:
            raise TypeError(f"{type(self).__name__} has no grammar: subclass Injection and set `grammar`")
        object.__setattr__(self, "outcome", grammar.check(self.phase, self.outcome, self.model, self.times))

    @property
    def status_code(self) -> int | None:
        """The HTTP status to answer with, or None for any other outcome."""
        return self.outcome if isinstance(self.outcome, int) else None

    @property
    def job_outcome(self) -> str | None:
        """``failed``, ``cancelled`` or ``expired`` for a job outcome, else None."""
        return self.outcome if self.outcome in JOB_OUTCOMES else None

    @property
    def terminal_status(self) -> str | None:
        """Alias of ``job_outcome``: the terminal job status this injection forces."""
        return self.job_outcome

    @property
    def network_outcome(self) -> str | None:
        """``timeout``, ``drop``, ``garbage`` or ``slow``, else None."""
        return self.outcome if self.outcome in NETWORK_OUTCOMES else None

    @property
    def callback_outcome(self) -> str | None:
        """``duplicate``, ``bad_signature`` or ``lost`` for a callback outcome, else None."""
        return self.outcome if self.outcome in CALLBACK_OUTCOMES else None

    def matches(self, phase: str, model: str | None) -> bool:
        return self.phase == phase and (self.model is None or self.model == model)

    @classmethod
    def parse(cls, spec: str) -> Injection:
        """Parse ``PHASE:OUTCOME[:MODEL][xN]`` (e.g. ``poll:500x1``, ``submit:402:google/veo-3.1``)."""
        grammar = cls.grammar
        text = spec.strip()
        times: int | None = None
        match = _TIMES.match(text)
        if match:
            text, times = match["rest"], int(match["times"])
        parts = text.split(":", 2)
        if len(parts) < 2:
            raise ValueError(f"invalid injection {spec!r}: {grammar.help()}")
        phase, outcome = parts[0].strip().lower(), parts[1].strip().lower()
        model = parts[2].strip() if len(parts) == 3 else None
        # Construction and parsing share the checks; parsing adds the spec to the message.
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


InjectionT = TypeVar("InjectionT", bound=Injection)


@dataclass
class _Armed(Generic[InjectionT]):
    injection: InjectionT
    remaining: int | None


class Injector(Generic[InjectionT]):
    """Armed injections: the first that matches a request fires and spends one of its firings.

    Request injections (statuses, network outcomes) and job outcomes are taken separately: a
    request asks ``take(phase, model)``, a job about to finish asks ``take(phase, model, job=True)``.
    ``fired`` lists every firing in order, for tests.
    """

    def __init__(self, injections: Iterable[InjectionT] = ()) -> None:
        self._configured = tuple(injections)
        self._armed: list[_Armed[InjectionT]] = []
        self.fired: list[InjectionT] = []
        self.reset()

    def take(self, phase: str, model: str | None = None, *, job: bool = False) -> InjectionT | None:
        for armed in self._armed:
            injection = armed.injection
            if (injection.job_outcome is not None) != job or not injection.matches(phase, model):
                continue
            if armed.remaining is not None:
                if armed.remaining <= 0:
                    continue
                armed.remaining -= 1
            self.fired.append(injection)
            return injection
        return None

    def add(self, injection: InjectionT) -> None:
        """Arm one more injection, after the others."""
        self._armed.append(_Armed(injection, injection.times))

    def reset(self) -> None:
        """Re-arm the configured injections; added ones and the firing history are forgotten."""
        self._armed = [_Armed(i, i.times) for i in self._configured]
        self.fired.clear()

    @property
    def armed(self) -> list[tuple[InjectionT, int | None]]:
        """Each injection with its firings left (None: unlimited)."""
        return [(a.injection, a.remaining) for a in self._armed]


def spec_model(spec: str) -> str | None:
    """The MODEL part of `PHASE:OUTCOME[:MODEL][xN]`, split the way the grammar splits it, without knowing
    the backend's phases (a spec may be another backend's)."""
    text = spec.strip()
    head, sep, times = text.rpartition("x")
    if sep and times.isdigit():
        text = head
    parts = text.split(":", 2)
    return (parts[2].strip() or None) if len(parts) == 3 else None


def specs_for(specs: Iterable[object], serves: Callable[[str], bool]) -> list[str]:
    """The specs meant for one backend in a chain that mixes backends: every emulator sees every
    `--emulator-inject` spec, and one naming a model the backend does not serve is another's."""
    kept = []
    for spec in map(str, specs):
        model = spec_model(spec)
        if model is None or serves(model):
            kept.append(spec)
    return kept
