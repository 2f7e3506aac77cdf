"""Larger socket reads for one streamed download, without changing httpx or httpcore for anyone else.

httpcore's HTTP/1.1 connection reads `READ_NUM_BYTES` = 64 KiB per socket read, a class attribute
httpx gives no way to set; asyncio hands over up to 256 KiB per receive (a blocking socket, used by
threaded downloads, up to 1 MiB), so a 1 GiB download costs 16,384 trips through h11 and the event
loop instead of 4,096 (issue #15: downloads; measured
figures in benchmarks/README.md). `larger_reads(response)` shadows the attribute on *this*
response's connection only, as an instance attribute, and the returned undo removes it again, so
the pooled connection goes back to httpcore's default before anything else uses it. The class, other
connections and the host application's own httpx clients are never touched.

It reaches the connection through httpcore's stream objects (private attributes). When they are not
what this expects (another httpcore version, HTTP/2, a mock or ASGI transport), it does nothing:
the download works the same, with 64 KiB reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["BLOCKING_READ_SIZE", "READ_SIZE", "http11_connection", "larger_reads"]

#: Bytes per socket read while a download streams: asyncio's largest single receive.
READ_SIZE = 256 << 10
#: The same for a threaded download's blocking socket, where one `recv` can return this much.
BLOCKING_READ_SIZE = 1 << 20


def _nothing() -> None:
    return None


def http11_connection(response: Any) -> Any:
    """The httpcore HTTP/1.1 connection (async or blocking) serving `response`, or None.

    The chain in httpx 0.28 / httpcore 1.0: the client's bound stream (`_stream`) wraps the
    transport's response stream (`_httpcore_stream`), which wraps the pool's stream (`_stream`),
    which wraps the connection's body stream, which holds the connection (`_connection`).
    """
    try:
        import httpcore
    except ImportError:  # pragma: no cover (httpx always brings it)
        return None
    node: Any = getattr(response, "stream", None)
    for _ in range(8):
        if isinstance(node, httpcore.AsyncHTTP11Connection | httpcore.HTTP11Connection):
            return node
        node = next((getattr(node, name) for name in _LINKS if hasattr(node, name)), None)
        if node is None:
            return None
    return None


#: The attributes that lead from one wrapper to the next (see `http11_connection`).
_LINKS = ("_stream", "_httpcore_stream", "_connection")


def larger_reads(response: Any, size: int = READ_SIZE) -> Callable[[], None]:
    """Read `response`'s body `size` bytes at a time; call the result to restore httpcore's default."""
    connection = http11_connection(response)
    if connection is None or "READ_NUM_BYTES" in vars(connection):
        return _nothing
    connection.READ_NUM_BYTES = size

    def undo() -> None:
        vars(connection).pop("READ_NUM_BYTES", None)

    return undo
