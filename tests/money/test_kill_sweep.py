"""kill -9 at every point of the submit window: never a silently lost paid job, never a second one.

Rule (issue 10, docs/jobs.md "Ctrl-C, deadlines and crashes"): the submit intent is durable before the
POST and the job id is journaled before anything else reads the answer, so a `kill -9` at any instant
leaves either no job upstream, or a resumable row with its job id, or a `submitting`/`unknown` row that
`jobs list` and `jobs resume --all` report with what to do. Re-running with the same idempotency key
never creates a second job.

Real `mediarouter generate` processes (forked from a fork server that has done the imports, so 50+
of them fit the time budget) against one slow-submit emulator on loopback (conftest: the request waits
PRE seconds at the server before the job is made and POST seconds before the answer goes out), killed
with SIGKILL at points spread from before the POST to after the answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from mediarouter_openrouter import OpenRouterVideoProvider

from mediarouter import Conflict, MediaRouterError, Router
from mediarouter.journal import JobRecord, SQLiteJobStore

from .conftest import POST, PRE, VEO, Child, ForkServer, SlowServer

pytestmark = pytest.mark.slow

#: Kills anchored on the process start (it is still starting up), on the model listing (the last
#: request before the submit) and on the submit's arrival at the server.
AT_START, BEFORE_POST, IN_WINDOW = 3, 6, 45
STAGES = ("before the POST", "at the server, no job yet", "job made, no answer yet", "answered")


@dataclass
class Kill:
    index: int
    anchor: str
    offset: float
    stage: str = "not killed"

    @property
    def tag(self) -> str:
        return f"sk-kill-{self.index}"

    @property
    def key(self) -> str:
        return f"kill-{self.index}"


def prompt_of(kill: Kill) -> str:
    return f"kill point {kill.index}: a heron at dawn"


def generate_argv(kill: Kill, out: Path) -> list[str]:
    return ["generate", prompt_of(kill), "--model", VEO, "-o", str(out), "--poll-interval", "0.05", "-q",
            "--idempotency-key", kill.key]  # fmt: skip


@dataclass
class Sweep:
    server: SlowServer
    fork: ForkServer
    journal: Path
    home: Path

    def start(self, tag: str, argv: list[str]) -> Child:
        return self.fork.spawn(argv, self.server.env(tag, self.journal, self.home), self.home)

    def run(self, tag: str, *argv: str) -> Child:
        child = self.start(tag, list(argv))
        child.wait()
        return child


def stage_of(server: SlowServer, tag: str) -> str:
    if server.seen(tag, "submit-answered"):
        return "answered"
    if server.seen(tag, "submit-created"):
        return "job made, no answer yet"
    if server.seen(tag, "submit-arrived"):
        return "at the server, no job yet"
    return "before the POST"


def wait_for(server: SlowServer, tag: str, event: str, child: Child, limit: float = 30) -> bool:
    deadline = time.monotonic() + limit
    while not server.seen(tag, event):
        if child.done() or time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def kill_at(sweep: Sweep, kill: Kill) -> Kill:
    child = sweep.start(kill.tag, generate_argv(kill, sweep.home / f"out-{kill.index}.mp4"))
    if kill.anchor == "start" or wait_for(sweep.server, kill.tag, kill.anchor, child):
        time.sleep(kill.offset)
    if child.kill():
        kill.stage = stage_of(sweep.server, kill.tag)
    child.wait()
    return kill


def plan(sweep: Sweep) -> list[Kill]:
    """Kill points spread over the window, measured on one undisturbed run."""
    calibration = sweep.run("sk-calibrate", *generate_argv(Kill(-1, "", 0), sweep.home / "c.mp4"))
    assert calibration.wait() == 0, calibration.stderr
    stamp = {e: (sweep.server.events / f"sk-calibrate.{e}").stat().st_mtime for e in ("models", "submit-arrived")}
    gap = max(0.0, stamp["submit-arrived"] - stamp["models"])
    kills = [Kill(i, "start", 0.01 * i) for i in range(AT_START)]
    kills += [Kill(AT_START + i, "models", gap * i / (BEFORE_POST - 1)) for i in range(BEFORE_POST)]
    window = PRE + POST + 0.25
    first = AT_START + BEFORE_POST
    kills += [Kill(first + i, "submit-arrived", window * i / (IN_WINDOW - 1)) for i in range(IN_WINDOW)]
    return kills


def test_kill_9_anywhere_in_the_submit_window_loses_no_paid_job_and_a_rerun_pays_nothing(
    slow_server: SlowServer, fork_server: ForkServer, tmp_path: Path
) -> None:
    journal_file = tmp_path / "jobs.sqlite3"
    sweep = Sweep(slow_server, fork_server, journal_file, tmp_path)
    kills = plan(sweep)
    assert len(kills) >= 50
    with ThreadPoolExecutor(max_workers=6) as pool:
        kills = list(pool.map(lambda k: kill_at(sweep, k), kills))
    time.sleep(PRE + POST + 0.3)  # submits still held at the server finish (and are billed)
    stages = Counter(k.stage for k in kills)
    print("\nkill points by stage:", json.dumps(stages, sort_keys=True))
    assert all(stages[s] >= 3 for s in STAGES), stages

    jobs = slow_server.jobs()
    store = SQLiteJobStore(journal_file)
    rows: dict[str, JobRecord] = {r.idempotency_key: r for r in store.list() if r.idempotency_key}
    lost, ambiguous = [], []
    for kill in kills:
        upstream = [job for job, tag in jobs.items() if tag == kill.tag]
        assert len(upstream) <= 1, f"{kill}: {len(upstream)} jobs for one submit"
        row = rows.get(kill.key)
        if row is not None and row.state.value in ("submitting", "unknown"):
            ambiguous.append(kill.key)
        if not upstream:
            continue
        if row is None or (row.job_id != upstream[0] and kill.key not in ambiguous):
            lost.append((kill.stage, kill.offset, row.state.value if row else "no row"))
    assert lost == [], f"paid jobs the journal does not lead to: {lost}"
    assert ambiguous, "some kills should have landed between the POST and the journaled job id"

    # Every maybe-billed row is shown with what to do; every resumable one is finished.
    listing = sweep.run("sk-list", "jobs", "list", "--limit", "500")
    assert listing.wait() == 0, listing.stderr
    flagged = {
        part.removeprefix("key ")
        for line in listing.stdout.splitlines()
        if "MAY BE BILLED" in line
        for part in line.split("  ")
        if part.startswith("key ")
    }
    assert set(ambiguous) <= flagged, f"`jobs list` does not flag {sorted(set(ambiguous) - flagged)} as maybe billed"
    resumed = sweep.run("sk-resume", "jobs", "resume", "--all", "--json", "--poll-interval", "0.05")
    assert resumed.wait() == 0, resumed.stdout + resumed.stderr
    reports = json.loads(resumed.stdout)
    unknown = {r["key"] for r in reports if r["outcome"] == "unknown"}
    assert {rows[k].key for k in ambiguous} <= unknown
    for report in reports:
        if report["outcome"] == "unknown":
            assert "jobs adopt" in report["hint"] and "jobs forget" in report["hint"]
        else:
            assert report["outcome"] == "downloaded", report
            assert slow_server.sha256(report["job_id"]) == _sha256(Path(report["path"]))

    # Re-running every kill point with its key: at most one job per key, ever.
    before = slow_server.jobs()
    outcomes = asyncio.run(_rerun_all(slow_server, store, kills, tmp_path))
    store.close()
    print("re-runs:", json.dumps(Counter(outcomes.values()), sort_keys=True))
    after = slow_server.jobs()
    for kill in kills:
        mine = [job for job, tag in after.items() if tag == kill.tag]
        assert len(mine) <= 1, f"{kill.key}: a re-run made a second job"
        if kill.key in ambiguous:
            assert outcomes[kill.key] == "refused: unknown outcome", kill
            assert [j for j in mine if j not in before] == []
    held = next(k for k in kills if k.key == ambiguous[0])
    cli = sweep.run(held.tag, *generate_argv(held, tmp_path / "again.mp4"))
    assert cli.wait() != 0 and "jobs adopt" in cli.stderr and "jobs forget" in cli.stderr
    assert slow_server.jobs() == after


def test_sigterm_after_the_submit_is_answered_is_handled_like_ctrl_c(
    slow_server: SlowServer, fork_server: ForkServer, tmp_path: Path
) -> None:
    """Rule: SIGTERM (a container stop, a CI timeout) stops like Ctrl-C: the job is journaled resumable,
    the process says how to resume it, and it does not die silently with 143."""
    sweep = Sweep(slow_server, fork_server, tmp_path / "jobs.sqlite3", tmp_path)
    kill = Kill(1000, "submit-answered", 0.0)
    child = sweep.start(kill.tag, generate_argv(kill, tmp_path / "term.mp4"))
    assert wait_for(slow_server, kill.tag, "submit-answered", child)
    time.sleep(0.05)
    assert child.kill(signal.SIGTERM)
    code = child.wait()
    assert code in (130, 143) and "jobs resume" in child.stderr, (code, child.stderr)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _rerun_all(server: SlowServer, store: SQLiteJobStore, kills: list[Kill], home: Path) -> dict[str, str]:
    """`generate` again with each kill point's key, in-process against the same server and journal."""

    async def one(kill: Kill) -> tuple[str, str]:
        provider = OpenRouterVideoProvider(api_key=kill.tag, base_url=server.base_url)
        async with Router(providers={"openrouter": provider}, journal=store, cooldown=0) as router:
            router.settings.poll_interval = 0.05
            try:
                await router.generate(
                    prompt_of(kill), model=VEO, output=home / f"rerun-{kill.index}.mp4", idempotency_key=kill.key
                )
            except Conflict:
                return kill.key, "refused: unknown outcome"
            except MediaRouterError as exc:
                return kill.key, f"failed: {type(exc).__name__}"
            return kill.key, "video"

    return dict(await asyncio.gather(*(one(k) for k in kills)))
