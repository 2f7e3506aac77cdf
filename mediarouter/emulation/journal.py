"""The request journal: what an emulator was asked and what it answered, never a secret.

Tests of money-handling code assert on it ("exactly one submit", "the key never went to the
CDN"), so every request is recorded with its phase, including errors and injected failures.
Entries are plain dicts (JSON-ready, served as they are); backends add their own fields.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["SECRET_HEADERS", "Journal", "safe_headers"]

#: Headers never recorded by value. Names holding "key", "token", "secret" or "signature" are dropped too.
SECRET_HEADERS: frozenset[str] = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-goog-api-key", "api-key"}
)
_SECRET_WORDS = ("key", "token", "secret", "signature", "auth", "password")


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names (lowercased) and values, minus every header that may carry a credential."""
    return {str(k).lower(): str(v) for k, v in headers.items() if not _is_secret(str(k))}


class Journal:
    """An append-only list of request entries with counting helpers.

    Each entry has at least ``method``, ``path``, ``status`` and ``phase`` (None for requests
    that belong to no phase, such as unknown routes); ``status`` is None when no answer was given.
    """

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def record(
        self,
        method: str,
        path: str,
        status: int | None,
        *,
        phase: str | None = None,
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Append one entry; ``headers`` are kept only through :func:`safe_headers`."""
        entry: dict[str, Any] = {"method": method, "path": path, "status": status, "phase": phase, **fields}
        if headers is not None:
            entry["headers"] = safe_headers(headers)
        self.entries.append(entry)
        return entry

    def append(self, entry: Mapping[str, Any]) -> None:
        """Append an entry a backend built itself (it must not hold secrets)."""
        self.entries.append(dict(entry))

    def select(self, phase: str | None = None, **fields: Any) -> list[dict[str, Any]]:
        """Entries of ``phase`` (every phase when None) whose fields equal the given values."""
        return [
            e
            for e in self.entries
            if (phase is None or e.get("phase") == phase) and all(e.get(k) == v for k, v in fields.items())
        ]

    def count(self, phase: str | None = None, **fields: Any) -> int:
        """How many requests matched, e.g. ``count("submit", status=202)`` for accepted submits."""
        return len(self.select(phase, **fields))

    def counts(self) -> dict[str | None, int]:
        """Requests per phase, in first-seen order."""
        result: dict[str | None, int] = {}
        for entry in self.entries:
            result[entry.get("phase")] = result.get(entry.get("phase"), 0) + 1
        return result

    def clear(self) -> None:
        self.entries.clear()

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.entries)
