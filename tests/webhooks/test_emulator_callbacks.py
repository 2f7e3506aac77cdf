"""The OpenRouter emulator calls back: OpenRouter's envelope and headers, signed; never the internet."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock
from mediarouter_openrouter.emulator import EmulatorConfig, Injection, emulator_transport

from mediarouter.webhooks import verify

from .helpers import SECRET

BODY = {"model": "google/veo-3.1", "prompt": "x", "duration": 4}


class Capture(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return httpx.Response(204)


async def _submit_and_finish(config: EmulatorConfig, callback_url: str = "https://hooks.example/h?token=t") -> Any:
    transport = emulator_transport(config)
    async with httpx.AsyncClient(transport=transport, base_url="http://openrouter.emulator") as client:
        answer = await client.post(
            "/api/v1/videos", json={**BODY, "callback_url": callback_url}, headers={"Authorization": "Bearer k"}
        )
        await transport.emulator.webhooks.drain()
    return transport.emulator, answer.json()["id"]


async def test_a_finished_job_posts_the_signed_openrouter_envelope() -> None:
    clock, capture = FakeClock(), Capture()
    config = EmulatorConfig(
        callback_secret=SECRET,
        callback_after=0,
        callback_transport=capture,
        callback_sleep=clock.sleep,
        clock=clock.time,
    )
    state, job_id = await _submit_and_finish(config)
    (request,) = capture.requests
    assert str(request.url) == "https://hooks.example/h?token=t"
    envelope = json.loads(request.content)
    assert envelope["type"] == "video.generation.completed"
    assert envelope["data"]["id"] == job_id and envelope["data"]["status"] == "completed"
    assert envelope["data"]["unsigned_urls"] == [f"http://openrouter.emulator/api/v1/videos/{job_id}/content?index=0"]
    assert request.headers["X-OpenRouter-Idempotency-Key"] == f"{job_id}-completed"
    verify(request.headers["X-OpenRouter-Signature"], request.content, SECRET, clock=clock)
    assert state.jobs[job_id].status == "completed"
    assert "token" not in str(state.webhooks.calls) and "v1=" not in str(state.webhooks.calls)


async def test_a_failure_injected_for_the_job_is_what_the_webhook_reports() -> None:
    clock, capture = FakeClock(), Capture()
    config = EmulatorConfig(
        callback_after=0,
        callback_transport=capture,
        callback_sleep=clock.sleep,
        injections=[Injection.parse("poll:failed")],
    )
    await _submit_and_finish(config)
    envelope = json.loads(capture.requests[0].content)
    assert envelope["type"] == "video.generation.failed" and envelope["data"]["error"]
    assert "X-OpenRouter-Signature" not in capture.requests[0].headers  # no secret: unsigned, like the API


async def test_without_callback_after_the_webhook_goes_when_a_poll_ends_the_job() -> None:
    capture = Capture()
    transport = emulator_transport(
        EmulatorConfig(callback_transport=capture, polls_before_in_progress=0, polls_before_completed=0)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://openrouter.emulator") as client:
        auth = {"Authorization": "Bearer k"}
        job = (
            await client.post("/api/v1/videos", json={**BODY, "callback_url": "https://h.example/"}, headers=auth)
        ).json()
        assert capture.requests == []
        await client.get(f"/api/v1/videos/{job['id']}", headers=auth)
        await transport.emulator.webhooks.drain()
    assert len(capture.requests) == 1


@pytest.mark.parametrize(
    ("spec", "statuses", "outcomes"),
    [("callback:duplicate", 2, ["sent", "sent"]), ("callback:lost", 0, ["lost"]), ("callback:slow", 1, ["sent"])],
)
async def test_callback_injections(spec: str, statuses: int, outcomes: list[str]) -> None:
    clock, capture = FakeClock(), Capture()
    config = EmulatorConfig(
        callback_secret=SECRET,
        callback_after=0,
        callback_slow_seconds=7,
        callback_transport=capture,
        callback_sleep=clock.sleep,
        clock=clock.time,
        injections=[Injection.parse(spec)],
    )
    state, _ = await _submit_and_finish(config)
    assert len(capture.requests) == statuses
    assert [c["outcome"] for c in state.webhooks.calls] == outcomes
    if spec == "callback:slow":
        assert clock.sleeps == [0, 7]


async def test_a_bad_signature_injection_signs_with_another_secret() -> None:
    from mediarouter.webhooks import SignatureError

    clock, capture = FakeClock(), Capture()
    config = EmulatorConfig(
        callback_secret=SECRET,
        callback_after=0,
        callback_transport=capture,
        callback_sleep=clock.sleep,
        clock=clock.time,
        injections=[Injection.parse("callback:bad_signature")],
    )
    await _submit_and_finish(config)
    request = capture.requests[0]
    with pytest.raises(SignatureError):
        verify(request.headers["X-OpenRouter-Signature"], request.content, SECRET, clock=clock)


async def test_a_callback_url_on_a_public_host_is_never_called() -> None:
    clock = FakeClock()
    config = EmulatorConfig(callback_after=0, callback_sleep=clock.sleep)
    state, _ = await _submit_and_finish(config, "https://hooks.example/h")
    assert [(c["outcome"], c["target"]) for c in state.webhooks.calls] == [("skipped", None)]


def test_callback_is_a_phase_of_the_injection_grammar_without_statuses() -> None:
    assert Injection.parse("callback:lostx1").times == 1
    with pytest.raises(ValueError, match="not allowed for phase callback"):
        Injection.parse("callback:500")
    with pytest.raises(ValueError, match="callback_forward"):
        EmulatorConfig(callback_forward="127.0.0.1:80")
