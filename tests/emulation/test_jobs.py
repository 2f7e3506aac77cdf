"""The shared job state machine: pending → in_progress → a terminal status, by poll count or by the
clock; a job outcome injection ends the job when it would complete; terminal jobs never move."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from mediarouter.emulation.injection import JOB_OUTCOMES, Injection, InjectionGrammar, Injector, PhaseSpec
from mediarouter.emulation.jobs import Job, JobMachine, Schedule


@dataclass(frozen=True)
class PollInjection(Injection):
    grammar = InjectionGrammar(phases=(PhaseSpec("poll", outcomes=JOB_OUTCOMES),))


def statuses(machine: JobMachine[Job], job: Job, polls: int) -> list[str]:
    return [machine.poll(job).status for _ in range(polls)]


@pytest.mark.parametrize(
    ("in_progress", "completed", "expected"),
    [
        (1, 2, ["pending", "in_progress", "completed", "completed"]),
        (0, 0, ["completed"]),
        (2, 4, ["pending", "pending", "in_progress", "in_progress", "completed"]),
        (1, 1, ["pending", "completed"]),
    ],
)
def test_poll_counts_drive_the_status(in_progress: int, completed: int, expected: list[str]) -> None:
    machine: JobMachine[Job] = JobMachine(Schedule(in_progress, completed), now=lambda: 0.0)
    job = machine.add(Job(id="j1", created_at=0.0))
    assert job.status == "pending"
    assert statuses(machine, job, len(expected)) == expected
    assert job.polls == expected.index("completed") + 1  # polls of a finished job are not counted


def test_the_clock_drives_a_timed_schedule() -> None:
    now = [100.0]
    machine: JobMachine[Job] = JobMachine(
        Schedule(seconds_before_in_progress=5, seconds_before_completed=30), now=lambda: now[0]
    )
    job = machine.add(Job(id="j1", created_at=100.0))
    seen = []
    for at in (101, 104.9, 105, 129.9, 130):
        now[0] = at
        seen.append(machine.poll(job).status)
    assert seen == ["pending", "pending", "in_progress", "in_progress", "completed"]
    assert job.finished_at == 130


def test_a_job_outcome_injection_ends_the_job_instead_of_completing_it() -> None:
    injector = Injector([PollInjection.parse("poll:expired:acme/slowx1")])
    finished: list[str] = []
    machine: JobMachine[Job] = JobMachine(
        Schedule(0, 1), injector=injector, now=lambda: 0.0, on_finish=lambda j: finished.append(j.id)
    )
    other = machine.add(Job(id="other", created_at=0, model="acme/fast"))
    first = machine.add(Job(id="first", created_at=0, model="acme/slow"))
    second = machine.add(Job(id="second", created_at=0, model="acme/slow"))
    assert statuses(machine, other, 2) == ["in_progress", "completed"]
    assert statuses(machine, first, 3) == ["in_progress", "expired", "expired"]  # spent only when it would complete
    assert first.error is not None and first.error.startswith("Emulated expiry")
    assert statuses(machine, second, 2) == ["in_progress", "completed"]  # x1: used up
    assert finished == ["other", "first", "second"]  # once each, terminal jobs stay put


def test_cancel_ends_only_unfinished_jobs() -> None:
    machine: JobMachine[Job] = JobMachine(Schedule(0, 0), now=lambda: 7.0)
    running = machine.add(Job(id="a", created_at=0))
    done = machine.poll(machine.add(Job(id="b", created_at=0, cost=Decimal("1.5"))))
    assert machine.cancel(running, "user asked") is True
    assert (running.status, running.error, running.finished_at) == ("cancelled", "user asked", 7.0)
    assert machine.cancel(done) is False and done.status == "completed" and done.cost == Decimal("1.5")


def test_finish_refuses_a_non_job_outcome() -> None:
    machine: JobMachine[Job] = JobMachine()
    with pytest.raises(ValueError, match="allowed values: failed, cancelled, expired"):
        machine.finish(machine.add(Job(id="a", created_at=0)), "exploded")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"polls_before_in_progress": 3, "polls_before_completed": 2}, "polls_before_completed"),
        ({"polls_before_in_progress": -1}, ">= 0"),
        ({"seconds_before_in_progress": 5}, "or neither"),
        ({"seconds_before_in_progress": 9, "seconds_before_completed": 2}, "seconds_before_completed"),
    ],
)
def test_an_impossible_schedule_is_refused(kwargs: dict[str, float], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        Schedule(**kwargs)  # type: ignore[arg-type]
