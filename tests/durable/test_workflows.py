"""Durable requests on DBOS with a SQLite system database, in-process, over the fake fleet: one workflow
per idempotency key, a crash between steps resumed without a second submit, a submit of unknown outcome
never repeated, webhook messages waking the poll loop, and the batch budget."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import Capabilities, VideoRequest
from mediarouter.batch import default_key
from mediarouter.durable import DurableSettings, queue_name, workflow_id
from mediarouter.durable.runner import DurableEngine, DurableWaiters, client_for, run_durable_batch, run_worker
from mediarouter.errors import ConfigurationError, InvalidRequest
from mediarouter.journal import JobRecord, MemoryJobStore, RecordState, SQLiteJobStore, fingerprint_request
from mediarouter.webhooks import create_receiver
from mediarouter.webhooks.deliveries import Waiters

from ..core.router_fakes import HANG, Fleet, Script
from ..webhooks.helpers import SECRET, body_of, envelope, signed_headers

FAST = 0.02


@pytest.fixture
def fleet(clock: FakeClock) -> Fleet:
    return Fleet(clock)


def lines(*numbers: int, **extra: object) -> list[str]:
    return [json.dumps({"prompt": f"video {n}", "model": "p1/m1", "duration": 4, **extra}) for n in numbers]


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(t) for t in path.read_text().splitlines()]


async def test_a_line_enqueued_twice_is_one_workflow_and_one_submit(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    batch = lines(1, 2)
    async with fleet.router(journal=MemoryJobStore()) as router:
        first = await run_durable_batch(router, batch, output_dir=tmp_path / "out", settings=settings, wait=False)
        again = await run_durable_batch(router, batch, output_dir=tmp_path / "out", settings=settings, wait=False)
        assert first.totals.running == 2 and again.totals.running == 2 and fleet.submits() == []
        client = client_for(settings)
        try:
            ids = sorted(s.workflow_id for s in client.list_workflows(workflow_id_prefix="mediarouter:"))
        finally:
            client.destroy()
        keys = sorted(default_key(json.loads(text)) for text in batch)
        assert ids == [workflow_id(k) for k in keys]
        report = await run_durable_batch(
            router, batch, output_dir=tmp_path / "out", settings=settings, poll_interval=FAST
        )
    assert report.ok and fleet.submits() == ["p1/m1", "p1/m1"]
    rows = read(tmp_path / "out" / "results.jsonl")
    assert sorted(r["line"] for r in rows) == [1, 2]
    assert all(r["status"] == "done" and Path(r["file"]).read_bytes() for r in rows)
    assert {r["cost"] for r in rows} == {"1.00"} and report.totals.spent == Decimal("2.00")


async def test_a_rerun_skips_done_lines_and_runs_a_failed_one_again_without_resubmitting_accepted_jobs(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    fleet.script("p1/m1", Script(polls=["in_progress", "failed"]))
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_durable_batch(router, lines(1), output_dir=tmp_path, settings=settings, poll_interval=FAST)
        assert [r.error_type for r in report.results] == ["JobFailed"]
        fleet.script("p1/m1", Script())
        # A failed job's key is still held by its row (a job existed): the rerun is a new workflow attempt,
        # and the journal says the job ended, so nothing is submitted again.
        rerun = await run_durable_batch(router, lines(1), output_dir=tmp_path, settings=settings, poll_interval=FAST)
    assert [r.error_type for r in rerun.results] == ["JobFailed"] and fleet.submits() == ["p1/m1"]


async def test_a_worker_stopped_mid_poll_is_recovered_by_its_restart_without_a_second_submit(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    fleet.script("p1/m1", Script(polls=[HANG]))
    journal = MemoryJobStore()
    async with fleet.router(journal=journal) as router:
        await run_durable_batch(router, lines(1), output_dir=tmp_path, settings=settings, wait=False)
        engine = DurableEngine(router, settings)
        await engine.launch()
        for _ in range(400):  # until the job is accepted and being polled
            rows = journal.list()
            if rows and rows[0].polls >= 2:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the workflow never polled")
        await engine.shutdown(grace=0)  # the worker goes away between two polls
        client = client_for(settings)
        try:
            [status] = client.list_workflows(workflow_id_prefix="mediarouter:")
        finally:
            client.destroy()
        assert status.status == "PENDING" and status.executor_id == "test-worker"

        fleet.providers["p1"]._jobs[rows[0].job_id or ""] = ["completed"]
        report = await run_durable_batch(router, lines(1), output_dir=tmp_path, settings=settings, poll_interval=FAST)
    assert report.ok and fleet.submits() == ["p1/m1"]
    assert journal.list()[0].state is RecordState.DOWNLOADED


async def test_a_submit_whose_outcome_is_unknown_is_never_sent_again(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    journal = SQLiteJobStore(tmp_path / "jobs.sqlite3")  # a worker's journal outlives it: the advice names `jobs`
    [text] = lines(1)
    key = default_key(json.loads(text))
    # What a worker killed mid-POST leaves: the intent, no job id, and no live submitter.
    request = VideoRequest.build(prompt="video 1", duration=4)
    journal.add(
        JobRecord(
            key="local-dead", provider="p1", model="m1", idempotency_key=key, state=RecordState.UNKNOWN,
            request=request.redacted(), fingerprint=fingerprint_request(request, ["p1/m1"]),
        )
    )  # fmt: skip
    async with fleet.router(journal=journal) as router:
        report = await run_durable_batch(router, [text], output_dir=tmp_path, settings=settings, poll_interval=FAST)
    [result] = report.results
    assert fleet.submits() == [] and result.status == "failed" and result.error_type == "Conflict"
    assert result.error is not None and "mediarouter jobs adopt" in result.error


async def test_a_verified_webhook_delivery_wakes_the_poll_loop(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    # With a callback_url the safety-net schedule polls once an hour: only the delivery can end this test.
    fleet.script("p1/m1", Script(polls=["completed"]))
    journal = MemoryJobStore()
    batch = lines(1, callback_url="https://hooks.example/openrouter")
    async with fleet.router(journal=journal, webhooks=Waiters(first_poll=3600, poll_every=3600)) as router:
        task = asyncio.create_task(
            run_durable_batch(router, batch, output_dir=tmp_path, settings=settings, poll_interval=FAST)
        )
        for _ in range(400):
            rows = journal.list()
            if rows and rows[0].job_id:
                break
            await asyncio.sleep(0.02)
        assert fleet.accepted() and not task.done()
        job_id = rows[0].job_id or ""
        client = client_for(settings)
        try:
            receiver = create_receiver(secret=SECRET, journal=journal, waiters=DurableWaiters(client, journal),
                                       provider="p1", listeners=[])  # fmt: skip
            body = body_of(envelope(job_id, "completed"))
            transport = httpx.ASGITransport(app=receiver)
            async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as http:
                answer = await http.post("/", content=body, headers=signed_headers(body, int(time.time())))
            assert answer.status_code == 204
            report = await asyncio.wait_for(task, 60)  # a hang guard, not a speed target
        finally:
            client.destroy()
    assert report.ok
    assert fleet.submits() == ["p1/m1"] and journal.list()[0].state is RecordState.DOWNLOADED


async def test_a_repeated_submit_step_finds_the_journaled_job_and_sends_nothing(fleet: Fleet) -> None:
    # What a recovered submit step does when its worker died after the POST, before DBOS recorded the step.
    request = VideoRequest.build(prompt="video 1", duration=4)
    async with fleet.router(journal=MemoryJobStore()) as router:
        first = await router.submit(request, idempotency_key="k1", model="p1/m1")
        again = await router.submit(request, idempotency_key="k1", model="p1/m1")
    assert fleet.submits() == ["p1/m1"] and first.job_id is not None and again.job_id == first.job_id
    assert again.state is RecordState.PENDING


async def test_another_worker_takes_over_a_dead_workers_workflows(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    fleet.script("p1/m1", Script(polls=[HANG]))
    journal = MemoryJobStore()
    async with fleet.router(journal=journal) as router:
        await run_durable_batch(router, lines(1), output_dir=tmp_path, settings=settings, wait=False)
        dead = DurableEngine(router, settings)
        await dead.launch()
        for _ in range(400):
            rows = journal.list()
            if rows and rows[0].polls >= 1:
                break
            await asyncio.sleep(0.02)
        await dead.shutdown(grace=0)
        fleet.providers["p1"]._jobs[rows[0].job_id or ""] = ["completed"]
        other = DurableEngine(router, replace(settings, executor_id="other-worker"))
        await other.launch()
        try:
            assert await other.recover(["test-worker"]) == 1
            report = await run_durable_batch(
                router, lines(1), output_dir=tmp_path, settings=settings, execute=False, poll_interval=FAST
            )
        finally:
            await other.shutdown()
    assert report.ok and fleet.submits() == ["p1/m1"]


async def test_a_live_worker_is_not_taken_over(fleet: Fleet, settings: DurableSettings) -> None:
    journal = MemoryJobStore()
    async with fleet.router(journal=journal) as router:
        journal.try_lease("dbos-executor:alive", "elsewhere:1:x", 30.0)
        engine = DurableEngine(router, settings)
        await engine.launch()
        try:
            with pytest.raises(ConfigurationError, match="is alive"):
                await engine.recover(["alive"])
        finally:
            await engine.shutdown()


async def test_the_batch_budget_is_reserved_at_enqueue_and_no_line_over_it_is_enqueued(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    # Each line is estimated at 4 s x $0.10 = $0.40: a $1.00 budget holds two of three.
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_durable_batch(
            router, lines(1, 2, 3), output_dir=tmp_path, settings=settings, max_total_cost="1.00", poll_interval=FAST
        )
    by_line = {r.line: r for r in report.results}
    assert [by_line[n].status for n in (1, 2, 3)] == ["done", "done", "failed"]
    assert by_line[3].error_type == "BudgetExceeded" and "not enqueued" in (by_line[3].error or "")
    assert fleet.submits() == ["p1/m1", "p1/m1"]


async def test_two_live_processes_cannot_share_a_worker_id(fleet: Fleet, settings: DurableSettings) -> None:
    journal = MemoryJobStore()
    async with fleet.router(journal=journal) as router:
        journal.try_lease("dbos-executor:test-worker", "elsewhere:1:x", 30.0)
        with pytest.raises(ConfigurationError, match="in use by a live process"):
            await DurableEngine(router, settings).launch()


async def test_an_enqueued_batch_without_a_budget_reports_its_estimate_once(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    async with fleet.router(journal=MemoryJobStore()) as router:
        enqueued = await run_durable_batch(router, lines(1, 2), output_dir=tmp_path, settings=settings, wait=False)
        assert enqueued.totals.estimated == Decimal("0.80")  # 2 × 4 s × $0.10/s, before anything ran
        done = await run_durable_batch(router, lines(1, 2), output_dir=tmp_path, settings=settings, poll_interval=FAST)
    assert done.ok and done.totals.estimated == Decimal("0.80") and done.totals.spent == Decimal("2.00")


async def test_a_worker_says_it_runs_only_once_it_does(fleet: Fleet, settings: DurableSettings) -> None:
    """`mediarouter worker` prints "running workflows" from `ready`: never for an id another process holds."""
    journal = MemoryJobStore()
    said: list[str] = []
    async with fleet.router(journal=journal) as router:
        journal.try_lease("dbos-executor:test-worker", "elsewhere:1:x", 30.0)
        with pytest.raises(ConfigurationError, match="in use by a live process"):
            await run_worker(router, settings, stop=asyncio.Event(), ready=lambda: said.append("running"))
        journal.release_lease("dbos-executor:test-worker", "elsewhere:1:x")
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(router, settings, stop=stop, ready=lambda: said.append("running")))
        for _ in range(400):
            if said:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(worker, 60)  # a hang guard, not a speed target
    assert said == ["running"]


def test_queues_and_workflow_ids_follow_providers_and_keys() -> None:
    assert queue_name("openrouter") == "mediarouter-openrouter"
    assert workflow_id("k1") == "mediarouter:k1" and workflow_id("k1", 3) == "mediarouter:k1#3"


def test_a_bad_database_url_names_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="MEDIAROUTER_DBOS_DATABASE must be sqlite"):
        DurableSettings(database_url="mysql://x/y")


def test_importing_mediarouter_does_not_import_dbos_and_a_missing_extra_says_what_to_install() -> None:
    code = (
        "import sys, mediarouter, mediarouter.durable, mediarouter.cli; assert 'dbos' not in sys.modules\n"
        "sys.modules['dbos'] = None\n"
        "from mediarouter.durable import require_dbos\n"
        "try:\n    require_dbos()\nexcept Exception as e:\n    print(e.hint)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'mediarouter[dbos]'" in out


async def test_a_line_that_failed_over_records_the_estimate_of_the_candidate_that_ran(
    clock: FakeClock, settings: DurableSettings, tmp_path: Path
) -> None:
    cheap = Capabilities(durations=(4,), price_per_second=Decimal("0.10"))  # $0.40 for 4 s
    dear = Capabilities(durations=(4,), price_per_second=Decimal("0.20"))  # $0.80 for 4 s
    fleet = Fleet(clock, {"p1": {"m1": cheap}, "p2": {"dear": dear}})
    fleet.script("p1/m1", Script(submit_error=lambda: InvalidRequest("not for this model", status_code=400)))
    fleet.script("p2/dear", Script(cost=None))  # no reported cost: the estimate is all the batch knows
    text = json.dumps({"prompt": "video 1", "model": ["p1/m1", "p2/dear"], "duration": 4})
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_durable_batch(router, [text], output_dir=tmp_path, settings=settings, poll_interval=FAST)
    [result] = report.results
    assert result.status == "done" and result.model == "dear" and fleet.submits() == ["p1/m1", "p2/dear"]
    assert result.estimated_cost == Decimal("0.80") and report.totals.spent == Decimal("0.80")


@pytest.mark.parametrize("budget", [None, "10"])
async def test_a_cancelled_workflow_whose_job_was_accepted_reports_the_job_to_resume(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path, budget: str | None
) -> None:
    fleet.script("p1/m1", Script(polls=[HANG]))
    journal = MemoryJobStore()
    [text] = lines(1)
    async with fleet.router(journal=journal) as router:
        task = asyncio.create_task(
            run_durable_batch(
                router, [text], output_dir=tmp_path, settings=settings, poll_interval=FAST, max_total_cost=budget
            )
        )
        for _ in range(400):  # until the job is accepted (and being paid for)
            rows = journal.list()
            if rows and rows[0].job_id:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the job was never accepted")
        client = client_for(settings)
        try:
            client.cancel_workflow(workflow_id(default_key(json.loads(text))))
        finally:
            client.destroy()
        report = await asyncio.wait_for(task, 60)  # a hang guard, not a speed target
    [result] = report.results
    job_id = rows[0].job_id
    assert result.status == "failed" and result.job_id == job_id and result.may_bill
    assert result.error is not None and f"mediarouter jobs resume {job_id}" in result.error
    assert fleet.submits() == ["p1/m1"]
    if budget is not None:  # the job goes on and bills: the budget counts what it was reserved at
        assert result.estimated_cost == Decimal("0.40") and report.totals.spent == Decimal("0.40")


async def test_a_results_file_failing_mid_run_is_reported_and_a_rerun_collects_every_line(
    clock: FakeClock, settings: DurableSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the local batch: a full disk under the results file is reported (`results_error`), not raised, and
    the journal and DBOS let a rerun record every line without a second submit."""
    real_open = Path.open

    def full_open(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if self.name == "results.jsonl" and "a" in mode:
            return real_open(Path("/dev/full"), mode, *args, **kwargs)
        return real_open(self, mode, *args, **kwargs)

    fleet = Fleet(clock)
    texts = [json.dumps({"prompt": f"video {n}", "model": "p1/m1", "duration": 4}) for n in (1, 2)]
    async with fleet.router(journal=MemoryJobStore()) as router:
        monkeypatch.setattr(Path, "open", full_open)
        full = await run_durable_batch(router, texts, output_dir=tmp_path, settings=settings, poll_interval=FAST)
        monkeypatch.setattr(Path, "open", real_open)
        assert full.results_error is not None and full.results_unwritten == 2 and not full.ok
        assert [r.status for r in full.results] == ["done", "done"]
        rerun = await run_durable_batch(router, texts, output_dir=tmp_path, settings=settings, poll_interval=FAST)
    assert rerun.ok and fleet.submits() == ["p1/m1", "p1/m1"]
    records = [json.loads(t) for t in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sorted(r["line"] for r in records) == [1, 2]


async def test_a_worker_restarted_onto_a_backlog_runs_it_under_its_own_concurrency_from_the_start(
    fleet: Fleet, settings: DurableSettings, tmp_path: Path
) -> None:
    """Lines enqueued under the batch's limits (4 per worker), then a worker with `--concurrency 1`: it never
    runs two at once, also in its first dequeue (its limits are written before the engine starts dequeuing)."""
    from dataclasses import replace

    fleet.script("p1/m1", Script(polls=[HANG]))
    async with fleet.router(journal=MemoryJobStore()) as router:
        await run_durable_batch(router, lines(1, 2, 3), output_dir=tmp_path, settings=settings, wait=False)
        engine = DurableEngine(router, replace(settings, concurrency=1))
        await engine.launch()
        try:
            for _ in range(400):  # until the first line's job is accepted
                if fleet.submits():
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)  # 20 queue polls: room for a second dequeue if the limit were not 1
            assert fleet.submits() == ["p1/m1"]
        finally:
            await engine.shutdown(grace=0)
