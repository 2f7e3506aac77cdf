"""The OpenRouter provider's wire protocol, against httpx.MockTransport backends.

Each test names the rule it guards: what goes on the wire (body, headers, where the key
goes), how answers are read (statuses, outputs, cost), model discovery with its cache and
catalog fallback, settings, and the feature request's `generate_video` DX end to end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock
from mediarouter_openrouter import OpenRouterVideoProvider
from mediarouter_openrouter.settings import OpenRouterSettings

from mediarouter import (
    AuthenticationFailed,
    CancelNotSupported,
    CapabilityMismatch,
    ConfigurationError,
    InsufficientCredits,
    InvalidRequest,
    Job,
    JobState,
    Modality,
    NotFound,
    PermissionDenied,
    ProtocolError,
    Provider,
    ProviderUnavailable,
    RateLimited,
    SubmitUnknown,
    VideoRequest,
)
from mediarouter.capabilities import Capabilities
from mediarouter.engine import JobEngine
from mediarouter.plugins import create_provider

BASE = "https://openrouter.test/api/v1"
KEY = "sk-or-v1-0123456789abcdef-topsecret"
JOB_ID = "gen-vid-1767225600-AbCdEfGhIjKlMnOpQrSt"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _no_openrouter_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not pick up a developer's real key or base URL."""
    for var in (
        "OPENROUTER_API_KEY",
        "OPENROUTER_BASE_URL",
        "OPENROUTER_HTTP_REFERER",
        "OPENROUTER_APP_TITLE",
        "OPENROUTER_APP_CATEGORIES",
        "OPENROUTER_CONNECT_TIMEOUT",
        "OPENROUTER_READ_TIMEOUT",
        "OPENROUTER_MODELS_CACHE_TTL",
    ):
        monkeypatch.delenv(var, raising=False)


def make(
    handler: Handler, *, api_key: str | None = KEY, base_url: str | None = BASE, **kwargs: Any
) -> tuple[OpenRouterVideoProvider, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    provider = OpenRouterVideoProvider(
        api_key=api_key, base_url=base_url, transport=httpx.MockTransport(record), **kwargs
    )
    return provider, seen


def job_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": JOB_ID, "polling_url": f"{BASE}/videos/{JOB_ID}", "status": "pending"}
    body.update(fields)
    return body


def accepted(**fields: Any) -> Handler:
    return lambda request: httpx.Response(202, json=job_body(**fields))


def sent_json(request: httpx.Request) -> Any:
    return json.loads(request.content)


def a_job(polling_url: str | None = f"{BASE}/videos/{JOB_ID}") -> Job:
    return Job(id=JOB_ID, provider="openrouter", model="google/veo-3.1", polling_url=polling_url)


# -- construction, settings, secrets -----------------------------------------------------------


def test_provider_is_a_provider_with_the_openrouter_name_and_modalities() -> None:
    provider = OpenRouterVideoProvider(api_key=KEY)
    assert isinstance(provider, Provider)
    assert provider.name == "openrouter"
    assert provider.can_cancel is False
    assert set(provider.supported_modalities) == {
        Modality.TEXT_TO_VIDEO,
        Modality.IMAGE_TO_VIDEO,
        Modality.REFERENCE_TO_VIDEO,
        Modality.VIDEO_TO_TEXT,  # chat completions with a video (mediarouter.understanding.Describer)
    }
    assert provider.base_url == "https://openrouter.ai/api/v1"
    assert provider.server_address == "openrouter.ai:443"


def test_server_address_has_host_and_port_only() -> None:
    provider = OpenRouterVideoProvider(api_key=KEY, base_url="http://127.0.0.1:8321/api/v1/")
    assert provider.server_address == "127.0.0.1:8321"
    assert provider.base_url == "http://127.0.0.1:8321/api/v1"


async def test_cancel_is_not_supported() -> None:
    provider, seen = make(accepted())
    with pytest.raises(CancelNotSupported):
        await provider.cancel(a_job())
    assert seen == []


def test_an_unknown_factory_option_is_an_error_naming_it_never_dropped() -> None:
    with pytest.raises(ConfigurationError) as info:
        create_provider("openrouter", options={"api_key": KEY, "journal": "x"})
    assert "'journal'" in str(info.value) and "api_key" in str(info.value)


def test_the_entry_point_factory_builds_the_provider() -> None:
    provider = create_provider("openrouter", options={"api_key": KEY}, clock=FakeClock())
    assert isinstance(provider, OpenRouterVideoProvider)


async def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    monkeypatch.setenv("OPENROUTER_BASE_URL", "https://proxy.example.net/or/api/v1/")
    monkeypatch.setenv("OPENROUTER_HTTP_REFERER", "https://myapp.example")
    monkeypatch.setenv("OPENROUTER_APP_TITLE", "My App")
    monkeypatch.setenv("OPENROUTER_APP_CATEGORIES", "cli-agent,cloud-agent")
    monkeypatch.setenv("OPENROUTER_MODELS_CACHE_TTL", "5")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json=job_body())

    provider = OpenRouterVideoProvider(transport=httpx.MockTransport(handler))
    await provider.submit("google/veo-3.1", VideoRequest(prompt="a dog"))
    request = seen[0]
    assert str(request.url) == "https://proxy.example.net/or/api/v1/videos"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["HTTP-Referer"] == "https://myapp.example"
    assert request.headers["X-OpenRouter-Title"] == "My App"
    assert request.headers["X-OpenRouter-Categories"] == "cli-agent,cloud-agent"
    assert OpenRouterSettings().models_cache_ttl == 5.0


async def test_explicit_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENROUTER_BASE_URL", "https://env.example/api/v1")
    monkeypatch.setenv("OPENROUTER_APP_TITLE", "Env Title")
    provider, seen = make(accepted(), api_key=KEY, base_url=BASE, app_title="Arg Title")
    await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert seen[0].url.host == "openrouter.test"
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"
    assert seen[0].headers["X-OpenRouter-Title"] == "Arg Title"


def test_settings_by_field_name_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-from-env")
    settings = OpenRouterSettings(api_key="sk-explicit", read_timeout=5)
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "sk-explicit"
    assert settings.read_timeout == 5.0
    assert settings.connect_timeout == 10.0
    assert settings.models_cache_ttl == 3600.0


def test_settings_do_not_read_a_dotenv_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"OPENROUTER_API_KEY={KEY}\nOPENROUTER_BASE_URL=https://evil.example\n")
    monkeypatch.chdir(tmp_path)
    settings = OpenRouterSettings()
    assert settings.api_key is None
    assert settings.base_url == "https://openrouter.ai/api/v1"


def test_unprefixed_environment_names_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "sk-wrong")
    monkeypatch.setenv("BASE_URL", "https://wrong.example")
    monkeypatch.setenv("READ_TIMEOUT", "1")
    settings = OpenRouterSettings()
    assert settings.api_key is None
    assert settings.base_url == "https://openrouter.ai/api/v1"
    assert settings.read_timeout == 60.0


def test_an_empty_key_in_the_environment_means_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "")
    assert OpenRouterVideoProvider().has_api_key is False


@pytest.mark.parametrize("base_url", ["ftp://x.example", "openrouter.ai/api/v1", "https://", "https://h/x?y=1"])
def test_a_bad_base_url_is_a_configuration_error(base_url: str) -> None:
    with pytest.raises(ConfigurationError):
        OpenRouterVideoProvider(api_key=KEY, base_url=base_url)


def test_a_bad_base_url_in_the_environment_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_BASE_URL", "not a url")
    with pytest.raises(ConfigurationError) as info:
        OpenRouterVideoProvider(api_key=KEY)
    assert "OPENROUTER_" in str(info.value)


def test_header_injection_in_attribution_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        OpenRouterVideoProvider(api_key=KEY, app_title="x\r\nAuthorization: Bearer stolen")


def test_repr_and_str_never_contain_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    settings = OpenRouterSettings()
    provider = OpenRouterVideoProvider()
    for text in (repr(settings), str(settings), repr(provider), str(provider), str(settings.model_dump())):
        assert KEY not in text
    assert "api_key=set" in repr(provider)


# -- missing key -------------------------------------------------------------------------------


async def test_submit_without_a_key_fails_before_sending_and_names_the_variable() -> None:
    provider, seen = make(accepted(), api_key=None)
    with pytest.raises(AuthenticationFailed) as info:
        await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert seen == []
    assert info.value.hint is not None
    assert "OPENROUTER_API_KEY" in info.value.hint and "api_key=" in info.value.hint


async def test_poll_without_a_key_fails_before_sending() -> None:
    provider, seen = make(accepted(), api_key=None)
    with pytest.raises(AuthenticationFailed) as info:
        await provider.poll(a_job())
    assert seen == []
    assert info.value.job_id == JOB_ID


async def test_list_models_works_without_a_key_and_sends_no_authorization() -> None:
    provider, seen = make(lambda r: httpx.Response(200, json={"data": [model_entry()]}), api_key=None)
    models = await provider.list_models()
    assert [m.id for m in models] == ["google/veo-3.1"]
    assert models[0].source == "live"
    assert "Authorization" not in seen[0].headers


async def test_list_models_sends_the_key_when_one_is_set() -> None:
    provider, seen = make(lambda r: httpx.Response(200, json={"data": [model_entry()]}))
    await provider.list_models()
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"
    assert seen[0].method == "GET" and str(seen[0].url) == f"{BASE}/videos/models"


# -- submit ------------------------------------------------------------------------------------


async def test_submit_sends_only_the_fields_that_are_set() -> None:
    provider, seen = make(accepted())
    await provider.submit("alibaba/wan-2.6", VideoRequest(prompt="A cat playing with yarn"))
    assert sent_json(seen[0]) == {"model": "alibaba/wan-2.6", "prompt": "A cat playing with yarn"}


async def test_submit_headers() -> None:
    provider, seen = make(accepted(), http_referer="https://app.example", app_title="App", app_categories="cli-agent")
    await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    headers = seen[0].headers
    assert seen[0].method == "POST" and str(seen[0].url) == f"{BASE}/videos"
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("mediarouter-openrouter/")
    assert headers["HTTP-Referer"] == "https://app.example"
    assert headers["X-OpenRouter-Title"] == "App"
    assert headers["X-OpenRouter-Categories"] == "cli-agent"


async def test_no_attribution_headers_unless_configured() -> None:
    provider, seen = make(accepted())
    await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    for name in ("HTTP-Referer", "X-OpenRouter-Title", "X-OpenRouter-Categories", "X-Title"):
        assert name not in seen[0].headers


async def test_non_ascii_app_title_is_sent_as_utf8() -> None:
    provider, seen = make(accepted(), app_title="Café Vidéo")
    await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert seen[0].headers.get_list("X-OpenRouter-Title") != []
    assert dict(seen[0].headers.raw)[b"X-OpenRouter-Title"] == "Café Vidéo".encode()


async def test_submit_body_carries_every_field_exactly() -> None:
    frames = [
        {"type": "image_url", "image_url": {"url": "https://img.example/first.png"}, "frame_type": "first_frame"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}, "frame_type": "last_frame"},
    ]
    references = [
        {"type": "image_url", "image_url": {"url": "https://img.example/ref.png"}},
        {"type": "audio_url", "audio_url": {"url": "https://a.example/voice.mp3"}},
        {"type": "video_url", "video_url": {"url": "https://v.example/clip.mp4"}},
    ]
    options = {"google-vertex": {"parameters": {"negativePrompt": "blurry", "seedOverride": None}}}
    trace = {"trace_id": "t-1", "custom": {"nested": [1, 2]}}
    request = VideoRequest(
        prompt="A golden retriever on a beach",
        duration=8,
        resolution="1080p",
        aspect_ratio="16:9",
        generate_audio=True,
        seed=42,
        frame_images=frames,
        input_references=references,
        provider_options=options,
        callback_url="https://hooks.example/video",
        previous_job_id="gen-vid-0-prev",
        session_id="sess-1",
        user="user-7",
        trace=trace,
        creativity=3,
        upscale_factor=2.0,
    )
    provider, seen = make(accepted())
    await provider.submit("google/veo-3.1", request)
    assert sent_json(seen[0]) == {
        "model": "google/veo-3.1",
        "prompt": "A golden retriever on a beach",
        "duration": 8,
        "resolution": "1080p",
        "aspect_ratio": "16:9",
        "generate_audio": True,
        "seed": 42,
        "frame_images": frames,
        "input_references": references,
        "callback_url": "https://hooks.example/video",
        "previous_job_id": "gen-vid-0-prev",
        "provider": {"options": options},  # untouched: even the null inside stays
        "session_id": "sess-1",
        "user": "user-7",
        "trace": trace,
        "creativity": 3,
        "upscale_factor": 2.0,
    }


async def test_size_is_sent_and_false_and_zero_are_not_dropped() -> None:
    provider, seen = make(accepted())
    await provider.submit("m/x", VideoRequest(prompt="p", size="1280x720", generate_audio=False, seed=0))
    assert sent_json(seen[0]) == {"model": "m/x", "prompt": "p", "size": "1280x720", "generate_audio": False, "seed": 0}


async def test_frame_image_extra_keys_pass_through_untouched() -> None:
    frame = {
        "type": "image_url",
        "image_url": {"url": "https://i.example/a.png", "detail": "high"},
        "frame_type": "last_frame",
        "weight": 0.5,
    }
    provider, seen = make(accepted())
    await provider.submit("m/x", VideoRequest(prompt="p", frame_images=[frame]))
    assert sent_json(seen[0])["frame_images"] == [frame]


async def test_image_url_shortcut_becomes_the_first_frame() -> None:
    provider, seen = make(accepted())
    await provider.submit("alibaba/wan-2.7", VideoRequest(prompt="pan", image_url="https://example.com/land.jpg"))
    body = sent_json(seen[0])
    assert body["frame_images"] == [
        {"type": "image_url", "image_url": {"url": "https://example.com/land.jpg"}, "frame_type": "first_frame"}
    ]
    assert "image_url" not in body


async def test_image_url_shortcut_goes_before_a_given_last_frame() -> None:
    last = {"type": "image_url", "image_url": {"url": "https://example.com/end.jpg"}, "frame_type": "last_frame"}
    provider, seen = make(accepted())
    request = VideoRequest(prompt="pan", image_url="https://example.com/start.jpg", frame_images=[last])
    await provider.submit("alibaba/wan-2.7", request)
    frames = sent_json(seen[0])["frame_images"]
    assert [f["frame_type"] for f in frames] == ["first_frame", "last_frame"]
    assert frames[0]["image_url"]["url"] == "https://example.com/start.jpg"
    assert frames[1] == last


async def test_submit_strips_the_openrouter_prefix() -> None:
    provider, seen = make(accepted())
    job = await provider.submit("openrouter/google/veo-3.1", VideoRequest(prompt="x"))
    assert sent_json(seen[0])["model"] == "google/veo-3.1"
    assert job.model == "google/veo-3.1"


@pytest.mark.parametrize("status", [200, 201, 202])
async def test_submit_accepts_any_2xx_and_returns_the_job(status: int) -> None:
    provider, _ = make(lambda r: httpx.Response(status, json=job_body()))
    job = await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert job.id == JOB_ID
    assert job.provider == "openrouter"
    assert job.model == "google/veo-3.1"
    assert job.polling_url == f"{BASE}/videos/{JOB_ID}"


async def test_a_relative_polling_url_is_resolved_against_the_base() -> None:
    provider, _ = make(accepted(polling_url=f"/api/v1/videos/{JOB_ID}"))
    job = await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert job.polling_url == f"https://openrouter.test/api/v1/videos/{JOB_ID}"


async def test_an_absolute_polling_url_is_kept() -> None:
    provider, _ = make(accepted(polling_url=f"https://other.example/v/{JOB_ID}"))
    job = await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert job.polling_url == f"https://other.example/v/{JOB_ID}"


async def test_a_missing_polling_url_is_tolerated() -> None:
    provider, _ = make(lambda r: httpx.Response(202, json={"id": JOB_ID, "status": "pending"}))
    job = await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert job.id == JOB_ID and job.polling_url is None


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(202, text="Accepted!"),
        httpx.Response(202, json=[job_body()]),
        httpx.Response(202, json={"polling_url": "/x", "status": "pending"}),
        httpx.Response(202, json={"id": 42, "status": "pending"}),
        httpx.Response(202, content=b""),
    ],
)
async def test_an_unreadable_submit_answer_is_a_protocol_error_and_an_unknown_outcome_for_the_engine(
    response: httpx.Response, tmp_path: Path
) -> None:
    provider, seen = make(lambda r: response)
    with pytest.raises(ProtocolError):
        await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert len(seen) == 1
    # Through the engine the 2xx means a job may exist: never retried, reported as unknown.
    with pytest.raises(SubmitUnknown) as info:
        await JobEngine(clock=FakeClock()).run(
            provider,
            "google/veo-3.1",
            VideoRequest(prompt="x"),
            output=tmp_path / "o.mp4",
            validate=False,
            capabilities=Capabilities(),
        )
    assert len(seen) == 2
    assert info.value.hint is not None and "dashboard" in info.value.hint


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, InvalidRequest),
        (401, AuthenticationFailed),
        (402, InsufficientCredits),
        (403, PermissionDenied),
        (404, NotFound),
        (429, RateLimited),
        (500, ProviderUnavailable),
        (503, ProviderUnavailable),
    ],
)
async def test_submit_errors_are_mapped_and_never_retried(status: int, expected: type[Exception]) -> None:
    body = {"error": {"code": status, "message": f"submit refused with {status}"}}
    provider, seen = make(lambda r: httpx.Response(status, json=body, headers={"Retry-After": "3"}))
    with pytest.raises(expected) as info:
        await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert type(info.value) is expected
    assert len(seen) == 1
    error = info.value
    assert getattr(error, "status_code", None) == status
    assert getattr(error, "server_message", None) == f"submit refused with {status}"
    assert f"submit refused with {status}" in str(error)
    assert getattr(error, "model", None) == "google/veo-3.1"
    assert KEY not in str(error)


async def test_submit_connection_refused_is_unavailable_and_not_sent() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    provider, seen = make(refuse)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert info.value.sent is False
    assert len(seen) == 1


async def test_submit_read_timeout_is_unavailable_and_maybe_sent() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    provider, _ = make(slow)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert info.value.sent is True
    assert info.value.hint is not None and "job may exist" in info.value.hint


# -- poll --------------------------------------------------------------------------------------


def status_handler(**fields: Any) -> Handler:
    return lambda request: httpx.Response(200, json=job_body(**fields))


async def test_poll_uses_the_polling_url_on_the_base_origin() -> None:
    provider, seen = make(status_handler(status="in_progress"))
    job = a_job(polling_url=f"https://openrouter.test/api/v1/videos/{JOB_ID}?view=full")
    await provider.poll(job)
    assert str(seen[0].url) == f"https://openrouter.test/api/v1/videos/{JOB_ID}?view=full"
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"
    assert seen[0].headers["Accept"] == "application/json"


async def test_poll_never_sends_the_key_to_a_foreign_polling_url() -> None:
    provider, seen = make(status_handler(status="in_progress"))
    for foreign in (
        f"https://evil.example/api/v1/videos/{JOB_ID}",
        f"http://openrouter.test/api/v1/videos/{JOB_ID}",  # same host, other scheme
        f"https://openrouter.test:8443/api/v1/videos/{JOB_ID}",  # same host, other port
        "javascript:alert(1)",
    ):
        await provider.poll(a_job(polling_url=foreign))
    assert {str(r.url) for r in seen} == {f"{BASE}/videos/{JOB_ID}"}
    assert all(r.url.host == "openrouter.test" and r.url.scheme == "https" for r in seen)


async def test_poll_without_a_polling_url_uses_the_base() -> None:
    provider, seen = make(status_handler(status="pending"))
    await provider.poll(a_job(polling_url=None))
    assert str(seen[0].url) == f"{BASE}/videos/{JOB_ID}"


async def test_poll_quotes_the_job_id_in_the_path() -> None:
    provider, seen = make(lambda r: httpx.Response(200, json=job_body(id="a/../b", status="pending")))
    await provider.poll(Job(id="a/../b", provider="openrouter", model="m"))
    assert seen[0].url.raw_path == b"/api/v1/videos/a%2F..%2Fb"


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("pending", JobState.PENDING),
        ("in_progress", JobState.IN_PROGRESS),
        ("completed", JobState.COMPLETED),
        ("failed", JobState.FAILED),
        ("cancelled", JobState.CANCELLED),
        ("expired", JobState.EXPIRED),
        ("warming_up", JobState.UNKNOWN),
        ("", JobState.UNKNOWN),
    ],
)
async def test_every_status_maps_and_unknown_ones_keep_their_word(raw: str, state: JobState) -> None:
    provider, _ = make(status_handler(status=raw))
    status = await provider.poll(a_job())
    assert status.state is state
    assert status.raw_status == raw
    assert status.job_id == JOB_ID


async def test_a_failed_job_carries_the_server_error_verbatim() -> None:
    provider, _ = make(status_handler(status="failed", error="Content policy violation: people"))
    status = await provider.poll(a_job())
    assert status.state is JobState.FAILED
    assert status.error == "Content policy violation: people"


async def test_an_error_object_is_tolerated() -> None:
    provider, _ = make(status_handler(status="failed", error={"code": 500, "message": "upstream died"}))
    assert (await provider.poll(a_job())).error == "upstream died"


async def test_completed_outputs_pair_unsigned_and_signed_urls() -> None:
    unsigned = [f"{BASE}/videos/{JOB_ID}/content?index=0", f"/api/v1/videos/{JOB_ID}/content?index=1"]
    signed = ["https://storage.example/a.mp4?sig=1", "https://storage.example/b.mp4?sig=2"]
    provider, _ = make(
        status_handler(
            status="completed",
            unsigned_urls=unsigned,
            urls=signed,
            expires_at=1_800_003_600,
            generation_id="gen-123",
            usage={"cost": 0.25, "is_byok": False},
        )
    )
    status = await provider.poll(a_job())
    assert status.state is JobState.COMPLETED
    assert [o.index for o in status.outputs] == [0, 1]
    assert status.outputs[0].url == unsigned[0]
    assert status.outputs[1].url == f"https://openrouter.test/api/v1/videos/{JOB_ID}/content?index=1"
    assert [o.signed_url for o in status.outputs] == signed
    expires = status.outputs[0].expires_at
    assert expires is not None and expires.timestamp() == 1_800_003_600 and expires.tzinfo is not None
    assert status.cost == Decimal("0.25")
    assert status.generation_id == "gen-123"
    assert status.extra["is_byok"] is False


async def test_signed_urls_do_not_show_in_the_status_repr() -> None:
    provider, _ = make(
        status_handler(status="completed", unsigned_urls=["/u"], urls=["https://s.example/x?sig=SECRETSIG"])
    )
    status = await provider.poll(a_job())
    assert "SECRETSIG" not in repr(status)


async def test_a_completed_job_without_urls_gets_the_content_endpoint() -> None:
    provider, _ = make(status_handler(status="completed"))
    status = await provider.poll(a_job())
    assert len(status.outputs) == 1
    assert status.outputs[0].index == 0
    assert status.outputs[0].url == f"{BASE}/videos/{JOB_ID}/content?index=0"
    assert status.outputs[0].signed_url is None


async def test_a_pending_job_has_no_outputs() -> None:
    provider, _ = make(status_handler(status="pending"))
    assert (await provider.poll(a_job())).outputs == ()


@pytest.mark.parametrize(("usage", "cost"), [({"cost": None}, None), (None, None), ({"cost": 1.5}, Decimal("1.5"))])
async def test_usage_cost_may_be_null(usage: Any, cost: Decimal | None) -> None:
    provider, _ = make(status_handler(status="completed", usage=usage))
    assert (await provider.poll(a_job())).cost == cost


async def test_cost_keeps_decimal_precision() -> None:
    provider, _ = make(
        lambda r: httpx.Response(200, content=b'{"id": "j", "status": "completed", "usage": {"cost": 0.1}}')
    )
    assert (await provider.poll(a_job())).cost == Decimal("0.1")


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"status": "pending"}),
        httpx.Response(200, json={"id": JOB_ID}),
        httpx.Response(200, json={"id": JOB_ID, "status": "completed", "unsigned_urls": [1, 2]}),
        httpx.Response(200, json={"id": JOB_ID, "status": "completed", "usage": "free"}),
    ],
)
async def test_a_malformed_poll_answer_is_a_protocol_error(response: httpx.Response) -> None:
    provider, _ = make(lambda r: response)
    with pytest.raises(ProtocolError) as info:
        await provider.poll(a_job())
    assert info.value.job_id == JOB_ID


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, AuthenticationFailed),
        (403, PermissionDenied),
        (404, NotFound),
        (429, RateLimited),
        (500, ProviderUnavailable),
        (502, ProviderUnavailable),
    ],
)
async def test_poll_errors_are_mapped_with_the_job_id(status: int, expected: type[Exception]) -> None:
    body = {"error": {"code": status, "message": f"poll says {status}"}}
    provider, _ = make(lambda r: httpx.Response(status, json=body))
    with pytest.raises(expected) as info:
        await provider.poll(a_job())
    assert type(info.value) is expected
    assert getattr(info.value, "job_id", None) == JOB_ID
    assert getattr(info.value, "status_code", None) == status
    assert f"poll says {status}" in str(info.value)


async def test_poll_read_error_is_unavailable_and_retryable() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    provider, _ = make(broken)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.poll(a_job())
    assert info.value.sent is True and info.value.retryable


# -- models ------------------------------------------------------------------------------------


def model_entry(**fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": "google/veo-3.1",
        "canonical_slug": "google/veo-3.1",
        "name": "Google: Veo 3.1",
        "created": 1767225600,
        "description": "Veo",
        "allowed_passthrough_parameters": ["negativePrompt"],
        "supported_durations": [4, 6, 8],
        "supported_resolutions": ["720p", "1080p"],
        "supported_aspect_ratios": ["16:9", "9:16"],
        "supported_sizes": ["1280x720"],
        "supported_frame_images": ["first_frame", "last_frame"],
        "generate_audio": True,
        "seed": True,
        "creativity": None,
        "upscale_factor": None,
        "pricing_skus": {"per_second": "0.40", "per_second_with_audio": "0.50", "per_video": "9.00"},
        "input_modalities": ["text", "image"],  # a field the SDK does not have: tolerated
    }
    entry.update(fields)
    return entry


async def test_models_are_parsed_into_capabilities() -> None:
    provider, _ = make(lambda r: httpx.Response(200, json={"data": [model_entry()]}))
    [info] = await provider.list_models()
    caps = info.capabilities
    assert (info.provider, info.id, info.name, info.description, info.source) == (
        "openrouter",
        "google/veo-3.1",
        "Google: Veo 3.1",
        "Veo",
        "live",
    )
    assert caps.durations == (4, 6, 8)
    assert caps.resolutions == ("720p", "1080p")
    assert caps.aspect_ratios == ("16:9", "9:16")
    assert caps.sizes == ("1280x720",)
    assert caps.frame_images == ("first_frame", "last_frame")
    assert caps.audio is True and caps.seed is True
    assert caps.passthrough_parameters == ("negativePrompt",)
    assert caps.passthrough_slug is None  # OpenRouter picks the upstream, so any slug may be read: all are checked
    assert caps.pricing == {"per_second": "0.40", "per_second_with_audio": "0.50", "per_video": "9.00"}
    assert caps.price_per_second == Decimal("0.50")  # the dearest per-second SKU, not per_video
    assert caps.modalities == (Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO, Modality.REFERENCE_TO_VIDEO)
    assert caps.reference_types is None


async def test_null_lists_stay_not_advertised() -> None:
    entry = model_entry(
        supported_durations=None,
        supported_resolutions=None,
        supported_aspect_ratios=None,
        supported_sizes=None,
        supported_frame_images=None,
        generate_audio=None,
        seed=None,
        pricing_skus=None,
    )
    provider, _ = make(lambda r: httpx.Response(200, json={"data": [entry]}))
    [info] = await provider.list_models()
    caps = info.capabilities
    assert caps.durations is None and caps.resolutions is None and caps.aspect_ratios is None
    assert caps.sizes is None and caps.frame_images is None
    assert caps.audio is None and caps.seed is None
    assert caps.pricing is None and caps.price_per_second is None
    # not advertised must not forbid frame images either
    assert Modality.IMAGE_TO_VIDEO in (caps.modalities or ())


async def test_an_empty_frame_list_means_no_image_to_video() -> None:
    provider, _ = make(lambda r: httpx.Response(200, json={"data": [model_entry(supported_frame_images=[])]}))
    [info] = await provider.list_models()
    assert info.capabilities.modalities == (Modality.TEXT_TO_VIDEO, Modality.REFERENCE_TO_VIDEO)
    assert info.capabilities.frame_images == ()


@pytest.mark.parametrize(
    ("skus", "price"),
    [
        ({"per_second": "0.04"}, Decimal("0.04")),
        ({"Per_Second_1080p": "0.12", "per_second_720p": "0.08"}, Decimal("0.12")),
        ({"per_second": "n/a", "per_second_audio": "0.3"}, Decimal("0.3")),
        ({"per_second": "NaN", "per_second_x": "-1"}, None),
        ({"per_video": "1.00"}, None),
        ({"per_second": 0.25}, Decimal("0.25")),
        ({}, None),
    ],
)
async def test_price_per_second_is_the_highest_parsable_second_sku(skus: dict[str, Any], price: Decimal | None) -> None:
    provider, _ = make(lambda r: httpx.Response(200, json={"data": [model_entry(pricing_skus=skus)]}))
    [info] = await provider.list_models()
    assert info.capabilities.price_per_second == price


async def test_models_are_cached_until_the_ttl_passes() -> None:
    clock = FakeClock()
    settings = OpenRouterSettings(api_key=KEY, base_url=BASE, models_cache_ttl=100)
    provider, seen = make(
        lambda r: httpx.Response(200, json={"data": [model_entry()]}), clock=clock, settings=settings, base_url=None
    )
    first = await provider.list_models()
    second = await provider.list_models()
    assert first == second
    assert len(seen) == 1
    clock.advance(99)
    await provider.list_models()
    assert len(seen) == 1
    clock.advance(2)
    await provider.list_models()
    assert len(seen) == 2


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize(
    "handler",
    [
        lambda r: httpx.Response(500, json={"error": {"code": 500, "message": "boom"}}),
        lambda r: httpx.Response(401, json={"error": {"code": 401, "message": "bad key"}}),
        lambda r: httpx.Response(200, text="<html/>"),
        lambda r: httpx.Response(200, json={"data": "nope"}),
        refuse,
    ],
    ids=["500", "401", "html", "bad-shape", "connect-error"],
)
async def test_listing_failures_fall_back_to_the_catalog(handler: Handler) -> None:
    provider, _ = make(handler)
    models = await provider.list_models()
    ids = {m.id for m in models}
    assert {"google/veo-3.1", "alibaba/wan-2.6", "openai/sora-2-pro"} <= ids
    assert all(m.source == "catalog" for m in models)
    assert provider.last_listing_error is not None
    veo = next(m for m in models if m.id == "google/veo-3.1")
    assert veo.capabilities.durations == (4, 6, 8)
    assert veo.capabilities.price_per_second == Decimal("0.50")


async def test_the_fallback_is_retried_live_after_a_minute() -> None:
    clock = FakeClock()
    answers = [httpx.Response(503), httpx.Response(200, json={"data": [model_entry()]})]
    provider, seen = make(lambda r: answers.pop(0), clock=clock)
    assert all(m.source == "catalog" for m in await provider.list_models())
    clock.advance(30)
    assert all(m.source == "catalog" for m in await provider.list_models())
    assert len(seen) == 1
    clock.advance(31)
    live = await provider.list_models()
    assert [m.source for m in live] == ["live"]
    assert provider.last_listing_error is None
    assert len(seen) == 2


async def test_get_model_finds_live_models_only() -> None:
    provider, _ = make(lambda r: httpx.Response(200, json={"data": [model_entry(id="new/model-9")]}))
    info = await provider.get_model("new/model-9")
    assert info is not None and info.source == "live"
    assert await provider.get_model("openrouter/new/model-9") == info
    assert await provider.get_model("unknown/model") is None
    assert await provider.get_model("google/veo-3.1") is None  # in the catalog, but not in the live listing


async def test_capabilities_of_an_unknown_model_are_permissive() -> None:
    provider, _ = make(lambda r: httpx.Response(200, json={"data": []}))
    caps = await provider.capabilities("brand/new")
    assert caps.durations is None and caps.modalities is None


# -- generate_video: the feature request's DX ---------------------------------------------------


class FakeOpenRouter:
    """A tiny stateful OpenRouter: submit → pending → in_progress → completed → MP4 bytes."""

    def __init__(self, polls_until_done: int = 2) -> None:
        self.requests: list[httpx.Request] = []
        self.polls = 0
        self.polls_until_done = polls_until_done

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/api/v1/videos/models":
            return httpx.Response(
                200,
                json={
                    "data": [
                        model_entry(),
                        model_entry(id="alibaba/wan-2.6", allowed_passthrough_parameters=["negative_prompt"]),
                    ]
                },
            )
        if request.method == "POST" and path == "/api/v1/videos":
            return httpx.Response(202, json=job_body(polling_url=f"/api/v1/videos/{JOB_ID}"))
        if path == f"/api/v1/videos/{JOB_ID}":
            self.polls += 1
            if self.polls < self.polls_until_done:
                return httpx.Response(200, json=job_body(status="in_progress"))
            return httpx.Response(
                200,
                json=job_body(
                    status="completed",
                    unsigned_urls=[f"{BASE}/videos/{JOB_ID}/content?index=0"],
                    usage={"cost": 0.32},
                    generation_id="gen-1",
                ),
            )
        if path == f"/api/v1/videos/{JOB_ID}/content":
            return httpx.Response(200, content=VIDEO, headers={"Content-Type": "video/mp4"})
        return httpx.Response(404, json={"error": {"code": 404, "message": f"no route {path}"}})


async def test_generate_video_runs_submit_poll_download_and_saves_the_file(tmp_path: Path) -> None:
    backend = FakeOpenRouter()
    clock = FakeClock()
    provider, _ = make(backend, clock=clock)
    result = await provider.generate_video(
        "A golden retriever playing fetch on a beach",
        model="openrouter/google/veo-3.1",
        resolution="1080p",
        aspect_ratio="16:9",
        duration=8,
        generate_audio=True,
        poll_interval=30.0,
        output=tmp_path / "dog_beach.mp4",
    )
    assert result.provider == "openrouter" and result.model == "google/veo-3.1"
    assert result.job_id == JOB_ID
    assert result.cost == Decimal("0.32")
    assert (tmp_path / "dog_beach.mp4").read_bytes() == VIDEO
    assert result.files[0].read_bytes() == VIDEO
    posts = [r for r in backend.requests if r.method == "POST"]
    assert len(posts) == 1
    assert sent_json(posts[0]) == {
        "model": "google/veo-3.1",
        "prompt": "A golden retriever playing fetch on a beach",
        "duration": 8,
        "resolution": "1080p",
        "aspect_ratio": "16:9",
        "generate_audio": True,
    }
    assert clock.sleeps[0] == 30.0  # the caller's poll interval, on the injected clock
    saved = result.files[0].save(tmp_path / "copy.mp4")
    assert saved.read_bytes() == VIDEO


async def test_generate_video_accepts_provider_in_the_wire_shape_and_any_request_field(tmp_path: Path) -> None:
    backend = FakeOpenRouter(polls_until_done=1)
    provider, _ = make(backend, clock=FakeClock())
    await provider.generate_video(
        "A cat",
        model="alibaba/wan-2.6",
        image_url="https://example.com/cat.jpg",
        provider={"options": {"alibaba": {"parameters": {"negative_prompt": "dogs"}}}},
        session_id="s-1",
        output=tmp_path / "cat.mp4",
    )
    [post] = [r for r in backend.requests if r.method == "POST"]
    body = sent_json(post)
    assert body["provider"] == {"options": {"alibaba": {"parameters": {"negative_prompt": "dogs"}}}}
    assert body["session_id"] == "s-1"
    assert body["frame_images"][0]["image_url"]["url"] == "https://example.com/cat.jpg"


async def test_generate_video_rejects_unknown_parameters_before_any_request() -> None:
    backend = FakeOpenRouter()
    provider, _ = make(backend, clock=FakeClock())
    with pytest.raises(InvalidRequest) as info:
        await provider.generate_video("x", negative_prompt="blurry")
    assert "negative_prompt" in str(info.value)
    assert backend.requests == []


async def test_generate_video_rejects_both_provider_spellings() -> None:
    provider, seen = make(FakeOpenRouter(), clock=FakeClock())
    with pytest.raises(InvalidRequest):
        await provider.generate_video("x", provider={"options": {}}, provider_options={"a": {}})
    with pytest.raises(InvalidRequest):
        await provider.generate_video("x", provider={"order": ["a"]})
    assert seen == []


async def test_generate_video_checks_capabilities_before_paying() -> None:
    backend = FakeOpenRouter()
    provider, _ = make(backend, clock=FakeClock())
    with pytest.raises(CapabilityMismatch) as info:
        await provider.generate_video("x", model="google/veo-3.1", duration=7)
    assert info.value.supported == [4, 6, 8]
    assert [r.method for r in backend.requests] == ["GET"]  # only the model listing


async def test_aclose_closes_the_client() -> None:
    provider, _ = make(accepted())
    await provider.submit("m/x", VideoRequest(prompt="p"))
    client = provider.http.http()
    await provider.aclose()
    assert client.is_closed


async def test_one_client_serves_every_call() -> None:
    provider, _ = make(status_handler(status="pending"))
    await provider.poll(a_job())
    first = provider.http.http()
    await provider.poll(a_job())
    assert provider.http.http() is first


async def test_a_huge_error_body_still_gives_the_mapped_error() -> None:
    body = b'{"error": {"code": 402, "message": "Insufficient credits"}}' + b" " * (200 * 1024)
    provider, _ = make(lambda r: httpx.Response(402, content=body))
    with pytest.raises(InsufficientCredits) as info:
        await provider.submit("google/veo-3.1", VideoRequest(prompt="x"))
    assert info.value.status_code == 402


async def test_an_oversized_job_answer_is_a_protocol_error() -> None:
    provider, _ = make(lambda r: httpx.Response(200, content=b"[" + b"0," * (5 * 1024 * 1024) + b"0]"))
    with pytest.raises(ProtocolError):
        await provider.poll(a_job())
