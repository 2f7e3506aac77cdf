"""What a provider answers goes into errors, and errors into the journal: never a signed URL's query or the key."""

from __future__ import annotations

import httpx
import pytest
from mediarouter_openrouter import OpenRouterVideoProvider

from mediarouter import Job, JobOutput, JobState, JobStatus, ProtocolError

BASE = "https://openrouter.test/api/v1"
SIGNED = "https://storage.example.com/v/out.mp4?X-Signature=SECRETSIG"
KEY = "sk-or-v1-abcdefgh12345678"
JOB = Job(id="gen-vid-1", provider="openrouter", model="google/veo-3.1", polling_url=f"{BASE}/videos/gen-vid-1")


def _provider(handler: httpx.MockTransport) -> OpenRouterVideoProvider:
    return OpenRouterVideoProvider(api_key=KEY, base_url=BASE, transport=handler)


@pytest.mark.parametrize(
    "body",
    [
        b'[{"id":"gen-vid-1","status":"completed","urls":["' + SIGNED.encode() + b'"]}]',  # an array around it
        b'{"id":"gen-vid-1","status":"completed","urls":["' + SIGNED.encode() + b'"]}\n<!-- cache -->',  # garbage
    ],
    ids=["array", "trailing-garbage"],
)
async def test_an_unreadable_poll_answer_is_quoted_without_its_signed_urls(
    monkeypatch: pytest.MonkeyPatch, body: bytes
) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    provider = _provider(transport)
    with pytest.raises(ProtocolError) as caught:
        await provider.poll(JOB)
    await provider.aclose()
    text = str(caught.value)
    assert "SECRETSIG" not in text and "X-Signature" not in text
    assert "https://storage.example.com/v/out.mp4" in text  # still says what came back


async def test_a_text_answer_to_a_download_is_quoted_redacted_in_the_message_and_server_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    said = f"token expired for {SIGNED} (key {KEY})"
    provider = _provider(httpx.MockTransport(lambda request: httpx.Response(200, json={"error": {"message": said}})))
    output = JobOutput(index=0, url=f"{BASE}/videos/gen-vid-1/content?index=0")
    status = JobStatus(job_id="gen-vid-1", state=JobState.COMPLETED, outputs=(output,))
    with pytest.raises(ProtocolError) as caught:
        async with provider.open_download(JOB, status, output):
            pass
    await provider.aclose()
    text = str(caught.value)
    assert "SECRETSIG" not in text and KEY not in text
    assert caught.value.server_message is not None and "token expired" in caught.value.server_message
    assert KEY not in caught.value.server_message and "SECRETSIG" not in caught.value.server_message
