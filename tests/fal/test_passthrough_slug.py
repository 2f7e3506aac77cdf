"""Rule: every fal model reads `provider_options["fal"]`, set once by FalModel; the submit carries the model's
own id (in the URL) and only fal's options, never another backend's of the same failover chain."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mediarouter_fal.catalog import CATALOG, GENERIC_INPUTS, OPTIONS_KEY, FalModel
from mediarouter_fal.provider import FalVideoProvider

from mediarouter import Capabilities, VideoRequest, validate_request

BASE = "https://queue.fal.test"
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="
#: A value of the right type for each passthrough parameter the catalog names.
SAMPLE = {
    "negative_prompt": "blur",
    "auto_fix": True,
    "cfg_scale": 0.5,
    "prompt_optimizer": False,
    "camera_fixed": True,
    "enable_safety_checker": True,
    "loop": True,
}


def _entry(**caps: Any) -> FalModel:
    return FalModel(id="fal-ai/x", name="x", description="x", capabilities=Capabilities(**caps), inputs=GENERIC_INPUTS)


def test_a_fal_model_sets_its_passthrough_slug_once_at_construction() -> None:
    assert _entry(durations=(5,)).capabilities.passthrough_slug == OPTIONS_KEY == "fal"
    assert _entry(passthrough_slug="fal").capabilities.passthrough_slug == "fal"
    with pytest.raises(ValueError, match="passthrough_slug is always 'fal'"):
        _entry(passthrough_slug="gemini")
    assert {model.capabilities.passthrough_slug for model in CATALOG} == {"fal"}


@pytest.mark.parametrize("entry", [m for m in CATALOG if m.capabilities.passthrough_parameters], ids=lambda m: m.id)
async def test_the_submit_names_the_model_and_carries_only_fals_own_options(entry: FalModel) -> None:
    parameters = entry.capabilities.passthrough_parameters or ()
    assert set(parameters) <= set(SAMPLE), "add a sample value for the new passthrough parameter"
    ours = {name: SAMPLE[name] for name in parameters}
    request = VideoRequest(
        prompt="a fox",
        image_url=PNG if entry.inputs.requires_first_frame else None,
        provider_options={OPTIONS_KEY: {"parameters": ours}, "gemini": {"parameters": {"negativePrompt": "x"}}},
    )
    validate_request(request, entry.capabilities, model=entry.id, provider="fal")  # another slug is not checked
    seen: list[httpx.Request] = []

    def answer(sent: httpx.Request) -> httpx.Response:
        seen.append(sent)
        return httpx.Response(200, json={"status": "IN_QUEUE", "request_id": "req-1"})

    provider = FalVideoProvider(api_key="k:s", base_url=BASE, transport=httpx.MockTransport(answer))
    job = await provider.submit(entry.id, request)
    await provider.aclose()
    assert [(r.method, r.url.path) for r in seen] == [("POST", f"/{entry.id}")] and job.model == entry.id
    body = json.loads(seen[0].content)
    assert {k: body[k] for k in ours} == ours and "negativePrompt" not in body and "gemini" not in body
