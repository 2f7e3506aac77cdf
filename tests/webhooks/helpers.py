"""Shared pieces of the webhook tests: a clock whose sleeps wait for the test to move time, envelopes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import SecretStr

from mediarouter.journal import JobRecord, JobStore
from mediarouter.webhooks import sign

SECRET = SecretStr("whsec-test-secret")


class ManualClock:
    """Implements `mediarouter.Clock`; a sleep returns only once `advance` moves time past its end.

    Unlike the contract kit's FakeClock (whose sleep jumps to its end at once), this one lets two
    sleepers race: what happens at t=5 wakes a sleeper due at t=60 early, and the test can tell.
    """

    def __init__(self, start: float = 1000.0, wall: float = 1_800_000_000.0) -> None:
        self.now = start
        self._offset = wall - start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self._offset

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self.now + max(0.0, seconds), future)
        self._sleepers.append(entry)
        try:
            await future
        finally:
            if entry in self._sleepers:
                self._sleepers.remove(entry)

    @property
    def sleepers(self) -> list[float]:
        """When each pending sleep ends (seconds on this clock)."""
        return sorted(end for end, future in self._sleepers if not future.done())

    async def until_sleeping(self, count: int, *, spins: int = 2000) -> None:
        """Let the other tasks run until `count` sleeps are pending (they reached their waits)."""
        for _ in range(spins):
            if len(self.sleepers) >= count:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"expected {count} pending sleeps, have {self.sleepers}")

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each due sleeper in order and letting it run before the next."""
        target = self.now + seconds
        while True:
            due = [(end, f) for end, f in self._sleepers if end <= target and not f.done()]
            if not due:
                break
            end, future = min(due, key=lambda item: item[0])
            self.now = max(self.now, end)
            future.set_result(None)
            for _ in range(50):
                await asyncio.sleep(0)
        self.now = target


def envelope(job_id: str = "gen-vid-1", status: str = "completed", **data: Any) -> dict[str, Any]:
    return {
        "type": f"video.generation.{status}",
        "created_at": "2027-01-15T08:00:00Z",
        "data": {"id": job_id, "status": status, **data},
    }


def signed_headers(
    body: bytes, timestamp: int, *, secret: SecretStr = SECRET, key: str | None = None
) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-OpenRouter-Signature": sign(secret, body, timestamp)}
    if key is not None:
        headers["X-OpenRouter-Idempotency-Key"] = key
    return headers


def body_of(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


class RacingStore:
    """A journal whose every `get` of the job is followed at once by another writer's `update` of it."""

    def __init__(self, store: JobStore, **meanwhile: Any) -> None:
        self.store = store
        self.meanwhile = meanwhile

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def get(self, key_or_job_id: str) -> JobRecord | None:
        found = self.store.get(key_or_job_id)
        if found is not None and self.meanwhile:
            self.store.update(found.key, **self.meanwhile)
            self.meanwhile = {}
        return found
