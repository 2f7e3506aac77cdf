"""Downloads: which URL is fetched, where the key may go, redirects, resumption, and refusing non-videos."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock
from mediarouter_openrouter import OpenRouterVideoProvider

from mediarouter import (
    AuthenticationFailed,
    Conflict,
    Download,
    InvalidRequest,
    Job,
    JobOutput,
    JobState,
    JobStatus,
    NotFound,
    OutputGone,
    ProtocolError,
    ProviderUnavailable,
)

BASE = "https://openrouter.test/api/v1"
KEY = "sk-or-v1-download-test-secret"
JOB_ID = "gen-vid-1-download"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 16
CONTENT = f"{BASE}/videos/{JOB_ID}/content?index=0"
SIGNED = "https://storage.example.com/v/out.mp4?X-Signature=SECRETSIG"

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _no_openrouter_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "OPENROUTER_APP_TITLE", "OPENROUTER_HTTP_REFERER"):
        monkeypatch.delenv(var, raising=False)


#: Whether this test's provider reads downloads in threads (the default on the real network) or on
#: the event loop (the default with an injected async transport): every test here runs both ways.
_THREADED = [False]


@pytest.fixture(autouse=True, params=["on-loop", "threaded"])
def _download_mode(request: pytest.FixtureRequest) -> Iterator[None]:
    _THREADED[0] = request.param == "threaded"
    yield
    _THREADED[0] = False


class Closing(httpx.AsyncByteStream, httpx.SyncByteStream):
    """A response body that records whether it was closed and how much was read (async or blocking)."""

    def __init__(self, chunks: list[bytes], fail_after: int | None = None) -> None:
        self.chunks = chunks
        self.fail_after = fail_after
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for i, chunk in enumerate(self.chunks):
            if self.fail_after is not None and i >= self.fail_after:
                raise httpx.ReadError("connection reset by peer")
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def make(
    handler: Handler, *, api_key: str | None = KEY, clock: FakeClock | None = None, **kwargs: Any
) -> tuple[OpenRouterVideoProvider, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    provider = OpenRouterVideoProvider(
        api_key=api_key, base_url=BASE, transport=httpx.MockTransport(record), clock=clock or FakeClock(), **kwargs
    )
    provider.http.threaded_downloads = _THREADED[0]
    return provider, seen


def video(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=VIDEO, headers={"Content-Type": "video/mp4"})


JOB = Job(id=JOB_ID, provider="openrouter", model="google/veo-3.1", polling_url=f"{BASE}/videos/{JOB_ID}")


def completed(*outputs: JobOutput) -> JobStatus:
    return JobStatus(job_id=JOB_ID, state=JobState.COMPLETED, outputs=outputs)


async def fetch(provider: OpenRouterVideoProvider, output: JobOutput, offset: int = 0) -> tuple[Download, bytes]:
    async with provider.open_download(JOB, completed(output), output, offset=offset) as download:
        assert (download.blocking is not None) is _THREADED[0]
        data = b"".join([chunk async for chunk in download.chunks])
    return download, data


def wall(clock: FakeClock, seconds_from_now: float) -> datetime:
    return datetime.fromtimestamp(clock.time() + seconds_from_now, tz=UTC)


# -- which URL, and where the key goes -----------------------------------------------------------


async def test_a_fresh_signed_url_is_fetched_without_the_key() -> None:
    clock = FakeClock()
    provider, seen = make(video, clock=clock, app_title="App", http_referer="https://app.example")
    output = JobOutput(index=0, url=CONTENT, signed_url=SIGNED, expires_at=wall(clock, 3600))
    download, data = await fetch(provider, output)
    assert data == VIDEO
    [request] = seen
    assert str(request.url) == SIGNED
    assert "Authorization" not in request.headers
    assert "X-OpenRouter-Title" not in request.headers and "HTTP-Referer" not in request.headers
    assert request.headers["Accept"] == "video/mp4"
    assert download.origin == "https://storage.example.com"
    assert download.content_type == "video/mp4"
    assert download.content_length == len(VIDEO)
    assert download.resumed_from == 0


async def test_a_signed_url_without_expiry_is_used_and_needs_no_key() -> None:
    provider, seen = make(video, api_key=None)
    _, data = await fetch(provider, JobOutput(index=0, url=CONTENT, signed_url=SIGNED))
    assert data == VIDEO
    assert str(seen[0].url) == SIGNED and "Authorization" not in seen[0].headers


@pytest.mark.parametrize("seconds_left", [-10, 0, 29])
async def test_an_expired_or_expiring_signed_url_falls_back_to_the_unsigned_one_with_the_key(
    seconds_left: float,
) -> None:
    clock = FakeClock()
    provider, seen = make(video, clock=clock)
    output = JobOutput(index=0, url=CONTENT, signed_url=SIGNED, expires_at=wall(clock, seconds_left))
    _, data = await fetch(provider, output)
    assert data == VIDEO
    [request] = seen
    assert str(request.url) == CONTENT
    assert request.headers["Authorization"] == f"Bearer {KEY}"


async def test_expiry_uses_the_injected_wall_clock() -> None:
    clock = FakeClock()
    provider, seen = make(video, clock=clock)
    output = JobOutput(index=0, url=CONTENT, signed_url=SIGNED, expires_at=wall(clock, 100))
    await fetch(provider, output)
    clock.advance(80)  # now only 20 s left: inside the safety margin
    await fetch(provider, output)
    assert [str(r.url) for r in seen] == [SIGNED, CONTENT]


async def test_an_unsigned_url_on_a_foreign_host_never_gets_the_key() -> None:
    provider, seen = make(video)
    output = JobOutput(index=2, url="https://attacker.example/videos/x/content?index=2")
    _, data = await fetch(provider, output)
    assert data == VIDEO
    assert all(r.url.host != "attacker.example" for r in seen)
    [request] = seen
    assert str(request.url) == f"{BASE}/videos/{JOB_ID}/content?index=2"
    assert request.headers["Authorization"] == f"Bearer {KEY}"


async def test_an_unsigned_url_on_the_base_origin_is_used_with_the_key() -> None:
    provider, seen = make(video, app_title="App")
    url = f"https://openrouter.test/api/v1/videos/{JOB_ID}/content?index=0&variant=hd"
    await fetch(provider, JobOutput(index=0, url=url))
    assert str(seen[0].url) == url
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"
    assert seen[0].headers["X-OpenRouter-Title"] == "App"
    assert seen[0].headers["Accept"] == "video/mp4"


async def test_no_url_at_all_uses_the_content_endpoint_for_that_index() -> None:
    provider, seen = make(video)
    await fetch(provider, JobOutput(index=3))
    assert str(seen[0].url) == f"{BASE}/videos/{JOB_ID}/content?index=3"


async def test_downloads_that_need_the_key_fail_without_one_before_sending() -> None:
    provider, seen = make(video, api_key=None)
    with pytest.raises(AuthenticationFailed) as info:
        await fetch(provider, JobOutput(index=0, url=CONTENT))
    assert seen == []
    assert info.value.hint is not None and "OPENROUTER_API_KEY" in info.value.hint


# -- redirects -------------------------------------------------------------------------------------


def redirecting(routes: dict[str, str]) -> Handler:
    """Redirect any URL in `routes` (by str) to its target; serve the video elsewhere."""

    def handler(request: httpx.Request) -> httpx.Response:
        target = routes.get(str(request.url))
        if target is not None:
            return httpx.Response(302, headers={"Location": target})
        return video(request)

    return handler


async def test_a_redirect_to_another_origin_drops_the_key() -> None:
    cdn = "https://cdn.example.net/blob/123?token=abc"
    provider, seen = make(redirecting({CONTENT: cdn}))
    download, data = await fetch(provider, JobOutput(index=0, url=CONTENT))
    assert data == VIDEO
    assert [str(r.url) for r in seen] == [CONTENT, cdn]
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"
    assert "Authorization" not in seen[1].headers
    assert download.origin == "https://cdn.example.net"


async def test_a_same_origin_redirect_keeps_the_key_and_relative_locations_work() -> None:
    provider, seen = make(redirecting({CONTENT: "/api/v1/videos/final.mp4"}))
    await fetch(provider, JobOutput(index=0, url=CONTENT))
    assert str(seen[1].url) == "https://openrouter.test/api/v1/videos/final.mp4"
    assert seen[1].headers["Authorization"] == f"Bearer {KEY}"


async def test_once_dropped_the_key_is_not_restored_by_a_redirect_back() -> None:
    hop = "https://cdn.example.net/hop"
    back = f"{BASE}/videos/{JOB_ID}/content?index=0&again=1"
    provider, seen = make(redirecting({CONTENT: hop, hop: back}))
    await fetch(provider, JobOutput(index=0, url=CONTENT))
    assert [str(r.url) for r in seen] == [CONTENT, hop, back]
    assert ["Authorization" in r.headers for r in seen] == [True, False, False]


async def test_the_range_header_survives_redirects() -> None:
    cdn = "https://cdn.example.net/blob"

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == CONTENT:
            return httpx.Response(307, headers={"Location": cdn})
        return httpx.Response(206, content=VIDEO[100:], headers={"Content-Range": f"bytes 100-{len(VIDEO) - 1}/*"})

    provider, seen = make(handler)
    download, _ = await fetch(provider, JobOutput(index=0, url=CONTENT), offset=100)
    assert [r.headers.get("Range") for r in seen] == ["bytes=100-", "bytes=100-"]
    assert download.resumed_from == 100


async def test_too_many_redirects_is_a_protocol_error() -> None:
    def loop(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("n", "0"))
        return httpx.Response(302, headers={"Location": f"https://cdn.example.net/x?n={n + 1}"})

    provider, seen = make(loop)
    with pytest.raises(ProtocolError) as info:
        await fetch(provider, JobOutput(index=0, url=CONTENT))
    assert "redirect" in str(info.value)
    assert len(seen) == 6  # the first request plus five redirects


async def test_a_redirect_to_a_non_http_scheme_is_refused() -> None:
    provider, seen = make(lambda r: httpx.Response(302, headers={"Location": "file:///etc/passwd"}))
    with pytest.raises(ProtocolError):
        await fetch(provider, JobOutput(index=0, url=CONTENT))
    assert len(seen) == 1


# -- what counts as a video --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "text/html", "text/plain", "application/problem+json"],
)
async def test_a_2xx_that_is_not_a_video_is_a_protocol_error(content_type: str) -> None:
    body = b'{"error": {"code": 409, "message": "not ready yet"}}'
    provider, _ = make(lambda r: httpx.Response(200, content=body, headers={"Content-Type": content_type}))
    with pytest.raises(ProtocolError) as info:
        await fetch(provider, JobOutput(index=0, url=CONTENT))
    media_type = content_type.split(";")[0]
    assert f"expected a video, got {media_type}" in str(info.value)
    assert "not ready yet" in str(info.value)
    assert info.value.job_id == JOB_ID and info.value.status_code == 200


async def test_a_zero_content_length_is_a_protocol_error() -> None:
    provider, _ = make(lambda r: httpx.Response(200, content=b"", headers={"Content-Type": "video/mp4"}))
    with pytest.raises(ProtocolError) as info:
        await fetch(provider, JobOutput(index=0, url=CONTENT))
    assert "empty" in str(info.value)


async def test_an_empty_body_without_a_length_is_caught_while_streaming() -> None:
    stream = Closing([])
    provider, _ = make(lambda r: httpx.Response(200, stream=stream, headers={"Content-Type": "video/mp4"}))
    with pytest.raises(ProtocolError) as info:
        await fetch(provider, JobOutput(index=0, url=CONTENT))
    assert "empty" in str(info.value)
    assert stream.closed


async def test_a_missing_content_type_is_accepted() -> None:
    provider, _ = make(lambda r: httpx.Response(200, content=VIDEO))
    download, data = await fetch(provider, JobOutput(index=0, url=CONTENT))
    assert data == VIDEO and download.content_type is None


# -- error statuses, resumption, closing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, InvalidRequest),
        (401, AuthenticationFailed),
        (404, NotFound),
        (409, Conflict),
        (410, OutputGone),
        (500, ProviderUnavailable),
        (502, ProviderUnavailable),
    ],
)
async def test_download_errors_are_mapped_and_the_response_is_closed(status: int, expected: type[Exception]) -> None:
    stream = Closing([b'{"error": {"code": %d, "message": "content says %d"}}' % (status, status)])
    provider, _ = make(lambda r: httpx.Response(status, stream=stream, headers={"Content-Type": "application/json"}))
    with pytest.raises(expected) as info:
        await fetch(provider, JobOutput(index=0, url=CONTENT))
    assert type(info.value) is expected
    assert getattr(info.value, "status_code", None) == status
    assert f"content says {status}" in str(info.value)
    assert getattr(info.value, "job_id", None) == JOB_ID
    assert stream.closed


async def test_a_failing_signed_download_does_not_reveal_the_signed_url() -> None:
    provider, _ = make(lambda r: httpx.Response(403, text=f"AccessDenied for {SIGNED}"), api_key=None)
    with pytest.raises(Exception) as info:
        await fetch(provider, JobOutput(index=0, url=CONTENT, signed_url=SIGNED))
    assert "SECRETSIG" not in str(info.value)
    assert "SECRETSIG" not in repr(info.value.__dict__)


@pytest.mark.parametrize("refusal", [403, 404, 410])
async def test_a_refused_signed_url_falls_back_to_the_authenticated_content_url(refusal: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "storage.example.com":
            return httpx.Response(refusal, text="<Error><Code>AccessDenied</Code></Error>")
        return video(request)

    provider, seen = make(handler)
    output = JobOutput(index=0, url=CONTENT, signed_url=SIGNED)
    # The refusal is a retryable error the engine sees (and retries at once) ...
    with pytest.raises(ProviderUnavailable) as info:
        await fetch(provider, output)
    assert info.value.retryable and info.value.retry_after == 0 and info.value.status_code == refusal
    # ... and the next attempt goes through the API with the key.
    _, data = await fetch(provider, output)
    assert data == VIDEO
    assert [str(r.url) for r in seen] == [SIGNED, CONTENT]
    assert ["Authorization" in r.headers for r in seen] == [False, True]


async def test_a_signed_url_server_error_is_not_second_guessed() -> None:
    provider, seen = make(lambda r: httpx.Response(503, headers={"Retry-After": "2"}))
    with pytest.raises(ProviderUnavailable) as info:
        await fetch(provider, JobOutput(index=0, url=CONTENT, signed_url=SIGNED))
    assert len(seen) == 1 and info.value.retry_after == 2.0


async def test_an_offset_sends_a_range_and_206_resumes_there() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Range"] == "bytes=1000-"
        return httpx.Response(
            206,
            content=VIDEO[1000:],
            headers={"Content-Type": "video/mp4", "Content-Range": f"bytes 1000-{len(VIDEO) - 1}/{len(VIDEO)}"},
        )

    provider, _ = make(handler)
    download, data = await fetch(provider, JobOutput(index=0, url=CONTENT), offset=1000)
    assert download.resumed_from == 1000
    assert data == VIDEO[1000:]
    assert download.content_length == len(VIDEO) - 1000
    assert download.headers["content-range"].startswith("bytes 1000-")


async def test_a_200_to_a_range_request_restarts_from_zero() -> None:
    provider, seen = make(video)
    download, data = await fetch(provider, JobOutput(index=0, url=CONTENT), offset=1000)
    assert seen[0].headers["Range"] == "bytes=1000-"
    assert download.resumed_from == 0
    assert data == VIDEO


async def test_a_206_at_the_wrong_offset_is_a_protocol_error() -> None:
    provider, _ = make(
        lambda r: httpx.Response(206, content=VIDEO[500:], headers={"Content-Range": f"bytes 500-{len(VIDEO) - 1}/*"})
    )
    with pytest.raises(ProtocolError):
        await fetch(provider, JobOutput(index=0, url=CONTENT), offset=1000)


async def test_no_range_header_without_an_offset_and_identity_encoding() -> None:
    provider, seen = make(video)
    await fetch(provider, JobOutput(index=0, url=CONTENT))
    assert "Range" not in seen[0].headers
    assert seen[0].headers["Accept-Encoding"] == "identity"


async def test_a_416_explains_the_offset() -> None:
    provider, _ = make(lambda r: httpx.Response(416))
    with pytest.raises(InvalidRequest) as info:
        await fetch(provider, JobOutput(index=0, url=CONTENT), offset=10**9)
    assert info.value.hint is not None and "offset" in info.value.hint


async def test_a_connection_cut_mid_body_is_unavailable_and_retryable() -> None:
    stream = Closing([VIDEO[:100], VIDEO[100:]], fail_after=1)
    provider, _ = make(lambda r: httpx.Response(200, stream=stream, headers={"Content-Type": "video/mp4"}))
    received = bytearray()
    with pytest.raises(ProviderUnavailable) as info:
        async with provider.open_download(JOB, completed(JobOutput()), JobOutput(), offset=0) as download:
            async for chunk in download.chunks:
                received += chunk
    assert bytes(received) == VIDEO[:100]
    assert info.value.sent is True and info.value.retryable
    assert stream.closed


async def test_the_response_is_closed_when_the_consumer_stops_early() -> None:
    stream = Closing([VIDEO[:10], VIDEO[10:20], VIDEO[20:]])
    provider, _ = make(lambda r: httpx.Response(200, stream=stream, headers={"Content-Type": "video/mp4"}))
    with pytest.raises(RuntimeError):
        async with provider.open_download(JOB, completed(JobOutput()), JobOutput()) as download:
            async for _ in download.chunks:
                raise RuntimeError("disk full")
    assert stream.closed


async def test_the_response_is_closed_on_cancellation() -> None:
    stream = Closing([VIDEO[:10], VIDEO[10:]])
    provider, _ = make(lambda r: httpx.Response(200, stream=stream, headers={"Content-Type": "video/mp4"}))
    started = asyncio.Event()

    async def consume() -> None:
        async with provider.open_download(JOB, completed(JobOutput()), JobOutput()) as download:
            async for _ in download.chunks:
                started.set()
                await asyncio.sleep(3600)

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.closed


async def test_the_download_origin_never_includes_path_or_query() -> None:
    clock = FakeClock()
    provider, _ = make(video, clock=clock)
    signed = "https://storage.example.com:8443/v/out.mp4?X-Signature=SECRETSIG"
    output = JobOutput(index=0, url=CONTENT, signed_url=signed, expires_at=wall(clock, 3600) + timedelta(0))
    download, _ = await fetch(provider, output)
    assert download.origin == "https://storage.example.com:8443"
