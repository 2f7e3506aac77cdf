"""A scripted in-memory provider: the engine's rules tested without any wire format."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from mediarouter import (
    Capabilities,
    Download,
    Job,
    JobOutput,
    JobState,
    JobStatus,
    ModelInfo,
    Provider,
    VideoRequest,
)

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40

Step = JobStatus | Exception | str


class ScriptedProvider(Provider):
    """`polls` is a list of states (str), JobStatus objects or exceptions, consumed one per poll."""

    name = "fake"

    def __init__(
        self,
        *,
        submit: list[Job | Exception] | None = None,
        polls: list[Step] | None = None,
        downloads: list[bytes | tuple[bytes, int] | Exception] | None = None,
        capabilities: Capabilities | None = None,
        outputs: int = 1,
        cost: Decimal | None = Decimal("1.60"),
        content_length: bool = True,
        clock: Any = None,
        **_: Any,
    ) -> None:
        self.submit_script = list(submit or [])
        self.poll_script = list(polls if polls is not None else ["in_progress", "completed"])
        self.download_script = list(downloads or [])
        self.caps = capabilities or Capabilities(durations=(4, 6, 8), price_per_second=Decimal("0.40"))
        self.outputs = outputs
        self.cost = cost
        self.content_length = content_length
        self.calls: list[str] = []
        self.closed = False

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(provider=self.name, id="video-1", capabilities=self.caps)]

    async def capabilities(self, model_id: str) -> Capabilities:
        return self.caps

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        self.calls.append("submit")
        if self.submit_script:
            step = self.submit_script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return Job(id="job-1", provider=self.name, model=model_id)

    async def poll(self, job: Job) -> JobStatus:
        self.calls.append("poll")
        step = self.poll_script.pop(0) if self.poll_script else "in_progress"
        if isinstance(step, Exception):
            raise step
        if isinstance(step, JobStatus):
            return step
        state = JobState(step)
        outputs = (
            tuple(JobOutput(index=i, url=f"https://fake.test/{job.id}/{i}") for i in range(self.outputs))
            if state is JobState.COMPLETED
            else ()
        )
        return JobStatus(
            job_id=job.id,
            state=state,
            outputs=outputs,
            cost=self.cost if state is JobState.COMPLETED else None,
            error="the provider said no" if state in (JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED) else None,
        )

    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        self.calls.append(f"download:{output.index}:{offset}")
        step = self.download_script.pop(0) if self.download_script else VIDEO
        return self._download(step, offset)

    @asynccontextmanager
    async def _download(self, step: bytes | tuple[bytes, int] | Exception, offset: int) -> AsyncIterator[Download]:
        """A step is the body, an exception, or (body, declared length) for a body cut short."""
        if isinstance(step, Exception):
            raise step
        declared: int | None = None
        if isinstance(step, tuple):
            step, declared = step
        body = step

        async def chunks() -> AsyncIterator[bytes]:
            for chunk in _chunked(body, 1000):
                yield chunk

        length = declared if declared is not None else len(body)
        yield Download(
            chunks=chunks(), content_type="video/mp4", content_length=length if self.content_length else None
        )

    async def aclose(self) -> None:
        self.closed = True


def _chunked(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
