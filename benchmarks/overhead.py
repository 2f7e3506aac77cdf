"""Lifecycle overhead: CPU per job of a long-lived `Router`, the module-level `mediarouter.generate()`
and a raw httpx script doing the same exchanges (one submit, N polls, one download to a file).

All sides run against one real `mediarouter emulator` on loopback (its own process, so the
server's CPU is not counted) in alternating rounds inside this process; CPU is
`time.process_time()` (this process, every thread: the journal writer included) over a batch of
JOBS concurrent jobs. The Router sides use the SQLite journal (synchronous=FULL) unless
`--journal off`; the raw side has no journal, no hashing and no fsync, so the ratio is
conservative.

    uv run python benchmarks/overhead.py                     # 200 jobs x 5 rounds, 10 polls each
    uv run python benchmarks/overhead.py --jobs 100 --rounds 7 --journal off
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from volume import start_server

MODEL = "alibaba/wan-2.6"


async def raw_httpx(base_url: str, jobs: int, polls: int, interval: float, out: Path) -> None:
    """The floor: what any client must do for these jobs, written plainly (the same pool as a provider client)."""
    async with httpx.AsyncClient(
        timeout=60, limits=httpx.Limits(max_connections=100, max_keepalive_connections=100)
    ) as client:
        headers = {"Authorization": "Bearer bench", "Accept": "application/json"}

        async def one(i: int) -> None:
            answer = await client.post(
                base_url + "/videos", json={"model": MODEL, "prompt": f"raw {i}", "duration": 5}, headers=headers
            )
            answer.raise_for_status()
            job = answer.json()
            url = httpx.URL(base_url + "/").join(job["polling_url"])
            for _ in range(polls):
                await asyncio.sleep(interval)
                status = (await client.get(url, headers=headers)).json()
                if status["status"] == "completed":
                    break
            else:
                raise RuntimeError(f"job {job['id']} did not complete: {status['status']}")
            content = httpx.URL(base_url + "/").join(status["unsigned_urls"][0])
            async with client.stream("GET", content, headers={**headers, "Accept": "video/mp4"}) as response:
                response.raise_for_status()
                with open(out / f"raw-{i}.mp4", "wb") as fh:  # noqa: ASYNC230  (the floor writes plainly)
                    async for chunk in response.aiter_raw():
                        fh.write(chunk)

        await asyncio.gather(*(one(i) for i in range(jobs)))


def router_settings(args: argparse.Namespace, journal: str) -> Any:
    from mediarouter.settings import load_settings

    return load_settings(
        poll_interval=args.poll_interval, max_poll_interval=args.poll_interval, journal=journal, cooldown=0
    )


async def with_router(router: Any, jobs: int, out: Path, tag: str) -> None:
    results = await asyncio.gather(
        *(
            router.generate(f"{tag} {i}", model=f"openrouter/{MODEL}", duration=5, output=out / f"{tag}-{i}.mp4")
            for i in range(jobs)
        )
    )
    assert all(r.polls for r in results)


async def with_generate(args: argparse.Namespace, base_url: str, journal: str, jobs: int, out: Path) -> None:
    """The module-level call with no Router options: the loop's shared default router (settings from the
    environment, set in main)."""
    import mediarouter

    await asyncio.gather(
        *(
            mediarouter.generate(f"generate {i}", model=f"openrouter/{MODEL}", duration=5, output=out / f"gen-{i}.mp4")
            for i in range(jobs)
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200, help="concurrent jobs per round (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per side (default 5)")
    parser.add_argument("--polls", type=int, default=10, help="polls per job (default 10)")
    parser.add_argument("--poll-interval", type=float, default=0.05, help="seconds between polls (default 0.05)")
    parser.add_argument("--journal", choices=["sqlite", "off"], default="sqlite")
    parser.add_argument("--sides", default="raw,router,generate", help="comma-separated (default: all three)")
    args = parser.parse_args()
    server, base_url = start_server(args.polls)
    sides = args.sides.split(",")
    cpu: dict[str, list[float]] = {side: [] for side in sides}
    try:
        import mediarouter_openrouter.provider  # noqa: F401  (imports are not part of the figure)

        import mediarouter.router  # noqa: F401

        with tempfile.TemporaryDirectory() as tmp:
            journal = str(Path(tmp) / "journal.sqlite") if args.journal == "sqlite" else "off"
            os.environ.update(
                OPENROUTER_BASE_URL=base_url,
                OPENROUTER_API_KEY="bench",
                MEDIAROUTER_JOURNAL=journal,
                MEDIAROUTER_POLL_INTERVAL=str(args.poll_interval),
                MEDIAROUTER_MAX_POLL_INTERVAL=str(args.poll_interval),
                MEDIAROUTER_COOLDOWN="0",
            )

            async def rounds() -> None:
                from mediarouter import Router

                router = Router(
                    settings=router_settings(args, journal),
                    provider_options={"openrouter": {"base_url": base_url, "api_key": "bench"}},
                    journal=journal,
                )
                await with_router(router, 4, Path(tmp), "warm")  # plugin loading, listing, first connections
                if "generate" in sides:
                    await with_generate(args, base_url, journal, 4, Path(tmp))
                for round_ in range(args.rounds):
                    for side in sides:
                        out = Path(tmp) / f"{side}-{round_}"
                        out.mkdir()
                        t0 = time.process_time()
                        if side == "raw":
                            await raw_httpx(base_url, args.jobs, args.polls, args.poll_interval, out)
                        elif side == "router":
                            await with_router(router, args.jobs, out, "router")
                        else:
                            await with_generate(args, base_url, journal, args.jobs, out)
                        cpu[side].append((time.process_time() - t0) / args.jobs * 1000)
                await router.aclose()

            asyncio.run(rounds())
    finally:
        server.terminate()
        server.wait(10)
    print(f"{args.jobs} jobs x {args.rounds} rounds, {args.polls} polls each, journal {args.journal}")
    print("CPU ms per job (median, min-max):")
    for side in sides:
        values = cpu[side]
        print(f"  {side:9} {statistics.median(values):7.2f}  ({min(values):.2f}-{max(values):.2f})")
    if "raw" in sides:
        floor = statistics.median(cpu["raw"])
        for side in sides:
            if side != "raw":
                print(f"  {side} / raw httpx: {statistics.median(cpu[side]) / floor:.2f}x")
    if "router" in sides and "generate" in sides:
        print(f"  generate / router: {statistics.median(cpu['generate']) / statistics.median(cpu['router']):.2f}x")


if __name__ == "__main__":
    main()
