"""One error taxonomy for every provider.

Every error carries enough context (provider, model, HTTP status, job id, the server's own
message and a hint) for a host app to decide what to do and for a person to fix it. The
class says *what kind* of failure it was; failover and exit codes key off the class.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .results import Attempt

__all__ = [
    "held_elsewhere",
    "MediaRouterError",
    "ConfigurationError",
    "UnknownProvider",
    "OutputNotSaved",
    "InvalidRequest",
    "CapabilityMismatch",
    "BudgetExceeded",
    "PayloadTooLarge",
    "AuthenticationFailed",
    "PermissionDenied",
    "InsufficientCredits",
    "NotFound",
    "Conflict",
    "RateLimited",
    "ProviderUnavailable",
    "ProtocolError",
    "JobError",
    "JobFailed",
    "JobCancelled",
    "JobExpired",
    "OutputGone",
    "JobTimeout",
    "SubmitUnknown",
    "CancelNotSupported",
    "AllCandidatesFailed",
    "paid_not_saved",
]


class MediaRouterError(Exception):
    """Base of every error mediarouter raises on purpose."""

    #: Whether trying the same operation again may succeed (used for polls and downloads).
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        job_id: str | None = None,
        server_message: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        self.status_code = status_code
        self.job_id = job_id
        self.server_message = server_message
        self.hint = hint
        self.retry_after = retry_after
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        parts = [self.message]
        if self.server_message and self.server_message not in self.message:
            parts.append(f"server said: {self.server_message}")
        context = []
        if self.provider:
            context.append(f"provider={self.provider}")
        if self.model:
            context.append(f"model={self.model}")
        if self.status_code is not None:
            context.append(f"status={self.status_code}")
        if self.job_id:
            context.append(f"job={self.job_id}")
        text = " — ".join(parts)
        if context:
            text += f" ({', '.join(context)})"
        if self.hint:
            text += f". {self.hint}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, job_id={self.job_id!r})"

    def with_context(self, **context: Any) -> MediaRouterError:
        """Fill in context fields that are still unset (the engine knows the job id, the provider may not)."""
        for key, value in context.items():
            if value is not None and getattr(self, key, None) is None:
                setattr(self, key, value)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form for `--json` output and journals."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "provider": self.provider,
            "model": self.model,
            "status_code": self.status_code,
            "job_id": self.job_id,
            "server_message": self.server_message,
            "hint": self.hint,
            "retry_after": self.retry_after,
        }


class ConfigurationError(MediaRouterError):
    """Local setup is wrong (missing key, bad setting); nothing was sent."""


class OutputNotSaved(ConfigurationError):
    """The paid video was downloaded but could not be written to the requested path.

    It is kept in the journal's `outputs/` directory (`details["saved_to"]`) and journaled there;
    nothing is lost and nothing needs to be paid again. When it can be written nowhere (a full disk,
    no writable directory), its bytes stay in their part file (`details["part_file"]`), which
    `mediarouter jobs download JOB_ID -o FILE` continues.
    """


class UnknownProvider(ConfigurationError):
    """A model ref names a provider plugin that is not installed."""


class InvalidRequest(MediaRouterError):
    """The request is malformed or not accepted (HTTP 400, or refused locally)."""


class CapabilityMismatch(InvalidRequest):
    """The request asks for something the model does not support; found locally, before any request."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        supported: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.field = field
        self.value = value
        self.supported = supported

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update(field=self.field, value=self.value, supported=self.supported)
        return data


class BudgetExceeded(InvalidRequest):
    """A candidate's estimated cost is over `max_cost` (or unknown); found locally, before any request."""

    def __init__(
        self,
        message: str,
        *,
        max_cost: Decimal | None = None,
        estimates: dict[str, Decimal | None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.max_cost = max_cost
        #: ref → estimated USD (None: the price is unknown).
        self.estimates: dict[str, Decimal | None] = dict(estimates or {})

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update(
            max_cost=f"{self.max_cost:f}" if self.max_cost is not None else None,
            estimates={ref: f"{v:f}" if v is not None else None for ref, v in self.estimates.items()},
        )
        return data


class PayloadTooLarge(InvalidRequest):
    """HTTP 413: the request body is over the provider's limit."""


class AuthenticationFailed(MediaRouterError):
    """HTTP 401: the key is missing, invalid or disabled."""


class PermissionDenied(AuthenticationFailed):
    """HTTP 403: the key lacks permission, or a guardrail or moderation blocked the request."""


class InsufficientCredits(MediaRouterError):
    """HTTP 402: not enough credits; add credits, waiting will not help."""


class NotFound(MediaRouterError):
    """HTTP 404: unknown model or unknown job id."""


class Conflict(MediaRouterError):
    """HTTP 409: the job or its output is not in a state that allows this yet."""

    retryable = True


def held_elsewhere(error: BaseException) -> bool:
    """A Conflict because another live call or process holds this job (its lease: it is polling and
    downloading it) or this key's submit (it is sending it right now): nothing was sent, and waiting for that
    call is the remedy. A key held by a submit of unknown outcome (`ambiguous_submit`) is not: that one may
    have created a job nobody is finishing."""
    if not isinstance(error, Conflict) or error.details.get("ambiguous_submit"):
        return False
    return bool(error.details.get("lease")) or error.details.get("holder_pid") is not None


class RateLimited(MediaRouterError):
    """HTTP 429: too many requests; `retry_after` says how long the server asked us to wait."""

    retryable = True


class ProviderUnavailable(MediaRouterError):
    """HTTP 5xx or a network failure: the backend could not serve right now."""

    retryable = True

    def __init__(self, message: str, *, sent: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        #: False only when the request provably never reached the server (connect failed).
        self.sent = sent


class ProtocolError(MediaRouterError):
    """The provider answered with something malformed or unexpected."""


class JobError(MediaRouterError):
    """The job reached a terminal state other than completed."""


class JobFailed(JobError):
    """Terminal `failed`: the server's message says why."""


class JobCancelled(JobError):
    """Terminal `cancelled`: by the caller or upstream."""


class JobExpired(JobError):
    """Terminal `expired`: the job or its output expired before it was retrieved."""


class OutputGone(JobExpired):
    """HTTP 410 on download: the output is no longer available."""


class JobTimeout(MediaRouterError):
    """The overall deadline passed. The job may still be running (and billed): resume it by id."""


class SubmitUnknown(MediaRouterError):
    """The submit may have reached the server, and no readable answer came back: a job may exist and be billed.

    Never retried and never failed over (that could pay twice). The journal keeps the row as
    `unknown`, holding its idempotency key; `mediarouter jobs list` shows it with what to do:
    check the provider's dashboard, then `mediarouter jobs adopt KEY JOB_ID` or `jobs forget KEY`.
    `status_code` and `server_message` are what did come back (a 5xx, an unreadable 2xx), if anything.
    """


class CancelNotSupported(MediaRouterError):
    """The provider has no way to cancel a job; it keeps running and is billed."""


class AllCandidatesFailed(MediaRouterError):
    """Every candidate of a routed call failed or was skipped; `attempts` says what happened to each.

    `last_error` is the error of the last candidate tried (or skipped): its class is what a
    script keys off (the CLI's exit code), while the message summarises every candidate.
    """

    def __init__(
        self,
        attempts: Sequence[Attempt],
        errors: Sequence[MediaRouterError],
        **kwargs: Any,
    ) -> None:
        self.attempts: list[Attempt] = list(attempts)
        self.errors: list[MediaRouterError] = list(errors)
        self.last_error: MediaRouterError | None = self.errors[-1] if self.errors else None
        lines = [f"all {len(self.attempts)} candidates failed:"]
        lines += [f"  {self.line_for(a)}" for a in self.attempts]
        super().__init__("\n".join(lines), **kwargs)

    def __str__(self) -> str:
        return self.message

    @staticmethod
    def line_for(attempt: Attempt) -> str:
        """`ref: outcome — ErrorType (HTTP 402, job …): message`, on one line."""
        text = f"{attempt.ref}: {attempt.outcome}"
        if attempt.error_type:
            extra = []
            if attempt.status_code is not None:
                extra.append(f"HTTP {attempt.status_code}")
            if attempt.job_id:
                extra.append(f"job {attempt.job_id}")
            text += f" — {attempt.error_type}" + (f" ({', '.join(extra)})" if extra else "")
        if attempt.error:
            text += f": {' '.join(attempt.error.split())}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[a.ref for a in self.attempts]!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.attempts, self.errors), self.__dict__)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["attempts"] = [a.model_dump(mode="json") for a in self.attempts]
        data["last_error"] = self.last_error.to_dict() if self.last_error is not None else None
        return data


def paid_not_saved(error: BaseException, *, downloading: Collection[str] = ()) -> bool:
    """Whether `error` ended a call after its job completed (and was billed) but before its video was at the
    target: the download failed after its retries, or the file could not be written there (`OutputNotSaved`).
    Nothing is to be submitted again: `mediarouter jobs download JOB_ID -o FILE` gets the video.

    Decided from what the error carries: its class, its job id and the phase of the request that failed
    (`details["phase"] == "download"`). An error made by the engine itself while downloading (a truncated body,
    the deadline) names no phase: `downloading` holds the ids of the jobs the caller saw complete or start
    downloading (the engine's `job.status_changed` / `download.*` events). An output the provider no longer has
    (`OutputGone`, a `JobError`) cannot be downloaded again and is not counted here.
    """
    if isinstance(error, AllCandidatesFailed):
        error = error.last_error if error.last_error is not None else error
    if isinstance(error, OutputNotSaved):
        return True
    if not isinstance(error, MediaRouterError) or isinstance(error, JobError) or not error.job_id:
        return False
    phase = error.details.get("phase")
    if phase is not None:
        return bool(phase == "download")
    return error.job_id in downloading
