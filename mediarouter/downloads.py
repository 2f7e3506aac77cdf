"""Streaming a provider's download to disk: constant memory, atomic rename, sanity checks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InvalidRequest, ProtocolError
from .provider import Download

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = ["PartFile", "check_output", "looks_like_text", "output_path", "rescue"]

#: Bytes per write: chunks from the socket (64 KiB in httpcore) are gathered into writes this size.
WRITE_SIZE = 1 << 20

#: Every this many bytes, an fdatasync starts in a thread (one at a time) while the stream goes on, so
#: the final fsync before the rename has little left to flush. The final fsync still follows the last
#: write: durability does not depend on these early ones.
EARLY_SYNC = 64 << 20

#: First bytes of bodies that are certainly not video (JSON, HTML/XML error pages).
_TEXT_STARTS = (b"{", b"[", b"<")


def looks_like_text(head: bytes) -> bool:
    return head.lstrip()[:1] in _TEXT_STARTS


def _safe(tag: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in tag)[:80]


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
    """Move a finished download that could not go to its target into `directory` (never delete it)."""
    directory.mkdir(parents=True, exist_ok=True)
    destination = directory / name
    shutil.move(str(part), destination)
    return destination


def output_path(output: Path, index: int, count: int) -> Path:
    """`out.mp4` for a single output; `out.mp4`, `out-1.mp4`, … when a job has several."""
    if count <= 1 or index == 0:
        return output
    return output.with_name(f"{output.stem}-{index}{output.suffix}")


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


def _datasync(fd: int) -> None:
    """An early flush of written bytes; failures are left to the final fsync to report."""
    with contextlib.suppress(OSError):
        (getattr(os, "fdatasync", None) or os.fsync)(fd)


@dataclass
class PartFile:
    """A temporary file next to the target; `commit()` renames it into place, `discard()` removes it.

    The sha256 is computed while the bytes stream in, so finishing a download never reads it back;
    a resumed part file hashes the bytes it already holds once, before appending.
    """

    target: Path
    path: Path
    size: int = 0
    #: Running digest of bytes 0..`_hashed`; None until the existing bytes of a resumed file are hashed.
    _digest: _Hash | None = field(default=None, repr=False, compare=False)
    _hashed: int = field(default=0, repr=False, compare=False)

    @classmethod
    def create(cls, target: Path, tag: str) -> PartFile:
        """The part file for `target`. `tag` (job id and output index) keeps the name stable, so an
        interrupted download left by an earlier process is continued (with a Range request) instead of
        starting over."""
        target.parent.mkdir(parents=True, exist_ok=True)
        path = target.with_name(f".{target.name}.{_safe(tag)}.part")
        if path.exists():
            return cls(target=target, path=path, size=path.stat().st_size)
        path.write_bytes(b"")
        return cls(target=target, path=path, _digest=hashlib.sha256())

    def truncate(self) -> None:
        with open(self.path, "wb"):
            pass
        self.size = 0
        self._digest = hashlib.sha256()
        self._hashed = 0

    async def write_stream(self, download: Download, *, on_chunk: Callable[[int], None] | None = None) -> int:
        """Append the stream; restart from zero if the server ignored our Range request.

        Chunks are hashed as they arrive and gathered into WRITE_SIZE writes (plain writes on the
        loop: a writer thread measured no faster on two cores, see benchmarks/README.md), with early
        fdatasyncs in a thread along the way. Before returning, every byte counted in `size` is
        written and the file is fsynced, so `commit()` renames only durable bytes; a broken stream
        still leaves `size` bytes on disk for the Range request that continues it.
        """
        if download.resumed_from != self.size:
            self.truncate()
        if self._digest is None or self._hashed != self.size:
            # A resumed file: hash what is already there once (in a thread: it may be large).
            self._digest = await asyncio.to_thread(_hash_file, self.path, self.size)
            self._hashed = self.size
        digest = self._digest
        written = 0
        first = self.size == 0
        pending: list[bytes] = []
        pending_size = 0
        unsynced = 0
        syncing: asyncio.Future[None] | None = None
        with open(self.path, "ab") as fh:  # noqa: ASYNC230 (local disk: a thread hop per block costs more)
            try:
                async for chunk in download.chunks:
                    if not chunk:
                        continue
                    if first:
                        first = False
                        if looks_like_text(chunk[:64]):
                            raise ProtocolError(
                                f"expected a video but the body starts like text: {chunk[:80]!r}",
                                provider=None,
                            )
                    digest.update(chunk)
                    pending.append(chunk)
                    pending_size += len(chunk)
                    written += len(chunk)
                    self.size += len(chunk)
                    if on_chunk is not None:
                        on_chunk(len(chunk))
                    if pending_size >= WRITE_SIZE:
                        fh.write(b"".join(pending))
                        unsynced += pending_size
                        pending.clear()
                        pending_size = 0
                        if unsynced >= EARLY_SYNC and (syncing is None or syncing.done()):
                            syncing = asyncio.ensure_future(asyncio.to_thread(_datasync, fh.fileno()))
                            unsynced = 0
            finally:
                # Runs on errors and cancellation too, so the file holds exactly `size` bytes.
                try:
                    if pending:
                        fh.write(b"".join(pending))
                    fh.flush()
                finally:
                    if syncing is not None:  # never close the file under a running sync
                        await asyncio.shield(syncing)
                self._hashed = self.size
            await asyncio.to_thread(os.fsync, fh.fileno())
        return written

    def sha256(self) -> str:
        """The hex sha256 of the whole part file: the streamed digest, or a read of the file when
        nothing was streamed into this instance."""
        if self._digest is None or self._hashed != self.size:
            self._digest = _hash_file(self.path, self.size)
            self._hashed = self.size
        return self._digest.hexdigest()

    def commit(self) -> Path:
        os.replace(self.path, self.target)
        with contextlib.suppress(OSError):  # directory fsync is best effort (not on every platform)
            fd = os.open(self.target.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return self.target

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
