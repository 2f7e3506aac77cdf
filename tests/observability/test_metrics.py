"""Metrics: jobs by outcome, operation duration, polls per job, cost, download bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import InsufficientCredits, JobFailed
from mediarouter.metrics import MetricsRecorder

from ..core.fakes import ScriptedProvider
from .conftest import Metrics, make_router

VEO = "openrouter/google/veo-3.1"


async def test_a_completed_job_is_counted_with_duration_polls_cost_and_bytes(
    metrics: Metrics, clock: FakeClock, tmp_path: Path
) -> None:
    recorder = MetricsRecorder(meter_provider=metrics.provider)
    async with make_router(recorder, emulator=True, clock=clock) as router:
        result = await router.generate("A cat", model=VEO, output=tmp_path / "cat.mp4")

    model = {"gen_ai.provider.name": "openrouter", "gen_ai.request.model": "google/veo-3.1"}
    [jobs] = metrics.points("mediarouter.jobs")
    assert dict(jobs.attributes) == {**model, "mediarouter.outcome": "completed"} and jobs.value == 1

    [duration] = metrics.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes) == {
        **model,
        "gen_ai.operation.name": "generate_content",
        "server.address": "openrouter.emulator",
        "server.port": 80,
    }
    assert duration.count == 1 and duration.sum == pytest.approx(result.timings["total"])

    [polls] = metrics.points("mediarouter.job.polls")
    assert polls.count == 1 and polls.sum == result.polls

    [cost] = metrics.points("mediarouter.cost")
    assert dict(cost.attributes) == model and cost.value == pytest.approx(float(result.cost or 0))

    [size] = metrics.points("mediarouter.download.bytes")
    assert size.value == result.files[0].size == (tmp_path / "cat.mp4").stat().st_size

    [calls] = metrics.points("mediarouter.calls")
    assert dict(calls.attributes) == {"mediarouter.outcome": "succeeded"} and calls.value == 1


async def test_a_failed_job_counts_once_with_its_error_type(metrics: Metrics, tmp_path: Path) -> None:
    recorder = MetricsRecorder(meter_provider=metrics.provider)
    provider = ScriptedProvider(polls=["in_progress", "failed"])
    async with make_router(recorder, providers={"fake": provider}, clock=FakeClock()) as router:
        with pytest.raises(JobFailed):
            await router.generate("A cat", model="fake/video-1", output=tmp_path / "o.mp4")
    [jobs] = metrics.points("mediarouter.jobs")
    assert dict(jobs.attributes)["mediarouter.outcome"] == "failed" and jobs.value == 1
    [duration] = metrics.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes)["error.type"] == "JobFailed"
    [polls] = metrics.points("mediarouter.job.polls")
    assert polls.sum == 2
    assert not metrics.points("mediarouter.cost")
    [calls] = metrics.points("mediarouter.calls")
    assert dict(calls.attributes) == {"mediarouter.outcome": "failed", "error.type": "JobFailed"}


async def test_a_refused_submit_and_the_failover_are_counted(metrics: Metrics, tmp_path: Path) -> None:
    refused = ScriptedProvider(submit=[InsufficientCredits("no credits", status_code=402)])
    served = ScriptedProvider(polls=["completed"])
    served.name = "other"
    recorder = MetricsRecorder(meter_provider=metrics.provider)
    async with make_router(recorder, providers={"fake": refused, "other": served}, clock=FakeClock()) as router:
        await router.generate("A cat", model=["fake/video-1", "other/video-1"], output=tmp_path / "o.mp4")
    outcomes = {}
    for point in metrics.points("mediarouter.jobs"):
        attributes = dict(point.attributes)
        outcomes[attributes["gen_ai.provider.name"], attributes["mediarouter.outcome"]] = point.value
    assert outcomes == {("fake", "submit_failed"): 1, ("other", "completed"): 1}
    [failover] = metrics.points("mediarouter.failovers")
    assert dict(failover.attributes) == {
        "mediarouter.from": "fake/video-1",
        "mediarouter.to": "other/video-1",
        "error.type": "InsufficientCredits",
    }
