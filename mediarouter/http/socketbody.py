"""The rest of a threaded download's body read straight from its socket, past h11.

A blocking download still spends most of its CPU in the HTTP stack, not in the socket: every read
goes through httpcore and h11, which copy the bytes into h11's buffer and out again (issue #15:
downloads; figures in benchmarks/README.md). Once httpx has handed over the first body chunk of a
response with a known length and no content coding, h11 holds nothing more of the body, and every
byte still to come is body: when at least DIRECT_MIN of them are left, `iter_body` reads them with
`recv_into` into whole 1 MiB buffers, never more than the Content-Length, with the request's read
timeout.

The connection is left with h11 mid-body, so httpcore closes it when the response closes instead of
pooling it (one new connection per large download, nothing reused in a wrong state). Errors are
httpx's own (`ReadTimeout`, `ReadError`, `RemoteProtocolError` for a body cut short), so callers map
them as they map the stack's, and the bytes received before an error are yielded first: a Range
request continues from them.

Like readsize.py it finds the connection through httpcore's private attributes; when anything is not
what it expects (another httpcore version, TLS inside a proxy's TLS, a mock transport) it returns
None and the body is read through httpx as before.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import Any

import httpx

from .readsize import BLOCKING_READ_SIZE, http11_connection

__all__ = ["DIRECT_MIN", "connection_socket", "iter_body"]

#: A body with less than this left after its first chunk is read through httpx, so its connection goes
#: back to the pool: for a few MiB, the copies saved cost less than the new connection (TCP and TLS
#: handshakes) the next download to that host would need.
DIRECT_MIN = 4 << 20


def iter_body(response: httpx.Response, length: int | None) -> Iterator[bytes | bytearray]:
    """`response.iter_bytes()`, except that after the first chunk the rest is read from the socket
    when that is safe (see the module docstring). `length` is the body's Content-Length as the caller
    parsed it (None: unknown, so everything goes through httpx)."""
    chunks = response.iter_bytes()
    for chunk in chunks:
        if chunk:
            yield chunk
            rest = _socket_body(response, length, len(chunk))
            yield from chunks if rest is None else rest
            return


def _socket_body(response: httpx.Response, length: int | None, received: int) -> Iterator[bytearray] | None:
    """The rest of `response`'s `length`-byte body after its first `received` bytes (the chunks httpx
    has yielded), read from the socket; None when that cannot be done safely."""
    if length is None or length - received < max(DIRECT_MIN, 1):
        return None
    if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
        return None  # the caller wants decoded bytes; Content-Length counts encoded ones
    sock = _plain_socket(response)
    if sock is None or not _h11_buffer_empty(response):
        return None
    timeouts = response.request.extensions.get("timeout")
    timeout = timeouts.get("read") if isinstance(timeouts, dict) else None
    return _read(sock, response.request, length - received, timeout)


def connection_socket(response: httpx.Response) -> socket.socket | None:
    """The socket under `response`'s connection (plain or TLS), or None (a mock or ASGI transport)."""
    stream: Any = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if hasattr(stream, "get_extra_info") else None
    return sock if isinstance(sock, socket.socket) else None


def _plain_socket(response: httpx.Response) -> socket.socket | None:
    """The socket the body arrives on, if reading it directly yields the body: a plain TCP socket, or a
    TLS socket whose own TLS is the connection's (not TLS tunnelled through a proxy's TLS)."""
    sock = connection_socket(response)
    if sock is None:
        return None
    tls = response.extensions["network_stream"].get_extra_info("ssl_object")
    if isinstance(sock, ssl.SSLSocket):
        return sock if tls is not None and tls is getattr(sock, "_sslobj", None) else None
    return sock if tls is None else None


def _h11_buffer_empty(response: httpx.Response) -> bool:
    """h11 has nothing of the body left in its buffer and is still reading it."""
    import h11

    connection = http11_connection(response)
    state: Any = getattr(connection, "_h11_state", None)
    if not isinstance(state, h11.Connection):
        return False
    data, closed = state.trailing_data
    return not data and not closed and state.their_state is h11.SEND_BODY


def _read(sock: socket.socket, request: httpx.Request, left: int, timeout: float | None) -> Iterator[bytearray]:
    expected = left
    while left > 0:
        buffer = bytearray(min(left, BLOCKING_READ_SIZE))
        view = memoryview(buffer)
        filled = 0
        error: httpx.TransportError | None = None
        try:
            sock.settimeout(timeout)
            while filled < len(buffer):
                count = sock.recv_into(view[filled:])
                if count == 0:
                    got = expected - left + filled
                    error = httpx.RemoteProtocolError(
                        f"peer closed connection without sending complete message body "
                        f"(received {got} of {expected} remaining bytes)",
                        request=request,
                    )
                    break
                filled += count
        except TimeoutError as exc:  # socket.timeout
            error = httpx.ReadTimeout(str(exc) or "timed out", request=request)
        except OSError as exc:
            error = httpx.ReadError(str(exc) or type(exc).__name__, request=request)
        view.release()
        if filled:
            left -= filled
            del buffer[filled:]
            yield buffer  # a bytearray, not copied into bytes: hashing and writev take any buffer
        if error is not None:
            raise error
