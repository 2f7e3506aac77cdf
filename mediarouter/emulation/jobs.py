"""The job life cycle every emulated video API shares.

``pending → in_progress → completed | failed | cancelled | expired``. A job moves on when it is
polled: by poll count (the default; deterministic for tests), or by the clock (seconds since
submit, for emulators that behave like a service under a fake or real clock). A job outcome
injection (``poll:failed`` and the like) is spent at the moment a job would complete and ends it
so instead. Terminal jobs never move again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar, cast

from .injection import JOB_OUTCOMES, Injection, Injector

__all__ = [
    "ACTIVE",
    "DEFAULT_JOB_ERRORS",
    "TERMINAL",
    "Job",
    "JobMachine",
    "JobStatus",
    "Schedule",
]

JobStatus = Literal["pending", "in_progress", "completed", "failed", "cancelled", "expired"]
ACTIVE: frozenset[str] = frozenset({"pending", "in_progress"})
TERMINAL: frozenset[str] = frozenset({"completed", *JOB_OUTCOMES})

#: The `error` a job ended by an injection carries, unless the backend has its own texts.
DEFAULT_JOB_ERRORS: Mapping[str, str] = {
    "failed": "Emulated failure: the provider rejected the generation",
    "cancelled": "Emulated cancellation: the generation was cancelled upstream",
    "expired": "Emulated expiry: the job expired before its output was retrieved",
}


@dataclass(frozen=True)
class Schedule:
    """When a job moves on.

    By polls (``seconds_* is None``): the first ``polls_before_in_progress`` polls answer
    ``pending``, polls up to ``polls_before_completed`` answer ``in_progress``, the next one ends
    the job. By the clock: ``pending`` until ``seconds_before_in_progress`` after submit,
    ``in_progress`` until ``seconds_before_completed``, then ended on the next look.
    """

    polls_before_in_progress: int = 1
    polls_before_completed: int = 2
    seconds_before_in_progress: float | None = None
    seconds_before_completed: float | None = None

    def __post_init__(self) -> None:
        if self.polls_before_in_progress < 0 or self.polls_before_completed < 0:
            raise ValueError("poll counts must be >= 0")
        if self.polls_before_completed < self.polls_before_in_progress:
            raise ValueError(
                f"polls_before_completed ({self.polls_before_completed}) must be >= "
                f"polls_before_in_progress ({self.polls_before_in_progress})"
            )
        started, done = self.seconds_before_in_progress, self.seconds_before_completed
        if (started is None) != (done is None):
            raise ValueError("give both seconds_before_in_progress and seconds_before_completed, or neither")
        if started is not None and done is not None and (started < 0 or done < started):
            raise ValueError(f"need 0 <= seconds_before_in_progress ({started}) <= seconds_before_completed ({done})")

    @property
    def by_clock(self) -> bool:
        return self.seconds_before_completed is not None

    def status_at(self, polls: int, elapsed: float) -> Literal["pending", "in_progress", "done"]:
        """Where a job stands after ``polls`` polls and ``elapsed`` seconds since submit."""
        if self.seconds_before_in_progress is not None and self.seconds_before_completed is not None:
            if elapsed < self.seconds_before_in_progress:
                return "pending"
            return "in_progress" if elapsed < self.seconds_before_completed else "done"
        if polls <= self.polls_before_in_progress:
            return "pending"
        return "in_progress" if polls <= self.polls_before_completed else "done"


@dataclass(kw_only=True)
class Job:
    """One emulated job. Backends subclass it for their own fields (the request, signed tokens …)."""

    id: str
    created_at: float
    model: str | None = None
    status: JobStatus = "pending"
    polls: int = 0
    outputs: int = 1
    #: What the finished job costs, when the backend reports one.
    cost: Decimal | None = None
    error: str | None = None
    finished_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


J = TypeVar("J", bound=Job)


class JobMachine(Generic[J]):
    """Holds the jobs of one emulator and moves them along a Schedule.

    ``on_finish`` runs once when a job reaches its terminal status (after ``status`` and ``error``
    are set), so a backend can add what its wire answer carries (a generation id, signed URLs …).
    """

    def __init__(
        self,
        schedule: Schedule | None = None,
        *,
        injector: Injector[Any] | None = None,
        now: Callable[[], float] | None = None,
        outcome_phase: str = "poll",
        errors: Mapping[str, str] = DEFAULT_JOB_ERRORS,
        on_finish: Callable[[J], None] | None = None,
    ) -> None:
        self.schedule = schedule or Schedule()
        self.injector = injector
        self._now = now or time.time
        self.outcome_phase = outcome_phase
        self.errors = errors
        self.on_finish = on_finish
        self.jobs: dict[str, J] = {}

    def now(self) -> float:
        return self._now()

    def add(self, job: J) -> J:
        self.jobs[job.id] = job
        return job

    def get(self, job_id: str) -> J | None:
        return self.jobs.get(job_id)

    def poll(self, job: J) -> J:
        """Count one answered poll and move the job along the schedule."""
        if job.terminal:
            return job
        job.polls += 1
        return self._settle(job)

    def observe(self, job: J) -> J:
        """Move a clock-driven job along without counting a poll (e.g. a status read by a webhook)."""
        return job if job.terminal else self._settle(job)

    def _settle(self, job: J) -> J:
        stage = self.schedule.status_at(job.polls, self.now() - job.created_at)
        if stage == "done":
            forced = self._forced_outcome(job)
            self.finish(job, forced)
        else:
            job.status = stage
        return job

    def _forced_outcome(self, job: J) -> str | None:
        if self.injector is None:
            return None
        forced: Injection | None = self.injector.take(self.outcome_phase, job.model, job=True)
        return forced.job_outcome if forced is not None else None

    def finish(self, job: J, outcome: str | None = None, error: str | None = None) -> J:
        """End a job now: ``completed`` (``outcome=None``) or one of the job outcomes, with its error text."""
        if job.terminal:
            return job
        if outcome is not None and outcome not in JOB_OUTCOMES:
            raise ValueError(f"outcome {outcome!r} is not a job outcome; allowed values: {', '.join(JOB_OUTCOMES)}")
        job.finished_at = self.now()
        if outcome is None:
            job.status = "completed"
        else:
            job.status = cast(JobStatus, outcome)  # checked against JOB_OUTCOMES above
            job.error = error or self.errors.get(outcome) or DEFAULT_JOB_ERRORS[outcome]
        if self.on_finish is not None:
            self.on_finish(job)
        return job

    def cancel(self, job: J, error: str | None = None) -> bool:
        """Cancel an unfinished job (a backend's cancel endpoint); False when it had already ended."""
        if job.terminal:
            return False
        self.finish(job, "cancelled", error)
        return True

    def clear(self) -> None:
        self.jobs.clear()
