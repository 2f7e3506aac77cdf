"""SIGTERM (a container stop, `kill`, a CI timeout) handled like Ctrl-C by the commands that run jobs."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["interrupted_exit", "sigterm_as_interrupt"]


@contextmanager
def sigterm_as_interrupt() -> Iterator[list[bool]]:
    """While inside, SIGTERM goes to the SIGINT handler of the moment; the list yielded gets an item
    when it did (so the command can say SIGTERM and exit 143).

    Inside `asyncio.run` that handler cancels the main task, so the engine unwinds at an await as for
    Ctrl-C (journaling the job as interrupted) instead of a KeyboardInterrupt raised in whatever frame, an
    event-loop callback say, the signal happened to land in."""
    terminated: list[bool] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        terminated.append(True)
        on_interrupt = signal.getsignal(signal.SIGINT)
        if callable(on_interrupt):
            on_interrupt(signal.SIGINT, frame)
            return
        raise KeyboardInterrupt  # SIGINT ignored (a background job of a shell): stop all the same

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding host): leave signals alone
        yield terminated
        return
    try:
        yield terminated
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted_exit(terminated: list[bool]) -> tuple[str, int]:
    """What to call the stop in a message, and the exit code: ("SIGTERM", 143) or ("interrupted", 130)."""
    return ("SIGTERM", 143) if terminated else ("interrupted", 130)
