"""Built-in catalog of OpenRouter video models, in the wire shape of `GET /videos/models`.

Used when the live listing cannot be fetched, and served by the emulator. Values are the
documented ones as of 2026; the live listing always wins when it is reachable.
`pricing_skus` values are strings (USD), as on the wire.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["CATALOG", "catalog_models", "catalog_model"]

_CREATED = 1767225600  # 2026-01-01

CATALOG: tuple[dict[str, Any], ...] = (
    {
        "id": "google/veo-3.1",
        "canonical_slug": "google/veo-3.1",
        "name": "Google: Veo 3.1",
        "created": _CREATED,
        "description": "Google's Veo 3.1: 1080p text/image-to-video with native audio.",
        "hugging_face_id": None,
        "allowed_passthrough_parameters": ["negativePrompt", "personGeneration", "enhancePrompt"],
        "supported_durations": [4, 6, 8],
        "supported_resolutions": ["720p", "1080p"],
        "supported_aspect_ratios": ["16:9", "9:16"],
        "supported_sizes": ["1280x720", "720x1280", "1920x1080", "1080x1920"],
        "supported_frame_images": ["first_frame", "last_frame"],
        "generate_audio": True,
        "seed": True,
        "creativity": None,
        "upscale_factor": None,
        "pricing_skus": {"per_second": "0.40", "per_second_with_audio": "0.50"},
    },
    {
        "id": "openai/sora-2-pro",
        "canonical_slug": "openai/sora-2-pro",
        "name": "OpenAI: Sora 2 Pro",
        "created": _CREATED,
        "description": "OpenAI's Sora 2 Pro: physically accurate multi-shot video with audio.",
        "hugging_face_id": None,
        "allowed_passthrough_parameters": [],
        "supported_durations": [4, 8, 12],
        "supported_resolutions": ["720p", "1080p"],
        "supported_aspect_ratios": ["16:9", "9:16"],
        "supported_sizes": ["1280x720", "720x1280", "1792x1024", "1024x1792"],
        "supported_frame_images": ["first_frame"],
        "generate_audio": True,
        "seed": False,
        "creativity": None,
        "upscale_factor": None,
        "pricing_skus": {"per_second": "0.30"},
    },
    {
        "id": "alibaba/wan-2.6",
        "canonical_slug": "alibaba/wan-2.6",
        "name": "Alibaba: Wan 2.6",
        "created": _CREATED,
        "description": "Alibaba's Wan 2.6: text/image/reference-to-video up to 1080p, lip-sync.",
        "hugging_face_id": None,
        "allowed_passthrough_parameters": ["negative_prompt", "prompt_extend", "watermark"],
        "supported_durations": [5, 10, 15],
        "supported_resolutions": ["480p", "720p", "1080p"],
        "supported_aspect_ratios": ["16:9", "9:16", "1:1", "4:3", "3:4"],
        "supported_sizes": None,
        "supported_frame_images": ["first_frame"],
        "generate_audio": True,
        "seed": True,
        "creativity": None,
        "upscale_factor": None,
        "pricing_skus": {"per_second": "0.04"},
    },
    {
        "id": "alibaba/wan-2.7",
        "canonical_slug": "alibaba/wan-2.7",
        "name": "Alibaba: Wan 2.7",
        "created": _CREATED,
        "description": "Alibaba's Wan 2.7: first and last frame control, reference-to-video.",
        "hugging_face_id": None,
        "allowed_passthrough_parameters": ["negative_prompt", "prompt_extend", "watermark"],
        "supported_durations": [5, 10, 15],
        "supported_resolutions": ["720p", "1080p"],
        "supported_aspect_ratios": ["16:9", "9:16", "1:1", "4:3", "3:4"],
        "supported_sizes": None,
        "supported_frame_images": ["first_frame", "last_frame"],
        "generate_audio": True,
        "seed": True,
        "creativity": None,
        "upscale_factor": None,
        "pricing_skus": {"per_second": "0.04"},
    },
    {
        "id": "bytedance/seedance-2.0",
        "canonical_slug": "bytedance/seedance-2.0",
        "name": "ByteDance: Seedance 2.0",
        "created": _CREATED,
        "description": "ByteDance's Seedance 2.0: text/image/reference-to-video with audio and video references.",
        "hugging_face_id": None,
        "allowed_passthrough_parameters": ["camera_fixed", "watermark"],
        "supported_durations": [4, 5, 6, 8, 10, 12],
        "supported_resolutions": ["480p", "720p", "1080p"],
        "supported_aspect_ratios": ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"],
        "supported_sizes": None,
        "supported_frame_images": ["first_frame", "last_frame"],
        "generate_audio": True,
        "seed": True,
        "creativity": None,
        "upscale_factor": None,
        "pricing_skus": {"per_second": "0.12"},
    },
    {
        "id": "bytedance/seedance-1.5-pro",
        "canonical_slug": "bytedance/seedance-1.5-pro",
        "name": "ByteDance: Seedance 1.5 Pro",
        "created": _CREATED,
        "description": "ByteDance's Seedance 1.5 Pro: multi-language lip-sync and camera control.",
        "hugging_face_id": None,
        "allowed_passthrough_parameters": ["camera_fixed", "watermark"],
        "supported_durations": [5, 10],
        "supported_resolutions": ["480p", "720p", "1080p"],
        "supported_aspect_ratios": ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"],
        "supported_sizes": None,
        "supported_frame_images": ["first_frame", "last_frame"],
        "generate_audio": True,
        "seed": True,
        "creativity": None,
        "upscale_factor": None,
        "pricing_skus": {"per_second": "0.10"},
    },
)


def catalog_models() -> list[dict[str, Any]]:
    """A deep copy of the catalog, safe to mutate."""
    return copy.deepcopy(list(CATALOG))


def catalog_model(model_id: str) -> dict[str, Any] | None:
    for model in CATALOG:
        if model["id"] == model_id:
            return copy.deepcopy(model)
    return None
