"""`mediarouter batch` as a user runs it: the installed command, the bundled emulator, real MP4s."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import av

MEDIAROUTER = shutil.which("mediarouter") or str(Path(sys.executable).with_name("mediarouter"))


def test_batch_with_the_emulator_writes_one_playable_mp4_per_line_and_a_results_file(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    lines = [
        {"prompt": "A cat on a sofa", "model": "openrouter/google/veo-3.1"},
        {"prompt": "A dog on a beach", "model": "openrouter/alibaba/wan-2.6", "output": "dog.mp4"},
        {"prompt": "A fox in the snow", "candidates": ["openrouter/google/veo-3.1"], "aspect_ratio": "9:16"},
    ]
    requests.write_text("".join(json.dumps(line) + "\n" for line in lines))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENROUTER_")}
    out = tmp_path / "out"
    proc = subprocess.run(
        [MEDIAROUTER, "batch", str(requests), "-o", str(out), "--emulator", "--concurrency", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "batch: 3 of 3 done" in proc.stderr
    results = [json.loads(t) for t in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["line"] for r in results) == [1, 2, 3]
    assert all(r["status"] == "done" and r["job_id"] and r["cost"] for r in results)
    assert {Path(r["file"]).name for r in results if r["line"] == 2} == {"dog.mp4"}
    for record in results:
        with av.open(record["file"]) as container:
            assert container.streams.video and sum(1 for _ in container.decode(video=0)) > 0
