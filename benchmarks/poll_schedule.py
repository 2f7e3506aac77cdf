"""Polling schedules, simulated: how late a finished job is noticed, and how many polls it costs.

Job times are drawn (seeded) from a log-normal distribution with a median of 90 s, clipped to
20 s – 10 min, the range of today's video models. For each schedule, a job finishing at T is seen
at the first poll at or after T; the lag is that poll's time minus T. Printed per schedule: the
mean lag as a percentage of job time, the mean/p95/max polls per job, and whether it meets the
issue #15 target (mean lag <= 5 % of job time, mean polls <= 15).

The engine's schedule (mediarouter/engine.py `wait`): first poll after `first_poll` (the router's
default: 2 x poll_interval), then the interval grows by `poll_growth` after every poll, starting from
`poll_interval`, capped at `max_poll_interval`; all four are MediaRouterSettings fields.
`--optimal` computes, by dynamic programming over poll times on a 0.5 s grid, the best any schedule
can do on these job times for a given mean number of polls, with and without a 10 s minimum between
polls (OpenRouter documents polling every 10-30 s).

    uv run python benchmarks/poll_schedule.py
    uv run python benchmarks/poll_schedule.py --jobs 100000 --seed 7 --search --optimal
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass

from mediarouter.engine import JobEngine
from mediarouter.settings import MediaRouterSettings

MIN_JOB, MAX_JOB, MEDIAN_JOB, SIGMA = 20.0, 600.0, 90.0, 0.8


def job_times(count: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [min(MAX_JOB, max(MIN_JOB, rng.lognormvariate(math.log(MEDIAN_JOB), SIGMA))) for _ in range(count)]


def engine_polls(interval: float, growth: float, cap: float, first: float | None = None) -> Iterator[float]:
    """Poll times of JobEngine.wait without webhooks (the sleep before each poll)."""
    t = interval if first is None else first
    while True:
        yield t
        interval = min(cap, interval * growth)
        t += interval


def fixed_polls(every: float) -> Iterator[float]:
    t = every
    while True:
        yield t
        t += every


def elapsed_polls(first: float, ratio: float) -> Iterator[float]:
    """Not an engine schedule: every poll at `ratio` times the previous poll's time (the lower bound
    of what a schedule without a provider's ETA can do; the engine would need a separate first delay)."""
    t = first
    while True:
        yield t
        t *= ratio


@dataclass
class Result:
    lag_pct: float
    polls_mean: float
    polls_p95: float
    polls_max: int

    @property
    def meets(self) -> bool:
        return self.lag_pct <= 5.0 and self.polls_mean <= 15


def simulate(times: list[float], schedule: list[float]) -> Result:
    lags, polls = [], []
    for t in times:
        n = next(i for i, p in enumerate(schedule) if p >= t)
        lags.append((schedule[n] - t) / t * 100)
        polls.append(n + 1)
    polls.sort()
    return Result(statistics.fmean(lags), statistics.fmean(polls), polls[int(0.95 * len(polls))], polls[-1])


def prefix(polls: Iterator[float]) -> list[float]:
    out = []
    for p in polls:
        out.append(p)
        if p >= MAX_JOB:
            return out
    return out


def _optimal_schedule(times: list[float], cost_per_poll: float, min_gap: float, step: float = 0.5) -> list[float]:
    """The poll times minimising mean lag fraction + cost_per_poll x mean polls (dynamic programming).

    A poll at grid point k after one at j costs `cost_per_poll` for every job not yet seen (T > t_j)
    and the lag (t_k - T) / T of every job finishing in (t_j, t_k]; prefix sums make each step O(1).
    """
    grid = [MIN_JOB + i * step for i in range(int((MAX_JOB - MIN_JOB) / step) + 1)]
    n, share = len(grid), 1.0 / len(times)
    mass, inverse = [0.0] * n, [0.0] * n
    for t in times:
        k = min(n - 1, max(0, math.ceil((t - MIN_JOB) / step - 1e-9)))
        mass[k] += share
        inverse[k] += share / t
    c_mass, c_inv = [0.0], [0.0]
    for k in range(n):
        c_mass.append(c_mass[-1] + mass[k])
        c_inv.append(c_inv[-1] + inverse[k])
    gap = max(1, round(min_gap / step))
    best, choice = [0.0] * (n + 1), [n - 1] * (n + 1)  # state s: the last poll was at grid[s - 1]
    for s in range(n - 1, -1, -1):
        start = s if s == 0 else min(n - 1, s - 1 + gap)
        unseen = cost_per_poll * (1.0 - c_mass[s])
        top, pick = math.inf, n - 1
        for k in range(start, n):
            value = unseen + grid[k] * (c_inv[k + 1] - c_inv[s]) - (c_mass[k + 1] - c_mass[s]) + best[k + 1]
            if value < top:
                top, pick = value, k
        best[s], choice[s] = top, pick
    polls, s = [], 0
    while s < n:
        polls.append(grid[choice[s]])
        s = choice[s] + 1
    return polls


def optimal(times: list[float]) -> None:
    print("best possible (any schedule, on these job times), by the mean polls it costs:")
    for min_gap in (0.0, 10.0):
        for cost in (0.003, 0.004, 0.005, 0.008):
            schedule = _optimal_schedule(times, cost, min_gap)
            r = simulate(times, schedule)
            shown = ", ".join(f"{p:g}" for p in schedule[:8])
            print(
                f"  min gap {min_gap:4.0f} s: lag {r.lag_pct:4.1f}%, polls {r.polls_mean:4.1f} "
                f"(p95 {r.polls_p95:.0f}, max {r.polls_max})  polls at {shown}, ..."
            )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--search", action="store_true", help="also grid-search poll_interval x max_poll_interval")
    parser.add_argument("--optimal", action="store_true", help="also the best any schedule can do (a few seconds)")
    args = parser.parse_args()
    times = job_times(args.jobs, args.seed)
    growth = JobEngine().poll_growth
    if args.optimal:
        optimal(times)
    s = MediaRouterSettings()
    print(
        f"{args.jobs} jobs, seed {args.seed}: median {statistics.median(times):.0f} s, "
        f"mean {statistics.fmean(times):.0f} s, {min(times):.0f}-{max(times):.0f} s"
    )
    first = s.first_poll or 2 * s.poll_interval
    rows = {
        f"default: {first:g} s, then {s.poll_interval:g} s x{s.poll_growth:g} up to {s.max_poll_interval:g} s": prefix(
            engine_polls(s.poll_interval, s.poll_growth, s.max_poll_interval, first)
        ),
        "opt-in: 20 s, then 5 s x1.04 up to 20 s": prefix(engine_polls(5.0, 1.04, 20.0, 20.0)),
        "previous default: 10 s x1.25 up to 15 s": prefix(engine_polls(10.0, 1.25, 15.0)),
        "before issue #15: 10 s x1.25 up to 60 s": prefix(engine_polls(10.0, 1.25, 60.0)),
        "fixed 30 s (original notes)": prefix(fixed_polls(30.0)),
        "reference: 20 s, then x1.10 of elapsed": prefix(elapsed_polls(20.0, 1.10)),
    }
    print(f"{'schedule':48s} {'lag % of job':>12s} {'polls mean':>10s} {'p95':>5s} {'max':>5s}  target")
    for name, schedule in rows.items():
        r = simulate(times, schedule)
        print(
            f"{name:48s} {r.lag_pct:11.1f}% {r.polls_mean:10.1f} {r.polls_p95:5.0f} {r.polls_max:5d}  "
            f"{'met' if r.meets else 'missed'}"
        )
    if args.search:
        print(f"\ngrid (first poll at poll_interval), growth {growth:g}: lowest lag with <= 15 polls on average")
        found = []
        for first in (1, 2, 3, 4, 5, 6, 8, 10):
            for cap in (2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 60):
                if cap < first:
                    continue
                r = simulate(times, prefix(engine_polls(first, growth, cap)))
                found.append((r.meets, r.polls_mean, first, cap, r))
        for meets, _, first, cap, r in sorted(found, key=lambda f: (f[4].polls_mean > 15, f[4].lag_pct))[:8]:
            print(
                f"  {first:g} s up to {cap:g} s: lag {r.lag_pct:.1f}%, polls {r.polls_mean:.1f} "
                f"(p95 {r.polls_p95:.0f}, max {r.polls_max}) {'met' if meets else 'missed'}"
            )


if __name__ == "__main__":
    main()
