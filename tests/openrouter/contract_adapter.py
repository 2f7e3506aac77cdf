"""OpenRouter's wire format for the contract kit: the kit decides what happens, this says how it looks.

It knows the four routes under the base URL (reference §2), the job object (§4), the content
endpoint (§5), the model listing (§6) and the error envelope (§8) — and nothing about
behaviour. A third-party plugin writes the same class for its own API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import httpx
from mediarouter_contracts import HttpError, Phase, ResponseContext, WireAdapter, json_response

from mediarouter import Capabilities


class OpenRouterWireAdapter(WireAdapter):
    """`POST /videos`, `GET /videos/{id}`, `GET /videos/{id}/content?index=N`, `GET /videos/models`."""

    def __init__(self, base_url: str) -> None:
        self.base_path = httpx.URL(base_url).path.rstrip("/")

    def phase_of(self, request: httpx.Request) -> Phase | None:
        # The kit only asks about requests to the provider's origin; the path under the base says the rest.
        path = request.url.path
        if not path.startswith(self.base_path + "/"):
            return None
        segments = [unquote(p) for p in path[len(self.base_path) + 1 :].split("/")]
        if segments == ["videos"]:
            return "submit" if request.method == "POST" else None
        if request.method != "GET" or len(segments) not in (2, 3) or segments[0] != "videos":
            return None
        if segments == ["videos", "models"]:
            return "models"
        if len(segments) == 3:
            return "download" if segments[2] == "content" else None
        return "poll"

    def output_index(self, request: httpx.Request) -> int:
        try:
            return int(request.url.params.get("index", "0"))
        except ValueError:
            return -1

    # -- answers ----------------------------------------------------------------------------

    @staticmethod
    def _job_url(ctx: ResponseContext, *suffix: str) -> str:
        return "/".join([ctx.base_url, "videos", quote(ctx.job_id, safe=""), *suffix])

    def _job(self, ctx: ResponseContext) -> dict[str, Any]:
        return {"id": ctx.job_id, "polling_url": self._job_url(ctx), "status": ctx.status}

    def submit_response(self, ctx: ResponseContext) -> httpx.Response:
        return json_response(202, self._job(ctx))

    def poll_response(self, ctx: ResponseContext) -> httpx.Response:
        body = self._job(ctx)
        if ctx.status in ("failed", "cancelled", "expired") and ctx.error_message is not None:
            body["error"] = ctx.error_message
        if ctx.status == "completed":
            own = [self._job_url(ctx, f"content?index={link.index}") for link in ctx.links]
            # A credential-needing URL elsewhere goes where OpenRouter puts such URLs: unsigned_urls.
            body["unsigned_urls"] = [
                link.url if link.url and not link.signed else own[i] for i, link in enumerate(ctx.links)
            ]
            signed = [link for link in ctx.links if link.signed and link.url]
            if signed:
                body["urls"] = [link.url for link in signed]
                body["expires_at"] = int(min(link.expires_at or ctx.now for link in signed))
            body["generation_id"] = f"gen-{ctx.job_id}"
            body["usage"] = {"cost": ctx.cost, "is_byok": False}
        return json_response(200, body)

    def download_response(self, ctx: ResponseContext) -> httpx.Response:
        return httpx.Response(200, content=ctx.body, headers={"content-type": "video/mp4"})

    def models_response(self, ctx: ResponseContext) -> httpx.Response:
        return json_response(200, {"data": [_video_model(ctx.model_id, ctx.capabilities), _OTHER_MODEL]})

    def error_response(self, ctx: ResponseContext, error: HttpError) -> httpx.Response:
        headers = {"retry-after": str(error.retry_after)} if error.retry_after is not None else None
        body = {
            "error": {"code": error.status, "message": error.message, "metadata": None},
            "openrouter_metadata": None,
            "user_id": None,
        }
        return json_response(error.status, body, headers=headers)


def _listed(values: tuple[Any, ...] | None) -> list[Any] | None:
    return None if values is None else list(values)


def _video_model(model_id: str, caps: Capabilities) -> dict[str, Any]:
    """A `VideoModel` entry (reference §6) advertising `caps`; null lists mean "not advertised"."""
    pricing = None
    if caps.price_per_second is not None:
        pricing = {"video_duration_seconds": str(caps.price_per_second)}
    return {
        "id": model_id,
        "canonical_slug": model_id,
        "name": model_id,
        "created": 1_767_225_600,
        "allowed_passthrough_parameters": list(caps.passthrough_parameters or ()),
        "supported_durations": _listed(caps.durations),
        "supported_resolutions": _listed(caps.resolutions),
        "supported_aspect_ratios": _listed(caps.aspect_ratios),
        "supported_sizes": _listed(caps.sizes),
        "supported_frame_images": _listed(caps.frame_images),
        "generate_audio": caps.audio,
        "seed": caps.seed,
        "creativity": None,
        "upscale_factor": None,
        "pricing_skus": pricing,
    }


_OTHER_MODEL = _video_model("other/some-video-model", Capabilities(durations=(5,), resolutions=("480p",)))
