"""Download throughput: mediarouter's engine vs curl (and a raw httpx stream) on one loopback file.

Starts the loopback server of download_rss.py in a separate process, then downloads the same
SIZE-byte output in alternating rounds with: curl (`-o FILE`), a raw httpx async stream written
to a file, and mediarouter's job engine through the real OpenRouter provider (stream, sha256,
fsync, atomic rename). Prints MB/s (10^6 bytes) per side, the best round, and the ratio to curl.
curl does not fsync and hashes nothing; mediarouter does both, so the ratio is conservative.

    uv run python benchmarks/download_throughput.py                # 1 GiB, 3 rounds
    uv run python benchmarks/download_throughput.py --size 256M --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from download_rss import SERVER, download, free_port, parse_size

CONTENT = "/videos/gen-vid-1-bench/content?index=0"


def with_curl(base_url: str, target: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-o", str(target), base_url + CONTENT], check=True)
    return time.perf_counter() - started


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
    args = parser.parse_args()
    size = parse_size(args.size)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(size)])
    base_url = f"http://127.0.0.1:{port}/api/v1"
    has_curl = shutil.which("curl") is not None
    sides = (["curl"] if has_curl else []) + ["httpx", "mediarouter"]
    times: dict[str, list[float]] = {side: [] for side in sides}
    try:
        for _ in range(200):
            try:
                httpx.get(base_url + "/videos/models", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        import mediarouter_openrouter.provider  # noqa: F401  (imports are not part of the figure)

        import mediarouter.engine  # noqa: F401

        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(args.rounds):
                for side in sides:
                    target = Path(tmp) / f"{side}-{round_}.mp4"
                    if side == "curl":
                        seconds = with_curl(base_url, target)
                    elif side == "httpx":
                        seconds = asyncio.run(with_httpx(base_url, target))
                    else:
                        seconds = asyncio.run(download(base_url, target))
                    assert target.stat().st_size == size, (side, target.stat().st_size)
                    target.unlink()
                    times[side].append(seconds)
    finally:
        server.terminate()
        server.wait(timeout=10)
    floor = "curl" if has_curl else "httpx"
    best = {side: size / min(t) / 1e6 for side, t in times.items()}
    print(f"{size / (1 << 20):.0f} MiB over loopback, {args.rounds} alternating rounds, best round per side")
    for side in sides:
        rounds = ", ".join(f"{size / t / 1e6:.0f}" for t in times[side])
        print(f"  {side:12s} {best[side]:7.0f} MB/s   (rounds: {rounds})   {best[side] / best[floor]:.2f}x {floor}")
    print(f"mediarouter / {floor}: {best['mediarouter'] / best[floor]:.2f}x  (target: >= 0.80x curl)")


if __name__ == "__main__":
    main()
