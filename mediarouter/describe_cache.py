"""Describe results on disk, so asking the same model the same question about the same video is paid once.

The key is the SHA-256 of the video's bytes (what the caller gave, before any shrink), the
model ref, the prompt and the request's options (max tokens, processing, temperature, shrink),
plus the provider's server address and whether the answer came from an emulator, so an
emulated answer (in-process or on a loopback base URL) never stands in for a real one. A
URL's bytes are never fetched, so URL inputs are not cached. One JSON file per entry under
the platform cache dir (`platformdirs.user_cache_dir("mediarouter")/describe`,
`MEDIAROUTER_CACHE_DIR` overrides the base), written atomically; an unreadable entry is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import ValidationError

from .understanding import DescribeResult

__all__ = ["CACHE_ENV", "DescribeCache", "cache_dir", "cache_key"]

log = logging.getLogger("mediarouter.describe")

#: Environment variable naming the cache's base directory (the platform cache dir when unset).
CACHE_ENV = "MEDIAROUTER_CACHE_DIR"
_VERSION = 1


def cache_dir() -> Path:
    """Where describe results are kept."""
    base = os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("mediarouter", appauthor=False)
    return Path(base).expanduser() / "describe"


def cache_key(sha256: str, ref: str, prompt: str, options: Mapping[str, Any]) -> str:
    """One hex digest for (content, model, prompt, options)."""
    material = json.dumps(
        {"v": _VERSION, "sha256": sha256, "ref": ref, "prompt": prompt, "options": dict(options)},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class DescribeCache:
    """`get(key)` / `put(key, result)` / `clear()` on a directory (made on first write)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else cache_dir()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> DescribeResult | None:
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("describe cache: cannot read %s: %s", path, exc)
            return None
        try:
            result = DescribeResult.model_validate_json(raw)
        except ValidationError:
            log.warning("describe cache: dropping an unreadable entry %s", path.name)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return result.model_copy(update={"cached": True})

    def put(self, key: str, result: DescribeResult) -> None:
        """Store `result` (attempts and timings of this call are not kept). A failed write only logs."""
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        stored = result.model_copy(update={"attempts": [], "timings": {}, "cached": False})
        try:
            data = stored.model_dump_json().encode("utf-8")  # ValueError: text that is not valid Unicode
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except (OSError, ValueError) as exc:
            log.warning("describe cache: cannot write %s: %s", path.name, exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def entries(self) -> int:
        return sum(1 for _ in self.directory.glob("*/*.json")) if self.directory.is_dir() else 0

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        removed = 0
        if not self.directory.is_dir():
            return 0
        for path in self.directory.glob("*/*.json"):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
        for sub in self.directory.iterdir():
            if sub.is_dir():
                for part in sub.glob(".*.part"):
                    with contextlib.suppress(OSError):
                        part.unlink()
                with contextlib.suppress(OSError):
                    sub.rmdir()
        return removed
