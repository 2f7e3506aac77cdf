"""A part file that already holds the whole video: the resume's Range request gets a 416 whose
`Content-Range: bytes */N` says so, and the output is finished from the part file, not downloaded again."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from mediarouter_contracts.clock import FakeClock
from mediarouter_openrouter.errors import RULES

from mediarouter.engine import JobEngine
from mediarouter.http import ProviderClient
from mediarouter.jobs import Job, JobOutput, JobState, JobStatus
from mediarouter.provider import Download

from .fakes import VIDEO, ScriptedProvider

SHA = hashlib.sha256(VIDEO).hexdigest()
JOB = Job(id="job-1", provider="fake", model="video-1")


def ranged_server(seen: list[str | None]) -> httpx.MockTransport:
    """Serves VIDEO like a CDN: 206 from the Range's start, 416 `bytes */N` for a start at or past the end."""

    def handle(request: httpx.Request) -> httpx.Response:
        asked = request.headers.get("range")
        seen.append(asked)
        start = int(asked.removeprefix("bytes=").rstrip("-")) if asked else 0
        if start >= len(VIDEO):
            return httpx.Response(416, headers={"Content-Range": f"bytes */{len(VIDEO)}"})
        headers = {"Content-Type": "video/mp4"}
        if asked:
            headers["Content-Range"] = f"bytes {start}-{len(VIDEO) - 1}/{len(VIDEO)}"
        return httpx.Response(206 if asked else 200, content=VIDEO[start:], headers=headers)

    return httpx.MockTransport(handle)


class CdnProvider(ScriptedProvider):
    """Downloads through the core's ProviderClient (its real status mapping) from `ranged_server`."""

    def __init__(self, seen: list[str | None]) -> None:
        super().__init__(polls=["completed"])
        self.client = ProviderClient(
            provider="fake", rules=RULES, base_url="https://cdn.fake.test", transport=ranged_server(seen)
        )

    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        self.calls.append(f"download:{output.index}:{offset}")
        return self.client.open_download(
            httpx.URL("https://cdn.fake.test/v.mp4"), model=job.model, job_id=job.id, offset=offset, auth=False
        )


COMPLETED = JobStatus(job_id="job-1", state=JobState.COMPLETED, outputs=(JobOutput(index=0, url="https://x/v"),))


async def test_a_part_file_holding_the_whole_video_is_finished_not_downloaded_again(
    clock: FakeClock, tmp_path: Path
) -> None:
    target = tmp_path / "o.mp4"
    part = tmp_path / ".o.mp4.job-1-0.part"
    part.write_bytes(VIDEO)  # a process killed after the last byte and before the rename
    seen: list[str | None] = []
    provider = CdnProvider(seen)
    try:
        result = await JobEngine(clock=clock, poll_interval=10.0).complete(
            provider, JOB, output=target, known=COMPLETED
        )
    finally:
        await provider.client.aclose()
    assert seen == [f"bytes={len(VIDEO)}-"]  # one request, answered 416: nothing downloaded again
    assert target.read_bytes() == VIDEO and not part.exists()
    assert result.files[0].sha256 == SHA and result.files[0].size == len(VIDEO)


async def test_a_part_file_longer_than_the_video_starts_over(clock: FakeClock, tmp_path: Path) -> None:
    """The 416 says the video is shorter than the part file: those bytes are not this video."""
    target = tmp_path / "o.mp4"
    (tmp_path / ".o.mp4.job-1-0.part").write_bytes(VIDEO + b"junk")
    seen: list[str | None] = []
    provider = CdnProvider(seen)
    try:
        result = await JobEngine(clock=clock, poll_interval=10.0).complete(
            provider, JOB, output=target, known=COMPLETED
        )
    finally:
        await provider.client.aclose()
    assert seen == [f"bytes={len(VIDEO) + 4}-", None]
    assert target.read_bytes() == VIDEO and result.files[0].sha256 == SHA


class Refuses416(ScriptedProvider):
    """Answers a ranged request with a bare 416 (no Content-Range), a plain request with VIDEO."""

    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        self.calls.append(f"download:{output.index}:{offset}")
        return self._serve(offset)

    @asynccontextmanager
    async def _serve(self, offset: int) -> AsyncIterator[Download]:
        from mediarouter import InvalidRequest

        if offset:
            raise InvalidRequest("range not satisfiable", status_code=416)
        async with self._download(VIDEO, 0) as download:
            yield download


async def test_without_content_range_the_journaled_size_and_sha256_tell_a_whole_part_file(
    clock: FakeClock, tmp_path: Path
) -> None:
    target = tmp_path / "o.mp4"
    part = tmp_path / ".o.mp4.job-1-0.part"
    part.write_bytes(VIDEO)
    provider = Refuses416(polls=["completed"])
    journaled = [{"path": str(tmp_path / "moved-away.mp4"), "size": len(VIDEO), "sha256": SHA, "index": 0}]
    engine = JobEngine(clock=clock, poll_interval=10.0)
    result = await engine.complete(provider, JOB, output=target, known=COMPLETED, saved=journaled)
    assert provider.calls == [f"download:0:{len(VIDEO)}"]
    assert target.read_bytes() == VIDEO and result.files[0].sha256 == SHA
    # The same size but other bytes: not the journaled video, so it is downloaded again.
    (tmp_path / ".p.mp4.job-1-0.part").write_bytes(VIDEO[:-1] + b"!")
    provider.calls.clear()
    again = await engine.complete(provider, JOB, output=tmp_path / "p.mp4", known=COMPLETED, saved=journaled)
    assert provider.calls == [f"download:0:{len(VIDEO)}", "download:0:0"]
    assert (tmp_path / "p.mp4").read_bytes() == VIDEO and again.files[0].sha256 == SHA
