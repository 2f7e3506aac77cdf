"""A caller repeating an idempotency key while another process is still submitting it is told to wait,
never to forget the row (forgetting it and retrying could pay twice)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import Conflict, VideoRequest
from mediarouter.journal import JobRecord, MemoryJobStore, RecordState, fingerprint_request, submit_lease_name
from mediarouter.router import Router

from .fakes import ScriptedProvider
from .router_fakes import quiet_settings


async def test_a_key_being_submitted_elsewhere_says_wait_and_a_dead_submit_says_adopt_or_forget(
    tmp_path: Path,
) -> None:
    journal = MemoryJobStore()
    fingerprint = fingerprint_request(VideoRequest.build(prompt="a dog"), ["fake/video-1"])
    row = JobRecord(key="local-1", provider="fake", model="video-1", idempotency_key="order-7", fingerprint=fingerprint)
    journal.add(row)
    journal.try_lease(submit_lease_name(row.key), "elsewhere:1:x", 60.0)
    provider = ScriptedProvider()
    router = Router(providers={"fake": provider}, journal=journal, settings=quiet_settings(), clock=FakeClock())
    with pytest.raises(Conflict) as busy:
        await router.generate("a dog", model="fake/video-1", output=tmp_path / "o.mp4", idempotency_key="order-7")
    assert "being submitted right now by another process" in str(busy.value)
    assert "forget" not in str(busy.value)

    journal.release_lease(submit_lease_name(row.key), "elsewhere:1:x")  # its process died mid-submit
    with pytest.raises(Conflict) as dead:
        await router.generate("a dog", model="fake/video-1", output=tmp_path / "o.mp4", idempotency_key="order-7")
    assert "jobs adopt" in str(dead.value) and "jobs forget" in str(dead.value)
    assert provider.calls == []
    assert journal.get("local-1").state is RecordState.SUBMITTING  # type: ignore[union-attr]


async def test_the_engine_holds_the_submit_lease_only_while_submitting(tmp_path: Path) -> None:
    journal = MemoryJobStore()
    router = Router(
        providers={"fake": ScriptedProvider(polls=["completed"])}, journal=journal, settings=quiet_settings(),
        clock=FakeClock(),
    )  # fmt: skip
    result = await router.generate("a dog", model="fake/video-1", output=tmp_path / "o.mp4", idempotency_key="k")
    record = journal.get(result.job_id)
    assert record is not None
    assert journal.try_lease(submit_lease_name(record.key), "me", 1.0) is None  # released after the submit
