"""Download throughput: mediarouter's engine vs curl (and a raw httpx stream) on one loopback file.

Starts the loopback server of download_rss.py in a separate process, then downloads the same
SIZE-byte output from that one server, in alternating rounds, with: curl (`-o FILE`: page cache
only), curl followed by an fsync of its file (the durability mediarouter gives), a raw httpx async
stream written to a file, and mediarouter's job engine through the real OpenRouter provider
(stream, sha256, fsync, atomic rename): `mediarouter` as it runs by default (the body read, hashed
and written in threads), `mr-on-loop` with `threaded_downloads` off (the body streamed on the event
loop, as with an injected async transport), and `sha256` alone: the same bytes hashed in memory, no
network and no disk, the ceiling of any download that hashes every byte on one core. Prints MB/s
(10^6 bytes) per side, the best round, the ratios, and the CPU seconds the client and the server
spent per round (on a 2-core machine the Python sides are CPU-bound: compare the CPU columns).

    uv run python benchmarks/download_throughput.py                # 1 GiB, 3 rounds, system temp dir
    uv run python benchmarks/download_throughput.py --size 256M --rounds 5
    uv run python benchmarks/download_throughput.py --dir /dev/shm  # tmpfs: no disk in the figure
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from download_rss import SERVER, download, free_port, parse_size

CONTENT = "/videos/gen-vid-1-bench/content?index=0"


def with_curl(base_url: str, target: Path, *, fsync: bool = False) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-o", str(target), base_url + CONTENT], check=True)
    if fsync:  # what mediarouter's durability costs curl: its bytes on disk, not only in the page cache
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return time.perf_counter() - started


def with_sha256(size: int) -> float:
    """sha256 of `size` bytes from memory, 1 MiB per update (the download's batch size)."""
    block = b"\0" * (1 << 20)
    digest = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(size >> 20):
        digest.update(block)
    digest.update(block[: size & ((1 << 20) - 1)])
    return time.perf_counter() - started


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


async def with_httpx(base_url: str, target: Path) -> float:
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as client, client.stream("GET", base_url + CONTENT) as response:
        with open(target, "wb") as fh:  # noqa: ASYNC230
            async for chunk in response.aiter_raw():
                fh.write(chunk)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1G", help="output size, e.g. 1G, 256M (default 1G)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side (default 3)")
    parser.add_argument("--dir", default=None, help="where the files are written (default: the system temp dir)")
    args = parser.parse_args()
    size = parse_size(args.size)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(size)])
    base_url = f"http://127.0.0.1:{port}/api/v1"
    has_curl = shutil.which("curl") is not None
    sides = (["curl", "curl+fsync"] if has_curl else []) + ["httpx", "mediarouter", "mr-on-loop", "sha256"]
    times: dict[str, list[float]] = {side: [] for side in sides}
    cpu: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}  # (client, server) seconds
    me, served_by = psutil.Process(), psutil.Process(server.pid)
    try:
        for _ in range(200):
            try:
                httpx.get(base_url + "/videos/models", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        import mediarouter_openrouter.provider  # noqa: F401  (imports are not part of the figure)

        import mediarouter.engine  # noqa: F401

        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            for round_ in range(args.rounds):
                for side in sides:
                    target = Path(tmp) / f"{side}-{round_}.mp4"
                    client_cpu, server_cpu = _cpu(me), _cpu(served_by)
                    if side == "sha256":
                        seconds = with_sha256(size)
                        cpu[side].append((_cpu(me) - client_cpu, 0.0))
                        times[side].append(seconds)
                        continue
                    if side.startswith("curl"):
                        seconds = with_curl(base_url, target, fsync=side == "curl+fsync")
                    elif side == "httpx":
                        seconds = asyncio.run(with_httpx(base_url, target))
                    else:
                        seconds = asyncio.run(download(base_url, target, threaded=side == "mediarouter"))
                    cpu[side].append((_cpu(me) - client_cpu, _cpu(served_by) - server_cpu))
                    assert target.stat().st_size == size, (side, target.stat().st_size)
                    target.unlink()
                    times[side].append(seconds)
    finally:
        server.terminate()
        server.wait(timeout=10)
    floor = "curl" if has_curl else "httpx"
    best = {side: size / min(t) / 1e6 for side, t in times.items()}
    where = args.dir or tempfile.gettempdir()
    mib = size / (1 << 20)
    print(f"{mib:.0f} MiB over loopback into {where}, {args.rounds} alternating rounds, best round per side")
    print("  side            MB/s   ratio   CPU s per round: client + server   (all rounds, MB/s)")
    for side in sides:
        rounds = ", ".join(f"{size / t / 1e6:.0f}" for t in times[side])
        client, server_s = (min(c[i] for c in cpu[side]) for i in (0, 1))
        print(
            f"  {side:12s} {best[side]:7.0f}   {best[side] / best[floor]:.2f}x   "
            f"{client:5.2f} + {server_s:4.2f}                     ({rounds})"
        )
    print(f"mediarouter / {floor}: {best['mediarouter'] / best[floor]:.2f}x  (target: >= 0.80x curl)")
    if has_curl:
        durable = best["mediarouter"] / best["curl+fsync"]
        print(f"mediarouter / curl+fsync (same durability): {durable:.2f}x")
    print(f"mediarouter / sha256 alone (the hash's ceiling): {best['mediarouter'] / best['sha256']:.2f}x")


if __name__ == "__main__":
    main()
