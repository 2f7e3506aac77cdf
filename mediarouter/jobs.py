"""Jobs and their states, as the job engine sees them whatever the provider."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JobState", "TERMINAL_STATES", "Job", "JobOutput", "JobStatus"]


class JobState(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    #: A status the provider sent that we do not know; treated as still running.
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED})


class Job(BaseModel):
    """An accepted job: from here on it is being paid for, so its id must never be lost."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    provider: str
    model: str = Field(description="the provider's own model id")
    polling_url: str | None = None
    submitted_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.model}"


class JobOutput(BaseModel):
    """One downloadable output of a completed job."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    index: int = 0
    url: str | None = Field(default=None, description="URL that needs the provider's credentials")
    signed_url: str | None = Field(default=None, repr=False, description="credential-free URL; a secret")
    expires_at: datetime | None = Field(default=None, description="when signed_url stops working")


class JobStatus(BaseModel):
    """One observation of a job."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    job_id: str
    state: JobState
    raw_status: str | None = Field(default=None, description="the provider's own word for the state")
    error: str | None = None
    outputs: tuple[JobOutput, ...] = ()
    cost: Decimal | None = None
    generation_id: str | None = None
    progress: float | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
