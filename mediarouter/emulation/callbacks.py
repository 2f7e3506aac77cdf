"""What every emulator's webhook caller shares: its calls as tasks on the emulator's loop, and where a
call may go (a test transport, a forward address, loopback; never the internet)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["CallbackTasks", "callback_target"]

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class CallbackTasks:
    """The webhook calls under way, so tests can wait for them and a shutdown can stop them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every call under way (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()


def callback_target(
    url: str, *, transport: httpx.AsyncBaseTransport | None, forward: str | None
) -> tuple[str, httpx.AsyncBaseTransport | None] | None:
    """(address, transport) to call `url` at, or None where the emulator must not call (a public host)."""
    if transport is not None:
        return url, transport
    parts = urlsplit(url)
    if forward is not None:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return forward.rstrip("/") + (path or "/"), None
    if (parts.hostname or "").lower() in _LOOPBACK:
        return url, None
    return None  # the emulator never calls the internet
