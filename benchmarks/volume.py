"""Volume: N concurrent `Router.generate` calls in one process against the OpenRouter emulator.

Each scenario runs in a fresh child process (so its peak RSS is its own) and prints: jobs done
(%), wall time, peak RSS, failures by error type, journal rows by state, and the requests the
emulator saw by phase (one model listing per provider is the coalescing rule). Transports:

- `asgi`: the emulator in-process (httpx ASGI transport), sharing this process and its loop;
- `loopback`: a real `mediarouter emulator` server on 127.0.0.1 (its own process), reached
  over TCP through httpx's connection pool.

    uv run python benchmarks/volume.py                          # 1,000 jobs, both transports, SQLite journal
    uv run python benchmarks/volume.py --jobs 10000 --transport loopback
    uv run python benchmarks/volume.py --journal off --polls 10
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def child(args: argparse.Namespace) -> dict[str, Any]:
    from mediarouter_openrouter.emulator import EMULATOR_BASE_URL, EmulatorConfig, emulator_transport
    from mediarouter_openrouter.provider import OpenRouterVideoProvider

    from mediarouter import Router
    from mediarouter.errors import MediaRouterError
    from mediarouter.settings import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="mr-volume-"))
    journal = {"sqlite": str(tmp / "journal.sqlite"), "memory": ":memory:", "off": "off"}[args.journal]
    transport: Any = None
    if args.transport == "asgi":
        transport = emulator_transport(
            EmulatorConfig(polls_before_in_progress=1, polls_before_completed=args.polls - 1)
        )
        provider = OpenRouterVideoProvider(api_key="bench", base_url=EMULATOR_BASE_URL, transport=transport)
    else:
        provider = OpenRouterVideoProvider(api_key="bench", base_url=args.base_url)
    overrides: dict[str, Any] = {}
    if args.max_concurrent_requests is not None:
        overrides["max_concurrent_requests"] = args.max_concurrent_requests
    settings = load_settings(
        poll_interval=args.poll_interval,
        max_poll_interval=args.poll_interval,
        timeout=args.timeout,
        journal=journal,
        cooldown=0,
        **overrides,
    )
    baseline = rss_mib()
    failures: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}
    done = 0
    async with Router(settings=settings, providers={"openrouter": provider}, journal=journal) as router:

        async def one(i: int) -> None:
            nonlocal done
            try:
                await router.generate(
                    f"volume {i}", model="openrouter/alibaba/wan-2.6", duration=5, output=tmp / f"{i}.mp4"
                )
                done += 1
            except MediaRouterError as exc:
                failures[type(exc).__name__] += 1
                examples.setdefault(type(exc).__name__, str(exc)[:200])
            except Exception as exc:  # a benchmark reports, it does not stop
                failures[type(exc).__name__] += 1
                examples.setdefault(type(exc).__name__, str(exc)[:200])

        started = time.perf_counter()
        cpu0 = time.process_time()
        await asyncio.gather(*(one(i) for i in range(args.jobs)))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        states: collections.Counter[str] = collections.Counter()
        if router.journal is not None:
            for record in router.journal.list():
                states[record.state.value] += 1
    phases: collections.Counter[str] = collections.Counter()
    if transport is not None:
        for entry in transport.emulator.requests:
            phases[str(entry.get("phase"))] += 1
    else:
        async with httpx.AsyncClient(timeout=60) as client:
            answer = await client.get(args.base_url.rsplit("/api/v1", 1)[0] + "/_emulator/requests")
            for entry in answer.json()["requests"]:
                phases[str(entry.get("phase"))] += 1
    return {
        "transport": args.transport,
        "journal": args.journal,
        "jobs": args.jobs,
        "done": done,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "rss_baseline_mib": round(baseline, 1),
        "rss_peak_mib": round(rss_mib(), 1),
        "failures": dict(failures),
        "examples": examples,
        "journal_states": dict(states),
        "emulator_requests": dict(phases),
    }


def start_server(polls: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = Path(sys.executable).parent / "mediarouter"
    server = subprocess.Popen(
        [
            *(str(exe), "emulator", "--port", str(port), "--log-level", "warning"),
            *("--polls-before-in-progress", "1", "--polls-before-completed", str(polls - 1)),
        ],
        stdout=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}/api/v1"
    for _ in range(400):
        try:
            httpx.get(f"http://127.0.0.1:{port}/_emulator/requests", timeout=1)
            httpx.delete(f"http://127.0.0.1:{port}/_emulator/requests", timeout=1)
            return server, base_url
        except httpx.HTTPError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("the emulator did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000, help="concurrent generate calls (default 1000)")
    parser.add_argument("--transport", choices=["asgi", "loopback", "both"], default="both")
    parser.add_argument("--journal", choices=["sqlite", "memory", "off"], default="sqlite")
    parser.add_argument("--polls", type=int, default=3, help="polls per job until completed (default 3, >= 2)")
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds between polls (default 0.5)")
    parser.add_argument("--timeout", type=float, default=600.0, help="each call's deadline (default 600)")
    parser.add_argument("--max-concurrent-requests", type=int, default=None, help="router setting (default: its own)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args))))
        return
    transports = ["asgi", "loopback"] if args.transport == "both" else [args.transport]
    common = [
        f"--jobs={args.jobs}",
        f"--journal={args.journal}",
        f"--polls={args.polls}",
        f"--poll-interval={args.poll_interval}",
        f"--timeout={args.timeout}",
    ]
    if args.max_concurrent_requests is not None:
        common.append(f"--max-concurrent-requests={args.max_concurrent_requests}")
    for transport in transports:
        server = None
        extra = []
        if transport == "loopback":
            server, base_url = start_server(args.polls)
            extra = [f"--base-url={base_url}"]
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--child", f"--transport={transport}", *common, *extra],
                capture_output=True,
                text=True,
                env={**os.environ, "MEDIAROUTER_LOG_LEVEL": "error"},
            )
        finally:
            if server is not None:
                server.terminate()
                server.wait(10)
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{transport}: the child failed")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        pct = 100.0 * result["done"] / result["jobs"]
        print(
            f"{transport:8} journal={result['journal']:6} jobs={result['jobs']:>6} done={pct:6.2f}% "
            f"wall={result['wall_s']:7.2f}s cpu={result['cpu_s']:7.2f}s "
            f"rss peak={result['rss_peak_mib']:.1f} MiB (baseline {result['rss_baseline_mib']:.1f})"
        )
        print(f"  failures: {result['failures'] or 'none'}")
        for kind, text in result["examples"].items():
            print(f"    {kind}: {text}")
        print(f"  journal rows: {result['journal_states'] or '-'}")
        print(f"  emulator requests by phase: {result['emulator_requests']}")


if __name__ == "__main__":
    main()
