"""Spans: one trace per routed call, a child per attempt, grandchildren per submit/poll/download."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from mediarouter_contracts.clock import FakeClock
from opentelemetry.trace import SpanKind, StatusCode

from mediarouter import Capabilities, InsufficientCredits, JobFailed, JobTimeout, ProviderUnavailable
from mediarouter.engine import JobEngine
from mediarouter.request import VideoRequest
from mediarouter.tracing import SpanRecorder

from ..core.fakes import ScriptedProvider
from .conftest import Tracing, make_router

VEO = "openrouter/google/veo-3.1"


async def test_a_routed_call_is_one_span_tree_with_genai_attributes(
    tracing: Tracing, clock: FakeClock, tmp_path: Path
) -> None:
    async with make_router(SpanRecorder(tracer_provider=tracing.provider), emulator=True, clock=clock) as router:
        result = await router.generate("A cat", model=VEO, duration=8, output=tmp_path / "cat.mp4")

    [root] = tracing.roots()
    assert root.name == "generate_content google/veo-3.1"  # GenAI: {operation} {gen_ai.request.model}
    assert root.kind is SpanKind.INTERNAL
    assert root.status.status_code is StatusCode.UNSET
    attrs = dict(root.attributes or {})
    assert attrs["gen_ai.operation.name"] == "generate_content"
    assert attrs["gen_ai.output.type"] == "video"
    assert attrs["gen_ai.provider.name"] == "openrouter"
    assert attrs["gen_ai.request.model"] == "google/veo-3.1"
    assert attrs["gen_ai.response.model"] == "google/veo-3.1"
    assert attrs["gen_ai.response.id"] == result.job_id
    assert attrs["mediarouter.outcome"] == "succeeded"
    assert attrs["mediarouter.candidates"] == (VEO,)
    assert attrs["mediarouter.candidate"] == VEO
    assert attrs["mediarouter.cost_usd"] == float(result.cost or 0) > 0
    assert attrs["mediarouter.duration.requested"] == 8
    assert attrs["mediarouter.attempts"] == 1

    [attempt] = tracing.children(root)
    assert attempt.name == "generate_content google/veo-3.1"
    assert attempt.kind is SpanKind.CLIENT
    a = dict(attempt.attributes or {})
    assert a["gen_ai.operation.name"] == "generate_content"
    assert a["gen_ai.provider.name"] == "openrouter"
    assert a["gen_ai.request.model"] == "google/veo-3.1"
    assert a["gen_ai.response.id"] == result.job_id
    assert a["server.address"] == "openrouter.emulator"
    assert a["server.port"] == 80
    assert a["mediarouter.attempt"] == 0
    assert a["mediarouter.candidate"] == VEO
    assert a["mediarouter.job.polls"] == result.polls
    assert a["mediarouter.cost_usd"] == float(result.cost or 0)
    assert a["mediarouter.duration.requested"] == 8 and a["mediarouter.duration.applied"] == 8
    assert a["mediarouter.outcome"] == "succeeded"
    assert "error.type" not in a
    assert [e.attributes["status"] for e in attempt.events if e.name == "mediarouter.status_changed"] == [
        "pending",
        "in_progress",
        "completed",
    ]

    names = [s.name for s in tracing.children(attempt)]
    assert names == ["submit", *["poll"] * result.polls, "download"]
    submit, *polls, download = tracing.children(attempt)
    assert dict(submit.attributes or {})["gen_ai.response.id"] == result.job_id
    assert [dict(p.attributes or {})["mediarouter.poll"] for p in polls] == list(range(1, result.polls + 1))
    assert dict(polls[-1].attributes or {})["mediarouter.job.status"] == "completed"
    d = dict(download.attributes or {})
    assert d["mediarouter.download.bytes"] == result.files[0].size
    assert d["server.address"] == "openrouter.emulator"

    assert {s.context.trace_id for s in tracing.spans if s.context} == {root.context.trace_id}  # type: ignore[union-attr]
    assert tracing.tracker.open == {}


async def test_failover_shows_the_failed_attempt_and_the_one_that_served(tracing: Tracing, tmp_path: Path) -> None:
    refused = ScriptedProvider(submit=[InsufficientCredits("no credits", status_code=402)])
    served = ScriptedProvider(polls=["completed"])
    served.name = "other"
    recorder = SpanRecorder(tracer_provider=tracing.provider)
    async with make_router(recorder, providers={"fake": refused, "other": served}, clock=FakeClock()) as router:
        result = await router.generate("A cat", model=["fake/video-1", "other/video-1"], output=tmp_path / "o.mp4")

    [root] = tracing.roots()
    assert dict(root.attributes or {})["mediarouter.outcome"] == "succeeded"
    assert dict(root.attributes or {})["mediarouter.candidate"] == "other/video-1"
    assert dict(root.attributes or {})["gen_ai.response.id"] == result.job_id
    assert "mediarouter.failover" in [e.name for e in root.events]
    failover = next(e for e in root.events if e.name == "mediarouter.failover")
    assert dict(failover.attributes or {}) == {
        "from": "fake/video-1",
        "to": "other/video-1",
        "error.type": "InsufficientCredits",
    }

    first, second = tracing.children(root)
    assert first.name == "generate_content video-1"
    assert dict(first.attributes or {})["mediarouter.candidate"] == "fake/video-1"
    assert first.status.status_code is StatusCode.ERROR
    assert dict(first.attributes or {})["error.type"] == "InsufficientCredits"
    assert dict(first.attributes or {})["http.response.status_code"] == 402
    assert dict(first.attributes or {})["mediarouter.outcome"] == "failed"
    [submit] = tracing.children(first)
    assert submit.status.status_code is StatusCode.ERROR
    assert dict(submit.attributes or {})["error.type"] == "InsufficientCredits"

    assert second.name == "generate_content video-1"
    assert dict(second.attributes or {})["mediarouter.candidate"] == "other/video-1"
    assert second.status.status_code is StatusCode.UNSET
    assert dict(second.attributes or {})["gen_ai.response.id"] == result.job_id
    assert tracing.tracker.open == {}
    assert recorder.open_calls == 0


async def test_a_failed_job_marks_attempt_and_root_as_errors(tracing: Tracing, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=["in_progress", "failed"])
    async with make_router(
        SpanRecorder(tracer_provider=tracing.provider), providers={"fake": provider}, clock=FakeClock()
    ) as router:
        with pytest.raises(JobFailed):
            await router.generate("A cat", model="fake/video-1", output=tmp_path / "o.mp4")

    [root] = tracing.roots()
    assert root.status.status_code is StatusCode.ERROR
    assert dict(root.attributes or {})["error.type"] == "JobFailed"
    assert dict(root.attributes or {})["mediarouter.outcome"] == "failed"
    [attempt] = tracing.children(root)
    assert attempt.status.status_code is StatusCode.ERROR
    assert dict(attempt.attributes or {})["error.type"] == "JobFailed"
    assert dict(attempt.attributes or {})["gen_ai.response.id"] == "job-1"
    assert dict(attempt.attributes or {})["mediarouter.job.status"] == "failed"
    assert tracing.tracker.open == {}


async def test_skipped_candidates_get_a_span_that_says_why(tracing: Tracing, tmp_path: Path) -> None:
    picky = ScriptedProvider()  # durations 4, 6, 8
    easy = ScriptedProvider(polls=["completed"], capabilities=Capabilities())
    easy.name = "easy"
    providers = {"fake": picky, "easy": easy}
    recorder = SpanRecorder(tracer_provider=tracing.provider)
    async with make_router(recorder, providers=providers, clock=FakeClock(), fit="skip") as router:
        await router.generate("A cat", model=["fake/video-1", "easy/video-1"], duration=5, output=tmp_path / "o.mp4")
    [root] = tracing.roots()
    skipped, served = tracing.children(root)
    attrs = dict(skipped.attributes or {})
    assert skipped.name == "generate_content video-1"
    assert attrs["mediarouter.outcome"] == "skipped"
    assert "duration" in attrs["mediarouter.skip_reason"]
    assert skipped.status.status_code is StatusCode.UNSET
    assert not tracing.children(skipped)
    assert dict(served.attributes or {})["mediarouter.outcome"] == "succeeded"
    assert dict(root.attributes or {})["mediarouter.attempts"] == 2
    assert tracing.tracker.open == {}


async def test_retries_end_their_span_with_the_error_type(tracing: Tracing, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=[ProviderUnavailable("502", status_code=502), "completed"])
    async with make_router(
        SpanRecorder(tracer_provider=tracing.provider), providers={"fake": provider}, clock=FakeClock()
    ) as router:
        await router.generate("A cat", model="fake/video-1", output=tmp_path / "o.mp4")
    [root] = tracing.roots()
    [attempt] = tracing.children(root)
    polls = [s for s in tracing.children(attempt) if s.name == "poll"]
    assert [p.status.status_code for p in polls] == [StatusCode.ERROR, StatusCode.UNSET]
    assert dict(polls[0].attributes or {})["error.type"] == "ProviderUnavailable"
    assert [e.name for e in attempt.events].count("mediarouter.poll_retry") == 1
    assert tracing.tracker.open == {}


async def test_poll_spans_can_be_turned_off(tracing: Tracing, tmp_path: Path) -> None:
    provider = ScriptedProvider(polls=["in_progress", "in_progress", "completed"])
    recorder = SpanRecorder(tracer_provider=tracing.provider, poll_spans=False)
    async with make_router(recorder, providers={"fake": provider}, clock=FakeClock()) as router:
        await router.generate("A cat", model="fake/video-1", output=tmp_path / "o.mp4")
    assert not tracing.named("poll")
    [root] = tracing.roots()
    [attempt] = tracing.children(root)
    assert dict(attempt.attributes or {})["mediarouter.job.polls"] == 3


async def test_the_engine_without_a_router_opens_a_root_per_job(tracing: Tracing, tmp_path: Path) -> None:
    engine = JobEngine(clock=FakeClock(), poll_interval=1, listeners=[SpanRecorder(tracer_provider=tracing.provider)])
    result = await engine.run(
        ScriptedProvider(polls=["in_progress", "completed"]), "video-1", VideoRequest(prompt="x"), output=tmp_path / "o"
    )
    [root] = tracing.roots()
    assert root.name == "generate_content video-1"
    attrs = dict(root.attributes or {})
    assert attrs["gen_ai.provider.name"] == "fake"
    assert attrs["gen_ai.response.id"] == result.job_id
    assert attrs["mediarouter.outcome"] == "succeeded"
    assert [s.name for s in tracing.children(root)] == ["submit", "poll", "poll", "download"]
    assert tracing.tracker.open == {}


async def test_an_engine_timeout_ends_every_span(tracing: Tracing, tmp_path: Path) -> None:
    engine = JobEngine(
        clock=FakeClock(), poll_interval=1, timeout=5, listeners=[SpanRecorder(tracer_provider=tracing.provider)]
    )
    with pytest.raises(JobTimeout):
        await engine.run(ScriptedProvider(polls=["in_progress"] * 100), "video-1", VideoRequest(prompt="x"))
    [root] = tracing.roots()
    assert root.status.status_code is StatusCode.ERROR
    assert dict(root.attributes or {})["error.type"] == "JobTimeout"
    assert tracing.tracker.open == {}


async def test_a_cancelled_call_leaks_no_span(tracing: Tracing, tmp_path: Path) -> None:
    gate = asyncio.Event()

    class Slow(ScriptedProvider):
        async def poll(self, job: Any) -> Any:
            gate.set()
            await asyncio.sleep(3600)

    recorder = SpanRecorder(tracer_provider=tracing.provider)
    async with make_router(recorder, providers={"fake": Slow()}, clock=FakeClock()) as router:
        task = asyncio.create_task(router.generate("A cat", model="fake/video-1", output=tmp_path / "o.mp4"))
        await gate.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    [root] = tracing.roots()
    assert root.status.status_code is StatusCode.ERROR
    assert dict(root.attributes or {})["mediarouter.outcome"] == "cancelled"
    assert tracing.tracker.open == {}
    assert recorder.open_calls == 0


def test_without_an_sdk_the_recorder_is_a_no_op() -> None:
    from mediarouter.events import Event, JobSubmittingEvent, RouterCallFinishedEvent, RouterCallStartedEvent

    recorder = SpanRecorder()  # the global provider: a proxy with nothing behind it in this process
    recorder(Event(call_id="c1", payload=RouterCallStartedEvent(candidates=[VEO], duration=None)))
    recorder(
        Event(
            provider="openrouter",
            model="google/veo-3.1",
            call_id="c1",
            attempt=0,
            payload=JobSubmittingEvent(attempt=1),
        )
    )
    recorder(Event(call_id="c1", payload=RouterCallFinishedEvent(outcome="succeeded", ref=VEO, error_type=None)))
    assert recorder.open_calls == 0


async def test_concurrent_resumed_jobs_of_one_model_get_a_trace_each(tracing: Tracing, tmp_path: Path) -> None:
    from mediarouter import Job

    engine = JobEngine(clock=FakeClock(), poll_interval=1, listeners=[SpanRecorder(tracer_provider=tracing.provider)])
    first = ScriptedProvider(polls=["in_progress", "in_progress", "completed"])
    second = ScriptedProvider(polls=["completed"])
    await asyncio.gather(
        engine.complete(first, Job(id="job-a", provider="fake", model="video-1"), output=tmp_path / "a.mp4"),
        engine.complete(second, Job(id="job-b", provider="fake", model="video-1"), output=tmp_path / "b.mp4"),
    )
    roots = {dict(r.attributes or {})["gen_ai.response.id"]: r for r in tracing.roots()}
    assert set(roots) == {"job-a", "job-b"}
    assert [s.name for s in tracing.children(roots["job-a"])] == ["poll", "poll", "poll", "download"]
    assert [s.name for s in tracing.children(roots["job-b"])] == ["poll", "download"]
    assert tracing.tracker.open == {}
