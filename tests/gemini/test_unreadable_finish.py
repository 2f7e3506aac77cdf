"""MONEY: a finished Gemini operation that cannot be read as a video stops the call; it never fails over.

The job may be done and billed: a second candidate would be a second payment for the same video. So the
answer is a ProtocolError (the core's "stop" class), the next candidate is never submitted to, and the
journal keeps the operation name for `mediarouter jobs resume`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock
from mediarouter_gemini.provider import GeminiVideoProvider

from mediarouter import Job, JobState, ProtocolError, Router
from mediarouter.journal import MemoryJobStore, RecordState

fal = pytest.importorskip("mediarouter_fal.provider")
pytest.importorskip("starlette")

MODEL = "veo-3.1-generate-preview"
OP = f"models/{MODEL}/operations/op-unreadable"
FAL = "fal/fal-ai/veo3"


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL", "FAL_KEY", "FAL_QUEUE_URL"):
        monkeypatch.delenv(var, raising=False)


def _samples(*samples: Any) -> dict[str, Any]:
    return {"generateVideoResponse": {"generatedSamples": list(samples)}}


UNREADABLE = [
    pytest.param({}, "neither an error nor a response", id="no-response"),
    pytest.param({"response": {"@type": "x"}}, "without generateVideoResponse", id="no-video-response"),
    pytest.param({"response": {"generateVideoResponse": {}}}, "no sample", id="empty-video-response"),
    pytest.param({"response": _samples({"video": {}})}, "1 sample(s) with no readable video", id="video-without-uri"),
    pytest.param({"response": _samples({"video": {"uri": ""}})}, "no readable video", id="empty-uri"),
    pytest.param({"response": _samples({})}, "no readable video", id="sample-without-video"),
    pytest.param({"response": _samples("not an object")}, "no readable video", id="sample-not-an-object"),
    pytest.param({"response": _samples({"video": {"encodedVideo": "%%%"}})}, "not base64", id="malformed-base64"),
    pytest.param({"response": _samples({"video": {"uri": 7}})}, "malformed operation", id="uri-not-a-string"),
]


def _gemini(finished: dict[str, Any]) -> tuple[GeminiVideoProvider, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(200, json={"name": OP})
        return httpx.Response(200, json={"name": OP, "done": True, **finished})

    provider = GeminiVideoProvider(api_key="AIza-test", transport=httpx.MockTransport(answer), clock=FakeClock())
    return provider, seen


@pytest.mark.parametrize(("finished", "words"), UNREADABLE)
async def test_an_unreadable_finished_operation_stops_the_chain_and_keeps_the_job_id(
    finished: dict[str, Any], words: str, tmp_path: Path
) -> None:
    gemini, seen = _gemini(finished)
    second = fal.FalVideoProvider(emulator=True)
    journal = MemoryJobStore()
    async with Router(providers={"gemini": gemini, "fal": second}, clock=FakeClock(), journal=journal) as router:
        with pytest.raises(ProtocolError) as caught:
            await router.generate("a fox", model=[f"gemini/{MODEL}", FAL], output=tmp_path / "fox.mp4")
    error = caught.value
    assert words in str(error) and error.job_id == OP and error.provider == "gemini"
    assert [r.method for r in seen].count("POST") == 1
    assert second.emulator_state.journal.count("submit") == 0  # no second paid submit
    rows = journal.list()
    assert [(r.provider, r.job_id) for r in rows] == [("gemini", OP)]
    assert rows[0].state is RecordState.INTERRUPTED  # resumable, not failed


async def test_a_safety_filtered_operation_still_fails_over() -> None:
    """The one finished-without-video case Google documents as not billed stays `failed` (the router may fail over)."""
    filtered = {"response": {"generateVideoResponse": {"raiMediaFilteredCount": 1}}}
    gemini, _ = _gemini(filtered)
    status = await gemini.poll(Job(id=OP, provider="gemini", model=MODEL))
    assert status.state is JobState.FAILED and "safety filters" in (status.error or "")
    await gemini.aclose()
