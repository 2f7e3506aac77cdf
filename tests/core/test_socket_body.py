"""The rest of a download body read straight from the socket (mediarouter/http/socketbody.py), on a
real loopback server, plain and TLS: the bytes are exactly the body, a cut or a stall keeps what came
before it, the connection is never pooled in h11's half-read state, and a body whose bytes are not
the file's (a content coding, no length) goes through httpx as before."""

from __future__ import annotations

import datetime
import gzip
import hashlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from mediarouter.http import socketbody
from mediarouter.http.readsize import BLOCKING_READ_SIZE, larger_reads
from mediarouter.http.socketbody import iter_body

BODY = hashlib.sha256(b"socket body").digest() * 120_000  # 3.84 MB: several whole reads and a partial one
HEAD = 1000  # bytes the server sends with the headers, before a pause: what httpx yields first


@dataclass
class Server:
    """A loopback HTTP/1.1 server in a thread. Sends the headers and HEAD body bytes, pauses so they
    arrive as httpx's first chunk, then the rest, unless the path says otherwise."""

    tls: ssl.SSLContext | None = None
    connections: int = 0
    url: str = ""
    _listener: socket.socket = field(default_factory=socket.socket)
    release: threading.Event = field(default_factory=threading.Event)  # ends a /stall

    def start(self) -> None:
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        port = self._listener.getsockname()[1]
        self.url = f"{'https' if self.tls else 'http'}://localhost:{port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn:
                while self._one(conn):  # keep-alive: serve until the client closes
                    pass
        except OSError:
            pass

    def _one(self, conn: socket.socket) -> bool:
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.recv(65536)
            if not data:
                return False
            request += data
        path = request.split(b" ")[1].decode()
        body, headers = BODY, f"Content-Length: {len(BODY)}\r\n"
        if path == "/gzip":
            body = gzip.compress(BODY)
            headers = f"Content-Length: {len(body)}\r\nContent-Encoding: gzip\r\n"
        elif path == "/chunked":
            headers = "Transfer-Encoding: chunked\r\n"
            body = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in _parts(BODY, 1 << 20))
            body += b"0\r\n\r\n"
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n{headers}\r\n".encode() + body[:HEAD])
        time.sleep(0.05)
        if path == "/cut":
            conn.sendall(body[HEAD : len(body) // 2])
            conn.shutdown(socket.SHUT_RDWR)
            return False
        if path == "/stall":
            conn.sendall(body[HEAD : len(body) // 2])
            self.release.wait(30)
            return False
        conn.sendall(body[HEAD:])
        return True


def _parts(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _tls_contexts(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for localhost: the server's context and a client context trusting it."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


@pytest.fixture(params=["plain", "tls"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, httpx.Client]]:
    server_tls, client_tls = _tls_contexts(tmp_path) if request.param == "tls" else (None, None)
    server = Server(tls=server_tls)
    server.start()
    client = httpx.Client(verify=client_tls if client_tls is not None else True, timeout=httpx.Timeout(10.0))
    try:
        yield server, client
    finally:
        client.close()
        server.close()


@pytest.fixture
def direct_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every chunk read straight from the socket."""
    sizes: list[int] = []
    real = socketbody._read
    monkeypatch.setattr(socketbody, "DIRECT_MIN", 0)  # BODY is smaller than a real download's threshold

    def spy(*args: object) -> Iterator[bytes]:
        for chunk in real(*args):  # type: ignore[arg-type]
            sizes.append(len(chunk))
            yield chunk

    monkeypatch.setattr(socketbody, "_read", spy)
    return sizes


def fetch(client: httpx.Client, url: str, sink: Callable[[bytes], None]) -> None:
    with client.stream("GET", url) as response:
        undo = larger_reads(response, BLOCKING_READ_SIZE)  # as open_download does
        try:
            length = response.headers.get("content-length")
            for chunk in iter_body(response, int(length) if length is not None else None):
                sink(bytes(chunk))
        finally:
            undo()


def test_the_body_after_the_first_chunk_comes_straight_off_the_socket_in_whole_reads(
    setup: tuple[Server, httpx.Client], direct_reads: list[int]
) -> None:
    server, client = setup
    chunks: list[bytes] = []
    fetch(client, server.url + "/video", chunks.append)
    assert b"".join(chunks) == BODY
    # Everything after the first chunk (HEAD bytes, or more on a slow machine), and nothing more.
    assert sum(direct_reads) == len(BODY) - len(chunks[0]) and len(direct_reads) == len(chunks) - 1
    assert all(size == BLOCKING_READ_SIZE for size in direct_reads[:-1])


def test_the_connection_is_not_pooled_after_a_direct_read_so_the_next_request_is_whole(
    setup: tuple[Server, httpx.Client], direct_reads: list[int]
) -> None:
    server, client = setup
    for _ in range(2):
        got = bytearray()
        fetch(client, server.url + "/video", got.extend)
        assert bytes(got) == BODY
    assert server.connections == 2  # h11 was left mid-body: httpcore closed that connection
    response = client.get(server.url + "/video")  # a plain request after them is whole too
    assert response.content == BODY


def test_a_connection_cut_mid_body_yields_every_byte_before_the_cut_then_a_protocol_error(
    setup: tuple[Server, httpx.Client], direct_reads: list[int]
) -> None:
    server, client = setup
    got = bytearray()
    with pytest.raises(httpx.RemoteProtocolError, match="peer closed connection"):
        fetch(client, server.url + "/cut", got.extend)
    assert bytes(got) == BODY[: len(BODY) // 2]  # the partial last read included: a Range resumes from here
    assert direct_reads


def test_a_stalled_body_times_out_with_the_read_timeout_and_keeps_what_arrived(
    setup: tuple[Server, httpx.Client], direct_reads: list[int]
) -> None:
    server, client = setup
    client.timeout = httpx.Timeout(10.0, read=0.5)
    got = bytearray()
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        fetch(client, server.url + "/stall", got.extend)
    assert time.monotonic() - started < 8  # the read timeout, not the 30 s the server would wait
    assert bytes(got) == BODY[: len(BODY) // 2]
    assert direct_reads


@pytest.mark.parametrize("path", ["/gzip", "/chunked"])
def test_a_coded_or_unsized_body_is_read_through_httpx(
    setup: tuple[Server, httpx.Client], direct_reads: list[int], path: str
) -> None:
    server, client = setup
    got = bytearray()
    fetch(client, server.url + path, got.extend)
    assert bytes(got) == BODY  # gzip decoded, chunks unframed: httpx's work, so not bypassed
    assert direct_reads == []


def test_a_body_with_little_left_after_its_first_chunk_is_read_through_httpx_and_its_connection_pooled(
    setup: tuple[Server, httpx.Client], direct_reads: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, client = setup
    monkeypatch.setattr(socketbody, "DIRECT_MIN", len(BODY) - HEAD + 1)  # one byte more than is left
    for _ in range(2):
        got = bytearray()
        fetch(client, server.url + "/video", got.extend)
        assert bytes(got) == BODY
    assert direct_reads == []
    assert server.connections == 1  # no new handshake for the next download of a small file


def test_a_transport_without_a_socket_is_read_through_httpx(direct_reads: list[int]) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=BODY))
    with httpx.Client(transport=transport) as client:
        got = bytearray()
        fetch(client, "http://example.test/video", got.extend)
    assert bytes(got) == BODY
    assert direct_reads == []


def test_shutting_the_socket_down_ends_a_blocked_direct_read_at_once(
    setup: tuple[Server, httpx.Client], direct_reads: list[int]
) -> None:
    """What `_BlockingBody.abort` does on a cancellation: the plain socket's shutdown, TLS or not."""
    server, client = setup
    got = bytearray()
    outcome: list[BaseException] = []
    with client.stream("GET", server.url + "/stall") as response:

        def read() -> None:
            try:
                for chunk in iter_body(response, len(BODY)):
                    got.extend(chunk)
            except BaseException as exc:  # handed to the test
                outcome.append(exc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 10
        while len(got) < len(BODY) // 2 - BLOCKING_READ_SIZE and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # the reader is now blocked on the silent server, in the middle of a buffer
        sock = response.extensions["network_stream"].get_extra_info("socket")
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
        reader.join(5)
        assert not reader.is_alive()  # the stalled server would have held it for 30 s
    assert outcome and isinstance(outcome[0], httpx.TransportError)
    assert bytes(got) == BODY[: len(BODY) // 2]  # every byte that arrived, the partial buffer too
    assert direct_reads
