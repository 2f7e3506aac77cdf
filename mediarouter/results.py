"""What a routed call returns."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MediaFile", "Attempt", "VideoResult"]


class MediaFile(BaseModel):
    """One output file, already on disk (downloads stream to disk) or held in memory."""

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    path: Path | None = None
    data: bytes | None = Field(default=None, repr=False)
    mime_type: str = "video/mp4"
    size: int = 0
    sha256: str | None = None
    url: str | None = Field(default=None, description="where it came from (never a signed URL)")
    index: int = 0

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ValueError("this MediaFile has neither a path nor data")
        return self.path.read_bytes()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the video to `path` (atomically: a partial file never appears there)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.path is not None and self.path.resolve() == target.resolve():
            return target
        tmp = target.with_name(f".{target.name}.part")
        if self.data is not None:
            tmp.write_bytes(self.data)
        elif self.path is not None:
            shutil.copyfile(self.path, tmp)
        else:
            raise ValueError("this MediaFile has neither a path nor data")
        os.replace(tmp, target)
        return target


class Attempt(BaseModel):
    """One candidate tried by the router."""

    model_config = ConfigDict(defer_build=True)

    ref: str
    outcome: str = Field(description="succeeded | failed | skipped | cooldown")
    error_type: str | None = None
    error: str | None = None
    status_code: int | None = None
    job_id: str | None = None
    duration_s: float | None = None
    cost: Decimal | None = None
    estimated_cost: Decimal | None = None
    adjustments: dict[str, Any] = Field(default_factory=dict)


class VideoResult(BaseModel):
    """A finished video: files on disk plus who made it, what it cost and how long it took."""

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    files: list[MediaFile]
    provider: str
    model: str
    job_id: str
    cost: Decimal | None = None
    estimated_cost: Decimal | None = None
    generation_id: str | None = None
    polls: int = 0
    timings: dict[str, float] = Field(default_factory=dict)
    attempts: list[Attempt] = Field(default_factory=list)
    adjustments: dict[str, Any] = Field(default_factory=dict)
    #: Set when the files are saved but the journal could not record it (the write is retried): until it
    #: lands, a rerun with the same idempotency key or `jobs resume` does not know they were downloaded.
    journal_error: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.model}"

    def to_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"files"})
        data["files"] = [f.model_dump(mode="json", exclude={"data"}) for f in self.files]
        return data
