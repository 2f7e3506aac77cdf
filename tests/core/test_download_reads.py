"""Downloads read 256 KiB per socket read on their own connection only, and give it back unchanged."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import httpcore
import httpx
import pytest
from mediarouter_openrouter.errors import RULES

from mediarouter.http import ProviderClient, readsize
from mediarouter.http.readsize import BLOCKING_READ_SIZE, READ_SIZE, larger_reads

BODY = b"\x00\x00\x00\x18ftypmp42" + hashlib.sha256(b"body").digest() * 40_000  # ~1.2 MiB
DEFAULT = httpcore.AsyncHTTP11Connection.READ_NUM_BYTES


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """A real HTTP/1.1 server on loopback that answers every request with BODY (keep-alive)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                head = f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len(BODY)}\r\n\r\n"
                writer.write(head.encode() + BODY)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield f"http://127.0.0.1:{port}"


async def test_the_responses_own_connection_reads_more_and_is_given_back_as_it_was(server: str) -> None:
    async with httpx.AsyncClient() as client, client.stream("GET", server + "/video.mp4") as response:
        undo = larger_reads(response)
        connection = readsize.http11_connection(response)
        assert isinstance(connection, httpcore.AsyncHTTP11Connection)
        assert connection.READ_NUM_BYTES == READ_SIZE > DEFAULT
        assert httpcore.AsyncHTTP11Connection.READ_NUM_BYTES == DEFAULT  # the class is never touched
        assert await response.aread() == BODY
        undo()
        assert connection.READ_NUM_BYTES == DEFAULT
        assert "READ_NUM_BYTES" not in vars(connection)


async def test_a_transport_without_httpcore_connections_is_left_alone() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=BODY))
    async with httpx.AsyncClient(transport=transport) as client, client.stream("GET", "https://x.test/v") as response:
        undo = larger_reads(response)
        assert await response.aread() == BODY
        undo()  # a no-op, and no error


@pytest.mark.parametrize("threaded", [False, True], ids=["async", "threaded"])
async def test_provider_downloads_use_larger_reads_and_restore_the_pooled_connection(
    server: str, monkeypatch: pytest.MonkeyPatch, threaded: bool
) -> None:
    seen: list[httpcore.AsyncHTTP11Connection | httpcore.HTTP11Connection] = []
    real = readsize.larger_reads
    size = BLOCKING_READ_SIZE if threaded else READ_SIZE

    def spy(response: httpx.Response, *args: int) -> object:
        undo = real(response, *args)
        connection = readsize.http11_connection(response)
        assert connection is not None
        assert size == connection.READ_NUM_BYTES
        assert isinstance(connection, httpcore.HTTP11Connection if threaded else httpcore.AsyncHTTP11Connection)
        seen.append(connection)
        return undo

    monkeypatch.setattr(readsize, "larger_reads", spy)
    client = ProviderClient(
        provider="openrouter", rules=RULES, base_url=server + "/api/v1", threaded_downloads=threaded
    )
    try:
        for _ in range(2):  # the second download reuses the pooled connection
            async with client.open_download(
                httpx.URL(server + "/video.mp4"), model="m", job_id="j", auth=False
            ) as download:
                assert (download.blocking is not None) is threaded
                received = b"".join([chunk async for chunk in download.chunks])
            assert received == BODY
            assert "READ_NUM_BYTES" not in vars(seen[-1])  # back to httpcore's default once done
    finally:
        await client.aclose()
    assert len(seen) == 2 and seen[0] is seen[1]  # BODY is below socketbody.DIRECT_MIN: read through h11
