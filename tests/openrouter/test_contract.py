"""The OpenRouter plugin under the provider contract suite, through the kit's public API only.

This is exactly what a third-party plugin writes: a `WireAdapter` for its wire format
(`contract_adapter.py`) and this class. pytest collects one test per rule of the contract.
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from mediarouter_contracts import FakeClock, ProviderContract
from mediarouter_openrouter import OpenRouterVideoProvider

from mediarouter import Capabilities, Modality, Provider

from .contract_adapter import OpenRouterWireAdapter

BASE_URL = "https://openrouter.test/api/v1"


class TestOpenRouterContract(ProviderContract):
    adapter = OpenRouterWireAdapter(BASE_URL)
    model_id = "google/veo-3.1"
    base_url = BASE_URL
    # What OpenRouter's /videos/models can say about a model: every field of Capabilities except
    # reference types (the listing has no such field, so the provider leaves them unadvertised).
    capabilities = Capabilities(
        modalities=(Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO, Modality.REFERENCE_TO_VIDEO),
        durations=(4, 6, 8),
        resolutions=("720p", "1080p"),
        aspect_ratios=("16:9", "9:16"),
        sizes=("1280x720", "720x1280", "1920x1080"),
        frame_images=("first_frame", "last_frame"),
        audio=True,
        seed=False,
        passthrough_parameters=("negativePrompt", "personGeneration"),
        price_per_second=Decimal("0.40"),
    )

    def provider_factory(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> Provider:
        return OpenRouterVideoProvider(api_key=self.api_key, base_url=self.base_url, transport=transport, clock=clock)

    @pytest.fixture(autouse=True)
    def _no_openrouter_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A developer's OPENROUTER_* settings must not change what is under test."""
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
