"""The receiver: 204 on a good delivery, 401 on a bad signature, 400 on an unreadable body, dedup, nulls."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from mediarouter import ConfigurationError
from mediarouter.events import Event, WebhookAcceptedEvent, WebhookDuplicateEvent, WebhookRejectedEvent
from mediarouter.journal import JobRecord, MemoryJobStore, RecordState
from mediarouter.webhooks import Waiters, create_receiver

from .helpers import SECRET, body_of, envelope, signed_headers

URL = "http://receiver.test/hooks/openrouter"


@pytest.fixture
def journal() -> MemoryJobStore:
    store = MemoryJobStore()
    store.add(
        JobRecord(key="gen-vid-1", job_id="gen-vid-1", provider="openrouter", model="m", state=RecordState.PENDING)
    )
    return store


class Setup:
    def __init__(self, journal: MemoryJobStore, **options: Any) -> None:
        self.clock = FakeClock()
        self.events: list[Event] = []
        self.waiters = Waiters()
        self.journal = journal
        self.app = create_receiver(
            secret=SECRET,
            journal=journal,
            waiters=self.waiters,
            clock=self.clock,
            listeners=[self.events.append],
            **options,
        )
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))

    async def post(self, value: dict[str, Any] | bytes, *, key: str | None = None, **headers: str) -> httpx.Response:
        body = value if isinstance(value, bytes) else body_of(value)
        sent = {**signed_headers(body, int(self.clock.time()), key=key), **headers}
        return await self.client.post(URL, content=body, headers=sent)


async def test_a_signed_delivery_is_204_and_records_the_terminal_state_with_its_cost(journal: MemoryJobStore) -> None:
    s = Setup(journal)
    answer = await s.post(envelope(usage={"cost": 0.5, "is_byok": False}, unsigned_urls=["https://x/c?index=0"]))
    assert answer.status_code == 204
    row = journal.get("gen-vid-1")
    assert row is not None and row.state is RecordState.COMPLETED and row.cost == Decimal("0.5")
    assert row.outputs == [{"index": 0, "url": "https://x/c?index=0"}]
    assert [type(e.payload) for e in s.events] == [WebhookAcceptedEvent]
    assert s.events[0].job_id == "gen-vid-1" and s.events[0].payload.recorded is True  # type: ignore[union-attr]


async def test_a_failed_delivery_is_a_hint_the_row_stays_open_with_the_servers_message(journal: MemoryJobStore) -> None:
    """Only a poll ends a row without a video: a `failed` delivery notes what it said, and the row stays
    open for the poll (waiting engine, `jobs resume`, a durable step) that confirms or contradicts it."""
    s = Setup(journal)
    assert (await s.post(envelope(status="failed", error="content policy"))).status_code == 204
    row = journal.get("gen-vid-1")
    assert row is not None and row.state is RecordState.PENDING
    assert row.reported is not None and "webhook reported the job failed (content policy)" in row.reported
    assert "not yet confirmed by a poll" in row.reported


async def test_null_generation_id_and_model_of_an_early_failure_are_accepted(journal: MemoryJobStore) -> None:
    s = Setup(journal)
    answer = await s.post(envelope(status="failed", generation_id=None, model=None, usage=None))
    assert answer.status_code == 204
    row = journal.get("gen-vid-1")
    assert row is not None and row.state is RecordState.PENDING and "reported the job failed" in (row.reported or "")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-OpenRouter-Signature": "t=1800000000,v1=" + "0" * 64},
        {"X-OpenRouter-Signature": "garbage"},
    ],
)
async def test_a_bad_signature_is_401_and_changes_nothing(journal: MemoryJobStore, headers: dict[str, str]) -> None:
    s = Setup(journal)
    answer = await s.post(envelope(), **headers)
    assert answer.status_code == 401
    assert journal.get("gen-vid-1").state is RecordState.PENDING  # type: ignore[union-attr]
    assert isinstance(s.events[0].payload, WebhookRejectedEvent) and s.events[0].payload.status_code == 401


async def test_a_missing_signature_is_401(journal: MemoryJobStore) -> None:
    s = Setup(journal)
    answer = await s.client.post(URL, content=body_of(envelope()), headers={"Content-Type": "application/json"})
    assert answer.status_code == 401 and answer.json()["reason"] == "missing_signature"


async def test_a_delivery_signed_six_minutes_ago_is_401(journal: MemoryJobStore) -> None:
    s = Setup(journal)
    body = body_of(envelope())
    old = signed_headers(body, int(s.clock.time()) - 360)
    assert (await s.client.post(URL, content=body, headers=old)).status_code == 401


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"type": "video.generation.completed"}', "data"),
        (b'{"data": {"status": "completed"}}', "data.id"),
        (b'{"data": {"id": "gen-vid-1"}}', "data.status"),
        (b"\xff\xfe", "not JSON"),
    ],
)
async def test_a_signed_but_unreadable_body_is_400_naming_the_field(
    journal: MemoryJobStore, body: bytes, fragment: str
) -> None:
    s = Setup(journal)
    answer = await s.post(body)
    assert answer.status_code == 400 and fragment in answer.json()["error"]


async def test_a_repeated_delivery_is_acknowledged_once_and_counted_as_duplicate(journal: MemoryJobStore) -> None:
    s = Setup(journal)
    assert (await s.post(envelope(), key="gen-vid-1-completed")).status_code == 204
    journal.update("gen-vid-1", state=RecordState.DOWNLOADED)  # the engine went on meanwhile
    assert (await s.post(envelope(), key="gen-vid-1-completed")).status_code == 204
    assert journal.get("gen-vid-1").state is RecordState.DOWNLOADED  # type: ignore[union-attr]
    assert [type(e.payload) for e in s.events] == [WebhookAcceptedEvent, WebhookDuplicateEvent]


async def test_without_the_idempotency_header_job_id_and_status_dedup(journal: MemoryJobStore) -> None:
    s = Setup(journal)
    await s.post(envelope())
    await s.post(envelope())
    assert [type(e.payload) for e in s.events] == [WebhookAcceptedEvent, WebhookDuplicateEvent]


async def test_a_delivery_for_a_job_the_journal_does_not_know_is_acknowledged(journal: MemoryJobStore) -> None:
    s = Setup(journal)
    answer = await s.post(envelope(job_id="gen-vid-elsewhere"))
    assert answer.status_code == 204
    assert s.events[0].payload == WebhookAcceptedEvent(
        event_type="video.generation.completed", status="completed", recorded=False, woke=0
    )


async def test_a_row_already_past_the_delivery_is_not_moved_back(journal: MemoryJobStore) -> None:
    journal.update("gen-vid-1", state=RecordState.DOWNLOADED)
    s = Setup(journal)
    assert (await s.post(envelope(status="failed"))).status_code == 204
    assert journal.get("gen-vid-1").state is RecordState.DOWNLOADED  # type: ignore[union-attr]


async def test_an_unknown_event_type_is_acknowledged_and_ignored(journal: MemoryJobStore) -> None:
    s = Setup(journal)
    answer = await s.post({"type": "video.generation.started", "data": {"id": "gen-vid-1", "status": "in_progress"}})
    assert answer.status_code == 204
    assert journal.get("gen-vid-1").state is RecordState.PENDING  # type: ignore[union-attr]


async def test_a_delivery_wakes_a_job_waiting_in_this_process(journal: MemoryJobStore) -> None:
    s = Setup(journal)
    watch = s.waiters.watch("gen-vid-1")
    await s.post(envelope())
    await asyncio.sleep(0)  # the wake is scheduled thread-safely on this loop
    assert watch.woken
    assert s.events[0].payload.woke == 1  # type: ignore[union-attr]


async def test_only_post_is_accepted(journal: MemoryJobStore) -> None:
    s = Setup(journal)
    answer = await s.client.get(URL)
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"


async def test_a_body_over_the_limit_is_413(journal: MemoryJobStore) -> None:
    s = Setup(journal, max_body_bytes=100)
    assert (await s.post(envelope(padding="x" * 200))).status_code == 413


async def test_a_journal_that_fails_is_500_so_the_sender_delivers_again(journal: MemoryJobStore) -> None:
    class Broken(MemoryJobStore):
        broken = True

        def update(self, key: str, **fields: Any) -> JobRecord:
            if self.broken:
                raise OSError("disk full")
            return super().update(key, **fields)

        def update_if(self, key: str, states: Any, **fields: Any) -> JobRecord | None:
            if self.broken:
                raise OSError("disk full")
            return super().update_if(key, states, **fields)

    broken = Broken()
    broken.add(
        JobRecord(key="gen-vid-1", job_id="gen-vid-1", provider="openrouter", model="m", state=RecordState.PENDING)
    )
    s = Setup(broken)
    assert (await s.post(envelope())).status_code == 500
    # Not remembered as seen: the redelivery is processed, not dropped as a duplicate.
    broken.broken = False
    assert (await s.post(envelope())).status_code == 204
    assert broken.get("gen-vid-1").state is RecordState.COMPLETED  # type: ignore[union-attr]


async def test_it_mounts_in_a_starlette_app_on_any_path(journal: MemoryJobStore) -> None:
    s = Setup(journal)
    host = Starlette(routes=[Route("/hooks/openrouter", s.app, methods=["POST"]), Mount("/other", s.app)])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=host))
    body = body_of(envelope())
    answer = await client.post(URL, content=body, headers=signed_headers(body, int(s.clock.time())))
    assert answer.status_code == 204


def test_without_a_secret_or_another_scheme_the_receiver_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIAROUTER_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="MEDIAROUTER_WEBHOOK_SECRET"):
        create_receiver(schemes=[])


def test_the_secret_comes_from_the_environment_and_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAROUTER_WEBHOOK_SECRET", "env-secret-value")
    app = create_receiver(listeners=[])
    assert "env-secret-value" not in repr(app) and "env-secret-value" not in repr(vars(app))


async def test_no_log_line_holds_the_secret_or_the_signature(
    journal: MemoryJobStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    from mediarouter.logs import EventLogger

    clock = FakeClock()
    app = create_receiver(secret=SECRET, journal=journal, clock=clock, listeners=[EventLogger()])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    body = body_of(envelope())
    good = signed_headers(body, int(clock.time()))
    bad = signed_headers(body, int(clock.time()), secret=SecretStr("wrong"))
    await client.post(URL, content=body, headers=bad)
    await client.post(URL, content=body, headers=good)
    await client.post(URL, content=body, headers=good)
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "webhook.accepted" in text and "webhook.rejected" in text and "webhook.duplicate" in text
    for secret in (
        "whsec-test-secret",
        good["X-OpenRouter-Signature"].split("v1=")[1],
        bad["X-OpenRouter-Signature"].split("v1=")[1],
    ):
        assert secret not in text


async def test_a_delivery_that_beat_the_journaled_job_id_is_recorded_when_it_is_delivered_again() -> None:
    # The job ended before the submit's answer was journaled: the row has no job id yet (submitting).
    journal = MemoryJobStore()
    journal.add(JobRecord(key="local-1", provider="openrouter", model="m", state=RecordState.SUBMITTING))
    s = Setup(journal)
    assert (await s.post(envelope("gen-vid-9"), key="gen-vid-9-completed")).status_code == 204
    assert journal.get("local-1").state is RecordState.SUBMITTING  # type: ignore[union-attr]
    journal.update("local-1", job_id="gen-vid-9", state=RecordState.PENDING)
    # Not remembered as seen: the redelivery is recorded, not dropped as a duplicate.
    assert (await s.post(envelope("gen-vid-9"), key="gen-vid-9-completed")).status_code == 204
    assert journal.get("gen-vid-9").state is RecordState.COMPLETED  # type: ignore[union-attr]


async def test_a_signed_delivery_for_another_providers_job_records_nothing_and_wakes_nobody() -> None:
    journal = MemoryJobStore()
    journal.add(JobRecord(key="gen-vid-1", job_id="gen-vid-1", provider="fal", model="m", state=RecordState.PENDING))
    s = Setup(journal)
    watch = s.waiters.watch("gen-vid-1")
    assert (await s.post(envelope(status="failed"))).status_code == 204
    await asyncio.sleep(0)
    assert journal.get("gen-vid-1").state is RecordState.PENDING  # type: ignore[union-attr]
    assert not watch.woken and s.waiters.delivery("gen-vid-1") is None
    accepted = s.events[-1].payload
    assert isinstance(accepted, WebhookAcceptedEvent) and accepted.recorded is False and accepted.woke == 0
