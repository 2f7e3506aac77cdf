"""End to end over a real socket: the emulator POSTs its signed webhook over loopback to a receiver
served by uvicorn (in a thread); the job waiting in this process completes with one poll."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mediarouter_openrouter import OpenRouterVideoProvider
from mediarouter_openrouter.emulator import EmulatorConfig, emulator_transport

from mediarouter import VideoRequest
from mediarouter.engine import JobEngine
from mediarouter.journal import RecordState, SQLiteJobStore
from mediarouter.webhooks import Waiters, create_receiver

from .helpers import SECRET

uvicorn = pytest.importorskip("uvicorn")

pytestmark = pytest.mark.slow


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SQLiteJobStore]:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    yield store
    store.close()


@pytest.fixture
def waiters() -> Waiters:
    # Safety net far beyond the engine's deadline: only the webhook can finish this job in time.
    return Waiters(first_poll=120.0, poll_every=120.0)


@pytest.fixture
def receiver_origin(journal: SQLiteJobStore, waiters: Waiters) -> Iterator[str]:
    app = create_receiver(secret=SECRET, journal=journal, waiters=waiters, listeners=[])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the receiver did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    sock.close()


async def test_a_webhook_over_loopback_completes_the_job_with_one_poll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, journal: SQLiteJobStore, waiters: Waiters, receiver_origin: str
) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    transport = emulator_transport(
        EmulatorConfig(
            callback_secret=SECRET,
            callback_after=0.05,
            callback_forward=receiver_origin,  # stands for the HTTPS tunnel in front of the receiver
            polls_before_in_progress=0,
            polls_before_completed=100,
        )
    )
    provider = OpenRouterVideoProvider(emulator=True, transport=transport)
    engine = JobEngine(poll_interval=1.0, timeout=20.0, journal=journal, webhooks=waiters)
    request = VideoRequest(prompt="x", duration=4, callback_url="https://hooks.example/openrouter/video")
    started = time.monotonic()
    result = await engine.run(provider, "google/veo-3.1", request, output=tmp_path / "o.mp4")
    assert result.polls == 1
    assert time.monotonic() - started < 15
    assert (tmp_path / "o.mp4").read_bytes()[4:8] == b"ftyp"
    (call,) = transport.emulator.webhooks.calls
    assert call["response_status"] == 204 and call["target"] == "/openrouter/video"
    assert journal.get(result.job_id).state is RecordState.DOWNLOADED  # type: ignore[union-attr]
    await provider.aclose()
