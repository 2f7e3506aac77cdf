"""Several processes with one idempotency key at once: one job at the server, one journal row, one video.

Rule (issue 10, docs/jobs.md "Idempotency"): keys are unique in the journal (a partial unique index and
an atomic `claim`), so of several processes started together with one key exactly one submits; the
others return that job's video or stop with an error that names the key, and never pay again. The
reproduction had two processes with one key both submit, 10 times out of 10.

Real `mediarouter generate` processes (from the fork server) share one journal file and one slow-submit
emulator on loopback, so each submit stays in flight for a while, and all write the same `-o` file.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mediarouter.journal import SQLiteJobStore

from .conftest import VEO, ForkServer, SlowServer

pytestmark = pytest.mark.slow

ROUNDS = 10
PROCESSES = 3


def one_round(server: SlowServer, fork: ForkServer, tmp: Path, number: int) -> dict[str, object]:
    key, tag = f"same-key-{number}", f"sk-same-{number}"
    journal, out = tmp / "jobs.sqlite3", tmp / f"video-{number}.mp4"
    argv = ["generate", f"round {number}: an otter", "--model", VEO, "-o", str(out), "--poll-interval", "0.05",
            "-q", "--idempotency-key", key]  # fmt: skip
    env = server.env(tag, journal, tmp)
    children = [fork.spawn(argv, env, tmp) for _ in range(PROCESSES)]
    codes = [child.wait() for child in children]
    jobs = server.jobs_of(tag)
    assert len(jobs) == 1, f"round {number}: {len(jobs)} jobs at the server for key {key}: {codes}"
    assert 0 in codes, [c.stderr for c in children]
    for child, code in zip(children, codes, strict=True):
        assert "Traceback" not in child.stderr, child.stderr
        if code != 0:
            assert key in child.stderr or "nothing was sent" in child.stderr, child.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == server.sha256(jobs[0])

    again = fork.spawn(argv, env, tmp)
    assert again.wait() == 0, again.stderr
    assert server.jobs_of(tag) == jobs
    return {"codes": codes, "job": jobs[0], "key": key}


def test_processes_started_together_with_one_key_make_one_job(
    slow_server: SlowServer, fork_server: ForkServer, tmp_path: Path
) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        rounds = list(pool.map(lambda n: one_round(slow_server, fork_server, tmp_path, n), range(ROUNDS)))
    exits = Counter(code for r in rounds for code in r["codes"])  # type: ignore[attr-defined]
    print("\nexit codes of the processes sharing a key:", json.dumps(exits, sort_keys=True))
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    try:
        for r in rounds:
            holders = [row for row in store.list() if row.idempotency_key == r["key"]]
            assert [row.job_id for row in holders] == [r["job"]]
            assert holders[0].state.value == "downloaded"
    finally:
        store.close()
