"""OpenRouter video understanding: the documented video_url part, the listing, and the emulator's chat route."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock
from mediarouter_openrouter import OpenRouterVideoProvider
from mediarouter_openrouter.chat import build_chat_body, parse_chat_models

from mediarouter import InvalidRequest, PayloadTooLarge, ProviderUnavailable, RateLimited
from mediarouter.describing import describe
from mediarouter.router import Router
from mediarouter.understanding import DescribeRequest, load_video

emulator = pytest.importorskip("mediarouter_openrouter.emulator")
pytest.importorskip("starlette")

GEMINI = "google/gemini-2.5-flash"
MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _no_openrouter_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.delenv("OPENROUTER_BASE_URL", raising=False)
    monkeypatch.setenv("MEDIAROUTER_CACHE_DIR", str(tmp_path))


@pytest.fixture(scope="module")
def clip() -> bytes:
    from mediarouter.emulation.mp4 import make_mp4

    return make_mp4(3, "9:16", None, with_audio=True, seed=11, label="openrouter-describe")


def test_the_body_has_a_text_part_and_a_video_url_part_never_image_url(clip: bytes) -> None:
    request = DescribeRequest(video=load_video(clip), prompt="Summarise", processing="static", max_tokens=200)
    body = build_chat_body(GEMINI, request)
    parts = body["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "video_url"]
    assert parts[0]["text"] == "Summarise"
    video = parts[1]["video_url"]
    assert video["processing"] == "static"
    assert base64.b64decode(video["url"].removeprefix("data:video/mp4;base64,")) == clip
    assert (body["model"], body["max_tokens"], body["stream"]) == (GEMINI, 200, False)
    assert "image_url" not in json.dumps(body)


def test_only_models_whose_input_modalities_include_video_are_listed() -> None:
    listing = {
        "data": [
            {
                "id": "google/gemini-2.5-flash",
                "architecture": {"input_modalities": ["text", "image", "video"]},
                "pricing": {"prompt": "0.0000003", "completion": "0.0000025"},
            },
            {"id": "openai/gpt-4o", "architecture": {"input_modalities": ["text", "image"]}, "pricing": {}},
            {"id": 17},
        ]
    }
    models = parse_chat_models(json.dumps(listing).encode())
    assert [m.id for m in models] == ["google/gemini-2.5-flash"]
    assert models[0].price_per_input_token == Decimal("0.0000003") and models[0].source == "live"


async def test_the_emulator_describes_the_real_bytes_it_was_sent(clip: bytes) -> None:
    provider = OpenRouterVideoProvider(emulator=True, clock=FakeClock())
    result = await provider.describe(GEMINI, DescribeRequest(video=load_video(clip), prompt="What is shown?"))
    await provider.aclose()
    assert "3.00-second MP4 video" in result.text and "82x144" in result.text and "36 frames" in result.text
    assert "with an audio track" in result.text and "What is shown?" in result.text
    assert result.usage.prompt_tokens is not None and result.usage.prompt_tokens > 3 * 200
    assert result.cost is not None and result.cost > 0 and result.generation_id


async def test_the_emulator_refuses_a_video_sent_as_image_url(clip: bytes) -> None:
    transport = emulator.emulator_transport()
    url = "data:video/mp4;base64," + base64.b64encode(clip).decode()
    part = {"type": "image_url", "image_url": {"url": url}}  # what seed 004 sends
    body = {"model": GEMINI, "messages": [{"role": "user", "content": [part]}]}
    async with httpx.AsyncClient(transport=transport, base_url=emulator.EMULATOR_BASE_URL) as client:
        answer = await client.post("/chat/completions", json=body, headers={"Authorization": "Bearer k"})
    assert answer.status_code == 400 and "video_url" in answer.json()["error"]["message"]


async def test_a_body_over_the_emulators_limit_is_a_413_payload_too_large(clip: bytes) -> None:
    transport = emulator.emulator_transport(emulator.EmulatorConfig(chat_max_body_bytes=len(clip) // 2))
    provider = OpenRouterVideoProvider(emulator=True, transport=transport, clock=FakeClock())
    with pytest.raises(PayloadTooLarge) as caught:
        await provider.describe(GEMINI, DescribeRequest(video=load_video(clip), prompt="x"))
    await provider.aclose()
    assert caught.value.status_code == 413 and caught.value.hint is not None and "--shrink" in caught.value.hint


async def test_chat_injections_fire_and_the_route_recovers(clip: bytes) -> None:
    config = emulator.EmulatorConfig(injections=(emulator.Injection.parse(f"chat:429:{GEMINI}x1"),), retry_after=7)
    provider = OpenRouterVideoProvider(emulator=True, emulator_config=config, clock=FakeClock())
    request = DescribeRequest(video=load_video(clip), prompt="x")
    with pytest.raises(RateLimited) as caught:
        await provider.describe(GEMINI, request)
    assert caught.value.retry_after == 7
    assert "second MP4 video" in (await provider.describe(GEMINI, request)).text
    await provider.aclose()


async def test_a_model_that_does_not_take_video_is_refused_before_any_chat_request(clip: bytes) -> None:
    transport = emulator.emulator_transport()
    provider = OpenRouterVideoProvider(emulator=True, transport=transport, clock=FakeClock())
    async with Router(providers={"openrouter": provider}, journal="off") as router:
        with pytest.raises(InvalidRequest, match="does not take video input"):
            await describe(router, clip, "x", model="openrouter/google/veo-3.1")
    await provider.aclose()
    assert not [e for e in transport.emulator.requests if e["phase"] == "chat"]


async def test_the_listing_falls_back_to_the_offline_catalog(clip: bytes) -> None:
    config = emulator.EmulatorConfig(injections=(emulator.Injection.parse("models:503"),))
    provider = OpenRouterVideoProvider(emulator=True, emulator_config=config, clock=FakeClock())
    models = await provider.describe_models()
    await provider.aclose()
    assert GEMINI in [m.id for m in models] and {m.source for m in models} == {"catalog"}


@pytest.mark.parametrize("status", [500, 502, 524])
async def test_a_server_error_to_a_sent_chat_request_is_not_sent_again_anywhere(clip: bytes, status: int) -> None:
    """The POST reached OpenRouter and may have been billed: no retry, no second candidate."""
    config = emulator.EmulatorConfig(injections=(emulator.Injection.parse(f"chat:{status}:{GEMINI}x1"),))
    transport = emulator.emulator_transport(config)
    provider = OpenRouterVideoProvider(emulator=True, transport=transport, clock=FakeClock())
    async with Router(providers={"openrouter": provider}, journal="off") as router:
        with pytest.raises(ProviderUnavailable) as caught:
            await describe(
                router,
                clip,
                "x",
                model=f"openrouter/{GEMINI}",
                fallbacks=["openrouter/google/gemini-2.5-flash-lite"],
                use_cache=False,
            )
    await provider.aclose()
    assert len([e for e in transport.emulator.requests if e["phase"] == "chat"]) == 1
    assert caught.value.status_code == status and caught.value.hint is not None and "billed" in caught.value.hint


def test_a_lone_surrogate_in_the_answer_becomes_a_replacement_character() -> None:
    """JSON may escape half a surrogate pair; that text cannot be printed, logged or cached as UTF-8."""
    from mediarouter_openrouter.chat import parse_chat_completion

    body = b'{"choices": [{"message": {"content": "a \\ud800 b \\ud83d\\ude00"}}]}'
    text = parse_chat_completion(body).choices[0].message.text()  # type: ignore[union-attr]
    assert text == "a \ufffd b \U0001f600"
    text.encode("utf-8")


def test_the_estimate_includes_a_models_per_request_price() -> None:
    """`pricing.request` is charged once per completion on top of the tokens: max_cost must hold it."""
    from mediarouter.understanding import estimate_cost

    listing = {
        "data": [
            {
                "id": "vendor/video-model",
                "architecture": {"input_modalities": ["text", "video"]},
                "pricing": {"prompt": "0.000001", "completion": "0.000002", "request": "0.02"},
            }
        ]
    }
    (model,) = parse_chat_models(json.dumps(listing).encode())
    request = DescribeRequest(video=load_video(MP4_HEADER), prompt="abc", max_tokens=100)
    estimate, tokens = estimate_cost(model, request, 1.0)
    assert tokens == 300 + 1 + 16
    assert estimate == Decimal("0.000001") * 317 + Decimal("0.000002") * 100 + Decimal("0.02")


MKV_HEADER = b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x88matroska"
MOV_HEADER = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00" + b"\x00" * 64


async def test_a_video_type_openrouter_does_not_document_is_refused_before_any_chat_request() -> None:
    """OpenRouter documents mp4, mpeg, mov and webm for video input; an MKV is refused locally, naming them."""
    from mediarouter import CapabilityMismatch

    transport = emulator.emulator_transport()
    provider = OpenRouterVideoProvider(emulator=True, transport=transport, clock=FakeClock())
    async with Router(providers={"openrouter": provider}, journal="off") as router:
        with pytest.raises(CapabilityMismatch) as caught:
            await describe(router, MKV_HEADER + b"\x00" * 64, "x", model=f"openrouter/{GEMINI}", use_cache=False)
    await provider.aclose()
    assert caught.value.field == "video" and "video/webm" in caught.value.message
    assert set(caught.value.supported or []) == {"video/mp4", "video/mpeg", "video/quicktime", "video/webm"}
    assert not [e for e in transport.emulator.requests if e["phase"] == "chat"]


def test_a_mov_is_sent_with_the_mime_type_openrouter_documents() -> None:
    body = build_chat_body(GEMINI, DescribeRequest(video=load_video(MOV_HEADER), prompt="x"))
    assert body["messages"][0]["content"][1]["video_url"]["url"].startswith("data:video/mov;base64,")


def test_an_upstream_error_inside_a_200_is_redacted() -> None:
    """The provider's words may echo the video's signed URL: its query never reaches a message or log."""
    from mediarouter_openrouter.chat import parse_chat_completion

    from mediarouter import ProtocolError

    said = "cannot fetch https://cdn.example.com/v.mp4?X-Amz-Signature=secret123"
    body = json.dumps({"choices": [{"message": {"content": ""}, "error": {"message": said}}]}).encode()
    with pytest.raises(ProtocolError) as caught:
        parse_chat_completion(body)
    assert "secret123" not in str(caught.value) and "secret123" not in (caught.value.server_message or "")
    assert "cdn.example.com" in caught.value.message
