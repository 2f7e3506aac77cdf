"""End to end over a real socket, for fal: the fal emulator POSTs its ED25519-signed webhook over loopback
to a receiver served by uvicorn (in a thread), which checks it against the emulator's JWKS; the job
waiting in this process completes with one poll."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from mediarouter_fal.emulator import EmulatorConfig, create_app
from mediarouter_fal.provider import FalVideoProvider
from mediarouter_fal.webhooks import FalWebhookScheme

from mediarouter import VideoRequest
from mediarouter.emulation.transport import EmulatorTransport
from mediarouter.engine import JobEngine
from mediarouter.journal import RecordState, SQLiteJobStore
from mediarouter.webhooks import Waiters, create_receiver

pytest.importorskip("cryptography")
uvicorn = pytest.importorskip("uvicorn")

pytestmark = pytest.mark.slow


@contextmanager
def serving(app: object, sock: socket.socket) -> Iterator[None]:
    """uvicorn serving `app` on the bound `sock`, in a thread, until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the receiver did not start"
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


async def test_a_fal_webhook_over_loopback_completes_the_job_with_one_poll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("MEDIAROUTER_WEBHOOK_SECRET", raising=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    journal = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    # Safety net far beyond the engine's deadline: only the webhook can finish this job in time.
    waiters = Waiters(first_poll=120.0, poll_every=120.0)
    # The emulator calls the tunnel's stand-in (the loopback receiver) at the callback URL's path.
    config = EmulatorConfig(
        polls_before_in_progress=0, polls_before_completed=100, callback_after=0.05, callback_forward=origin
    )
    app = create_app(config)
    # The receiver fetches the emulator's published key (without any fal key), as it would fal's.
    scheme = FalWebhookScheme(
        jwks_url="http://queue.fal.emulator/.well-known/jwks.json", transport=httpx.ASGITransport(app=app)
    )
    receiver = create_receiver(schemes=[scheme], journal=journal, waiters=waiters, listeners=[])
    provider = FalVideoProvider(emulator=True, transport=EmulatorTransport(app))
    try:
        with serving(receiver, sock):
            engine = JobEngine(poll_interval=1.0, timeout=20.0, journal=journal, webhooks=waiters)
            request = VideoRequest(prompt="x", duration=4, callback_url="https://hooks.example/fal/video")
            started = time.monotonic()
            result = await engine.run(provider, "fal-ai/veo3", request, output=tmp_path / "o.mp4")
        assert result.polls == 1
        assert time.monotonic() - started < 15
        assert (tmp_path / "o.mp4").read_bytes()[4:8] == b"ftyp"
        (call,) = app.state.emulator.webhooks.calls
        assert call["response_status"] == 204 and call["target"] == "/fal/video"
        assert scheme.keys.fetches == 1
        assert journal.get(result.job_id).state is RecordState.DOWNLOADED  # type: ignore[union-attr]
    finally:
        await provider.aclose()
        journal.close()
