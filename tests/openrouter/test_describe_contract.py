"""The OpenRouter plugin under the kit's describe (video-to-text) contract."""

from __future__ import annotations

import httpx
import pytest
from mediarouter_contracts import DescribeContract, FakeClock
from mediarouter_openrouter import OpenRouterVideoProvider

from mediarouter import Provider

from .describe_adapter import OpenRouterDescribeAdapter


class TestOpenRouterDescribeContract(DescribeContract):
    adapter = OpenRouterDescribeAdapter()
    model_id = "google/gemini-2.5-flash"
    base_url = "https://openrouter.test/api/v1"

    def provider_factory(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> Provider:
        return OpenRouterVideoProvider(api_key=self.api_key, base_url=self.base_url, transport=transport, clock=clock)

    @pytest.fixture(autouse=True)
    def _no_openrouter_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A developer's OPENROUTER_* settings must not change what is under test."""
        for var in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "OPENROUTER_READ_TIMEOUT"):
            monkeypatch.delenv(var, raising=False)
