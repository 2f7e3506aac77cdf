"""A fake describe provider: scripted answers per model, every request recorded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any

from mediarouter import Download, Job, JobOutput, JobStatus, ModelInfo, Provider, VideoRequest
from mediarouter.understanding import DescribeModel, DescribeRequest, DescribeResult, TokenUsage

Step = str | Callable[[], Exception]


class FakeDescriber(Provider):
    """Answers `describe` from `scripts[model_id]` (an exception factory, or the text to answer), in order."""

    def __init__(
        self,
        name: str,
        models: dict[str, dict[str, Any]] | None = None,
        scripts: dict[str, Sequence[Step]] | None = None,
    ) -> None:
        self.name = name
        specs = models or {"m1": {}}
        self.models = {mid: DescribeModel(provider=name, id=mid, **opts) for mid, opts in specs.items()}
        self.scripts = {k: list(v) for k, v in (scripts or {}).items()}
        self.calls: list[tuple[str, DescribeRequest]] = []

    async def describe_models(self) -> list[DescribeModel]:
        return list(self.models.values())

    async def describe(self, model_id: str, request: DescribeRequest) -> DescribeResult:
        self.calls.append((model_id, request))
        script = self.scripts.get(model_id) or []
        step = script.pop(0) if script else f"{model_id} saw {request.video.size} bytes"
        if not isinstance(step, str):
            raise step()
        return DescribeResult(
            text=step,
            provider=self.name,
            model=model_id,
            usage=TokenUsage(prompt_tokens=10, completion_tokens=2, total_tokens=12),
            cost=Decimal("0.001"),
        )

    # -- not a video generator ------------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        return []

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        raise AssertionError("describe never submits a job")

    async def poll(self, job: Job) -> JobStatus:
        raise AssertionError("describe never polls")

    def open_download(
        self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0
    ) -> AbstractAsyncContextManager[Download]:
        raise AssertionError("describe never downloads")


class NotADescriber(Provider):
    """A video generator only."""

    name = "gen"

    async def list_models(self) -> list[ModelInfo]:
        return []

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        raise AssertionError("unused")

    async def poll(self, job: Job) -> JobStatus:
        raise AssertionError("unused")

    def open_download(
        self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0
    ) -> AbstractAsyncContextManager[Download]:
        raise AssertionError("unused")
