"""Typed lifecycle events: every event the engine and router emit carries a payload whose fields have their types.

Consumers (traces, metrics, logs, progress) read payload fields, so a producer that sends a
misspelt key, forgets one or sends a value of the wrong type must fail here, not leave an
empty column in someone's dashboard.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping, Sequence
from dataclasses import FrozenInstanceError, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from mediarouter_contracts.clock import FakeClock

import mediarouter
from mediarouter import InsufficientCredits, Job, JobFailed, JobTimeout, ProviderUnavailable, RateLimited
from mediarouter.engine import JobEngine
from mediarouter.events import (
    PAYLOAD_TYPES,
    Event,
    JobCompletedEvent,
    JobPolledEvent,
    JobSubmitNotSentEvent,
    JobSubmitUnknownEvent,
    RouterEstimateEvent,
    emit,
    payload_fields,
    with_context,
)
from mediarouter.request import VideoRequest

from ..core.fakes import VIDEO, ScriptedProvider
from .conftest import make_router

SOURCES = Path(mediarouter.__file__).parent
#: A 2 MiB body: the engine reports progress every MiB.
BIG = VIDEO + bytes(2 << 20)


def _conforms(value: Any, hint: Any) -> bool:
    """`value` matches the annotation `hint` (the shapes payloads use: scalars, unions, sequences, mappings)."""
    origin = get_origin(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (Union, types.UnionType):
        return any(_conforms(value, arg) for arg in get_args(hint))
    if origin is Sequence:
        (item,) = get_args(hint)
        return isinstance(value, Sequence) and not isinstance(value, str) and all(_conforms(v, item) for v in value)
    if origin is Mapping:
        key, item = get_args(hint)
        return isinstance(value, Mapping) and all(_conforms(k, key) and _conforms(v, item) for k, v in value.items())
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_errors(event: Event) -> list[str]:
    payload = event.payload
    cls = type(payload)
    problems = []
    if PAYLOAD_TYPES.get(event.name) is not cls:
        problems.append(f"{event.name}: payload {cls.__name__} is not the registered type")
    hints = get_type_hints(cls)
    for f in fields(payload):
        value = getattr(payload, f.name)
        if not _conforms(value, hints[f.name]):
            problems.append(f"{event.name}.{f.name} = {value!r} is not {hints[f.name]}")
    return problems


async def _routed_calls(tmp_path: Path, events: list[Event]) -> None:
    """Failover after a refused submit (cooldown), a retried submit, poll and download, then a skip,
    a failed job and a timeout: nearly every event the engine and router have."""
    refused = ScriptedProvider(submit=[InsufficientCredits("no credits", status_code=402)])
    served = ScriptedProvider(
        submit=[
            RateLimited("slow down", status_code=429),
            *(Job(id=i, provider="other", model="video-1") for i in ("j1", "j2")),
        ],
        polls=[ProviderUnavailable("502", status_code=502), "in_progress", "in_progress", "completed", "completed"],
        downloads=[ProviderUnavailable("503", status_code=503), BIG],
    )
    served.name = "other"
    clock = FakeClock()
    async with make_router(events.append, providers={"fake": refused, "other": served}, clock=clock) as router:
        await router.generate("A cat", model=["fake/video-1", "other/video-1"], duration=6, output=tmp_path / "a.mp4")
        # fake is cooling down now: skipped.
        await router.generate("A dog", model=["fake/video-1", "other/video-1"], output=tmp_path / "b.mp4")
    failing = ScriptedProvider(polls=["in_progress", "failed"])
    async with make_router(events.append, providers={"fake": failing}, clock=FakeClock()) as router:
        with pytest.raises(JobFailed):
            await router.generate("A cat", model="fake/video-1", output=tmp_path / "c.mp4")
    engine = JobEngine(clock=FakeClock(), poll_interval=1, timeout=5, listeners=[events.append])
    with pytest.raises(JobTimeout):
        await engine.run(ScriptedProvider(polls=["in_progress"] * 100), "video-1", VideoRequest(prompt="x"))


async def test_every_event_of_a_full_routed_call_is_a_typed_payload(tmp_path: Path) -> None:
    events: list[Event] = []
    await _routed_calls(tmp_path, events)
    names = {e.name for e in events}
    # The run must reach these, or the type check below proves little.
    expected = (
        set(PAYLOAD_TYPES)
        - {
            "job.submit_unknown",  # not emitted yet (issue #10: the engine will)
            "job.submit_not_sent",
            "router.estimate",
        }
        - {name for name in PAYLOAD_TYPES if name.startswith("webhook.")}  # the receiver's, not a call's
    )
    assert expected <= names, sorted(expected - names)
    problems = [p for e in events for p in _type_errors(e)]
    assert problems == []


def test_every_payload_a_producer_builds_is_registered() -> None:
    """engine.py and router.py emit payload objects; each class they build is a registered event type."""
    built: set[str] = set()
    for module in ("engine.py", "router.py"):
        source = (SOURCES / module).read_text(encoding="utf-8")
        built |= set(re.findall(r"\b([A-Z][A-Za-z]+Event)\(", source))
    assert len(built) > 20, built  # the pattern still finds the producers
    assert built - {cls.__name__ for cls in PAYLOAD_TYPES.values()} == set()


def test_a_misspelt_missing_or_unknown_name_is_a_type_error_that_names_it() -> None:
    with pytest.raises(TypeError, match=r"unknown field\(s\) pols.*missing field\(s\) polls.*status, polls"):
        Event(name="job.polled", data={"status": "queued", "pols": 1})
    with pytest.raises(TypeError, match=r"missing field\(s\) polls"):
        Event(name="job.polled", data={"status": "queued"})
    with pytest.raises(TypeError, match=r"unknown event name 'job\.poled'.*job\.polled"):
        Event(name="job.poled", data={})
    with pytest.raises(TypeError, match="needs a payload"):
        Event()
    with pytest.raises(TypeError, match="does not match"):
        Event(name="job.submitted", payload=JobPolledEvent(status="queued", polls=1))
    with pytest.raises(TypeError, match="payload types"):
        Event(payload={"status": "queued"})  # type: ignore[arg-type]


def test_name_and_data_build_the_same_event_as_a_payload() -> None:
    """The transition path: producers may still pass name+data; consumers see the typed payload either way."""
    old = Event(name="job.completed", provider="p", job_id="j", data={"cost": "1.60", "polls": 3})
    new = Event(provider="p", job_id="j", payload=JobCompletedEvent(cost=Decimal("1.60"), polls=3))
    assert old == new and old.payload == JobCompletedEvent(cost=Decimal("1.60"), polls=3)
    assert old.name == "job.completed" == JobCompletedEvent.name
    assert new.data == {"cost": Decimal("1.60"), "polls": 3}  # read-only view for old readers
    with pytest.raises(FrozenInstanceError):
        new.payload.polls = 4  # type: ignore[misc]


def test_stamping_a_call_id_keeps_the_payload() -> None:
    seen: list[Event] = []
    [stamped] = with_context([seen.append], call_id="c1", attempt=2)
    event = Event(job_id="j", payload=JobPolledEvent(status="in_progress", polls=2))
    emit([stamped], event)
    assert seen == [replace(event, call_id="c1", attempt=2)]
    assert seen[0].payload is event.payload and seen[0].call_id == "c1" and seen[0].attempt == 2


def test_the_submit_outcome_and_estimate_events_have_their_fields() -> None:
    """The events issue #10's submit outcomes and the pre-submit estimate need."""
    assert [f.name for f in fields(JobSubmitUnknownEvent)] == ["error", "status_code"]
    assert [f.name for f in fields(JobSubmitNotSentEvent)] == ["error"]
    assert [f.name for f in fields(RouterEstimateEvent)] == ["ref", "estimated_cost", "price_rule"]
    estimate = Event(name="router.estimate", data={"ref": "a/b", "estimated_cost": "1.60", "price_rule": "720p"})
    assert estimate.payload == RouterEstimateEvent(ref="a/b", estimated_cost=Decimal("1.60"), price_rule="720p")
    unknown = Event(name="job.submit_unknown", data={"error": "ProviderUnavailable", "status_code": 524})
    assert payload_fields(unknown.payload) == {"error": "ProviderUnavailable", "status_code": 524}
