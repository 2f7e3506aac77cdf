"""Peak memory of a large download: mediarouter streams to disk, so RSS must stay flat.

Serves one job whose output is SIZE bytes from a loopback server in a separate process,
downloads it through the real OpenRouter provider and job engine, samples this process's
RSS every 5 ms, and prints the figures. It asserts nothing: it is a benchmark.

    uv run python benchmarks/download_rss.py            # 1 GiB
    uv run python benchmarks/download_rss.py --size 256M
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

SERVER = r"""
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

SIZE = int(sys.argv[2])
CHUNK = b"\0" * (1 << 20)
HEAD = b"\0\0\0\x18ftypmp42" + b"\0" * (len(CHUNK) - 12)

async def submit(request):
    return JSONResponse({"id": "gen-vid-1-bench", "polling_url": "/api/v1/videos/gen-vid-1-bench",
                         "status": "pending"}, status_code=202)

async def poll(request):
    base = str(request.base_url).rstrip("/")
    return JSONResponse({"id": "gen-vid-1-bench", "polling_url": "/api/v1/videos/gen-vid-1-bench",
                         "status": "completed",
                         "unsigned_urls": [base + "/api/v1/videos/gen-vid-1-bench/content?index=0"],
                         "usage": {"cost": 0.0}})

async def content(request):
    async def body():
        sent = 0
        while sent < SIZE:
            block = HEAD if sent == 0 else CHUNK
            block = block[: SIZE - sent]
            sent += len(block)
            yield block
    return StreamingResponse(body(), media_type="video/mp4", headers={"Content-Length": str(SIZE)})

async def models(request):
    return JSONResponse({"data": []})

app = Starlette(routes=[
    Route("/api/v1/videos", submit, methods=["POST"]),
    Route("/api/v1/videos/models", models),
    Route("/api/v1/videos/{id}", poll),
    Route("/api/v1/videos/{id}/content", content),
])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def download(base_url: str, target: Path, *, threaded: bool = True) -> float:
    from mediarouter_openrouter import OpenRouterVideoProvider

    from mediarouter.engine import JobEngine
    from mediarouter.request import VideoRequest

    provider = OpenRouterVideoProvider(api_key="sk-or-bench", base_url=base_url)
    provider.http.threaded_downloads = threaded  # False: the body streams on the event loop instead
    engine = JobEngine(poll_interval=0.01, timeout=3600)
    started = time.perf_counter()
    async with provider:
        await engine.run(provider, "bench/video", VideoRequest(prompt="bench"), output=target, validate=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1G", help="output size, e.g. 1G, 256M (default 1G)")
    args = parser.parse_args()
    size = parse_size(args.size)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(size)])
    base_url = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(200):
            try:
                httpx.get(base_url + "/videos/models", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        process = psutil.Process()
        with tempfile.TemporaryDirectory() as tmp:
            # Imports happen before the baseline, so the figure is the download's own memory.
            import mediarouter_openrouter.provider  # noqa: F401

            import mediarouter.engine  # noqa: F401

            baseline = process.memory_info().rss
            peak = baseline
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, process.memory_info().rss)
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            target = Path(tmp) / "big.mp4"
            seconds = asyncio.run(download(base_url, target))
            done.set()
            sampler.join()
            written = target.stat().st_size
    finally:
        server.terminate()
        server.wait(timeout=10)
    mib = 1 << 20
    print(f"downloaded        {written / mib:10.1f} MiB in {seconds:.2f} s ({written / mib / seconds:.1f} MiB/s)")
    print(f"baseline RSS      {baseline / mib:10.1f} MiB")
    print(f"peak RSS          {peak / mib:10.1f} MiB")
    print(f"peak - baseline   {(peak - baseline) / mib:10.1f} MiB  (target: within ~50 MiB)")


if __name__ == "__main__":
    main()
