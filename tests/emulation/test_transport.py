"""The shared transport and ASGI helpers: injected network outcomes become the client-side errors
httpx raises for the real thing (in-process and on loopback), byte ranges and JSON bodies behave,
and importing the package pulls in no starlette, uvicorn or PyAV."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mediarouter.emulation import ApiError, Journal, NetworkFault
from mediarouter.emulation.asgi import (
    GARBAGE_BODY,
    answer_injection,
    byte_range,
    journal_status,
    ranged_response,
    read_json,
)
from mediarouter.emulation.injection import NETWORK_OUTCOMES, Injection, InjectionGrammar, Injector, PhaseSpec
from mediarouter.emulation.transport import EmulatorTransport


@dataclass(frozen=True)
class ToyInjection(Injection):
    grammar = InjectionGrammar(phases=(PhaseSpec("submit", outcomes=NETWORK_OUTCOMES), PhaseSpec("content")))


def toy_app(*specs: str, slept: list[float] | None = None) -> Starlette:
    """A two-endpoint backend on the shared parts, as a new backend's emulator would be built."""
    injector = Injector(ToyInjection.parse(s) for s in specs)
    journal = Journal()

    async def record_sleep(seconds: float) -> None:
        (slept if slept is not None else []).append(seconds)

    def render(exc: ApiError) -> Response:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    async def submit(request: Request) -> Response:
        try:
            body = await read_json(request, max_bytes=1000)
            response = await answer_injection(request, injector.take("submit"), sleep=record_sleep, slow_seconds=3)
            if response is None:
                response = JSONResponse({"id": "r1", "echo": body}, status_code=202)
        except NetworkFault:
            journal.record(request.method, request.url.path, None, phase="submit")
            raise
        except ApiError as exc:
            response = render(exc)
        journal.record(request.method, request.url.path, journal_status(response), phase="submit")
        return response

    async def content(request: Request) -> Response:
        try:
            await answer_injection(request, injector.take("content"))
        except ApiError as exc:
            return render(exc)
        return ranged_response(b"0123456789", request.headers.get("range"), media_type="video/mp4", render_error=render)

    app = Starlette(routes=[Route("/submit", submit, methods=["POST"]), Route("/content", content)])
    app.state.emulator = journal
    return app


async def post(app: Starlette) -> httpx.Response:
    async with httpx.AsyncClient(transport=EmulatorTransport(app), base_url="http://toy.emulator") as client:
        return await client.post("/submit", json={"a": 1})


async def test_in_process_timeout_is_a_read_timeout_and_journaled_without_a_status() -> None:
    app = toy_app("submit:timeoutx1")
    with pytest.raises(httpx.ReadTimeout, match="injected timeout"):
        await post(app)
    assert (await post(app)).status_code == 202
    assert [e["status"] for e in app.state.emulator] == [None, 202]


async def test_in_process_drop_is_a_protocol_error() -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="disconnected"):
        await post(toy_app("submit:drop"))


async def test_garbage_is_an_unreadable_2xx() -> None:
    response = await post(toy_app("submit:garbage"))
    assert response.status_code == 200 and response.content == GARBAGE_BODY
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


async def test_slow_answers_normally_after_the_injected_sleep() -> None:
    slept: list[float] = []
    response = await post(toy_app("submit:slowx1", slept=slept))
    assert response.status_code == 202 and response.json()["echo"] == {"a": 1}
    assert slept == [3]


async def test_a_status_injection_raises_the_backends_error() -> None:
    response = await post(toy_app("submit:503"))
    assert response.status_code == 503 and response.json() == {"detail": "Service Unavailable"}


async def test_transport_exposes_the_apps_state() -> None:
    app = toy_app()
    assert EmulatorTransport(app).emulator is app.state.emulator


async def test_ranges_and_bodies() -> None:
    app = toy_app()
    async with httpx.AsyncClient(transport=EmulatorTransport(app), base_url="http://toy.emulator") as client:
        whole = await client.get("/content")
        tail = await client.get("/content", headers={"Range": "bytes=-3"})
        beyond = await client.get("/content", headers={"Range": "bytes=10-"})
        huge = await client.post("/submit", content=b"{}", headers={"Content-Length": "5000"})
        broken = await client.post("/submit", content=b"{nope")
    assert (whole.status_code, whole.headers["accept-ranges"]) == (200, "bytes")
    assert (tail.status_code, tail.content, tail.headers["content-range"]) == (206, b"789", "bytes 7-9/10")
    assert (beyond.status_code, beyond.headers["content-range"]) == (416, "bytes */10")
    assert huge.status_code == 413 and broken.status_code == 400


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=2-4", (2, 4)),
        ("bytes=5-", (5, 9)),
        ("bytes=-20", (0, 9)),
        ("bytes=1-2,4-5", None),
        ("items=1-2", None),
    ],
)
def test_byte_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 10) == expected


def test_api_error_messages_default_to_the_backends_table_then_the_reason_phrase() -> None:
    class FalError(ApiError):
        messages: ClassVar[Mapping[int, str]] = {402: "User is locked. Exhausted balance."}

    assert FalError(402).message == "User is locked. Exhausted balance."
    assert FalError(404).message == "Not Found"
    assert ApiError(599).message == "Emulated error 599"
    assert ApiError(400, body={"detail": [{"loc": ["duration"]}]}).body == {"detail": [{"loc": ["duration"]}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served() -> Iterator[str]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(toy_app("submit:timeoutx1", "submit:dropx1"), host="127.0.0.1", port=port, log_level="critical")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.mark.slow
async def test_on_loopback_timeout_withholds_the_answer_and_drop_closes_the_connection(served: str) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=httpx.Timeout(5, read=0.3)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/submit", json={})
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/submit", json={})
        await asyncio.sleep(0)
        assert (await client.post("/submit", json={})).status_code == 202


def test_importing_mediarouter_or_the_emulation_package_loads_no_server_or_pyav() -> None:
    code = (
        "import json, sys\n"
        "import mediarouter\n"
        "before = sorted(sys.modules)\n"
        "import mediarouter.emulation, mediarouter.emulation.mp4, mediarouter.emulation.transport\n"
        "print(json.dumps([before, sorted(sys.modules)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    before, after = json.loads(done.stdout)
    heavy: Any = ("starlette", "uvicorn", "av")
    assert not [m for m in before if m.split(".")[0] in heavy or m.startswith("mediarouter.emulation")]
    assert not [m for m in after if m.split(".")[0] in heavy]
