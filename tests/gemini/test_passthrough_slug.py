"""Rule: every Veo model reads `provider_options["gemini"]`, set once by GeminiModel; the submit goes to the
model's own id and carries only Gemini's options, never another backend's of the same failover chain."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mediarouter_gemini.catalog import CATALOG, OPTIONS_KEY, GeminiModel
from mediarouter_gemini.provider import GeminiVideoProvider

from mediarouter import Capabilities, VideoRequest, validate_request


def _model(**caps: Any) -> GeminiModel:
    return GeminiModel(
        id="veo-x",
        name="x",
        description="x",
        capabilities=Capabilities(**caps),
        parameters=frozenset(),
        person_generation={},
    )


def test_a_gemini_model_sets_its_passthrough_slug_once_at_construction() -> None:
    assert _model(durations=(8,)).capabilities.passthrough_slug == OPTIONS_KEY == "gemini"
    with pytest.raises(ValueError, match="passthrough_slug is always 'gemini'"):
        _model(passthrough_slug="fal")
    assert {model.capabilities.passthrough_slug for model in CATALOG} == {"gemini"}


@pytest.mark.parametrize("model", CATALOG, ids=lambda m: m.id)
async def test_the_submit_names_the_model_and_carries_only_geminis_own_options(
    model: GeminiModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    request = VideoRequest(
        prompt="a fox",
        provider_options={
            OPTIONS_KEY: {"parameters": {"negativePrompt": "text overlays"}},
            "fal": {"parameters": {"negative_prompt": "blur", "cfg_scale": 0.5}},
        },
    )
    validate_request(request, model.capabilities, model=model.id, provider="gemini")  # fal's slug is not checked
    seen: list[httpx.Request] = []

    def answer(sent: httpx.Request) -> httpx.Response:
        seen.append(sent)
        return httpx.Response(200, json={"name": f"models/{model.id}/operations/op1"})

    provider = GeminiVideoProvider(api_key="AIza-test", transport=httpx.MockTransport(answer))
    job = await provider.submit(model.id, request)
    await provider.aclose()
    assert [(r.method, r.url.path) for r in seen] == [("POST", f"/v1beta/models/{model.id}:predictLongRunning")]
    assert job.model == model.id
    body = json.loads(seen[0].content)
    assert body["parameters"]["negativePrompt"] == "text overlays"
    assert "negative_prompt" not in json.dumps(body) and "cfg_scale" not in json.dumps(body)
