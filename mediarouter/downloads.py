"""Streaming a provider's download to disk: constant memory, atomic rename, sanity checks."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import InvalidRequest, ProtocolError
from .provider import BlockingBody, Download

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = [
    "PartChanged",
    "PartFile",
    "PartWriteError",
    "Validators",
    "beside",
    "check_output",
    "complete_length",
    "copy_whole",
    "holds",
    "looks_like_text",
    "output_path",
    "part_path",
    "rescue",
    "still_whole",
]

#: Bytes per hand-off to the writer thread: chunks from the socket (256 KiB reads, see
#: mediarouter/http/readsize.py) are gathered into batches this size, hashed and written there.
WRITE_SIZE = 1 << 20

#: Every this many bytes the writer asks the kernel to start writing the file back (without waiting),
#: so the final fsync before the rename has little left to flush. The final fsync still follows the
#: last write: durability does not depend on this.
EARLY_SYNC = 16 << 20

#: More chunks than this in one batch are joined first (writev takes at most IOV_MAX buffers).
_MAX_BUFFERS = 64

#: A blocking body at least this long (or of unknown length) gets its own reader and writer threads
#: (`PartFile._write_blocking`); a shorter one is read in a few thread hops from the loop, which costs
#: less than starting two threads (the many small files of a load test).
THREADED_MIN = 4 << 20

#: How long a cancelled threaded download may hold the loop while its reader, whose socket has just
#: been shut down, hands back its last batch (it is normally done within milliseconds).
_ABORT_WAIT = 30.0

#: First bytes of bodies that are certainly not video (JSON, HTML/XML error pages).
_TEXT_STARTS = (b"{", b"[", b"<")

logger = logging.getLogger("mediarouter")


class PartChanged(ProtocolError):
    """The server's output is no longer the version a part file holds bytes of (its ETag, Last-Modified or
    size changed): its `206` was not appended, and the part file was started over. `reason` says what changed."""

    def __init__(self, reason: str, discarded: int) -> None:
        super().__init__(f"the output changed on the server since its part file was started: {reason}")
        self.reason = reason
        self.discarded = discarded  # the bytes of the old version the part file held


class PartWriteError(OSError):
    """Writing or syncing the part file failed (a full disk, an I/O error). Unlike an OSError from the
    stream, it is the disk's fault: the bytes before it are kept for the download that continues them."""


def _write_error(exc: OSError, path: Path) -> PartWriteError:
    return PartWriteError(exc.errno, exc.strerror or str(exc), str(path))


def looks_like_text(head: bytes | bytearray) -> bool:
    return head.lstrip()[:1] in _TEXT_STARTS


def _refuse_text(head: bytes | bytearray) -> None:
    """The first chunk of a body: an error page or JSON is not a video (checked before it is kept)."""
    if looks_like_text(head[:64]):
        raise ProtocolError(f"expected a video but the body starts like text: {head[:80]!r}", provider=None)


def _safe(tag: str, limit: int = 80) -> str:
    """`tag` as part of a file name: letters, digits, `-` and `_` kept, anything else `_`; at most `limit`."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in tag)[:limit]


def check_output(output: str | os.PathLike[str]) -> Path:
    """The absolute output path, checked before anything is paid for: not a directory, and a place a
    file can be created (missing parent directories are created, as the download would)."""
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(output))))

    def refuse(why: str, hint: str | None = None) -> InvalidRequest:
        return InvalidRequest(
            f"output {str(output)!r} {why}; nothing was sent",
            hint=hint or "give a writable file path, e.g. -o ./videos/out.mp4",
            details={"field": "output"},
        )

    if path.is_dir():
        raise refuse("is a directory", f"give a file name inside it, e.g. -o {path / 'video.mp4'}")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise refuse(f"cannot be created ({exc.strerror or exc})") from None
    try:  # a real probe: permissions, read-only mounts and ACLs all show up here, even for root
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise refuse(f"is in a directory that cannot be written ({exc.strerror or exc})") from None
    return path


def rescue(part: Path, directory: Path, name: str) -> Path:
    """Move a finished download that could not go to its target into `directory` (never delete it).
    When that fails too, `part` is left as it was (a half-copied destination is removed)."""
    directory.mkdir(parents=True, exist_ok=True)
    destination = directory / name
    try:
        shutil.move(str(part), destination)
    except OSError:
        if part.exists():  # the copy across file systems failed: the part file is still the video
            with contextlib.suppress(OSError):
                destination.unlink()
        raise
    return destination


def part_path(target: Path, tag: str) -> Path:
    """The hidden part file a download to `target` writes first (`tag`: job id and output index)."""
    return target.with_name(f".{target.name}.{_safe(tag)}.part")


def output_path(output: Path, index: int, count: int) -> Path:
    """`out.mp4` for a single output; `out.mp4`, `out-1.mp4`, … when a job has several."""
    if count <= 1 or index == 0:
        return output
    return output.with_name(f"{output.stem}-{index}{output.suffix}")


def beside(target: Path, job_id: str, attempt: int = 1) -> Path:
    """Where a job's video goes when `target` holds another job's saved video: `NAME.JOB.mp4` beside it (the
    job id made safe for a file name), `NAME.JOB-2.mp4` for a second attempt; `out-1.mp4` (a further
    output) gives `out-1.JOB.mp4`."""
    safe = _safe(job_id, 100) or "job"
    tail = f"-{attempt}" if attempt > 1 else ""
    return target.with_name(f"{target.stem}.{safe}{tail}{target.suffix}")


def _content_range(value: object) -> tuple[str, int] | None:
    """(span, N) of `Content-Range: bytes SPAN/N`; None when absent, the total is `*`, or unreadable."""
    if not isinstance(value, str):
        return None
    unit, _, rest = value.strip().partition(" ")
    span, _, total = rest.strip().partition("/")
    if unit.lower() != "bytes" or not total.strip().isdigit():
        return None
    return span.strip(), int(total)


def complete_length(content_range: object) -> int | None:
    """N of a 416's `Content-Range: bytes */N` (the whole output's size); None when absent or unreadable."""
    parsed = _content_range(content_range)
    return parsed[1] if parsed is not None and parsed[0] == "*" else None


def range_total(content_range: object) -> int | None:
    """N of a 206's `Content-Range: bytes A-B/N` (the whole output's size); None when absent, `*` or unreadable."""
    parsed = _content_range(content_range)
    return parsed[1] if parsed is not None else None


@dataclass(frozen=True)
class Validators:
    """What names the version of an output a response carries bytes of: a strong ETag (a weak `W/` one
    does not promise equal bytes), Last-Modified, and the whole output's size (a 200's Content-Length, or
    the total of a 206's Content-Range). A part file keeps those of the response it was started from, so a
    resume never appends bytes of another version."""

    etag: str | None = None
    last_modified: str | None = None
    total: int | None = None

    @classmethod
    def of(cls, download: Download) -> Validators:
        headers = {str(k).lower(): str(v).strip() for k, v in download.headers.items()}
        etag = headers.get("etag") or None
        total = range_total(headers.get("content-range"))
        if total is None and download.resumed_from == 0:
            total = download.content_length
        return cls(
            etag=etag if etag is not None and not etag.startswith(("W/", "w/")) else None,
            last_modified=headers.get("last-modified") or None,
            total=total,
        )

    def __bool__(self) -> bool:
        return self.etag is not None or self.last_modified is not None or self.total is not None

    def changed(self, now: Validators, size: int) -> str | None:
        """Why a `206` with validators `now`, continuing the `size` bytes of a part file started from a
        response with these, is not of the same version; None when it may be appended."""
        if self.etag is not None and now.etag is not None:  # the strong ETag decides where both have one
            if self.etag != now.etag:
                return f"its ETag was {self.etag}, now {now.etag}"
        elif None not in (self.last_modified, now.last_modified) and self.last_modified != now.last_modified:
            return f"its Last-Modified was {self.last_modified!r}, now {now.last_modified!r}"
        if now.total is not None:
            if self.total is not None and self.total != now.total:
                return f"it was {self.total} bytes, now {now.total}"
            if now.total <= size:
                return f"it is {now.total} bytes, yet the part file already holds {size}"
        return None

    def to_json(self) -> str:
        return json.dumps({"etag": self.etag, "last_modified": self.last_modified, "total": self.total})

    @classmethod
    def from_json(cls, text: str) -> Validators | None:
        """The recorded validators, or None when the text is not what `to_json` writes (then nothing is
        known, as for a part file left by an older version)."""
        try:
            raw = json.loads(text)
        except ValueError:
            return None
        if not isinstance(raw, dict):
            return None
        etag, modified, total = raw.get("etag"), raw.get("last_modified"), raw.get("total")
        if not (etag is None or isinstance(etag, str)) or not (modified is None or isinstance(modified, str)):
            return None
        if not (total is None or (isinstance(total, int) and not isinstance(total, bool) and total >= 0)):
            return None
        return cls(etag=etag, last_modified=modified, total=total)


def holds(path: Path, size: int, sha256: str) -> bool:
    """Whether `path` is a file of exactly `size` bytes with this sha256 (a journaled output still whole
    on disk). The size is checked first, so a file that cannot match is not read."""
    try:
        if not path.is_file() or path.stat().st_size != size:
            return False
        return _hash_file(path, size).hexdigest() == sha256
    except OSError:
        return False


def still_whole(path: Path, entry: Mapping[str, Any]) -> bool:
    """Whether the file at `path` is still the output a journal `files` entry records: its size and sha256
    (`holds`); an entry without a sha256 (hand-made, or from an older version) by its size, if it has one."""
    size, sha = entry.get("size"), entry.get("sha256")
    if isinstance(size, int) and isinstance(sha, str):
        return holds(path, size, sha)
    try:
        return path.is_file() and (not isinstance(size, int) or path.stat().st_size == size)
    except OSError:
        return False


def copy_whole(source: Path, target: Path) -> Path:
    """Copy a saved output to `target` the way a download lands: a hidden part file, fsynced, renamed
    into place (a partial copy never appears at `target`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, WRITE_SIZE)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def _hash_file(path: Path, size: int) -> _Hash:
    """sha256 of the first `size` bytes of `path` (the part an interrupted download left)."""
    digest = hashlib.sha256()
    left = size
    with open(path, "rb") as fh:
        while left > 0:
            block = fh.read(min(left, WRITE_SIZE))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest


class _Writer:
    """Hashes and appends batches of chunks to one open file, in a worker thread.

    The event loop reads the next batch from the socket while this hashes and writes the previous
    one, so on two cores the network, sha256 and the page-cache copy overlap instead of taking turns
    (benchmarks/README.md has the figures). One batch is in flight at a time, so memory stays at about
    two batches. Every batch names the offset it starts at and is written only there, so a batch
    whose turn was lost (its hand-off cancelled) can never land out of order: the file is always a
    prefix of the stream, and `digest` covers exactly the bytes written. All of it runs under one lock,
    and nothing touches the descriptor once `close` has run.
    """

    def __init__(self, path: Path, digest: _Hash, size: int) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))
        self.digest: _Hash | None = digest
        self.end = size  # bytes in the file
        self._lock = threading.Lock()
        self._synced_to = size  # the file's bytes before this offset have had their writeback started
        self._closed = False
        self._close_pending = False

    def put(
        self, batch: list[bytes | bytearray], start: int, *, hasher: concurrent.futures.Executor | None = None
    ) -> None:
        """Write and hash `batch` if it starts at the file's end. With `hasher` (a threaded download) the
        batch is hashed there while this thread writes it: sha256 is a download's longest stage, so on
        two cores the write hides behind it."""
        with self._lock:
            if not batch or self._closed or start != self.end or self.digest is None:
                return  # nothing, out of turn, or after a failed write: the caller counts what the file holds
            total = sum(len(chunk) for chunk in batch)
            if len(batch) > _MAX_BUFFERS or _writev is None:
                batch = [b"".join(batch)]
            hashed = hasher.submit(_update, self.digest, batch) if hasher is not None else None
            try:
                done = _writev(self.fd, batch) if _writev is not None else os.write(self.fd, batch[0])
                if done < total:  # a short write (a signal, a nearly full disk): write the rest plainly
                    rest = memoryview(b"".join(batch))[done:]
                    while rest:
                        rest = rest[os.write(self.fd, rest) :]
            except OSError as exc:
                if hashed is not None:
                    concurrent.futures.wait([hashed])  # nothing may touch the digest once this returns
                self.end = os.fstat(self.fd).st_size
                self.digest = None  # part of the batch may be on disk: hash the file again on a resume
                raise _write_error(exc, self.path) from exc
            if hashed is None:
                _update(self.digest, batch)
            else:
                hashed.result()
            self.end += total
            if self.end - self._synced_to >= EARLY_SYNC:
                _start_writeback(self.fd, self._synced_to)
                self._synced_to = self.end

    def fsync(self) -> None:
        with self._lock:
            if not self._closed:
                try:
                    os.fsync(self.fd)
                except OSError as exc:  # a full disk may show only here (delayed allocation, NFS)
                    raise _write_error(exc, self.path) from exc
                finally:
                    if self._close_pending:
                        self._close()

    def close(self) -> None:
        """Close the file now, or, if the thread is still in `fsync` (its await was cancelled), when that
        returns, so a cancellation never blocks the loop on a disk flush. Callers have waited for every
        `put` first (they change `end`)."""
        if self._lock.acquire(blocking=False):
            try:
                self._close()
            finally:
                self._lock.release()
        else:
            self._close_pending = True

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.fd)


_writev = getattr(os, "writev", None)


class _Batch(NamedTuple):
    chunks: list[bytes | bytearray]
    start: int  # offset in the file of its first byte
    size: int


class _Batches:
    """Gathers a body's chunks into WRITE_SIZE batches for `_Writer.put`, refusing a body whose first
    chunk starts like text (an error page is not a video)."""

    def __init__(self, start: int, *, first: bool) -> None:
        self._start = start
        self._first = first
        self._chunks: list[bytes | bytearray] = []
        self._size = 0

    def add(self, chunk: bytes | bytearray) -> _Batch | None:
        """Take `chunk`; a full batch once there is one."""
        if self._first:
            self._first = False
            _refuse_text(chunk)
        self._chunks.append(chunk)
        self._size += len(chunk)
        return self.take() if self._size >= WRITE_SIZE else None

    def take(self) -> _Batch:
        """The batch so far (possibly empty), and start the next."""
        batch = _Batch(self._chunks, self._start, self._size)
        self._start += self._size
        self._chunks, self._size = [], 0
        return batch


def _pump(
    chunks: Iterator[bytes | bytearray],
    writer: _Writer,
    stop: threading.Event,
    report: Callable[[int], None],
    *,
    first: bool,
) -> int:
    """Read `chunks` into WRITE_SIZE batches and hand each to a writer thread while the next is read
    (run in a thread of its own; see `PartFile._write_blocking`). Returns the bytes read; on an error
    or a stop, the batches read so far are still written, in order, before it returns or raises."""
    written = 0
    batches = _Batches(writer.end, first=first)
    # Two threads: one writes a batch while the other hashes it (`_Writer.put`).
    with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="mediarouter-write") as pool:
        in_flight: concurrent.futures.Future[None] | None = None
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                full = batches.add(chunk)
                written += len(chunk)
                if full is not None:
                    if in_flight is not None:
                        in_flight.result()
                    in_flight = pool.submit(writer.put, full.chunks, full.start, hasher=pool)
                    report(full.size)
                if stop.is_set():
                    break
        except BaseException:
            if not stop.is_set():
                raise
            # Aborted from the loop: the read failed because its socket was shut down. What was read
            # is kept (below); the loop's cancellation is the outcome.
        finally:
            # Runs on errors and stops too: what was read reaches the file, in order.
            if in_flight is not None:
                in_flight.result()
            last = batches.take()
            if last.chunks:
                writer.put(last.chunks, last.start, hasher=pool)
                report(last.size)
    if not stop.is_set():
        writer.fsync()
    return written


def _update(digest: _Hash, batch: list[bytes | bytearray]) -> None:
    for chunk in batch:
        digest.update(chunk)  # releases the GIL for chunks this size


def _start_writeback(fd: int, start: int) -> None:
    """Start writing the file's dirty pages from `start` on back without waiting for them (Linux:
    POSIX_FADV_DONTNEED starts writeback of dirty pages and drops pages already written). Only the part
    not advised yet: advising the whole file every time walks its pages again and again. Best effort:
    where it does not exist, the final fsync does all the work."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        with contextlib.suppress(OSError):
            advise(fd, start, 0, os.POSIX_FADV_DONTNEED)


@dataclass
class PartFile:
    """A temporary file next to the target; `commit()` renames it into place, `discard()` removes it.

    The sha256 is computed while the bytes stream in, so finishing a download never reads it back;
    a resumed part file hashes the bytes it already holds once, before appending.

    The file carries the `Validators` of the response it was started from (an extended attribute, set
    before its first byte, dropped when it is started over or committed, gone when it is removed), so a
    resume whose `206` is of another version of the output starts the file over (`PartChanged`) instead of
    appending to it. In this process they are kept in `validators` too, wherever the attribute cannot be set.
    """

    target: Path
    path: Path
    size: int = 0
    #: The validators of the response the file was started from; None when nothing was recorded (a part
    #: file left by an older version, a server that sent none).
    validators: Validators | None = None
    #: Running digest of bytes 0..`_hashed`; None until the existing bytes of a resumed file are hashed.
    _digest: _Hash | None = field(default=None, repr=False, compare=False)
    _hashed: int = field(default=0, repr=False, compare=False)

    @classmethod
    def create(cls, target: Path, tag: str) -> PartFile:
        """The part file for `target`. `tag` (job id and output index) keeps the name stable, so an
        interrupted download left by an earlier process is continued (with a Range request) instead of
        starting over."""
        target.parent.mkdir(parents=True, exist_ok=True)
        path = part_path(target, tag)
        if path.exists():
            return cls(target=target, path=path, size=path.stat().st_size, validators=_read_record(path))
        path.write_bytes(b"")
        return cls(target=target, path=path, _digest=hashlib.sha256())

    def truncate(self) -> None:
        """Start the file over: empty, and without the validators of the bytes it held."""
        _drop_record(self.path)  # first: the old version's validators never describe new bytes
        self.validators = None
        with open(self.path, "wb"):
            pass
        self.size = 0
        self._digest = hashlib.sha256()
        self._hashed = 0

    def _check_resume(self, download: Download) -> None:
        """Before a byte of `download` is kept: start over if it does not continue this file. A `200`
        (the server ignored the Range) restarts the file; a `206` of another version than the recorded one
        restarts it and raises `PartChanged` (its body is not of the version a request from zero gets)."""
        if download.resumed_from not in (0, self.size):  # a provider's Download that starts elsewhere
            held = self.size
            self.truncate()
            raise PartChanged(f"the answer starts at byte {download.resumed_from}, not at byte {held}", held)
        if download.resumed_from != self.size:
            self.truncate()
            return
        if self.size == 0:
            return
        now = Validators.of(download)
        why = (self.validators or Validators()).changed(now, self.size)
        if why is not None:
            held = self.size
            self.truncate()
            raise PartChanged(why, held)

    def _record(self, validators: Validators) -> None:
        """Keep the validators of the response this file starts from (or, for a file left without any, is
        continued from), before a byte of it is written. Best effort: a file without them is continued as
        before, unchecked."""
        _write_record(self.path, validators)
        self.validators = validators or None

    async def write_stream(self, download: Download, *, on_chunk: Callable[[int], None] | None = None) -> int:
        """Append the stream; restart from zero if the server ignored our Range request, and refuse
        (`PartChanged`, the file started over) a `206` of another version of the output (`_check_resume`).

        Chunks are gathered into WRITE_SIZE batches that a worker thread hashes and writes while the
        loop reads the next batch (see `_Writer`). Before returning, every byte counted in `size` is
        written and the file is fsynced, so `commit()` renames only durable bytes; a broken or
        cancelled stream still leaves `size` bytes on disk for the Range request that continues it.
        A failed write or fsync (a full disk) sets `size` to what the file holds and raises `PartWriteError`.
        """
        self._check_resume(download)
        if self.size == 0 or self.validators is None:  # started, or continued without a record (an older
            self._record(Validators.of(download))  # version's): what later resumes are checked against
        if self._digest is None or self._hashed != self.size:
            # A resumed file: hash what is already there once (in a thread: it may be large).
            self._digest = await asyncio.to_thread(_hash_file, self.path, self.size)
            self._hashed = self.size
        writer = _Writer(self.path, self._digest, self.size)
        length = download.content_length
        if download.blocking is not None and (length is None or length >= THREADED_MIN):
            return await self._write_blocking(download.blocking, writer, on_chunk)
        loop = asyncio.get_running_loop()
        written = 0
        batches = _Batches(self.size, first=self.size == 0)
        in_flight: asyncio.Future[None] | None = None  # a plain future, never a task: nothing is left running
        handed: _Batch | None = None  # the batch `in_flight` writes
        waiting: _Batch | None = None  # a full batch read, waiting for `in_flight` before its own hand-off
        try:
            try:
                async for chunk in download.chunks:
                    if not chunk:
                        continue
                    full = batches.add(chunk)
                    written += len(chunk)
                    self.size += len(chunk)
                    if on_chunk is not None:
                        on_chunk(len(chunk))
                    if full is not None:
                        if in_flight is not None:
                            waiting = full  # read: whatever happens to this wait, it is written (below)
                            await asyncio.shield(in_flight)
                        in_flight = loop.run_in_executor(None, writer.put, full.chunks, full.start)
                        handed, waiting = full, None
            finally:
                # Runs on errors and cancellation too: every batch read reaches the file, in order.
                rest = [b for b in (waiting, batches.take()) if b is not None and b.chunks]
                try:
                    if in_flight is not None:
                        await asyncio.shield(in_flight)
                    for batch in rest:
                        await asyncio.shield(loop.run_in_executor(None, writer.put, batch.chunks, batch.start))
                except asyncio.CancelledError:  # cancelled (again) meanwhile: finish here and now (a batch or two)
                    # In order; a batch the thread is writing is waited for, one already written is skipped.
                    for each in [handed, *rest] if handed is not None else rest:
                        writer.put(each.chunks, each.start)
                    raise
            await loop.run_in_executor(None, writer.fsync)
        finally:
            self._settle(writer)
        return written

    def _settle(self, writer: _Writer) -> None:
        """Close `writer` and take over what the file holds: it is a prefix of the stream and the digest
        covers it, unless a write failed (then the digest is None and a resume hashes the file again)."""
        writer.close()  # deferred by the writer itself if its thread is still in a write (a stuck disk)
        self.size = writer.end
        self._digest = writer.digest
        self._hashed = self.size if writer.digest is not None else 0

    async def _write_blocking(self, body: BlockingBody, writer: _Writer, on_chunk: Callable[[int], None] | None) -> int:
        """`write_stream` for a body with a blocking reader: one thread reads and batches, two more write
        and hash each batch side by side (`_pump`, `_Writer.put`), and the loop only waits: the per-read
        work of an async HTTP stack on the loop was the limit (benchmarks/README.md; sha256 now is). The
        same guarantees as the async path: the file is always a prefix of the body,
        every counted byte is written and fsynced before this returns, and a cancellation aborts the
        blocked read and leaves the counted bytes for the Range request that continues them.
        """
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        first = self.size == 0

        def report(count: int) -> None:
            if on_chunk is not None and not stop.is_set():
                with contextlib.suppress(RuntimeError):  # the loop is closing
                    loop.call_soon_threadsafe(on_chunk, count)

        pumped: concurrent.futures.Future[int] = concurrent.futures.Future()

        def run() -> None:
            pumped.set_running_or_notify_cancel()
            try:
                pumped.set_result(_pump(iter(body), writer, stop, report, first=first))
            except BaseException as exc:  # handed to the awaiting task, never lost in the thread
                pumped.set_exception(exc)

        thread = threading.Thread(
            target=contextvars.copy_context().run, args=(run,), name="mediarouter-download", daemon=True
        )
        try:
            thread.start()
            try:
                return await asyncio.shield(asyncio.wrap_future(pumped))
            except asyncio.CancelledError:
                stop.set()
                body.abort()  # the blocked read ends now; the reader hands its last batch to the writer
                thread.join(_ABORT_WAIT)
                raise
        finally:
            self._settle(writer)

    def sha256(self) -> str:
        """The hex sha256 of the whole part file: the streamed digest, or a read of the file when
        nothing was streamed into this instance."""
        if self._digest is None or self._hashed != self.size:
            self._digest = _hash_file(self.path, self.size)
            self._hashed = self.size
        return self._digest.hexdigest()

    def commit(self, to: Path | None = None) -> Path:
        """Rename the whole file into place: at `target`, or at `to` (a name beside it, in the same directory:
        the target holds another job's saved video)."""
        destination = self.target if to is None else to
        _drop_record(self.path)  # the saved video carries nothing of it (nor does a copy `rescue` makes)
        os.replace(self.path, destination)
        with contextlib.suppress(OSError):  # directory fsync is best effort (not on every platform)
            fd = os.open(destination.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return destination

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # its record goes with it


#: The extended attribute of a part file that holds the `Validators` of the response it was started from.
#: An attribute, not a file beside it: the output directory holds only outputs and their part files (the
#: contract kit checks that every file there is a whole output or a prefix of one). Where the platform or
#: the file system has no user attributes (macOS and Windows in Python, FAT, older NFS), nothing is recorded.
_RECORD = "user.mediarouter.validators"
_RECORD_MAX = 2048  # far above real validators; below every file system's limit for one attribute


def _read_record(part: Path) -> Validators | None:
    get = getattr(os, "getxattr", None)
    if get is None:
        return None
    try:
        raw: bytes = get(part, _RECORD)
    except OSError:  # none recorded (ENODATA), or no user attributes on this file system
        return None
    return Validators.from_json(raw.decode("utf-8", "replace"))


def _write_record(part: Path, validators: Validators) -> None:
    """Set (atomically: one attribute replaced in one call) or, for empty validators, drop the record."""
    put = getattr(os, "setxattr", None)
    data = validators.to_json().encode("utf-8")
    if put is None or not validators or len(data) > _RECORD_MAX:
        _drop_record(part)
        return
    try:
        put(part, _RECORD, data)
    except OSError as exc:  # a file system without user attributes: continued as before, unchecked
        logger.debug("could not record the validators of part file %s: %s", part, exc)
        _drop_record(part)


def _drop_record(part: Path) -> None:
    remove = getattr(os, "removexattr", None)
    if remove is not None:
        with contextlib.suppress(OSError):
            remove(part, _RECORD)
