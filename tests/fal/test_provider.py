"""FalVideoProvider against httpx.MockTransport: URLs, the key's reach, status mapping, result errors, cancel."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mediarouter_fal.provider import FalVideoProvider

from mediarouter import (
    AuthenticationFailed,
    CapabilityMismatch,
    Conflict,
    InvalidRequest,
    Job,
    JobState,
    NotFound,
    PayloadTooLarge,
    ProviderUnavailable,
    VideoRequest,
)

BASE = "https://queue.fal.test"
KEY = "fal-key-id:fal-key-SECRET"
KLING = "fal-ai/kling-video/v2.1/master/text-to-video"
WAN = "fal-ai/wan/v2.2-a14b/text-to-video"
CDN = "https://v3.fal.media/files/b/out.mp4"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _no_fal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("FAL_QUEUE_URL", raising=False)


class Recorder:
    """A MockTransport whose answers are looked up by (method, path) and whose requests are kept."""

    def __init__(self, routes: dict[tuple[str, str], httpx.Response | Handler]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, f"{request.url.host}{request.url.path}"))
        if answer is None:
            return httpx.Response(404, json={"detail": f"no route {request.method} {request.url}"})
        return answer(request) if callable(answer) else answer

    def provider(self, **kwargs: Any) -> FalVideoProvider:
        return FalVideoProvider(api_key=KEY, base_url=BASE, transport=self.transport, **kwargs)

    def sent(self, method: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method]


def submitted(app: str = "fal-ai/kling-video", host: str = "queue.fal.test") -> httpx.Response:
    request_id = "req-1"
    root = f"https://{host}/{app}/requests/{request_id}"
    return httpx.Response(
        200,
        json={
            "status": "IN_QUEUE",
            "request_id": request_id,
            "response_url": root,
            "status_url": f"{root}/status",
            "cancel_url": f"{root}/cancel",
        },
    )


def status(state: str, code: int = 202, **fields: Any) -> httpx.Response:
    return httpx.Response(code, json={"status": state, **fields})


def video(url: str = CDN, **fields: Any) -> httpx.Response:
    return httpx.Response(200, json={"video": {"url": url, "content_type": "video/mp4"}, **fields})


def job(model: str = KLING, request_id: str = "req-1", polling_url: str | None = None) -> Job:
    return Job(id=request_id, provider="fal", model=model, polling_url=polling_url)


ROOT = "queue.fal.test/fal-ai/kling-video/requests/req-1"


async def test_submit_posts_the_full_model_id_and_polls_under_the_app_id() -> None:
    """Rule: submit uses the whole sub-path id, status and result only owner/app (fal's app-id rule)."""
    rec = Recorder(
        {
            ("POST", f"queue.fal.test/{KLING}"): submitted(),
            ("GET", f"{ROOT}/status"): status("COMPLETED", 200),
            ("GET", ROOT): video(),
        }
    )
    provider = rec.provider()
    accepted = await provider.submit(KLING, VideoRequest(prompt="a fox", duration=10, aspect_ratio="1:1"))
    assert accepted.id == "req-1" and accepted.model == KLING
    assert json.loads(rec.requests[0].content) == {"prompt": "a fox", "duration": "10", "aspect_ratio": "1:1"}
    done = await provider.poll(accepted)
    assert done.state is JobState.COMPLETED
    assert [o.url for o in done.outputs] == [CDN]
    assert done.cost is None  # fal reports no cost: the core's estimate stands
    status_request = rec.sent("GET")[0]
    assert status_request.url.path == "/fal-ai/kling-video/requests/req-1/status"
    assert status_request.url.params["logs"] == "1"


async def test_the_key_goes_to_the_queue_origin_only_never_to_the_cdn() -> None:
    """Rule: `Authorization: Key …` on every queue call, nothing on the CDN download."""
    rec = Recorder(
        {
            ("POST", f"queue.fal.test/{KLING}"): submitted(),
            ("GET", f"{ROOT}/status"): status("COMPLETED", 200),
            ("GET", ROOT): video(),
            ("GET", "v3.fal.media/files/b/out.mp4"): httpx.Response(
                200, content=b"\x00\x00\x00\x18ftypmp42....", headers={"content-type": "video/mp4"}
            ),
        }
    )
    provider = rec.provider()
    accepted = await provider.submit(KLING, VideoRequest(prompt="a fox"))
    done = await provider.poll(accepted)
    async with provider.open_download(accepted, done, done.outputs[0]) as download:
        data = b"".join([chunk async for chunk in download.chunks])
    assert data.startswith(b"\x00\x00\x00\x18ftyp")
    for request in rec.requests:
        on_queue = request.url.host == "queue.fal.test"
        assert (request.headers.get("authorization") == f"Key {KEY}") is on_queue, request.url
        assert KEY not in str(request.url)


async def test_urls_in_answers_on_another_origin_are_not_followed() -> None:
    """Rule: status/response URLs pointing elsewhere are rebuilt from the base (the key goes with every call)."""
    rec = Recorder(
        {
            ("POST", f"queue.fal.test/{KLING}"): submitted(host="evil.test"),
            ("GET", f"{ROOT}/status"): status("COMPLETED", 200, response_url="https://evil.test/steal"),
            ("GET", ROOT): video(),
        }
    )
    provider = rec.provider()
    accepted = await provider.submit(KLING, VideoRequest(prompt="a fox"))
    assert accepted.polling_url == f"https://{ROOT}/status"
    await provider.poll(accepted)
    assert {r.url.host for r in rec.requests} == {"queue.fal.test"}


async def test_a_base_with_a_path_prefix_keeps_it_in_every_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule: FAL_QUEUE_URL may carry a path (a compatible server); answers under it are followed, others not."""
    monkeypatch.setenv("FAL_QUEUE_URL", "https://compat.test/fal/")
    monkeypatch.setenv("FAL_KEY", KEY)
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.method == "POST":
            return submitted(app="fal/fal-ai/veo3", host="compat.test")
        return status("IN_PROGRESS")

    provider = FalVideoProvider(transport=httpx.MockTransport(handle))
    assert provider.base_url == "https://compat.test/fal"
    accepted = await provider.submit("fal-ai/veo3", VideoRequest(prompt="x"))
    polled = await provider.poll(accepted)
    assert polled.state is JobState.IN_PROGRESS
    assert seen == ["/fal/fal-ai/veo3", "/fal/fal-ai/veo3/requests/req-1/status"]


async def test_a_queued_request_reports_its_queue_position() -> None:
    """Rule: IN_QUEUE → pending with `queue_position` in JobStatus.extra; IN_PROGRESS keeps the last log line."""
    answers = iter(
        [
            status("IN_QUEUE", queue_position=4),
            status("IN_PROGRESS", logs=[{"message": "loading"}, {"message": "step 3/30"}]),
        ]
    )
    rec = Recorder({("GET", f"{ROOT}/status"): lambda _: next(answers)})
    provider = rec.provider()
    queued = await provider.poll(job())
    assert (queued.state, queued.raw_status, queued.extra["queue_position"]) == (JobState.PENDING, "IN_QUEUE", 4)
    running = await provider.poll(job())
    assert (running.state, running.extra["log"]) == (JobState.IN_PROGRESS, "step 3/30")
    assert "queue_position" not in running.extra


async def test_an_unknown_status_is_reported_as_unknown_not_as_an_error() -> None:
    rec = Recorder({("GET", f"{ROOT}/status"): status("WARMING_UP")})
    assert (await rec.provider().poll(job())).state is JobState.UNKNOWN


@pytest.mark.parametrize(
    ("fields", "state", "words"),
    [
        ({"error": "CUDA out of memory", "error_type": "runner_server_error"}, JobState.FAILED, "CUDA out of memory"),
        ({"error": "Request cancelled", "error_type": "client_cancelled"}, JobState.CANCELLED, "client_cancelled"),
        ({"error_type": "startup_timeout"}, JobState.FAILED, "startup_timeout"),
    ],
)
async def test_a_completed_status_with_an_error_is_the_requests_end(
    fields: dict[str, Any], state: JobState, words: str
) -> None:
    """Rule: fal has no FAILED status; COMPLETED with error/error_type is failed (client_cancelled: cancelled)."""
    rec = Recorder({("GET", f"{ROOT}/status"): status("COMPLETED", 200, **fields)})
    polled = await rec.provider().poll(job())
    assert polled.state is state
    assert polled.error is not None and words in polled.error
    assert not rec.sent("GET")[1:], "a failed request's result must not be fetched"


async def test_a_422_on_submit_names_the_request_field_and_the_fal_input() -> None:
    """Rule: fal's `detail` list becomes InvalidRequest naming our field (duration) and fal's (num_frames)."""
    detail = {"detail": [{"loc": ["body", "num_frames"], "msg": "Input should be less than 162", "type": "le"}]}
    rec = Recorder({("POST", f"queue.fal.test/{WAN}"): httpx.Response(422, json=detail)})
    with pytest.raises(InvalidRequest) as caught:
        await rec.provider().submit(WAN, VideoRequest(prompt="x", duration=10))
    error = caught.value
    assert type(error) is InvalidRequest and error.status_code == 422
    assert "duration (fal input num_frames)" in error.message
    assert error.details["field"] == "duration"
    assert KEY not in str(error)


async def test_a_422_on_the_result_fails_the_job_naming_the_field() -> None:
    """Rule: a runner that validates late answers the result with the 422: the job failed, the field is named."""
    detail = {"detail": [{"loc": ["body", "aspect_ratio"], "msg": "Input should be '16:9'", "type": "literal_error"}]}
    rec = Recorder(
        {("GET", f"{ROOT}/status"): status("COMPLETED", 200), ("GET", ROOT): httpx.Response(422, json=detail)}
    )
    polled = await rec.provider().poll(job())
    assert polled.state is JobState.FAILED
    assert polled.error is not None and "aspect_ratio: Input should be '16:9'" in polled.error
    assert polled.extra["field"] == "aspect_ratio"


@pytest.mark.parametrize(
    ("code", "body", "state"),
    [
        (500, {"detail": "Runner crashed", "error_type": "runner_server_error"}, JobState.FAILED),
        (499, {"detail": "Cancelled by the client", "error_type": "client_cancelled"}, JobState.CANCELLED),
        (410, {"detail": "gone"}, JobState.EXPIRED),
        (404, {"detail": "Request not found"}, JobState.EXPIRED),
    ],
)
async def test_a_result_error_after_completed_ends_the_job(code: int, body: dict[str, Any], state: JobState) -> None:
    """Rule: the result "returns the same error the model returned"; 404/410 mean fal no longer keeps it."""
    answer = httpx.Response(code, json=body)
    rec = Recorder({("GET", f"{ROOT}/status"): status("COMPLETED", 200), ("GET", ROOT): answer})
    polled = await rec.provider().poll(job())
    assert polled.state is state
    assert polled.error is not None and str(body["detail"]) in polled.error


async def test_a_result_error_without_fal_error_type_is_retryable_trouble() -> None:
    """Rule: a 503 from a proxy (no error_type) is not the request failing: the engine retries the poll."""
    rec = Recorder(
        {("GET", f"{ROOT}/status"): status("COMPLETED", 200), ("GET", ROOT): httpx.Response(503, text="<html>busy")}
    )
    with pytest.raises(ProviderUnavailable) as caught:
        await rec.provider().poll(job())
    assert caught.value.retryable


async def test_cancel_puts_to_the_app_cancel_url_and_accepts_cancellation_requested() -> None:
    """Rule: `PUT …/requests/{id}/cancel` under the app id; 202 CANCELLATION_REQUESTED returns quietly."""
    rec = Recorder({("PUT", f"{ROOT}/cancel"): httpx.Response(202, json={"status": "CANCELLATION_REQUESTED"})})
    provider = rec.provider()
    assert provider.can_cancel
    await provider.cancel(job())
    assert rec.requests[0].headers["authorization"] == f"Key {KEY}"


async def test_cancel_of_a_completed_request_is_a_clear_conflict() -> None:
    """Rule: 400 ALREADY_COMPLETED says so and points at resume (the output is still there)."""
    rec = Recorder({("PUT", f"{ROOT}/cancel"): httpx.Response(400, json={"status": "ALREADY_COMPLETED"})})
    with pytest.raises(Conflict, match="already completed") as caught:
        await rec.provider().cancel(job())
    assert caught.value.hint is not None and "jobs resume req-1" in caught.value.hint


async def test_cancel_of_an_unknown_request_is_not_found() -> None:
    rec = Recorder({("PUT", f"{ROOT}/cancel"): httpx.Response(404, json={"status": "NOT_FOUND"})})
    with pytest.raises(NotFound):
        await rec.provider().cancel(job())


async def test_without_a_key_nothing_is_sent_and_the_error_says_where_to_get_one() -> None:
    rec = Recorder({})
    provider = FalVideoProvider(base_url=BASE, transport=rec.transport)
    with pytest.raises(AuthenticationFailed) as caught:
        await provider.submit("fal-ai/veo3", VideoRequest(prompt="x"))
    assert "FAL_KEY" in str(caught.value) and "fal.ai/dashboard/keys" in str(caught.value)
    assert rec.requests == []


async def test_a_401_names_the_key_variable() -> None:
    rec = Recorder({("POST", "queue.fal.test/fal-ai/veo3"): httpx.Response(401, json={"detail": "Invalid key"})})
    with pytest.raises(AuthenticationFailed) as caught:
        await rec.provider().submit("fal-ai/veo3", VideoRequest(prompt="x"))
    assert caught.value.hint is not None and "FAL_KEY" in caught.value.hint


async def test_bad_input_is_refused_before_any_request() -> None:
    rec = Recorder({})
    with pytest.raises(CapabilityMismatch, match="size"):
        await rec.provider().submit("fal-ai/veo3", VideoRequest(prompt="x", size="1280x720"))
    assert rec.requests == []


async def test_callback_url_becomes_fal_webhook() -> None:
    rec = Recorder({("POST", "queue.fal.test/fal-ai/veo3"): submitted(app="fal-ai/veo3")})
    await rec.provider().submit("fal-ai/veo3", VideoRequest(prompt="x", callback_url="https://hooks.test/done"))
    assert rec.requests[0].url.params["fal_webhook"] == "https://hooks.test/done"


async def test_the_key_and_base_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAL_KEY", KEY)
    provider = FalVideoProvider()
    assert provider.has_api_key and provider.base_url == "https://queue.fal.run"
    assert KEY not in repr(provider) and "api_key=set" in repr(provider)


async def test_list_models_is_the_catalog() -> None:
    models = await FalVideoProvider(api_key=KEY).list_models()
    ids = {m.id for m in models}
    assert {"fal-ai/veo3", KLING, WAN} <= ids
    assert all(m.provider == "fal" and m.source == "catalog" for m in models)


def test_the_key_store_is_the_fallback_after_fal_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`mediarouter keys set fal` works for fal, and FAL_KEY still wins."""
    from mediarouter_fal.provider import FalVideoProvider

    from mediarouter.keys import set_key

    monkeypatch.setenv("MEDIAROUTER_KEYS", str(tmp_path / "keys.json"))
    monkeypatch.delenv("FAL_KEY", raising=False)
    set_key("fal", "stored-fal-key-123")
    assert FalVideoProvider().http.secrets() == ("Key stored-fal-key-123", "stored-fal-key-123")
    monkeypatch.setenv("FAL_KEY", "env-fal-key-456")
    assert "env-fal-key-456" in FalVideoProvider().http.secrets()[0]


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(413, json={"detail": "Request entity too large"}),
        httpx.Response(413, text="<html><h1>413 Request Entity Too Large</h1></html>"),
    ],
)
async def test_a_413_on_submit_is_payload_too_large_with_a_hint_to_send_urls(answer: httpx.Response) -> None:
    """Rule: an oversized body is the caller's to fix (host the media, send its URL), never a retry or a failover."""
    rec = Recorder({("POST", "queue.fal.test/fal-ai/veo3"): answer})
    with pytest.raises(PayloadTooLarge) as caught:
        await rec.provider().submit("fal-ai/veo3", VideoRequest(prompt="x"))
    error = caught.value
    assert error.status_code == 413 and error.provider == "fal"
    assert error.hint is not None and "URL" in error.hint and "fal" in error.hint
    assert len(rec.sent("POST")) == 1
