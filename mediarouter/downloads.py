"""Streaming a provider's download to disk: constant memory, atomic rename, sanity checks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidRequest, ProtocolError
from .provider import Download

__all__ = ["PartFile", "check_output", "looks_like_text", "output_path", "rescue"]

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


@dataclass
class PartFile:
    """A temporary file next to the target; `commit()` renames it into place, `discard()` removes it."""

    target: Path
    path: Path
    size: int = 0

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
        return cls(target=target, path=path)

    def truncate(self) -> None:
        with open(self.path, "wb"):
            pass
        self.size = 0

    async def write_stream(self, download: Download, *, on_chunk: Callable[[int], None] | None = None) -> int:
        """Append the stream; restart from zero if the server ignored our Range request."""
        if download.resumed_from != self.size:
            self.truncate()
        written = 0
        first = self.size == 0
        # Plain file writes: chunks go to local disk, a thread hop per chunk would cost more than it saves.
        with open(self.path, "ab") as fh:  # noqa: ASYNC230
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
                fh.write(chunk)
                written += len(chunk)
                self.size += len(chunk)
                if on_chunk is not None:
                    on_chunk(len(chunk))
            fh.flush()
            await asyncio.to_thread(os.fsync, fh.fileno())
        return written

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

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
