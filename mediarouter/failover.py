"""Which failures move a routed call on to its next candidate: the money rules as data.

The default is the design's table. The one rule no policy can lift: once a job was accepted
and is not known to have failed, the call stops there (its error carries the job id), because
a second job elsewhere would be a second payment while the first may still finish.

| failure | before a job was accepted | after |
|---|---|---|
| CapabilityMismatch, BudgetExceeded (local) | next candidate | — |
| InvalidRequest (400/413), NotFound (404) for that model | next candidate | stop |
| UnknownProvider / ConfigurationError | next candidate of another provider | — |
| AuthenticationFailed / PermissionDenied (401/403) | next candidate of another provider | stop |
| InsufficientCredits (402) | another provider, or a cheaper candidate of the same one | stop |
| RateLimited (429), ProviderUnavailable (5xx) after retries | next candidate | stop |
| SubmitUnknown (5xx, 524, no answer after sending, unreadable 2xx on submit) | stop: the job may exist | — |
| JobFailed (terminal `failed`) | — | next candidate |
| JobCancelled, JobExpired, JobTimeout, ProtocolError, Conflict, anything else | stop | stop |

A 402 on OpenRouter means the balance does not cover *this* request, so a cheaper video on
the same key may still go through; a 401/403 is about the key, which the same provider's
other models share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import (
    AuthenticationFailed,
    CapabilityMismatch,
    ConfigurationError,
    InsufficientCredits,
    InvalidRequest,
    JobFailed,
    MediaRouterError,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    SubmitUnknown,
)

__all__ = ["FailoverPolicy", "Phase", "Scope", "Verdict"]

#: Where the error happened: planning (capabilities, provider set-up), the submit, or the accepted job.
Phase = Literal["plan", "submit", "job"]
#: Which later candidates stay eligible after a failover: any, other providers only, or other
#: providers plus cheaper candidates of the same provider.
Scope = Literal["any", "other_provider", "cheaper"]

ErrorTypes = tuple[type[MediaRouterError], ...]


@dataclass(frozen=True)
class Verdict:
    """What the router does after one candidate's error."""

    failover: bool
    scope: Scope = "any"
    cooldown: bool = False
    reason: str = ""


@dataclass(frozen=True)
class FailoverPolicy:
    """Error classes (subclasses included) that fail over, by phase; pass your own to a Router."""

    #: Refusals before any job exists (local, or the submit's answer).
    before_accept: ErrorTypes = (
        CapabilityMismatch,
        InvalidRequest,
        NotFound,
        ConfigurationError,
        AuthenticationFailed,
        InsufficientCredits,
        RateLimited,
        ProviderUnavailable,
    )
    #: Terminal job states after which a new job elsewhere is not a second payment for one video.
    after_accept: ErrorTypes = (JobFailed,)
    #: Errors about the provider as a whole: its other models are skipped for the rest of the call.
    provider_wide: ErrorTypes = (ConfigurationError, AuthenticationFailed)
    #: Errors about the price of this request: the same provider's cheaper candidates stay eligible.
    cheaper_only: ErrorTypes = (InsufficientCredits,)
    #: Errors that put the candidate in cooldown for later calls on the same router.
    cooldown_on: ErrorTypes = (RateLimited, ProviderUnavailable, InsufficientCredits, SubmitUnknown)

    def decide(self, error: MediaRouterError, *, phase: Phase) -> Verdict:
        """Fail over or stop, and with which scope and cooldown."""
        cooldown = isinstance(error, self.cooldown_on)
        kind = type(error).__name__
        if phase == "job":
            if isinstance(error, self.after_accept):
                return Verdict(True, "any", cooldown, f"the job ended {kind}; no output was produced")
            return Verdict(
                False, "any", cooldown, f"the job {error.job_id or ''} was accepted and may still run: no failover"
            )
        if isinstance(error, SubmitUnknown):
            return Verdict(False, "any", cooldown, "the submit's outcome is unknown, so the job may exist: no failover")
        if not isinstance(error, self.before_accept):
            return Verdict(False, "any", cooldown, f"{kind} does not fail over")
        if isinstance(error, self.provider_wide):
            return Verdict(True, "other_provider", cooldown, f"{kind} applies to every model of {error.provider}")
        if isinstance(error, self.cheaper_only):
            return Verdict(True, "cheaper", cooldown, f"{kind}: only cheaper candidates of {error.provider} remain")
        return Verdict(True, "any", cooldown, f"{kind}: trying the next candidate")
