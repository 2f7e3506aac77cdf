"""fal's webhooks: the ED25519 scheme, the receiver running it, and the emulator calling back signed.

The keys come from the fal emulator's own JWKS (`GET /.well-known/jwks.json`) through an ASGI
transport; time is a fake clock; nothing leaves the process.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock

pytest.importorskip("starlette")
pytest.importorskip("cryptography")

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mediarouter_fal.emulator import EmulatorConfig, FalInjection, create_app, emulator_transport
from mediarouter_fal.emulator.app import FalEmulator
from mediarouter_fal.provider import FalVideoProvider
from mediarouter_fal.webhooks import (
    REQUEST_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    USER_ID_HEADER,
    FalWebhookScheme,
    signed_message,
)

from mediarouter import JobState
from mediarouter.events import Event, WebhookAcceptedEvent, WebhookDuplicateEvent, WebhookRejectedEvent
from mediarouter.journal import JobRecord, MemoryJobStore, RecordState
from mediarouter.webhooks import DeliveryError, SignatureError, Waiters, create_receiver, plugin_schemes

JWKS = "http://queue.fal.emulator/.well-known/jwks.json"
RID = "8f2b6c4e-0000-4000-8000-000000000001"
OK_BODY = {
    "request_id": RID,
    "gateway_request_id": RID,
    "status": "OK",
    "payload": {"video": {"url": "https://v3.fal.media/files/x/output.mp4"}, "seed": 7},
}


class Keys:
    """A fal emulator as the key server, and a scheme fetching its keys on a fake clock."""

    def __init__(self, **config: Any) -> None:
        self.clock = FakeClock()
        self.app = create_app(EmulatorConfig(**config), cache=None)
        self.emulator: FalEmulator = self.app.state.emulator
        self.key_server = httpx.ASGITransport(app=self.app)
        self.scheme = FalWebhookScheme(jwks_url=JWKS, transport=self.key_server, clock=self.clock)

    def headers(self, body: bytes, *, at: float | None = None, request_id: str = RID, **options: Any) -> dict[str, str]:
        stamp = int(self.clock.time() if at is None else at)
        return self.emulator.webhooks.headers(request_id, body, stamp, **options)

    async def verify(self, body: bytes, headers: dict[str, str]) -> None:
        await self.scheme.verify(httpx.Headers(headers), body, clock=self.clock, tolerance=300)


def raw(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


# -- the signature ---------------------------------------------------------------------------------


async def test_a_delivery_signed_with_the_published_key_verifies() -> None:
    keys, body = Keys(), raw(OK_BODY)
    await keys.verify(body, keys.headers(body))
    assert keys.scheme.keys.fetches == 1


async def test_the_signed_message_is_the_three_headers_and_the_body_hash() -> None:
    message = signed_message("r", "u", "17", b"{}")
    assert message == b"r\nu\n17\n44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


async def test_a_tampered_body_is_a_bad_signature() -> None:
    keys, body = Keys(), raw(OK_BODY)
    headers = keys.headers(body)
    with pytest.raises(SignatureError) as caught:
        await keys.verify(raw({**OK_BODY, "status": "ERROR"}), headers)
    assert caught.value.reason == "bad_signature" and caught.value.status_code == 401


async def test_a_signature_by_another_key_is_refused_after_one_refetch() -> None:
    keys, body = Keys(), raw(OK_BODY)
    await keys.verify(body, keys.headers(body))
    keys.clock.advance(61)
    with pytest.raises(SignatureError, match="does not match"):
        await keys.verify(body, keys.headers(body, key=Ed25519PrivateKey.generate()))
    assert keys.scheme.keys.fetches == 2  # the rotated-key refetch, once


async def test_a_rotated_key_is_picked_up_by_the_refetch() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keys, body = Keys(webhook_key=old), raw(OK_BODY)
    await keys.verify(body, keys.headers(body))
    keys.clock.advance(61)
    rotated = create_app(EmulatorConfig(webhook_key=new), cache=None)  # fal now publishes the new key
    keys.scheme.keys._transport = httpx.ASGITransport(app=rotated)
    await keys.verify(body, rotated.state.emulator.webhooks.headers(RID, body, int(keys.clock.time())))
    assert keys.scheme.keys.fetches == 2


@pytest.mark.parametrize("offset", [-301, 301])
async def test_a_timestamp_more_than_five_minutes_off_either_way_is_stale(offset: int) -> None:
    keys, body = Keys(), raw(OK_BODY)
    with pytest.raises(SignatureError) as caught:
        await keys.verify(body, keys.headers(body, at=keys.clock.time() + offset))
    assert caught.value.reason == "stale_signature"
    assert keys.scheme.keys.fetches == 0  # refused before any key is fetched


async def test_five_minutes_off_exactly_is_still_good() -> None:
    keys, body = Keys(), raw(OK_BODY)
    await keys.verify(body, keys.headers(body, at=keys.clock.time() - 300))


@pytest.mark.parametrize("missing", [REQUEST_ID_HEADER, USER_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER])
async def test_each_missing_header_is_named(missing: str) -> None:
    keys, body = Keys(), raw(OK_BODY)
    headers = {k: v for k, v in keys.headers(body).items() if k != missing}
    with pytest.raises(SignatureError, match=missing) as caught:
        await keys.verify(body, headers)
    assert caught.value.reason == "missing_signature"


@pytest.mark.parametrize(("header", "value"), [(SIGNATURE_HEADER, "zz"), (SIGNATURE_HEADER, "ab" * 10)])
async def test_a_signature_that_is_not_64_hex_bytes_is_malformed(header: str, value: str) -> None:
    keys, body = Keys(), raw(OK_BODY)
    with pytest.raises(SignatureError) as caught:
        await keys.verify(body, {**keys.headers(body), header: value})
    assert caught.value.reason == "malformed_signature"


async def test_a_timestamp_that_is_not_unix_seconds_is_malformed() -> None:
    keys, body = Keys(), raw(OK_BODY)
    with pytest.raises(SignatureError) as caught:
        await keys.verify(body, {**keys.headers(body), TIMESTAMP_HEADER: "2027-01-01T00:00:00Z"})
    assert caught.value.reason == "malformed_signature"


async def test_a_pinned_user_refuses_deliveries_for_another_fal_account() -> None:
    keys, body = Keys(webhook_user_id="someone-else"), raw(OK_BODY)
    keys.scheme.user_id = "me"
    with pytest.raises(SignatureError) as caught:
        await keys.verify(body, keys.headers(body))
    assert caught.value.reason == "unexpected_user"


# -- reading a delivery ----------------------------------------------------------------------------


def test_ok_reads_as_completed_with_the_video_url() -> None:
    delivery = FalWebhookScheme(jwks_url=JWKS).read(OK_BODY, httpx.Headers({REQUEST_ID_HEADER: RID}))
    assert (delivery.job_id, delivery.state, delivery.status) == (RID, JobState.COMPLETED, "OK")
    assert delivery.unsigned_urls == ("https://v3.fal.media/files/x/output.mp4",)
    assert delivery.idempotency_key == f"{RID}-OK"


def test_error_reads_as_failed_with_fal_words() -> None:
    body = {"request_id": RID, "status": "ERROR", "error": "Invalid status code: 422", "payload": {"detail": "bad"}}
    delivery = FalWebhookScheme(jwks_url=JWKS).read(body, httpx.Headers({REQUEST_ID_HEADER: RID}))
    assert delivery.state is JobState.FAILED and delivery.error == "bad — Invalid status code: 422"
    unserialisable = {"request_id": RID, "status": "ERROR", "payload": None, "payload_error": "not JSON"}
    assert FalWebhookScheme(jwks_url=JWKS).read(unserialisable, {REQUEST_ID_HEADER: RID}).error == "not JSON"


def test_an_unknown_status_is_acknowledged_and_records_nothing() -> None:
    delivery = FalWebhookScheme(jwks_url=JWKS).read({**OK_BODY, "status": "PAUSED"}, {REQUEST_ID_HEADER: RID})
    assert delivery.state is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([1], "JSON object"),
        ({"status": "OK"}, "request_id"),
        ({"request_id": RID}, "status must be one of: OK, ERROR"),
        ({**OK_BODY, "request_id": "another"}, "differs from the signed"),
    ],
)
def test_an_unreadable_body_names_the_field(body: Any, words: str) -> None:
    with pytest.raises(DeliveryError, match=words):
        FalWebhookScheme(jwks_url=JWKS).read(body, {REQUEST_ID_HEADER: RID})


# -- the receiver running fal's scheme -------------------------------------------------------------


class Receiver:
    def __init__(self, keys: Keys, journal: MemoryJobStore) -> None:
        self.keys = keys
        self.events: list[Event] = []
        self.waiters = Waiters()
        self.app = create_receiver(
            schemes=[keys.scheme],
            journal=journal,
            waiters=self.waiters,
            clock=keys.clock,
            listeners=[self.events.append],
        )
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))

    async def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.client.post("http://receiver.test/hooks/fal", content=body, headers=headers)


@pytest.fixture
def journal() -> MemoryJobStore:
    store = MemoryJobStore()
    store.add(JobRecord(key=RID, job_id=RID, provider="fal", model="fal-ai/veo3", state=RecordState.IN_PROGRESS))
    return store


@pytest.fixture(autouse=True)
def _no_openrouter_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIAROUTER_WEBHOOK_SECRET", raising=False)


async def test_the_receiver_answers_204_records_the_job_and_wakes_its_waiter(journal: MemoryJobStore) -> None:
    r = Receiver(Keys(), journal)
    body = raw(OK_BODY)
    answer = await r.post(body, r.keys.headers(body))
    assert answer.status_code == 204
    record = journal.get(RID)
    assert record is not None and record.state is RecordState.COMPLETED
    assert record.outputs == [{"index": 0, "url": "https://v3.fal.media/files/x/output.mp4"}]
    assert r.waiters.delivery(RID) is not None
    [event] = r.events
    assert isinstance(event.payload, WebhookAcceptedEvent) and event.provider == "fal" and event.job_id == RID
    assert event.payload.recorded is True


async def test_a_repeated_delivery_is_acknowledged_once_as_a_duplicate(journal: MemoryJobStore) -> None:
    r = Receiver(Keys(), journal)
    body = raw(OK_BODY)
    for _ in range(2):
        assert (await r.post(body, r.keys.headers(body))).status_code == 204
    assert [type(e.payload) for e in r.events] == [WebhookAcceptedEvent, WebhookDuplicateEvent]


async def test_a_bad_signature_is_401_and_records_nothing(journal: MemoryJobStore) -> None:
    r = Receiver(Keys(), journal)
    body = raw(OK_BODY)
    answer = await r.post(body, r.keys.headers(body, key=Ed25519PrivateKey.generate()))
    assert answer.status_code == 401 and answer.json()["reason"] == "bad_signature"
    record = journal.get(RID)
    assert record is not None and record.state is RecordState.IN_PROGRESS
    [event] = r.events
    assert isinstance(event.payload, WebhookRejectedEvent) and event.provider == "fal"


async def test_a_stale_delivery_is_401(journal: MemoryJobStore) -> None:
    r = Receiver(Keys(), journal)
    body = raw(OK_BODY)
    answer = await r.post(body, r.keys.headers(body, at=r.keys.clock.time() - 3600))
    assert answer.status_code == 401 and answer.json()["reason"] == "stale_signature"


async def test_keys_that_cannot_be_fetched_are_503_so_fal_delivers_again(journal: MemoryJobStore) -> None:
    keys = Keys()
    keys.scheme.keys._transport = httpx.MockTransport(lambda request: httpx.Response(502))
    r = Receiver(keys, journal)
    body = raw(OK_BODY)
    answer = await r.post(body, keys.headers(body))
    assert answer.status_code == 503 and answer.json()["reason"] == "keys_unavailable"


async def test_an_openrouter_delivery_without_its_secret_is_401_naming_the_variable(journal: MemoryJobStore) -> None:
    r = Receiver(Keys(), journal)
    answer = await r.post(b"{}", {"X-OpenRouter-Signature": "t=1,v1=00"})
    assert answer.status_code == 401 and answer.json()["reason"] == "no_secret"
    assert "MEDIAROUTER_WEBHOOK_SECRET" in answer.json()["error"]
    unsigned = await r.post(b"{}", {})
    assert unsigned.status_code == 401 and unsigned.json()["reason"] == "missing_signature"


async def test_no_log_line_holds_the_signature(journal: MemoryJobStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    r = Receiver(Keys(), journal)
    body = raw(OK_BODY)
    good, bad = r.keys.headers(body), r.keys.headers(body, key=Ed25519PrivateKey.generate())
    await r.post(body, bad)
    await r.post(body, good)
    for headers in (good, bad):
        assert headers[SIGNATURE_HEADER] not in caplog.text


def test_the_fal_plugin_offers_its_scheme_to_the_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAL_WEBHOOK_JWKS_URL", "https://keys.example/jwks.json")
    monkeypatch.setenv("FAL_WEBHOOK_USER_ID", "me")
    [scheme] = [s for s in plugin_schemes() if s.provider == "fal"]
    assert isinstance(scheme, FalWebhookScheme)
    assert scheme.keys.url == "https://keys.example/jwks.json" and scheme.user_id == "me"
    assert "fal" in repr(create_receiver(journal=MemoryJobStore(), listeners=[]))
    assert FalVideoProvider.webhook_scheme().keys.url == "https://keys.example/jwks.json"


# -- the emulator calling back ---------------------------------------------------------------------


class Hooks:
    """A receiver-shaped transport recording what the emulator posts."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.answer)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(204)


async def _submit(config: EmulatorConfig, hook: str = "https://hooks.example/fal?token=t") -> tuple[FalEmulator, str]:
    transport = emulator_transport(config)
    async with httpx.AsyncClient(transport=transport, base_url="http://queue.fal.emulator") as client:
        answer = await client.post(
            "/fal-ai/veo3", params={"fal_webhook": hook}, json={"prompt": "x"}, headers={"Authorization": "Key k"}
        )
        assert answer.status_code == 200, answer.text
        await transport.emulator.webhooks.drain()
    return transport.emulator, answer.json()["request_id"]


def _config(hooks: Hooks, clock: FakeClock, *specs: str, **options: Any) -> EmulatorConfig:
    return EmulatorConfig(
        callback_after=0,
        callback_transport=hooks.transport,
        callback_sleep=clock.sleep,
        clock=clock.time,
        injections=[FalInjection.parse(s) for s in specs],
        **options,
    )


async def test_the_emulator_calls_back_signed_with_the_key_it_publishes() -> None:
    clock, hooks = FakeClock(), Hooks()
    emulator, request_id = await _submit(_config(hooks, clock))
    [call] = hooks.requests
    body = json.loads(call.content)
    assert body["request_id"] == request_id and body["status"] == "OK"
    assert body["payload"]["video"]["url"].endswith(f"/files/{request_id}/output.mp4")
    assert str(call.url) == "https://hooks.example/fal?token=t"
    keys = FalWebhookScheme(jwks_url=JWKS, transport=httpx.ASGITransport(app=create_app_for(emulator)), clock=clock)
    await keys.verify(call.headers, call.content, clock=clock, tolerance=300)
    assert emulator.webhooks.calls[0]["target"] == "/fal"  # the query (a token) is not journaled


def create_app_for(emulator: FalEmulator) -> Any:
    """An app serving this emulator's state (its JWKS) — the one `emulator_transport` built."""
    app = create_app(emulator.config, cache=None)
    app.state.emulator = emulator
    return app


async def test_a_failure_injected_for_the_request_is_what_the_webhook_reports() -> None:
    clock, hooks = FakeClock(), Hooks()
    await _submit(_config(hooks, clock, "status:failed"))
    body = json.loads(hooks.requests[0].content)
    assert body["status"] == "ERROR" and body["error"] and body["payload"]["detail"]


@pytest.mark.parametrize(
    ("spec", "count", "outcomes"),
    [("callback:duplicate", 2, ["sent", "sent"]), ("callback:lost", 0, ["lost"]), ("callback:slow", 1, ["sent"])],
)
async def test_callback_injections(spec: str, count: int, outcomes: list[str]) -> None:
    clock, hooks = FakeClock(), Hooks()
    emulator, _ = await _submit(_config(hooks, clock, spec, callback_slow_seconds=7))
    assert len(hooks.requests) == count
    assert [c["outcome"] for c in emulator.webhooks.calls] == outcomes
    if spec == "callback:slow":
        assert clock.sleeps == [0, 7]


async def test_a_bad_signature_injection_signs_with_another_key() -> None:
    clock, hooks = FakeClock(), Hooks()
    emulator, _ = await _submit(_config(hooks, clock, "callback:bad_signature"))
    call = hooks.requests[0]
    keys = FalWebhookScheme(jwks_url=JWKS, transport=httpx.ASGITransport(app=create_app_for(emulator)), clock=clock)
    with pytest.raises(SignatureError, match="does not match"):
        await keys.verify(call.headers, call.content, clock=clock, tolerance=300)


async def test_a_webhook_on_a_public_host_is_never_called_without_a_transport_or_forward() -> None:
    clock = FakeClock()
    config = EmulatorConfig(callback_after=0, callback_sleep=clock.sleep, clock=clock.time)
    emulator, _ = await _submit(config)
    assert [(c["outcome"], c["target"]) for c in emulator.webhooks.calls] == [("skipped", None)]


async def test_without_callback_after_the_webhook_goes_when_a_status_look_ends_the_request() -> None:
    hooks = Hooks()
    config = EmulatorConfig(callback_transport=hooks.transport, polls_before_in_progress=0, polls_before_completed=0)
    transport = emulator_transport(config)
    auth = {"Authorization": "Key k"}
    async with httpx.AsyncClient(transport=transport, base_url="http://queue.fal.emulator") as client:
        submitted = await client.post(
            "/fal-ai/veo3", params={"fal_webhook": "https://h.example/"}, json={"prompt": "x"}, headers=auth
        )
        assert hooks.requests == []
        await client.get(f"/fal-ai/veo3/requests/{submitted.json()['request_id']}/status", headers=auth)
        await transport.emulator.webhooks.drain()
    assert len(hooks.requests) == 1


async def test_the_jwks_is_served_without_a_key() -> None:
    key = Ed25519PrivateKey.generate()
    transport = emulator_transport(EmulatorConfig(webhook_key=key, webhook_key_id="k-1"))
    async with httpx.AsyncClient(transport=transport) as client:
        answer = await client.get(JWKS)
    assert answer.status_code == 200
    [jwk] = answer.json()["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["kid"]) == ("OKP", "Ed25519", "k-1")


def test_callback_is_a_phase_of_fals_injection_grammar_without_statuses() -> None:
    assert FalInjection.parse("callback:lostx1").times == 1
    with pytest.raises(ValueError, match="callback"):
        FalInjection.parse("callback:500")


def test_an_error_for_a_cancelled_request_reads_as_cancelled_not_failed() -> None:
    """A failed job may be retried elsewhere (a second payment); a cancelled one the caller meant to stop."""
    payload = {"detail": "Request was cancelled by the client", "error_type": "client_cancelled"}
    body = {"request_id": RID, "status": "ERROR", "error": "Invalid status code: 499", "payload": payload}
    delivery = FalWebhookScheme(jwks_url=JWKS).read(body, httpx.Headers({REQUEST_ID_HEADER: RID}))
    assert delivery.state is JobState.CANCELLED
    assert delivery.error == "Request was cancelled by the client — Invalid status code: 499"
    assert delivery.idempotency_key == f"{RID}-ERROR"
