"""The in-process Gemini emulator: operations, Google-style validation, injections, and the keyless file host."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock
from mediarouter_gemini.provider import GeminiVideoProvider

from mediarouter import (
    AuthenticationFailed,
    ConfigurationError,
    InvalidRequest,
    JobCancelled,
    JobExpired,
    JobFailed,
    JobState,
    NotFound,
    PermissionDenied,
    RateLimited,
    Router,
    VideoRequest,
)

emulator = pytest.importorskip("mediarouter_gemini.emulator")
pytest.importorskip("starlette")

MODEL = "veo-3.1-generate-preview"
API = emulator.EMULATOR_BASE_URL
KEY = "emulator-test-key"


@pytest.fixture(autouse=True)
def _no_gemini_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


def _client(**config: Any) -> tuple[httpx.AsyncClient, Any]:
    transport = emulator.emulator_transport(emulator.EmulatorConfig(**config))
    return httpx.AsyncClient(transport=transport, headers={"x-goog-api-key": KEY}), transport.emulator


async def _predict(client: httpx.AsyncClient, body: Any, model: str = MODEL) -> httpx.Response:
    return await client.post(f"{API}/models/{model}:predictLongRunning", json=body)


def _body(**parameters: Any) -> dict[str, Any]:
    return {"instances": [{"prompt": "a fox"}], "parameters": parameters}


async def _generate(tmp_path: Path, *, inject: tuple[str, ...] = (), **fields: Any) -> Any:
    async with Router(
        emulator=True, emulator_options={"inject": list(inject)}, clock=FakeClock(), journal=":memory:"
    ) as router:
        return await router.generate("a fox", model=f"gemini/{MODEL}", output=tmp_path / "fox.mp4", **fields)


async def test_an_operation_is_not_done_until_its_polls_are_spent_then_carries_a_video_uri() -> None:
    client, state = _client(polls_before_completed=2)
    name = (await _predict(client, _body(durationSeconds=4))).json()["name"]
    assert name.startswith(f"models/{MODEL}/operations/")
    answers = [(await client.get(f"{API}/{name}")).json() for _ in range(3)]
    assert ["done" in a for a in answers] == [False, False, True]
    uri = answers[2]["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    assert uri.startswith(f"{API}/files/") and uri.endswith(":download?alt=media")
    assert state.journal.count("submit", status=200) == 1 and state.journal.count("poll") == 3


@pytest.mark.parametrize(
    ("body", "model", "status", "words"),
    [
        (
            _body(durationSeconds=5),
            MODEL,
            400,
            "durationSeconds 5 is not supported by this model; allowed values: 4, 6, 8",
        ),
        (_body(resolution="1080p", durationSeconds=4), MODEL, 400, "resolution 1080p requires durationSeconds 8"),
        (_body(aspectRatio="1:1"), MODEL, 400, "allowed values: '16:9', '9:16'"),
        (_body(seed=1), "veo-2.0-generate-001", 400, "`seed` isn't supported by veo-2.0-generate-001"),
        (_body(sampleCount=2), MODEL, 400, 'Unknown name "sampleCount"'),
        ({"instances": [{}]}, MODEL, 400, "prompt is required"),
        (_body(), "veo-9", 404, "models/veo-9 is not found"),
    ],
)
async def test_a_body_google_would_refuse_gets_googles_answer_naming_the_field(
    body: Any, model: str, status: int, words: str
) -> None:
    client, _ = _client()
    answer = await _predict(client, body, model)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["code"] == status and words in error["message"]
    assert error["status"] == ("NOT_FOUND" if status == 404 else "INVALID_ARGUMENT")


async def test_a_missing_key_is_permission_denied_and_a_wrong_one_api_key_invalid() -> None:
    wrong = GeminiVideoProvider(
        api_key="wrong-key",
        base_url=API,
        transport=emulator.emulator_transport(emulator.EmulatorConfig(api_key=KEY)),
    )
    with pytest.raises(AuthenticationFailed) as caught:
        await wrong.submit(MODEL, VideoRequest(prompt="a fox"))
    assert caught.value.status_code == 400 and caught.value.details["reason"] == "API_KEY_INVALID"
    client = httpx.AsyncClient(transport=emulator.emulator_transport())
    answer = await _predict(client, _body())
    assert answer.status_code == 403 and answer.json()["error"]["status"] == "PERMISSION_DENIED"
    await wrong.aclose()


async def test_the_cli_pipeline_writes_a_real_mp4_and_the_key_never_reaches_the_file_host(tmp_path: Path) -> None:
    provider = GeminiVideoProvider(emulator=True, clock=FakeClock())
    async with Router(providers={"gemini": provider}, clock=FakeClock(), journal=":memory:") as router:
        result = await router.generate(
            "a fox", model=f"gemini/{MODEL}", output=tmp_path / "fox.mp4", duration=6, aspect_ratio="9:16"
        )
    data = (tmp_path / "fox.mp4").read_bytes()
    assert data[4:8] == b"ftyp" and result.files[0].size == len(data) and result.cost is None
    assert result.estimated_cost is not None and result.estimated_cost > 0
    journal = provider._transport.emulator.journal  # type: ignore[union-attr]
    downloads = journal.select("download")
    assert [(d["host"], d["keyed"], d["status"]) for d in downloads] == [
        ("generativelanguage.emulator.invalid", True, 302),
        (emulator.FOREIGN_HOST, False, 200),
    ]
    assert all("x-goog-api-key" not in e.get("headers", {}) for e in journal.entries)


@pytest.mark.parametrize(
    ("inject", "error", "words"),
    [
        ("poll:failed", JobFailed, "INTERNAL (code 13)"),
        ("poll:cancelled", JobCancelled, "CANCELLED (code 1)"),
        ("poll:expired", JobExpired, "DEADLINE_EXCEEDED (code 4)"),
        ("submit:429", RateLimited, "RESOURCE_EXHAUSTED"),
        ("submit:403", PermissionDenied, "PERMISSION_DENIED"),
        ("download:404x9", NotFound, "HTTP 404"),
    ],
)
async def test_injections_end_the_job_the_way_google_would(
    inject: str, error: type[Exception], words: str, tmp_path: Path
) -> None:
    with pytest.raises(error) as caught:
        await _generate(tmp_path, inject=(inject,), timeout=600)
    assert words in str(caught.value) or words == getattr(caught.value, "details", {}).get("rpc_status")
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 1.0  # from RetryInfo.retryDelay


async def test_a_safety_filtered_operation_fails_with_the_reasons() -> None:
    config = emulator.EmulatorConfig(injections=(emulator.GeminiInjection.parse("poll:failed"),), failed_as="filtered")
    provider = GeminiVideoProvider(base_url=API, api_key=KEY, transport=emulator.emulator_transport(config))
    job = await provider.submit(MODEL, VideoRequest(prompt="a fox"))
    status = await provider.poll(job)
    status = await provider.poll(job)
    assert status.state is JobState.FAILED and "safety filter" in (status.error or "")
    assert status.extra["rai_media_filtered_reasons"] == ["Emulated safety filter: the prompt was blocked."]
    await provider.aclose()


async def test_an_image_to_video_request_is_validated_and_accepted(tmp_path: Path) -> None:
    png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="
    frames = [
        {"image_url": {"url": png}, "frame_type": "first_frame"},
        {"image_url": {"url": png}, "frame_type": "last_frame"},
    ]
    result = await _generate(tmp_path, frame_images=frames, duration=8)
    assert result.files[0].path.read_bytes()[4:8] == b"ftyp"


def test_injections_for_models_this_backend_does_not_serve_are_ignored() -> None:
    """One --emulator-inject list drives a whole chain: OpenRouter's model ids are not Gemini's business."""
    config = emulator.config_from_options(
        {"inject": ["submit:402:google/veo-3.1", "content:500:google/veo-3.1x2", f"poll:500:{MODEL}x1", "download:503"]}
    )
    assert [i.spec() for i in config.injections] == [f"poll:500:{MODEL}x1", "download:503"]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"inject": ["content:500"]}, "unknown phase 'content'"),
        ({"inject": ["poll:bogus"]}, "outcome 'bogus' is not allowed"),
        ({"speed": 3}, "unknown emulator option(s) for gemini: speed"),
    ],
)
def test_bad_emulator_options_are_refused_naming_what_is_allowed(options: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        GeminiVideoProvider(emulator=True, emulator_options=options)
    assert words in str(caught.value)


async def test_the_environment_key_is_never_sent_to_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-real-production-key")
    provider = GeminiVideoProvider(emulator=True)
    assert provider.http.secrets() == ("emulator-key",)
    job = await provider.submit(MODEL, VideoRequest(prompt="a fox"))
    entries = provider._transport.emulator.journal.entries  # type: ignore[union-attr]
    assert "AIza-real-production-key" not in json.dumps(entries) and job.id.startswith("models/")
    await provider.aclose()


async def test_a_request_the_provider_would_refuse_never_reaches_the_emulator() -> None:
    provider = GeminiVideoProvider(emulator=True)
    with pytest.raises(InvalidRequest):
        await provider.submit(MODEL, VideoRequest(prompt="a fox", resolution="4K", duration=4))
    assert provider._transport.emulator.journal.entries == []  # type: ignore[union-attr]
    await provider.aclose()


# -- inline videos -----------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "mime_field"), list(emulator.INLINE_FIELDS.items()))
async def test_inline_video_puts_the_mp4_in_the_operation_in_each_spelling(field: str, mime_field: str | None) -> None:
    client, state = _client(inline_video=True, inline_field=field)
    name = (await _predict(client, _body(durationSeconds=4))).json()["name"]
    answers = [(await client.get(f"{API}/{name}")).json() for _ in range(2)]
    video = answers[1]["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]
    assert "uri" not in video and base64.b64decode(video[field]) == state.video(state.machine.get(name))
    assert video.get(mime_field) == ("video/mp4" if mime_field else None)


def test_an_unknown_inline_spelling_is_refused() -> None:
    with pytest.raises(ValueError, match="inline_field"):
        emulator.EmulatorConfig(inline_video=True, inline_field="bytes")


@pytest.mark.parametrize("field", list(emulator.INLINE_FIELDS))
async def test_the_engine_saves_an_inline_video_whole_without_a_download_request(field: str, tmp_path: Path) -> None:
    transport = emulator.emulator_transport(emulator.EmulatorConfig(inline_video=True, inline_field=field))
    provider = GeminiVideoProvider(base_url=API, api_key=KEY, transport=transport, clock=FakeClock())
    async with Router(providers={"gemini": provider}, clock=FakeClock(), journal=":memory:") as router:
        result = await router.generate("a fox", model=f"gemini/{MODEL}", output=tmp_path / "fox.mp4", duration=6)
    state = transport.emulator
    expected = state.video(state.machine.get(result.job_id))
    data = (tmp_path / "fox.mp4").read_bytes()
    assert data == expected and data[4:8] == b"ftyp"
    assert result.files[0].sha256 == hashlib.sha256(expected).hexdigest() and result.files[0].size == len(expected)
    assert state.journal.count("download") == 0 and state.journal.count("submit", status=200) == 1
