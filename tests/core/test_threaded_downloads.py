"""Threaded downloads on a real loopback socket: what the blocking reader must get right that a mock
transport cannot show (a blocked read ended by a cancellation, a connection cut by the server, Range
continuation, the key kept on its origin across a redirect)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from mediarouter_openrouter.errors import RULES
from pydantic import SecretStr

from mediarouter import downloads
from mediarouter.downloads import PartFile
from mediarouter.errors import NotFound, ProviderUnavailable
from mediarouter.http import ProviderClient, socketbody

BODY = b"\x00\x00\x00\x18ftypmp42" + hashlib.sha256(b"threaded").digest() * 100_000  # ~3.2 MB
KEY = "sk-or-v1-threaded-download-secret"


@pytest.fixture(autouse=True, params=["reader-thread", "thread-hops"])
def _body_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large bodies get their own reader and writer threads, and are read past h11 (socketbody.py); small
    ones are read in hops from the loop, through h11."""
    large = request.param == "reader-thread"
    monkeypatch.setattr(downloads, "THREADED_MIN", 0 if large else 1 << 40)
    monkeypatch.setattr(socketbody, "DIRECT_MIN", 0 if large else 1 << 40)


@dataclass
class Server:
    """One loopback HTTP/1.1 server; what it does depends on the path. Records each request's headers."""

    url: str = ""
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    sent: asyncio.Event = field(default_factory=asyncio.Event)
    other: str = ""  # another origin's base URL, for the redirect


async def _serve(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        path = head[0].split(" ")[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        server.seen.append((path, headers))
        start = 0
        if headers.get("range", "").startswith("bytes="):
            start = int(headers["range"][6:].rstrip("-"))
        if path == "/redirect":
            writer.write(f"HTTP/1.1 302 Found\r\nLocation: {server.other}/video\r\nContent-Length: 0\r\n\r\n".encode())
        elif path == "/missing":
            body = b'{"error": {"message": "no such video"}}'
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n")
            writer.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        else:
            status = "206 Partial Content" if start else "200 OK"
            extra = f"Content-Range: bytes {start}-{len(BODY) - 1}/{len(BODY)}\r\n" if start else ""
            length = f"Content-Length: {len(BODY) - start}\r\n"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: video/mp4\r\n{length}{extra}\r\n".encode())
            rest = BODY[start:]
            if path in ("/stall", "/cut") and not start:
                rest = rest[: 300 * 1024]
            writer.write(rest)
            await writer.drain()
            server.sent.set()
            if path == "/stall" and not start:
                await asyncio.Event().wait()  # headers and part of the body, then silence
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    main, other = Server(), Server()
    listeners = [
        await asyncio.start_server(lambda r, w, s=s: _serve(s, r, w), "127.0.0.1", 0)  # type: ignore[misc]
        for s in (main, other)
    ]
    for s, listener in zip((main, other), listeners, strict=True):
        s.url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    main.other = other.url
    main.seen_elsewhere = other.seen  # type: ignore[attr-defined]
    try:
        yield main
    finally:
        for listener in listeners:
            listener.close()


def client_for(server: Server) -> ProviderClient:
    client = ProviderClient(
        provider="openrouter",
        rules=RULES,
        base_url=server.url + "/api/v1",
        credentials={"Authorization": SecretStr(f"Bearer {KEY}")},
        timeout=httpx.Timeout(120.0, connect=10.0),  # far longer than the hang guards below
    )
    assert client.threaded_downloads  # the real network's default
    return client


async def save(client: ProviderClient, part: PartFile, url: str) -> None:
    async with client.open_download(httpx.URL(url), model="m", job_id="j", offset=part.size) as download:
        assert download.blocking is not None
        await part.write_stream(download)


async def test_a_whole_body_is_saved_with_its_sha256(server: Server, tmp_path: Path) -> None:
    client = client_for(server)
    part = PartFile.create(tmp_path / "o.mp4", tag="j-0")
    try:
        await save(client, part, server.url + "/video")
    finally:
        await client.aclose()
    assert part.path.read_bytes() == BODY
    assert part.sha256() == hashlib.sha256(BODY).hexdigest()


async def test_cancelling_ends_a_read_blocked_on_a_silent_server_and_keeps_the_bytes(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(downloads, "_ABORT_WAIT", 5.0)  # without the abort, the reader would outlive this
    client = client_for(server)
    part = PartFile.create(tmp_path / "o.mp4", tag="j-0")
    try:
        task = asyncio.ensure_future(save(client, part, server.url + "/stall"))
        await server.sent.wait()
        await asyncio.sleep(0.2)  # let the reader take what was sent and block on the silence
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)  # the read timeout is 120 s: only the abort ends it sooner
        assert not [t for t in threading.enumerate() if t.name == "mediarouter-download"]
        kept = part.size
        assert 0 < kept <= 300 * 1024
        assert part.path.read_bytes() == BODY[:kept]
        await save(client, part, server.url + "/video")  # the resume asks for the rest
    finally:
        await client.aclose()
    assert server.seen[-1][1]["range"] == f"bytes={kept}-"
    assert part.path.read_bytes() == BODY
    assert part.sha256() == hashlib.sha256(BODY).hexdigest()


async def test_a_connection_cut_mid_body_is_retryable_and_the_range_request_finishes_it(
    server: Server, tmp_path: Path
) -> None:
    client = client_for(server)
    part = PartFile.create(tmp_path / "o.mp4", tag="j-0")
    try:
        with pytest.raises(ProviderUnavailable) as info:
            await save(client, part, server.url + "/cut")
        assert info.value.retryable and KEY not in str(info.value)
        assert part.size == 300 * 1024 and part.path.read_bytes() == BODY[: part.size]
        await save(client, part, server.url + "/cut")  # with an offset, the server sends the rest
    finally:
        await client.aclose()
    assert server.seen[-1][1]["range"] == f"bytes={300 * 1024}-"
    assert part.path.read_bytes() == BODY
    assert part.sha256() == hashlib.sha256(BODY).hexdigest()


async def test_the_key_stays_on_its_origin_across_a_redirect_and_the_range_follows(
    server: Server, tmp_path: Path
) -> None:
    client = client_for(server)
    part = PartFile.create(tmp_path / "o.mp4", tag="j-0")
    part.path.write_bytes(BODY[:1000])
    part = PartFile.create(tmp_path / "o.mp4", tag="j-0")  # a part file left by an earlier run
    try:
        await save(client, part, server.url + "/redirect")
    finally:
        await client.aclose()
    (path, first), [(_, second)] = server.seen[0], server.seen_elsewhere  # type: ignore[attr-defined]
    assert path == "/redirect" and first["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in second and second["range"] == "bytes=1000-"
    assert part.path.read_bytes() == BODY


async def test_an_error_status_is_mapped_with_the_servers_message(server: Server, tmp_path: Path) -> None:
    client = client_for(server)
    part = PartFile.create(tmp_path / "o.mp4", tag="j-0")
    try:
        with pytest.raises(NotFound, match="no such video"):
            await save(client, part, server.url + "/missing")
    finally:
        await client.aclose()
    assert part.size == 0
