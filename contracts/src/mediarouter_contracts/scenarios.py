"""Scenarios: how a backend behaves over one job, independent of any wire format.

A `Scenario` says, for each phase of a job (submit, every poll, download, model listing),
what the backend answers, request by request: a normal answer (`Ok`), an HTTP error, a
malformed or truncated body, a connection error or a slow answer. It also fixes the status
path the polls report, the output bytes, the cost, and where the download URLs point.

The scenario decides *behaviour*; a plugin's `WireAdapter` only turns each decision into
its wire format. Every class has a short `repr` so a shrunk counterexample reads as a story.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal, TypeAlias

__all__ = [
    "Pretty",
    "Phase",
    "PHASES",
    "JSON_PHASES",
    "StatusName",
    "RUNNING_STATUSES",
    "TERMINAL_STATUSES",
    "FAILURE_STATUSES",
    "MalformedKind",
    "JSON_MALFORMED",
    "DOWNLOAD_MALFORMED",
    "MutationKind",
    "Ok",
    "HttpError",
    "Malformed",
    "Truncated",
    "ConnectError",
    "Delay",
    "Mutated",
    "Outcome",
    "OK",
    "Script",
    "Scenario",
    "DEFAULT_VIDEO",
    "FOREIGN_ORIGIN",
    "KIT_PATH",
]

#: The four kinds of request a video backend answers.
Phase = Literal["submit", "poll", "download", "models"]
PHASES: tuple[Phase, ...] = ("submit", "poll", "download", "models")
#: Phases whose normal answer is a JSON document (download is the video's bytes).
JSON_PHASES: tuple[Phase, ...] = ("submit", "poll", "models")

#: Provider-neutral job states (`mediarouter.JobState` values); the adapter maps them to its own words.
StatusName = Literal["pending", "in_progress", "completed", "failed", "cancelled", "expired"]
RUNNING_STATUSES: tuple[StatusName, ...] = ("pending", "in_progress")
TERMINAL_STATUSES: tuple[StatusName, ...] = ("completed", "failed", "cancelled", "expired")
FAILURE_STATUSES: tuple[StatusName, ...] = ("failed", "cancelled", "expired")

#: Bodies that are certainly broken. The kit builds them from the normal answer (same status code).
MalformedKind = Literal["not_json", "html", "empty", "wrong_json_type", "empty_object", "json_body"]
JSON_MALFORMED: tuple[MalformedKind, ...] = ("not_json", "html", "empty", "wrong_json_type", "empty_object")
DOWNLOAD_MALFORMED: tuple[MalformedKind, ...] = ("json_body", "html", "empty", "wrong_json_type")

#: Field-level damage to a normal JSON answer: a field dropped, set to null, or given another type.
MutationKind = Literal["drop", "null", "retype"]

#: Where download URLs point when a scenario sends them elsewhere: a host that must never see the key.
FOREIGN_ORIGIN = "https://cdn.contract-foreign.test"
#: Path prefix of the URLs the kit itself makes (signed URLs, redirect targets); the kit routes them.
KIT_PATH = "/__contract__/"

#: A tiny MP4-looking body (an `ftyp` box and some bytes): what a completed job's output is by default.
DEFAULT_VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(64))


def _seconds(value: float) -> str:
    return f"{value:g}s"


class Pretty:
    """Hypothesis prints counterexamples with its pretty printer; make it use our short `repr`."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@dataclass(frozen=True)
class Ok(Pretty):
    """The backend answers normally."""

    def __repr__(self) -> str:
        return "Ok"


#: The one `Ok` everybody shares.
OK = Ok()


@dataclass(frozen=True)
class HttpError(Pretty):
    """An HTTP error status with the server's own message (and optionally a Retry-After header, in seconds)."""

    status: int
    message: str = "something went wrong"
    retry_after: int | None = None

    def __repr__(self) -> str:
        text = f"HTTP {self.status} {self.message!r}"
        if self.retry_after is not None:
            text += f" (Retry-After: {self.retry_after})"
        return text


@dataclass(frozen=True)
class Malformed(Pretty):
    """The normal status code with a broken body (see `MalformedKind`)."""

    kind: MalformedKind

    def __repr__(self) -> str:
        return f"Malformed({self.kind})"


@dataclass(frozen=True)
class Truncated(Pretty):
    """The normal answer, cut in half: the connection closed early."""

    def __repr__(self) -> str:
        return "Truncated"


@dataclass(frozen=True)
class ConnectError(Pretty):
    """The connection could not be made: the request never reached the server."""

    def __repr__(self) -> str:
        return "ConnectError"


@dataclass(frozen=True)
class Delay(Pretty):
    """The normal answer, after `seconds` of (fake) time: a slow server."""

    seconds: float

    def __repr__(self) -> str:
        return f"Delay({_seconds(self.seconds)})"


@dataclass(frozen=True)
class Mutated(Pretty):
    """The normal JSON answer with one node damaged; `pick` chooses which (modulo the number of nodes).

    Unlike `Malformed`, the damage may be harmless (an optional field dropped), so the rule is only
    that the provider never crashes on it: it succeeds or raises a core error.
    """

    how: MutationKind
    pick: int = 0

    def __repr__(self) -> str:
        return f"Mutated({self.how} node #{self.pick})"


Outcome: TypeAlias = Ok | HttpError | Malformed | Truncated | ConnectError | Delay | Mutated


@dataclass(frozen=True)
class Script(Pretty):
    """What one phase answers, request by request: `first` in order, then `then` for ever."""

    first: tuple[Outcome, ...] = ()
    then: Outcome = OK

    def at(self, n: int) -> Outcome:
        """The outcome of the n-th request of this phase (0-based)."""
        return self.first[n] if n < len(self.first) else self.then

    @classmethod
    def always(cls, outcome: Outcome) -> Script:
        return cls(then=outcome)

    @property
    def is_ok(self) -> bool:
        return not self.first and isinstance(self.then, Ok)

    def outcomes(self) -> tuple[Outcome, ...]:
        return (*self.first, self.then)

    def __repr__(self) -> str:
        if not self.first:
            return repr(self.then) if isinstance(self.then, Ok) else f"always {self.then!r}"
        listed = ", ".join(repr(o) for o in self.first)
        return f"[{listed}] then {self.then!r}"


@dataclass(frozen=True)
class Scenario(Pretty):
    """How a backend behaves over one job.

    - `submit`, `polls`, `download`, `models`: what each phase answers, request by request.
    - `statuses`: the job state each *readable* poll reports, in order; the last one repeats.
      A submit that is accepted always reports `pending`.
    - `outputs`: the bytes of each output; `cost`: what the backend reports for a completed job.
    - `job_error`: the server's message for a failed, cancelled or expired job.
    - `download_origin`: whether the completed job's download URLs are on the provider's origin or on
      `FOREIGN_ORIGIN`; `signed_urls`: whether they are credential-free (pre-signed) URLs.
    - `redirect_download`: the provider's own download endpoint answers 302 to a foreign host.
    - `extra_fields`: every JSON object answered carries an extra, unknown field (APIs add fields).
    """

    job_id: str = "job-1"
    submit: Script = field(default_factory=Script)
    polls: Script = field(default_factory=Script)
    statuses: tuple[StatusName, ...] = ("pending", "completed")
    download: Script = field(default_factory=Script)
    models: Script = field(default_factory=Script)
    outputs: tuple[bytes, ...] = (DEFAULT_VIDEO,)
    cost: Decimal | None = Decimal("0.40")
    job_error: str | None = None
    download_origin: Literal["provider", "foreign"] = "provider"
    signed_urls: bool = False
    redirect_download: bool = False
    extra_fields: bool = False

    def __post_init__(self) -> None:
        if not self.statuses:
            raise ValueError("a scenario needs at least one status")
        if not self.outputs:
            raise ValueError("a scenario needs at least one output")

    def status_at(self, n: int) -> StatusName:
        """The state reported by the n-th readable poll (0-based); the last state repeats."""
        return self.statuses[min(n, len(self.statuses) - 1)]

    @property
    def final_status(self) -> StatusName:
        return self.statuses[-1]

    @property
    def terminal(self) -> bool:
        """Whether the status path ever reaches a terminal state."""
        return self.final_status in TERMINAL_STATUSES

    def script(self, phase: Phase) -> Script:
        return {"submit": self.submit, "poll": self.polls, "download": self.download, "models": self.models}[phase]

    def with_script(self, phase: Phase, script: Script) -> Scenario:
        """This scenario with `phase` answering as `script` says."""
        if phase == "submit":
            return replace(self, submit=script)
        if phase == "poll":
            return replace(self, polls=script)
        if phase == "download":
            return replace(self, download=script)
        return replace(self, models=script)

    def outcomes(self) -> tuple[Outcome, ...]:
        """Every outcome any phase may answer."""
        return (*self.submit.outcomes(), *self.polls.outcomes(), *self.download.outcomes(), *self.models.outcomes())

    def __repr__(self) -> str:
        parts = [f"job={self.job_id!r}"]
        for name, script in (
            ("submit", self.submit),
            ("polls", self.polls),
            ("download", self.download),
            ("models", self.models),
        ):
            if not script.is_ok:
                parts.append(f"{name}={script!r}")
        parts.append("statuses=" + "→".join(self.statuses))
        if self.job_error is not None:
            parts.append(f"job_error={self.job_error!r}")
        if self.download_origin != "provider" or self.signed_urls:
            parts.append(f"urls={self.download_origin}{'+signed' if self.signed_urls else ''}")
        if self.redirect_download:
            parts.append("redirect_download")
        if self.extra_fields:
            parts.append("extra_fields")
        if self.outputs != (DEFAULT_VIDEO,):
            parts.append("outputs=[" + ", ".join(_describe_bytes(o) for o in self.outputs) + "]")
        parts.append(f"cost={self.cost}")
        return "Scenario(" + ", ".join(parts) + ")"

    def describe(self) -> str:
        """A few lines for assertion messages."""
        lines = [
            f"job id {self.job_id!r}; statuses {' → '.join(self.statuses)}"
            + (f" (server message {self.job_error!r})" if self.job_error else ""),
            f"submit: {self.submit!r}; polls: {self.polls!r}; download: {self.download!r}; models: {self.models!r}",
            f"outputs: {', '.join(_describe_bytes(o) for o in self.outputs)}; cost: {self.cost}; "
            f"download URLs on the {self.download_origin} origin{' (signed)' if self.signed_urls else ''}"
            + ("; provider download redirects to a foreign host" if self.redirect_download else "")
            + ("; unknown extra fields in every JSON answer" if self.extra_fields else ""),
        ]
        return "\n".join(lines)


def _describe_bytes(data: bytes) -> str:
    return f"<{len(data)} bytes sha256:{hashlib.sha256(data).hexdigest()[:8]}>"
