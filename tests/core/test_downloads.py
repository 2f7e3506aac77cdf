"""Part files: the sha256 is streamed, and it is the digest of the whole file, resumed or not."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import VideoRequest, downloads
from mediarouter.downloads import WRITE_SIZE, PartFile
from mediarouter.engine import JobEngine
from mediarouter.errors import ProtocolError
from mediarouter.provider import Download, Job, JobOutput, JobStatus

from .fakes import VIDEO, ScriptedProvider

BIG = b"\x00\x00\x00\x18ftypmp42" + hashlib.sha256(b"seed").digest() * (3 * WRITE_SIZE // 32 + 7)


#: Whether the test's downloads come as blocking bodies (read in threads: the real network's default)
#: or as async chunks (an injected async transport, or a plugin's own stream). Tests run both ways.
_THREADED = [False]


@pytest.fixture(autouse=True, params=["on-loop", "threaded"])
def _download_mode(request: pytest.FixtureRequest) -> Iterator[None]:
    _THREADED[0] = request.param == "threaded"
    yield
    _THREADED[0] = False


class Body:
    """A scripted body: `chunks`, then `then` (an exception to raise, or "stall": block until aborted).

    As a blocking body (`Download.blocking`) it is iterated in the core's reader thread; `abort` ends
    a stall the way a socket shutdown ends a blocked read. `reached` is set once every chunk is out.
    """

    def __init__(self, chunks: Iterable[bytes], then: BaseException | str | None = None) -> None:
        self.chunks = list(chunks)
        self.then = then
        self.reached = threading.Event()
        self.aborted = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        self.reached.set()
        if self.then == "stall":
            self.aborted.wait()
            raise ConnectionResetError("the socket was shut down")
        if isinstance(self.then, BaseException):
            raise self.then

    def abort(self) -> None:
        self.aborted.set()

    async def stream(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        self.reached.set()
        if self.then == "stall":
            await asyncio.Event().wait()  # the server goes quiet; the caller gives up
        if isinstance(self.then, BaseException):
            raise self.then

    def download(self, resumed_from: int = 0) -> Download:
        if _THREADED[0]:
            return Download(chunks=_unused(), content_type="video/mp4", resumed_from=resumed_from, blocking=self)
        return Download(chunks=self.stream(), content_type="video/mp4", resumed_from=resumed_from)


async def _unused() -> AsyncIterator[bytes]:
    raise AssertionError("a download with a blocking body is read through it, not its chunks")
    yield b""  # pragma: no cover


def download(chunks: Iterable[bytes], resumed_from: int = 0) -> Download:
    return Body(chunks).download(resumed_from)


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
    body = Body([BIG[:1000], BIG[1000:5000]], then=ConnectionResetError("dropped"))
    part = PartFile.create(tmp_path / "o.mp4", tag="job-1-0")
    with pytest.raises(ConnectionResetError):
        await part.write_stream(body.download())
    assert part.size == 5000
    assert part.path.read_bytes() == BIG[:5000]
    await part.write_stream(download([BIG[5000:]], resumed_from=5000))
    assert part.sha256() == hashlib.sha256(BIG).hexdigest()


async def test_a_body_that_starts_like_text_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    part = PartFile.create(tmp_path / "o.mp4", tag="job-1-0")
    with pytest.raises(ProtocolError, match="starts like text"):
        await part.write_stream(download([b'{"error": "not ready"}', BIG]))
    assert part.size == 0 and part.path.read_bytes() == b""


async def test_progress_is_reported_on_the_event_loop_and_adds_up_to_the_body(tmp_path: Path) -> None:
    loop_thread = threading.get_ident()
    seen: list[tuple[int, int]] = []
    part = PartFile.create(tmp_path / "o.mp4", tag="job-1-0")
    await part.write_stream(download(pieces(BIG)), on_chunk=lambda n: seen.append((n, threading.get_ident())))
    assert sum(n for n, _ in seen) == len(BIG)
    assert {thread for _, thread in seen} == {loop_thread}


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


async def test_a_stream_broken_with_a_batch_in_flight_leaves_exactly_the_counted_bytes(tmp_path: Path) -> None:
    """The writer thread may still hold a batch when the stream breaks: it lands before write_stream returns."""
    cut = 2 * WRITE_SIZE + 777
    body = Body(pieces(BIG[:cut]), then=ConnectionResetError("dropped"))
    part = PartFile.create(tmp_path / "o.mp4", tag="job-1-0")
    with pytest.raises(ConnectionResetError):
        await part.write_stream(body.download())
    assert part.size == cut
    assert part.path.read_bytes() == BIG[:cut]
    await part.write_stream(download(pieces(BIG[cut:]), resumed_from=cut))
    assert part.sha256() == hashlib.sha256(BIG).hexdigest()


async def test_a_cancelled_download_leaves_the_counted_bytes_for_the_resume(tmp_path: Path) -> None:
    body = Body(pieces(BIG[: WRITE_SIZE + 4096]), then="stall")
    part = PartFile.create(tmp_path / "o.mp4", tag="job-1-0")
    task = asyncio.ensure_future(part.write_stream(body.download()))
    await asyncio.to_thread(body.reached.wait, 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)  # a guard against a hang, not a timing check
    assert body.aborted.is_set() is _THREADED[0]  # the blocked read was ended, not waited out
    assert part.size == WRITE_SIZE + 4096
    assert part.path.read_bytes() == BIG[: part.size]
    await part.write_stream(download(pieces(BIG[part.size :]), resumed_from=part.size))
    assert part.sha256() == hashlib.sha256(BIG).hexdigest()


async def test_many_small_chunks_and_short_writes_still_write_every_byte_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small chunks are joined (writev takes a bounded number of buffers); a short write is completed."""

    def short_writev(fd: int, buffers: list[bytes]) -> int:  # what a signal mid-write does
        return os.write(fd, buffers[0][: max(1, len(buffers[0]) // 3)])

    monkeypatch.setattr(downloads, "_writev", short_writev)
    part = PartFile.create(tmp_path / "o.mp4", tag="job-1-0")
    await part.write_stream(download(pieces(BIG, 4096)))  # ~780 chunks
    assert part.path.read_bytes() == BIG
    assert part.sha256() == hashlib.sha256(BIG).hexdigest()


async def test_a_failed_write_counts_only_what_the_file_holds_and_the_resume_rehashes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk mid-batch: `size` is what is on disk (not what was hashed), and a later resume is right."""
    real = os.writev
    calls = 0

    def disk_fills(fd: int, buffers: list[bytes]) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            os.write(fd, buffers[0][:1000])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, buffers)

    monkeypatch.setattr(downloads, "_writev", disk_fills)
    part = PartFile.create(tmp_path / "o.mp4", tag="job-1-0")
    with pytest.raises(OSError, match="No space left"):
        await part.write_stream(download(pieces(BIG)))
    on_disk = part.path.read_bytes()
    assert part.size == len(on_disk) and BIG.startswith(on_disk) and len(on_disk) > WRITE_SIZE
    monkeypatch.setattr(downloads, "_writev", real)
    await part.write_stream(download(pieces(BIG[part.size :]), resumed_from=part.size))
    assert part.path.read_bytes() == BIG
    assert part.sha256() == hashlib.sha256(BIG).hexdigest()


def test_a_batch_out_of_turn_is_never_written_so_the_file_stays_a_prefix_of_the_stream(tmp_path: Path) -> None:
    """A hand-off whose turn was lost (cancelled before its thread ran) must not land after a later batch."""
    path = tmp_path / "o.part"
    path.write_bytes(b"")
    writer = downloads._Writer(path, hashlib.sha256(), 0)
    writer.put([b"b" * 10], 10)  # the batch for bytes 10.. arrives before the one for bytes 0..
    writer.put([b"a" * 10], 0)
    writer.put([b"c" * 5], 20)  # after the dropped one: out of turn too
    writer.close()
    writer.put([b"late"], 10)  # nothing touches the file once closed
    assert path.read_bytes() == b"a" * 10
    assert writer.end == 10
    assert writer.digest is not None and writer.digest.hexdigest() == hashlib.sha256(b"a" * 10).hexdigest()


async def test_a_cancel_while_a_batch_waits_for_a_slow_disk_keeps_every_batch_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled while the next full batch waits for the write before it: that batch is read, so it is
    written too, and the resume asks only for the rest (nothing received is thrown away)."""
    real = os.writev
    entered, release = threading.Event(), threading.Event()

    def slow_disk(fd: int, buffers: list[bytes]) -> int:
        entered.set()
        release.wait(30)  # a guard against a hang, not a timing
        return real(fd, buffers)

    monkeypatch.setattr(downloads, "_writev", slow_disk)
    body = Body(pieces(BIG[: 2 * WRITE_SIZE + 4096]), then="stall")
    part = PartFile.create(tmp_path / "o.mp4", tag="job-1-0")
    task = asyncio.ensure_future(part.write_stream(body.download()))
    # The first batch is on its way to the disk; the loop path read on to the second full batch (its chunks
    # come without a pause), which now waits for the first.
    await asyncio.to_thread(entered.wait, 30)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    assert part.size >= 2 * WRITE_SIZE
    assert part.path.read_bytes() == BIG[: part.size]
    monkeypatch.setattr(downloads, "_writev", real)
    await part.write_stream(download(pieces(BIG[part.size :]), resumed_from=part.size))
    assert part.sha256() == hashlib.sha256(BIG).hexdigest()
