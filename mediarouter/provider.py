"""The interface a provider plugin implements: its wire protocol and nothing more.

A provider maps one backend's HTTP API onto these calls and its HTTP statuses onto the
core errors. It never loops, sleeps, retries or fails over: the job engine owns the
lifecycle so every provider gets the same deadlines, retries and journal.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from .capabilities import Capabilities, Modality, ModelInfo
from .errors import CancelNotSupported
from .jobs import Job, JobOutput, JobStatus
from .request import VideoRequest

__all__ = ["BlockingBody", "Download", "Provider"]


class BlockingBody(Protocol):
    """The body of a download as a blocking reader, for a worker thread.

    Iterating yields the same bytes as `Download.chunks` (and raises the same core errors), as
    `bytes` or as `bytearray` buffers the reader filled and hands over (the core never reuses or
    changes them); the core iterates it in a thread of its own, so the event loop does no per-chunk
    work for a large file. `abort` may be called from any thread while the iteration blocks in a read: it makes that
    read end at once (with an error), so a cancelled download never waits for a stalled server.
    """

    def __iter__(self) -> Iterator[bytes | bytearray]: ...

    def abort(self) -> None: ...


@dataclass
class Download:
    """An open download stream. `chunks` yields the body; the context manager closes the connection."""

    chunks: AsyncIterator[bytes]
    content_type: str | None = None
    content_length: int | None = None
    #: Host the bytes come from (no path, no query: signed URLs are secrets).
    origin: str | None = None
    #: Whether the server honoured a requested byte offset (HTTP 206).
    resumed_from: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    #: The same body as a blocking reader, when the transport has one (a real network connection):
    #: the core then reads, hashes and writes it in threads. Use either this or `chunks`, never both.
    blocking: BlockingBody | None = None


class Provider(ABC):
    """A video backend. One instance holds one long-lived HTTP client."""

    #: The plugin name: the first segment of a model ref (`openrouter` in `openrouter/google/veo-3.1`).
    name: str = ""
    #: What this provider can serve at all.
    supported_modalities: tuple[Modality, ...] = (Modality.TEXT_TO_VIDEO,)
    #: Whether `cancel` does anything.
    can_cancel: bool = False
    #: Whether the factory takes `emulator=True` (and `emulator_options=`) and then sends nothing
    #: to the real service. The core refuses `--emulator` for a provider that does not declare it,
    #: before any request: an emulated run must never reach a paid API.
    supports_emulator: ClassVar[bool] = False
    #: Where requests go (host:port), for traces; never contains credentials.
    server_address: str | None = None

    @abstractmethod
    async def list_models(self) -> list[ModelInfo]:
        """Every model this provider serves, with capabilities (live when possible, cached)."""

    async def get_model(self, model_id: str) -> ModelInfo | None:
        """One model's info, or None if the provider does not know it."""
        for info in await self.list_models():
            if info.id == model_id:
                return info
        return None

    async def capabilities(self, model_id: str) -> Capabilities:
        """Capabilities used for validation; an unknown model gets an empty (permissive) set."""
        info = await self.get_model(model_id)
        return info.capabilities if info is not None else Capabilities()

    @abstractmethod
    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        """Create the job. Raises a core error on refusal. Called at most once per job."""

    @abstractmethod
    async def poll(self, job: Job) -> JobStatus:
        """One status observation. Safe to repeat."""

    @abstractmethod
    def open_download(
        self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0
    ) -> AbstractAsyncContextManager[Download]:
        """Open a stream of one output's bytes; raise a core error if the server refuses."""

    async def cancel(self, job: Job) -> None:
        """Ask the backend to stop the job. Most backends cannot."""
        raise CancelNotSupported(
            f"{self.name} has no cancel operation; the job keeps running and is billed",
            provider=self.name,
            model=job.model,
            job_id=job.id,
            hint="resume it later with `mediarouter jobs resume` to keep the output",
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""

    async def __aenter__(self) -> Provider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
