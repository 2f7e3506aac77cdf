"""A download cut mid-stream: nothing at the target path, and a later download continues with Range."""

from __future__ import annotations

from pathlib import Path

import httpx
from mediarouter_contracts.clock import FakeClock
from mediarouter_openrouter import OpenRouterVideoProvider
from mediarouter_openrouter.emulator import EmulatorConfig, emulator_transport

from mediarouter import ProviderUnavailable, Router
from mediarouter.journal import MemoryJobStore, RecordState

CUT = 1000


class CuttingTransport(httpx.AsyncBaseTransport):
    """Passes everything through, but while `cut` is on, content bodies stop after CUT bytes."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.cut = True
        self.ranges: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/content"):
            return response
        self.ranges.append(request.headers.get("range"))
        body = await response.aread()
        if self.cut:
            body = body[:CUT]
        return httpx.Response(response.status_code, headers=response.headers, content=body)


async def test_an_interrupted_download_never_appears_at_the_target_and_resumes_with_range(tmp_path: Path) -> None:
    inner = emulator_transport(EmulatorConfig(polls_before_completed=1))
    transport = CuttingTransport(inner)
    provider = OpenRouterVideoProvider(api_key="sk-or-test", emulator=True, transport=transport)
    journal = MemoryJobStore()
    target = tmp_path / "out.mp4"
    async with Router(providers={"openrouter": provider}, journal=journal, clock=FakeClock()) as router:
        router.settings.poll_interval = 0.01
        try:
            await router.generate("a dog", model="openrouter/google/veo-3.1", output=target)
        except ProviderUnavailable as exc:
            job_id = exc.job_id
        else:
            raise AssertionError("the cut download should have failed")
        assert job_id is not None
        assert not target.exists()
        parts = list(tmp_path.glob(".out.mp4.*.part"))
        assert len(parts) == 1 and parts[0].stat().st_size == CUT * 4  # first try + 3 retries, each continued
        assert journal.get(job_id).state is RecordState.INTERRUPTED  # type: ignore[union-attr]

        transport.cut = False
        result = await router.download(job_id, output=target)

    state = inner.emulator
    expected = state.video(state.jobs[job_id], 0)
    assert target.read_bytes() == expected
    assert result.files[0].size == len(expected)
    assert transport.ranges[:5] == [
        None,
        f"bytes={CUT}-",
        f"bytes={CUT * 2}-",
        f"bytes={CUT * 3}-",
        f"bytes={CUT * 4}-",
    ]
    assert not list(tmp_path.glob("*.part"))
    assert journal.get(job_id).state is RecordState.DOWNLOADED  # type: ignore[union-attr]
