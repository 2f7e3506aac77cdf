"""GeminiVideoProvider against httpx.MockTransport: where the key goes, what is sent, how answers are read."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock
from mediarouter_gemini import provider as gemini_provider
from mediarouter_gemini.provider import DEFAULT_BASE_URL, GeminiVideoProvider

from mediarouter import (
    AuthenticationFailed,
    CancelNotSupported,
    ConfigurationError,
    InvalidRequest,
    Job,
    JobState,
    MediaRouterError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
    VideoRequest,
)
from mediarouter.engine import JobEngine

KEY = "AIzaSy-unit-test-key-0123456789"
BASE = "https://generativelanguage.googleapis.com/v1beta"
MODEL = "veo-3.1-generate-preview"
OP = f"models/{MODEL}/operations/op123"
VIDEO_URI = f"{BASE}/files/abc:download?alt=media"
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(100)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(40)

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _no_gemini_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


class Recorder:
    """A MockTransport that keeps every request and answers through `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self.handler = handler
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def provider(self, **options: Any) -> GeminiVideoProvider:
        options.setdefault("api_key", KEY)
        return GeminiVideoProvider(transport=self.transport, **options)

    def keyed(self, host: str) -> list[bool]:
        return [r.headers.get("x-goog-api-key") == KEY for r in self.requests if r.url.host == host]


def _operation(done: bool = False, **fields: Any) -> httpx.Response:
    body: dict[str, Any] = {"name": OP, **fields}
    if done:
        body["done"] = True
    return httpx.Response(200, json=body)


def _samples(*uris: str) -> dict[str, Any]:
    return {"generateVideoResponse": {"generatedSamples": [{"video": {"uri": u}} for u in uris]}}


def _google_error(status: int, name: str, message: str = "m", details: list[Any] | None = None) -> httpx.Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": name}
    if details:
        error["details"] = details
    return httpx.Response(status, json={"error": error})


def _job() -> Job:
    return Job(id=OP, provider="gemini", model=MODEL)


async def _download(provider: GeminiVideoProvider, uri: str = VIDEO_URI) -> bytes:
    status = await provider.poll(_job())
    assert status.state is JobState.COMPLETED and status.outputs[0].url == uri
    async with provider.open_download(_job(), status, status.outputs[0]) as download:
        return b"".join([chunk async for chunk in download.chunks])


# -- configuration ------------------------------------------------------------------------------


def test_the_key_comes_from_gemini_api_key_before_google_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    assert GeminiVideoProvider().http.secrets() == ("google-key",)
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
    provider = GeminiVideoProvider()
    assert provider.http.secrets() == ("gemini-key",)
    assert "gemini-key" not in repr(provider) and provider.base_url == DEFAULT_BASE_URL


def test_the_base_url_comes_from_gemini_base_url_and_must_be_https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_BASE_URL", "https://proxy.example.test/v1beta/")
    assert GeminiVideoProvider(api_key=KEY).base_url == "https://proxy.example.test/v1beta"
    with pytest.raises(ConfigurationError, match="plain http"):
        GeminiVideoProvider(api_key=KEY, base_url="http://proxy.example.test/v1beta")
    assert GeminiVideoProvider(api_key=KEY, base_url="http://127.0.0.1:8080/v1beta").base_url.startswith("http://")


async def test_without_a_key_nothing_is_sent_and_the_hint_names_the_variable() -> None:
    recorder = Recorder(lambda r: _operation())
    provider = recorder.provider(api_key=None)
    with pytest.raises(AuthenticationFailed) as caught:
        await provider.submit(MODEL, VideoRequest(prompt="a fox"))
    assert "GEMINI_API_KEY" in (caught.value.hint or "") and "aistudio.google.com/apikey" in (caught.value.hint or "")
    assert recorder.requests == []


async def test_cancel_is_not_supported() -> None:
    provider = Recorder(lambda r: _operation()).provider()
    assert provider.can_cancel is False
    with pytest.raises(CancelNotSupported):
        await provider.cancel(_job())


# -- submit -------------------------------------------------------------------------------------


async def test_submit_posts_predict_long_running_with_the_key_and_returns_the_operation_name() -> None:
    recorder = Recorder(lambda r: _operation())
    job = await recorder.provider().submit(MODEL, VideoRequest(prompt="a fox", duration=6, aspect_ratio="9:16"))
    (request,) = recorder.requests
    assert request.method == "POST" and str(request.url) == f"{BASE}/models/{MODEL}:predictLongRunning"
    assert request.headers["x-goog-api-key"] == KEY and "key=" not in str(request.url)
    body = json.loads(request.content)
    assert body == {
        "instances": [{"prompt": "a fox"}],
        "parameters": {"aspectRatio": "9:16", "durationSeconds": 6},
    }
    assert job.id == OP and job.polling_url == f"{BASE}/{OP}"


@pytest.mark.parametrize("name", ["../../v1/projects/x", "https://evil.example/op", "models//op", "op?x=1", ""])
async def test_an_operation_name_that_is_not_a_plain_resource_path_is_refused(name: str) -> None:
    """The name is appended to the base and polled with the key: it must not steer that request."""
    recorder = Recorder(lambda r: httpx.Response(200, json={"name": name}))
    with pytest.raises(ProtocolError):
        await recorder.provider().submit(MODEL, VideoRequest(prompt="a fox"))
    with pytest.raises(InvalidRequest, match="not a Gemini operation name"):
        await recorder.provider().poll(Job(id=name or "..", provider="gemini", model=MODEL))
    assert len(recorder.requests) == 1  # the submit; never a poll


async def test_a_request_the_model_cannot_do_is_refused_before_any_image_is_fetched() -> None:
    recorder = Recorder(lambda r: httpx.Response(200, content=PNG))
    request = VideoRequest(prompt="a fox", resolution="1080p", duration=4, image_url="https://img.example.test/a.png")
    with pytest.raises(InvalidRequest, match="needs duration=8s"):
        await recorder.provider().submit(MODEL, request)
    assert recorder.requests == []


# -- input images ---------------------------------------------------------------------------------


async def test_a_data_url_image_is_sent_inline_with_its_mime_type() -> None:
    recorder = Recorder(lambda r: _operation())
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    await recorder.provider().submit(MODEL, VideoRequest(prompt="a fox", image_url=data_url))
    instance = json.loads(recorder.requests[0].content)["instances"][0]
    assert instance["image"] == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}


async def test_an_https_image_is_fetched_without_the_key_and_its_type_sniffed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "img.example.test":
            return httpx.Response(200, content=PNG, headers={"content-type": "application/octet-stream"})
        return _operation()

    recorder = Recorder(handler)
    refs = [{"type": "image_url", "image_url": {"url": "https://img.example.test/ref.png"}}]
    request = VideoRequest(prompt="a fox", duration=8, input_references=refs)
    await recorder.provider().submit(MODEL, request)
    fetch, submit = recorder.requests
    assert fetch.url.host == "img.example.test" and "x-goog-api-key" not in fetch.headers
    assert submit.headers["x-goog-api-key"] == KEY
    reference = json.loads(submit.content)["instances"][0]["referenceImages"][0]
    assert reference == {
        "image": {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}},
        "referenceType": "asset",
    }


@pytest.mark.parametrize("declared", [True, False])
async def test_an_https_image_over_the_size_guard_is_refused_before_the_submit(
    declared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mediarouter_gemini.provider.MAX_IMAGE_BYTES", 1000)
    big = PNG + bytes(2000)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "img.example.test":
            if declared:
                return httpx.Response(200, content=big)
            return httpx.Response(200, stream=httpx.ByteStream(big), headers={"transfer-encoding": "chunked"})
        return _operation()

    recorder = Recorder(handler)
    with pytest.raises(PayloadTooLarge, match="first_frame"):
        await recorder.provider().submit(MODEL, VideoRequest(prompt="a fox", image_url="https://img.example.test/a"))
    assert [r.url.host for r in recorder.requests] == ["img.example.test"]


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        (httpx.Response(200, content=b"<html>not an image</html>"), InvalidRequest, "did not serve an image"),
        (httpx.Response(404), InvalidRequest, "answered HTTP 404"),
    ],
)
async def test_an_https_url_that_serves_no_image_is_refused(
    answer: httpx.Response, error: type[MediaRouterError], text: str
) -> None:
    recorder = Recorder(lambda r: answer if r.url.host == "img.example.test" else _operation())
    with pytest.raises(error, match=text) as caught:
        await recorder.provider().submit(MODEL, VideoRequest(prompt="a fox", image_url="https://img.example.test/a"))
    assert caught.value.status_code is None  # not Gemini's answer: the engine must see nothing was sent
    assert len(recorder.requests) == 1


async def test_an_unreachable_image_host_is_unavailable_and_provably_unsent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ProviderUnavailable) as caught:
        await (
            Recorder(handler).provider().submit(MODEL, VideoRequest(prompt="x", image_url="https://img.example.test/a"))
        )
    assert caught.value.sent is False


# -- polling ------------------------------------------------------------------------------------


async def test_a_running_operation_is_in_progress_and_polled_at_its_name() -> None:
    recorder = Recorder(lambda r: _operation(metadata={}))
    status = await recorder.provider().poll(_job())
    assert status.state is JobState.IN_PROGRESS
    assert str(recorder.requests[0].url) == f"{BASE}/{OP}" and recorder.keyed("generativelanguage.googleapis.com")


@pytest.mark.parametrize(
    ("code", "state"),
    [(3, JobState.FAILED), (8, JobState.FAILED), (13, JobState.FAILED), (1, JobState.CANCELLED), (4, JobState.EXPIRED)],
)
async def test_a_finished_operation_with_an_error_ends_in_its_state_with_googles_words(
    code: int, state: JobState
) -> None:
    recorder = Recorder(lambda r: _operation(done=True, error={"code": code, "message": "Google's words"}))
    status = await recorder.provider().poll(_job())
    assert status.state is state and "Google's words" in (status.error or "")
    assert status.extra["rpc_code"] == code and status.outputs == ()


async def test_a_safety_filtered_result_fails_with_the_reasons() -> None:
    response = {"generateVideoResponse": {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["Unsafe."]}}
    status = await Recorder(lambda r: _operation(done=True, response=response)).provider().poll(_job())
    assert status.state is JobState.FAILED and "Unsafe." in (status.error or "")
    assert status.extra["rai_media_filtered_reasons"] == ["Unsafe."]


async def test_every_sample_becomes_an_output() -> None:
    second = f"{BASE}/files/def:download?alt=media"
    status = (
        await Recorder(lambda r: _operation(done=True, response=_samples(VIDEO_URI, second))).provider().poll(_job())
    )
    assert [o.url for o in status.outputs] == [VIDEO_URI, second] and status.cost is None


@pytest.mark.parametrize(
    ("http", "name", "details", "cls"),
    [
        (400, "INVALID_ARGUMENT", None, InvalidRequest),
        (
            400,
            "INVALID_ARGUMENT",
            [{"@type": "google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
            AuthenticationFailed,
        ),
        (403, "PERMISSION_DENIED", None, PermissionDenied),
        (404, "NOT_FOUND", None, NotFound),
        (429, "RESOURCE_EXHAUSTED", [{"@type": "google.rpc.RetryInfo", "retryDelay": "17s"}], RateLimited),
        (500, "INTERNAL", None, ProviderUnavailable),
        (503, "UNAVAILABLE", None, ProviderUnavailable),
    ],
)
async def test_an_http_error_maps_by_status_and_rpc_status(
    http: int, name: str, details: list[Any] | None, cls: type[MediaRouterError]
) -> None:
    recorder = Recorder(lambda r: _google_error(http, name, f"words with {KEY}", details))
    with pytest.raises(cls) as caught:
        await recorder.provider().poll(_job())
    error = caught.value
    assert type(error) is cls and error.status_code == http and error.details["rpc_status"] == name
    assert "words with" in str(error) and KEY not in str(error) and KEY not in repr(error.to_dict())
    if cls is RateLimited:
        assert error.retry_after == 17.0


async def test_a_malformed_poll_answer_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        await (
            Recorder(lambda r: httpx.Response(200, json={"name": OP, "done": {"not": "a bool"}}))
            .provider()
            .poll(_job())
        )


# -- downloads ----------------------------------------------------------------------------------


async def test_a_download_on_googles_origin_carries_the_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(":download"):
            return httpx.Response(200, content=MP4, headers={"content-type": "video/mp4"})
        return _operation(done=True, response=_samples(VIDEO_URI))

    recorder = Recorder(handler)
    assert await _download(recorder.provider()) == MP4
    assert recorder.keyed("generativelanguage.googleapis.com") == [True, True]


async def test_the_key_is_dropped_when_the_download_redirects_to_another_host() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "storage.example.test":
            return httpx.Response(200, content=MP4, headers={"content-type": "video/mp4"})
        if request.url.path.endswith(":download"):
            return httpx.Response(302, headers={"location": "https://storage.example.test/v.mp4?sig=s"})
        return _operation(done=True, response=_samples(VIDEO_URI))

    recorder = Recorder(handler)
    assert await _download(recorder.provider()) == MP4
    assert recorder.keyed("generativelanguage.googleapis.com") == [True, True]
    assert recorder.keyed("storage.example.test") == [False]


async def test_a_video_uri_on_another_host_is_downloaded_without_the_key() -> None:
    foreign = "https://files.example.test/v.mp4"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "files.example.test":
            return httpx.Response(200, content=MP4, headers={"content-type": "video/mp4"})
        return _operation(done=True, response=_samples(foreign))

    recorder = Recorder(handler)
    assert await _download(recorder.provider(), foreign) == MP4
    assert recorder.keyed("files.example.test") == [False]


async def test_a_video_uri_that_is_not_http_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not http"):
        await Recorder(lambda r: _operation(done=True, response=_samples("gs://bucket/v.mp4"))).provider().poll(_job())


def test_the_key_store_is_the_fallback_after_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mediarouter_gemini.provider import GeminiVideoProvider

    from mediarouter.keys import set_key

    monkeypatch.setenv("MEDIAROUTER_KEYS", str(tmp_path / "keys.json"))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    set_key("gemini", "stored-gemini-key-123")
    assert "stored-gemini-key-123" in GeminiVideoProvider().http.secrets()
    monkeypatch.setenv("GEMINI_API_KEY", "env-gemini-key-456")
    assert "env-gemini-key-456" in GeminiVideoProvider().http.secrets()


# -- inline videos (the bytes in the operation, no URI) -----------------------------------------

INLINE_SHAPES = [
    pytest.param({"encodedVideo": base64.b64encode(MP4).decode(), "encoding": "video/mp4"}, id="gemini-sdk"),
    pytest.param({"video": base64.b64encode(MP4).decode()}, id="proto-json"),
    pytest.param({"bytesBase64Encoded": base64.b64encode(MP4).decode(), "mimeType": "video/mp4"}, id="vertex"),
]


def _inline_operation(request: httpx.Request, video: dict[str, Any]) -> httpx.Response:
    assert request.url.path == f"/v1beta/{OP}" and request.headers["x-goog-api-key"] == KEY
    return _operation(done=True, response={"generateVideoResponse": {"generatedSamples": [{"video": video}]}})


@pytest.mark.parametrize("video", INLINE_SHAPES)
async def test_an_inline_video_is_a_completed_output_not_a_failure(video: dict[str, Any]) -> None:
    """MONEY: a paid video sent inline must not read as "finished without a video" (the router would pay twice)."""
    rec = Recorder(lambda r: _inline_operation(r, video))
    provider = rec.provider()
    status = await provider.poll(_job())
    assert status.state is JobState.COMPLETED and status.error is None
    assert [o.index for o in status.outputs] == [0]
    async with provider.open_download(_job(), status, status.outputs[0]) as download:
        body = b"".join([chunk async for chunk in download.chunks])
        assert download.content_type == "video/mp4" and download.content_length == len(MP4)
    assert body == MP4


@pytest.mark.parametrize("video", INLINE_SHAPES)
async def test_an_inline_video_is_saved_by_the_engine_like_a_downloaded_one(
    video: dict[str, Any], tmp_path: Path
) -> None:
    rec = Recorder(lambda r: _inline_operation(r, video) if r.method == "GET" else _operation(done=False))
    result = await JobEngine(clock=FakeClock()).run(
        rec.provider(), MODEL, VideoRequest(prompt="x"), output=tmp_path / "fox.mp4"
    )
    assert result.files[0].path is not None and result.files[0].path.read_bytes() == MP4
    assert [r.method for r in rec.requests] == ["POST", "GET"]  # submit once, poll: the poll's bytes are served


async def test_inline_and_uri_samples_keep_their_order_and_a_resumed_download_reads_the_operation_again() -> None:
    samples = [{"video": {"uri": VIDEO_URI}}, {"video": {"encodedVideo": base64.b64encode(MP4).decode()}}]
    body = {"generateVideoResponse": {"generatedSamples": samples}}
    rec = Recorder(lambda r: _operation(done=True, response=body))
    status = await rec.provider().poll(_job())
    assert [o.url for o in status.outputs] == [VIDEO_URI, None]
    fresh = rec.provider()  # another process resuming the journaled job
    async with fresh.open_download(_job(), status, status.outputs[1], offset=10) as download:
        assert download.resumed_from == 10
        assert b"".join([chunk async for chunk in download.chunks]) == MP4[10:]


@pytest.mark.parametrize("text", ["not base64!", "QUJD=QUJD", "QUJDR", "QUJD\u00e9", "QUJD-_!!"])
async def test_an_inline_video_that_is_not_base64_is_a_protocol_error_at_the_poll(text: str) -> None:
    rec = Recorder(lambda r: _inline_operation(r, {"encodedVideo": text}))
    with pytest.raises(ProtocolError, match="base64") as caught:
        await rec.provider().poll(_job())
    assert caught.value.job_id == OP


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        (base64.b64encode(MP4).decode(), MP4),
        (base64.b64encode(MP4).decode().rstrip("="), MP4),  # unpadded
        (base64.urlsafe_b64encode(b"\xfb\xff" + MP4).decode(), b"\xfb\xff" + MP4),  # URL-safe alphabet
        ("\n".join(base64.b64encode(MP4).decode()[i : i + 76] for i in range(0, 200, 76)), MP4),  # MIME lines
    ],
)
def test_inline_base64_is_decoded_in_steps_whatever_the_spelling(
    text: str, decoded: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decoder works a slice at a time (a step of 8 characters here): the result is the whole video."""
    monkeypatch.setattr(gemini_provider, "_DECODE_STEP", 8)
    sink = io.BytesIO()
    assert gemini_provider._decode_base64_into(text, sink) == len(decoded)
    assert sink.getvalue() == decoded


class _Spools:
    """Counts the decodes and keeps every temporary file the provider opens, to see them closed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.decodes = 0
        self.files: list[Any] = []
        decode, spool = gemini_provider._decode_base64_into, tempfile.TemporaryFile

        def counting(text: str, sink: Any, **context: Any) -> int:
            self.decodes += 1
            return decode(text, sink, **context)

        def kept(*args: Any, **kwargs: Any) -> Any:
            file = spool(*args, **kwargs)
            self.files.append(file)
            return file

        monkeypatch.setattr(gemini_provider, "_decode_base64_into", counting)
        monkeypatch.setattr(gemini_provider.tempfile, "TemporaryFile", kept)


async def test_an_inline_video_is_decoded_once_into_a_temporary_file_and_served_from_it_across_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MEMORY: the base64 is decoded once (by the poll), to an anonymous file; a download cut short and its
    continuation are served from that file, without reading the operation or decoding again."""
    spools = _Spools(monkeypatch)
    video = bytes(range(256)) * 9000  # several download chunks
    rec = Recorder(lambda r: _inline_operation(r, {"encodedVideo": base64.b64encode(video).decode()}))
    provider = rec.provider()
    status = await provider.poll(_job())
    assert spools.decodes == 1 and len(spools.files) == 1
    async with provider.open_download(_job(), status, status.outputs[0]) as download:
        first = await anext(download.chunks)  # the connection "breaks" after one chunk
    assert not spools.files[0].closed  # kept for the retry
    async with provider.open_download(_job(), status, status.outputs[0], offset=len(first)) as download:
        assert download.resumed_from == len(first) and download.content_length == len(video) - len(first)
        rest = b"".join([chunk async for chunk in download.chunks])
    assert first + rest == video
    assert spools.decodes == 1 and len(spools.files) == 1 and [r.method for r in rec.requests] == ["GET"]
    assert spools.files[0].closed  # served to the end: its disk space is freed at once
    await provider.aclose()


async def test_the_engine_saves_an_inline_video_decoded_once_and_closes_its_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spools = _Spools(monkeypatch)
    rec = Recorder(
        lambda r: (
            _inline_operation(r, {"encodedVideo": base64.b64encode(MP4).decode()})
            if r.method == "GET"
            else _operation(done=False)
        )
    )
    provider = rec.provider()
    result = await JobEngine(clock=FakeClock()).run(
        provider, MODEL, VideoRequest(prompt="x"), output=tmp_path / "f.mp4"
    )
    assert result.files[0].sha256 == hashlib.sha256(MP4).hexdigest()
    assert spools.decodes == 1 and len(spools.files) == 1 and spools.files[0].closed
    await provider.aclose()


async def test_inline_videos_polled_but_never_downloaded_are_closed_with_the_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spools = _Spools(monkeypatch)
    rec = Recorder(lambda r: _inline_operation(r, {"encodedVideo": base64.b64encode(MP4).decode()}))
    provider = rec.provider()
    await provider.poll(_job())
    await provider.poll(_job())  # a second look does not decode again
    assert spools.decodes == 1 and not spools.files[0].closed
    await provider.aclose()
    assert spools.files[0].closed


async def test_at_most_a_few_undownloaded_inline_videos_stay_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    spools = _Spools(monkeypatch)
    monkeypatch.setattr(gemini_provider, "MAX_KEPT_INLINE", 2)
    body = {
        "generateVideoResponse": {"generatedSamples": [{"video": {"encodedVideo": base64.b64encode(MP4).decode()}}]}
    }
    rec = Recorder(
        lambda r: httpx.Response(
            200, json={"name": r.url.path.removeprefix("/v1beta/"), "done": True, "response": body}
        )
    )
    provider = rec.provider()
    jobs = [Job(id=f"models/{MODEL}/operations/op{i}", provider="gemini", model=MODEL) for i in range(3)]
    statuses = [await provider.poll(job) for job in jobs]
    assert [f.closed for f in spools.files] == [True, False, False]
    async with provider.open_download(jobs[0], statuses[0], statuses[0].outputs[0]) as download:  # read again
        assert b"".join([chunk async for chunk in download.chunks]) == MP4
    assert spools.decodes == 4
    await provider.aclose()
    assert all(f.closed for f in spools.files)
