"""How fast mediarouter starts: `import mediarouter` and `mediarouter --help`, against `import httpx`.

Prints numbers (median of N fresh processes, the sides alternating run by run) and the ratios to
`python -c 'import httpx'` (issue #15 targets: import <= 1.2x, --help <= 1.5x). Asserts nothing:

    uv run python benchmarks/startup.py            # N = 7
    uv run python benchmarks/startup.py --runs 15

Also lists which heavy optional modules a plain `import mediarouter` pulled in (it should be none
of the OpenTelemetry SDK, rich, click or structlog).

The child processes run without PYTHONDONTWRITEBYTECODE (some sandboxes set it), and every command
runs once before timing, so all sides import from bytecode caches as an installed package does;
otherwise the figures measure compiling sources, not importing them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = (
    "opentelemetry",
    "opentelemetry.sdk",
    "rich",
    "click",
    "structlog",
    "httpx",
    "pydantic",
    "pydantic_settings",
    "pluggy",
    "platformdirs",
    "sqlite3",
)

_IMPORT = (
    "import time, sys, json\n"
    "t = time.perf_counter()\n"
    "import mediarouter\n"
    "elapsed = time.perf_counter() - t\n"
    f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
    "print(json.dumps({'s': elapsed, 'heavy': heavy}))\n"
)


def _median_ms(samples: list[float]) -> str:
    median, low, high = (x * 1000 for x in (statistics.median(samples), min(samples), max(samples)))
    return f"{median:7.1f} ms  (min {low:.1f}, max {high:.1f})"


#: What the children run with: bytecode caches written and used, as in an installed package.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _wall(cmd: list[str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=_ENV)
        samples.append(time.perf_counter() - t)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per measurement (median is printed)")
    args = parser.parse_args()
    runs = max(1, args.runs)
    python = sys.executable
    command = shutil.which("mediarouter") or str(Path(python).with_name("mediarouter"))

    sides = {
        "python -c pass (interpreter start)": [python, "-c", "pass"],
        "python -c 'import httpx'": [python, "-c", "import httpx"],
        "python -c 'import mediarouter'": [python, "-c", "import mediarouter"],
        "mediarouter --help": [command, "--help"],
        "mediarouter generate --help": [command, "generate", "--help"],
    }
    for cmd in sides.values():  # write the bytecode caches before anything is timed
        _wall(cmd, 1)
    inside: list[float] = []
    heavy: list[str] = []
    for _ in range(runs):
        out = subprocess.run([python, "-c", _IMPORT], capture_output=True, text=True, check=True, env=_ENV).stdout
        data = json.loads(out)
        inside.append(data["s"])
        heavy = data["heavy"]

    walls: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(runs):  # alternating, so a noisy neighbour hurts every side alike
        for name, cmd in sides.items():
            walls[name] += _wall(cmd, 1)
    httpx_wall = statistics.median(walls["python -c 'import httpx'"])

    print(f"python {sys.version.split()[0]}, {runs} runs each, median:")
    print(f"  import mediarouter (in-process)      {_median_ms(inside)}")
    for name, samples in walls.items():
        print(f"  {name:36s} {_median_ms(samples)}   {statistics.median(samples) / httpx_wall:.2f}x import httpx")
    print(f"  loaded by `import mediarouter`: {', '.join(heavy) or 'none of ' + ', '.join(HEAVY)}")


if __name__ == "__main__":
    main()
