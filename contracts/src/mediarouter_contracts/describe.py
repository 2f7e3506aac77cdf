"""The optional contract for video understanding: what a provider that describes videos must prove.

A plugin that implements `mediarouter.understanding.Describer` subclasses `DescribeContract`
next to its `ProviderContract`, with a `DescribeWireAdapter` for its chat wire format:

    class TestMyDescribe(DescribeContract):
        adapter = MyDescribeAdapter()
        model_id = "my-video-model"
        base_url = "https://api.example.com/v1"

        def provider_factory(self, transport, clock):
            return MyProvider(api_key=self.api_key, base_url=self.base_url, transport=transport, clock=clock)

The rules: the request carries the prompt and the video byte-exact with the MIME type told by
its bytes (not its name), an https:// video goes as its URL, the key stays on the origin; the
answer's text, usage and cost come back; every HTTP status maps to the core error class, with
exactly one request (the provider never retries); a network failure is ProviderUnavailable
(`sent=False` when nothing left); and, through the routed `describe`, a video over the model's
size limit is refused before any upload. Every request goes to an in-process mock transport.
"""

from __future__ import annotations

import asyncio
import base64
from abc import ABC, abstractmethod
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from mediarouter import (
    AuthenticationFailed,
    InsufficientCredits,
    InvalidRequest,
    MediaRouterError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Provider,
    ProviderUnavailable,
    RateLimited,
)
from mediarouter.describing import describe
from mediarouter.router import Router
from mediarouter.understanding import Describer, DescribeRequest, load_video

from .clock import FakeClock

__all__ = ["DESCRIBE_ERRORS", "DescribeContract", "DescribeWireAdapter", "SAMPLE_VIDEO"]

#: An MP4 header and made-up bytes: the sniffer needs only the header, a provider sends them as they are.
SAMPLE_VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 8

#: HTTP status of a describe request → the core error class a provider must raise.
DESCRIBE_ERRORS: dict[int, type[MediaRouterError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    402: InsufficientCredits,
    403: PermissionDenied,
    404: NotFound,
    413: PayloadTooLarge,
    429: RateLimited,
    500: ProviderUnavailable,
    502: ProviderUnavailable,
    503: ProviderUnavailable,
}


class DescribeWireAdapter(ABC):
    """A plugin's chat wire format, as the kit needs it: recognise requests, read them, answer them."""

    @abstractmethod
    def is_describe(self, request: httpx.Request) -> bool:
        """Whether this is the describe request (e.g. `POST …/chat/completions`)."""

    @abstractmethod
    def is_listing(self, request: httpx.Request) -> bool:
        """Whether this is the listing of models that take video."""

    @abstractmethod
    def listing(self, model_id: str) -> httpx.Response:
        """A listing in which `model_id` takes video input."""

    @abstractmethod
    def answer(self, *, text: str, prompt_tokens: int, completion_tokens: int, cost: Decimal) -> httpx.Response:
        """A successful answer."""

    @abstractmethod
    def error(self, status: int, message: str) -> httpx.Response:
        """An error answer in the API's own error shape."""

    @abstractmethod
    def sent_video(self, request: httpx.Request) -> str:
        """The URL (data: or https://) the request carries for the video."""

    @abstractmethod
    def sent_prompt(self, request: httpx.Request) -> str:
        """The prompt text the request carries."""


Responder = Callable[[httpx.Request], httpx.Response]


class _Backend:
    """A mock transport that answers listings itself, describe requests with `respond`, and records all."""

    def __init__(self, adapter: DescribeWireAdapter, model_id: str, respond: Responder) -> None:
        self.adapter = adapter
        self.model_id = model_id
        self.respond = respond
        self.requests: list[httpx.Request] = []

    @property
    def describes(self) -> list[httpx.Request]:
        return [r for r in self.requests if self.adapter.is_describe(r)]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.adapter.is_listing(request):
            return self.adapter.listing(self.model_id)
        if self.adapter.is_describe(request):
            return self.respond(request)
        return httpx.Response(404, json={"error": {"message": "not part of the describe contract"}})


class DescribeContract:
    """Subclass in a module collected by pytest (class name starting with `Test`)."""

    adapter: ClassVar[DescribeWireAdapter]
    model_id: ClassVar[str]
    base_url: ClassVar[str]
    api_key: ClassVar[str] = "sk-contract-describe-0123456789"

    def provider_factory(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> Provider:
        raise NotImplementedError("return your provider, built on `transport` (and `clock`)")

    # -- plumbing ------------------------------------------------------------------------------

    def _backend(self, respond: Responder) -> tuple[_Backend, Provider]:
        backend = _Backend(self.adapter, self.model_id, respond)
        provider = self.provider_factory(httpx.MockTransport(backend), FakeClock())
        assert isinstance(provider, Describer), "a describe provider implements describe_models and describe"
        return backend, provider

    def _describe(self, provider: Provider, request: DescribeRequest) -> Any:
        assert isinstance(provider, Describer)

        async def run() -> Any:
            try:
                return await provider.describe(self.model_id, request)
            finally:
                await provider.aclose()

        return asyncio.run(run())

    # -- the rules ------------------------------------------------------------------------------

    def test_the_request_carries_the_prompt_and_the_video_byte_exact_typed_by_its_bytes(self, tmp_path: Path) -> None:
        path = tmp_path / "holiday.avi"  # the name lies: the bytes are MP4
        path.write_bytes(SAMPLE_VIDEO)
        answer = self.adapter.answer(text="A dog runs.", prompt_tokens=700, completion_tokens=5, cost=Decimal("0.0021"))
        backend, provider = self._backend(lambda _request: answer)
        result = self._describe(provider, DescribeRequest(video=load_video(path), prompt="What happens?"))
        assert len(backend.describes) == 1, "one describe call is one request"
        sent = backend.describes[0]
        url = self.adapter.sent_video(sent)
        assert url.startswith("data:video/mp4;base64,"), f"the MIME type comes from the bytes, got {url[:40]!r}"
        assert base64.b64decode(url.split(",", 1)[1]) == SAMPLE_VIDEO, "the video must arrive byte-exact"
        assert self.adapter.sent_prompt(sent) == "What happens?"
        assert self.api_key not in str(sent.url), "the key never goes in a URL"
        assert result.text == "A dog runs."
        assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (700, 5)
        assert result.cost == Decimal("0.0021")

    def test_an_https_video_is_sent_as_its_url(self) -> None:
        answer = self.adapter.answer(text="ok", prompt_tokens=1, completion_tokens=1, cost=Decimal("0"))
        backend, provider = self._backend(lambda _request: answer)
        video = load_video("https://videos.example.com/clip.mp4")
        self._describe(provider, DescribeRequest(video=video, prompt="Describe it"))
        assert self.adapter.sent_video(backend.describes[0]) == "https://videos.example.com/clip.mp4"

    @pytest.mark.parametrize("status", sorted(DESCRIBE_ERRORS))
    def test_every_status_maps_to_its_core_error_with_exactly_one_request(self, status: int) -> None:
        backend, provider = self._backend(lambda _request: self.adapter.error(status, f"emulated {status}"))
        request = DescribeRequest(video=load_video(SAMPLE_VIDEO), prompt="Describe it")
        with pytest.raises(MediaRouterError) as caught:
            self._describe(provider, request)
        expected = DESCRIBE_ERRORS[status]
        assert isinstance(caught.value, expected), f"HTTP {status} must be {expected.__name__}, got {caught.value!r}"
        assert caught.value.status_code == status
        assert len(backend.describes) == 1, "a provider never retries a describe request itself"

    def test_a_connect_failure_is_provider_unavailable_and_says_nothing_was_sent(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        _, provider = self._backend(refuse)
        with pytest.raises(ProviderUnavailable) as caught:
            self._describe(provider, DescribeRequest(video=load_video(SAMPLE_VIDEO), prompt="Describe it"))
        assert caught.value.sent is False

    def test_a_lost_answer_is_provider_unavailable_after_one_request(self) -> None:
        def lose(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("no answer", request=request)

        backend, provider = self._backend(lose)
        with pytest.raises(ProviderUnavailable):
            self._describe(provider, DescribeRequest(video=load_video(SAMPLE_VIDEO), prompt="Describe it"))
        assert len(backend.describes) == 1

    def test_the_model_is_listed_as_taking_video(self) -> None:
        _, provider = self._backend(lambda _request: self.adapter.error(500, "unused"))
        assert isinstance(provider, Describer)

        async def run() -> list[str]:
            try:
                return [m.id for m in await provider.describe_models()]
            finally:
                await provider.aclose()

        assert self.model_id in asyncio.run(run())

    def test_a_video_over_the_models_limit_is_refused_before_any_upload(self) -> None:
        answer = self.adapter.answer(text="ok", prompt_tokens=1, completion_tokens=1, cost=Decimal("0"))
        backend, provider = self._backend(lambda _request: answer)
        assert isinstance(provider, Describer)

        async def run() -> None:
            models = {m.id: m for m in await provider.describe_models()}
            limit = models[self.model_id].size_limit
            video = SAMPLE_VIDEO + bytes(limit + 1 - len(SAMPLE_VIDEO))
            try:
                async with Router(providers={provider.name: provider}, journal="off", clock=FakeClock()) as router:
                    ref = f"{provider.name}/{self.model_id}"
                    await describe(router, video, "Describe it", model=ref, use_cache=False)
            finally:
                await provider.aclose()

        with pytest.raises(PayloadTooLarge):
            asyncio.run(run())
        assert backend.describes == [], "the size guard runs before any upload"
