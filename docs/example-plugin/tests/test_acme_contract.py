"""The Acme plugin under the mediarouter provider contract: one test per rule."""

from __future__ import annotations

from decimal import Decimal

import httpx
from acme_adapter import AcmeWireAdapter
from mediarouter_contracts import FakeClock, ProviderContract
from mediarouter_example import AcmeVideoProvider

from mediarouter import Capabilities, Modality, Provider

BASE_URL = "https://api.acme-video.test/v2"


class TestAcmeContract(ProviderContract):
    adapter = AcmeWireAdapter(BASE_URL)
    model_id = "acme-motion-2"
    base_url = BASE_URL
    # Everything Acme's /models can say about a model (no sizes, no references, prompt always required).
    capabilities = Capabilities(
        modalities=(Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO),
        durations=(5, 10),
        resolutions=("720p", "1080p"),
        aspect_ratios=("16:9", "1:1"),
        sizes=(),
        frame_images=("first_frame", "last_frame"),
        audio=False,
        seed=True,
        prompt_required=True,
        price_per_second=Decimal("0.10"),
    )

    def provider_factory(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> Provider:
        return AcmeVideoProvider(api_key=self.api_key, base_url=self.base_url, transport=transport)
