"""Part files: the sha256 is streamed, and it is the digest of the whole file, resumed or not."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import VideoRequest
from mediarouter.downloads import WRITE_SIZE, PartFile
from mediarouter.engine import JobEngine
from mediarouter.provider import Download, Job, JobOutput, JobStatus

from .fakes import VIDEO, ScriptedProvider

BIG = b"\x00\x00\x00\x18ftypmp42" + hashlib.sha256(b"seed").digest() * (3 * WRITE_SIZE // 32 + 7)


def download(chunks: Iterable[bytes], resumed_from: int = 0) -> Download:
    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return Download(chunks=stream(), content_type="video/mp4", resumed_from=resumed_from)


def pieces(data: bytes, size: int = 65536) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def test_a_part_file_resumed_by_a_new_process_hashes_to_the_whole_files_sha256(tmp_path: Path) -> None:
    target = tmp_path / "o.mp4"
    first = PartFile.create(target, tag="job-1-0")
    cut = WRITE_SIZE + 12345  # not on a write boundary
    await first.write_stream(download(pieces(BIG[:cut])))
    # A later process finds the part file and continues it with a Range request.
    again = PartFile.create(target, tag="job-1-0")
    assert again.size == cut
    await again.write_stream(download(pieces(BIG[cut:]), resumed_from=cut))
    assert again.path.read_bytes() == BIG
    assert again.sha256() == hashlib.sha256(BIG).hexdigest()


async def test_a_server_that_ignores_the_range_restarts_the_digest_with_the_file(tmp_path: Path) -> None:
    target = tmp_path / "o.mp4"
    part = PartFile.create(target, tag="job-1-0")
    await part.write_stream(download([b"\x00\x00\x00\x18ftypstale-bytes"]))
    await part.write_stream(download(pieces(BIG), resumed_from=0))  # a 200 instead of a 206
    assert part.path.read_bytes() == BIG
    assert part.sha256() == hashlib.sha256(BIG).hexdigest()


async def test_bytes_counted_before_a_dropped_connection_are_on_disk_and_hashed(tmp_path: Path) -> None:
    """A stream that breaks mid-way must leave `size` bytes in the file, so the resume offset is right."""

    async def breaking() -> AsyncIterator[bytes]:
        yield BIG[:1000]
        yield BIG[1000:5000]
        raise ConnectionResetError("dropped")

    part = PartFile.create(tmp_path / "o.mp4", tag="job-1-0")
    with pytest.raises(ConnectionResetError):
        await part.write_stream(Download(chunks=breaking()))
    assert part.size == 5000
    assert part.path.read_bytes() == BIG[:5000]
    await part.write_stream(download([BIG[5000:]], resumed_from=5000))
    assert part.sha256() == hashlib.sha256(BIG).hexdigest()


class RangeProvider(ScriptedProvider):
    """Honours the byte offset (a 206), so an interrupted download really continues."""

    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        self.calls.append(f"download:{output.index}:{offset}")
        return self._ranged(offset, cut=not any(c.endswith(":0") for c in self.calls[:-1]))

    @asynccontextmanager
    async def _ranged(self, offset: int, *, cut: bool) -> AsyncIterator[Download]:
        async def chunks() -> AsyncIterator[bytes]:
            body = VIDEO[offset:]
            for chunk in pieces(body[:3000] if cut else body, 1000):
                yield chunk

        yield Download(
            chunks=chunks(), content_type="video/mp4", content_length=len(VIDEO) - offset, resumed_from=offset
        )


async def test_the_engine_reports_the_real_sha256_of_a_resumed_download(clock: FakeClock, tmp_path: Path) -> None:
    provider = RangeProvider(polls=["completed"])
    result = await JobEngine(clock=clock, poll_interval=10.0).run(
        provider, "video-1", VideoRequest(prompt="a dog", duration=8), output=tmp_path / "o.mp4"
    )
    assert [c for c in provider.calls if c.startswith("download")] == ["download:0:0", "download:0:3000"]
    assert (tmp_path / "o.mp4").read_bytes() == VIDEO
    assert result.files[0].sha256 == hashlib.sha256(VIDEO).hexdigest()
