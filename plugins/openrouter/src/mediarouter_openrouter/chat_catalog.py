"""Built-in catalog of OpenRouter chat models that take video input, in the wire shape of `GET /models`.

Used when the live listing cannot be fetched, and served by the emulator. Prices are the
published per-token rates (USD, as strings, as on the wire) as of 2026; the live listing wins
whenever it is reachable. OpenRouter documents no video size limit for chat completions, so
none is listed here: the core's default (Gemini's inline-data size) applies.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["CHAT_CATALOG", "chat_catalog_models"]

_CREATED = 1767225600  # 2026-01-01
_MODALITIES = ["text", "image", "file", "audio", "video"]


def _entry(model_id: str, name: str, prompt: str, completion: str, context: int) -> dict[str, Any]:
    return {
        "id": model_id,
        "canonical_slug": model_id,
        "name": name,
        "created": _CREATED,
        "context_length": context,
        "architecture": {
            "modality": "text+image+file+audio+video->text",
            "input_modalities": list(_MODALITIES),
            "output_modalities": ["text"],
            "tokenizer": "Gemini",
            "instruct_type": None,
        },
        "pricing": {"prompt": prompt, "completion": completion, "request": "0", "image": "0"},
        "top_provider": {"context_length": context, "max_completion_tokens": 65535, "is_moderated": False},
    }


CHAT_CATALOG: tuple[dict[str, Any], ...] = (
    _entry("google/gemini-2.5-flash", "Google: Gemini 2.5 Flash", "0.0000003", "0.0000025", 1048576),
    _entry("google/gemini-2.5-flash-lite", "Google: Gemini 2.5 Flash Lite", "0.0000001", "0.0000004", 1048576),
    _entry("google/gemini-2.5-pro", "Google: Gemini 2.5 Pro", "0.00000125", "0.00001", 1048576),
    _entry("google/gemini-2.0-flash-001", "Google: Gemini 2.0 Flash", "0.0000001", "0.0000004", 1048576),
)


def chat_catalog_models() -> list[dict[str, Any]]:
    """A deep copy of the catalog, safe to mutate."""
    return copy.deepcopy(list(CHAT_CATALOG))
