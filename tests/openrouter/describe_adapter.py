"""OpenRouter's chat-completions wire format for the kit's describe contract."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
from mediarouter_contracts import DescribeWireAdapter
from mediarouter_openrouter.chat_catalog import chat_catalog_models


class OpenRouterDescribeAdapter(DescribeWireAdapter):
    def is_describe(self, request: httpx.Request) -> bool:
        return request.method == "POST" and request.url.path.endswith("/chat/completions")

    def is_listing(self, request: httpx.Request) -> bool:
        return request.method == "GET" and request.url.path.endswith("/models") and "/videos/" not in request.url.path

    def listing(self, model_id: str) -> httpx.Response:
        entry = chat_catalog_models()[0]
        entry["id"] = model_id
        return httpx.Response(200, json={"data": [entry]})

    def answer(self, *, text: str, prompt_tokens: int, completion_tokens: int, cost: Decimal) -> httpx.Response:
        body = {
            "id": "gen-contract-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "cost": str(cost),
            },
        }
        return httpx.Response(200, json=body)

    def error(self, status: int, message: str) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": status, "message": message, "metadata": None}})

    def _parts(self, request: httpx.Request) -> list[dict[str, Any]]:
        body = json.loads(request.content)
        parts: list[dict[str, Any]] = body["messages"][0]["content"]
        return parts

    def sent_video(self, request: httpx.Request) -> str:
        videos = [p for p in self._parts(request) if p["type"] == "video_url"]
        assert len(videos) == 1, "one video_url part (never image_url for a video)"
        url: str = videos[0]["video_url"]["url"]
        return url

    def sent_prompt(self, request: httpx.Request) -> str:
        return " ".join(p["text"] for p in self._parts(request) if p["type"] == "text")
