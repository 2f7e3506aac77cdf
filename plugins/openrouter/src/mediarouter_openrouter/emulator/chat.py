"""The emulator's chat completions: a deterministic description of the video actually sent.

`POST /api/v1/chat/completions` reads the `video_url` part (a data: URL; an https:// URL is
never fetched), probes the real bytes with PyAV and answers what it found: container,
duration, resolution, frame count, frame rate and audio. So tests can assert on content, a
client that sends the wrong bytes gets the wrong description, and one that sends the video as
`image_url` (as old examples do) gets the 400 a model without image-of-video support would.
Usage tokens and a cost follow from the duration and the listed per-token prices.
`GET /api/v1/models` lists the video chat catalog (the injections of the `models` phase apply).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mediarouter.emulation.asgi import read_json
from mediarouter.errors import MediaRouterError
from mediarouter.understanding import VideoProbe, probe_video

from ..chat_catalog import chat_catalog_models
from .state import ApiError, EmulatorState

__all__ = ["EMULATED_TOKENS_PER_SECOND", "chat_completions", "chat_models", "describe_probe", "list_chat_models"]

#: Input tokens billed per second of video (Gemini's documented rate, rounded).
EMULATED_TOKENS_PER_SECOND = 263
_DATA_URL = re.compile(r"^data:(video/[\w.+-]+);base64,", re.IGNORECASE)


def chat_models(state: EmulatorState) -> dict[str, dict[str, Any]]:
    models = state.config.chat_models if state.config.chat_models is not None else tuple(chat_catalog_models())
    return {m["id"]: m for m in models}


_FORMATS = {"quicktime": "MOV", "x-msvideo": "AVI", "x-matroska": "MKV"}


def describe_probe(probe: VideoProbe, prompt: str, mime_type: str = "video/mp4") -> str:
    """The emulated answer: facts PyAV read from the bytes, in a fixed sentence."""
    subtype = mime_type.split("/", 1)[-1].lower()
    name = _FORMATS.get(subtype, subtype.upper())
    parts = [f"Emulated description (no model ran) of a {probe.duration or 0:.2f}-second {name} video"]
    parts.append(f"{mime_type}, container {probe.container}")
    if probe.resolution:
        parts.append(f"at {probe.resolution} pixels")
    facts = ", ".join(parts)
    frames = f"{probe.frames} frames" if probe.frames is not None else "an unknown number of frames"
    rate = f" at {probe.fps:g} fps" if probe.fps else ""
    codec = f", {probe.video_codec} video" if probe.video_codec else ""
    audio = "with an audio track" if probe.has_audio else "without audio"
    return f"{facts}: {frames}{rate}{codec}, {audio}. Prompt: {prompt}"


def _video_parts(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(prompt text, video parts) of the user messages; 400 for what the live API would refuse."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages is required and must be a non-empty array")
    texts: list[str] = []
    videos: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant", "tool"):
            raise ApiError(400, f"messages[{i}].role must be one of: system, user, assistant, tool")
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
            continue
        if not isinstance(content, list):
            raise ApiError(400, f"messages[{i}].content must be a string or an array of content parts")
        for j, part in enumerate(content):
            where = f"messages[{i}].content[{j}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif kind in ("video_url", "input_video"):
                holder = part.get("video_url")
                if not isinstance(holder, dict) or not isinstance(holder.get("url"), str) or not holder["url"]:
                    raise ApiError(400, f"{where}.video_url.url is required and must be a string")
                processing = holder.get("processing")
                if processing is not None and processing not in ("agentic", "static"):
                    raise ApiError(400, f"{where}.video_url.processing must be one of: agentic, static")
                videos.append(holder)
            elif kind == "image_url":
                holder = part.get("image_url")
                url = holder.get("url") if isinstance(holder, dict) else None
                if isinstance(url, str) and url.lower().startswith("data:video/"):
                    raise ApiError(400, f"{where}: a video must be sent as a video_url part, not image_url")
            else:
                raise ApiError(400, f"{where}.type must be one of: text, image_url, video_url, file, input_audio")
    return " ".join(t.strip() for t in texts if t.strip()), videos


def _decode(url: str) -> tuple[str, bytes]:
    match = _DATA_URL.match(url)
    if match is None:
        raise ApiError(400, "video_url.url must be an https:// URL or a data:video/<type>;base64 URL")
    try:
        return match.group(1).lower(), base64.b64decode(url[match.end() :], validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "video_url.url is not valid base64") from None


def _probe(data: bytes) -> VideoProbe:
    try:
        return probe_video(data)
    except MediaRouterError:
        raise ApiError(400, "The video could not be processed: it is not a readable video file") from None


def _price(model: dict[str, Any], key: str) -> Decimal:
    try:
        return Decimal(str((model.get("pricing") or {}).get(key) or "0"))
    except ArithmeticError:
        return Decimal(0)


async def chat_completions(request: Request, state: EmulatorState, trace: Any) -> Response:
    """`POST /chat/completions` (auth, then injections, then validation, as for submits)."""
    from .app import _require_auth

    _require_auth(request, state)
    body = await read_json(request, max_bytes=state.config.chat_max_body_bytes, error=ApiError)
    model_id = body.get("model") if isinstance(body, dict) else None
    trace.model = model_id if isinstance(model_id, str) else None
    injection = state.take_injection("chat", trace.model)
    if injection is not None and injection.status_code is not None:
        raise ApiError(injection.status_code)
    if not isinstance(body, dict) or not isinstance(model_id, str) or not model_id:
        raise ApiError(400, "model is required")
    model = chat_models(state).get(model_id)
    if model is None:
        raise ApiError(400, f"{model_id} is not a valid model ID")
    prompt, videos = _video_parts(body)
    if videos and "video" not in model.get("architecture", {}).get("input_modalities", []):
        raise ApiError(400, f"{model_id} does not support video input")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise ApiError(400, "max_tokens must be a positive integer")

    seconds = 0.0
    answers = []
    for holder in videos:
        url = holder["url"]
        if url.lower().startswith("https://"):
            host = urlsplit(url).hostname or "?"
            answers.append(
                f"Emulated description of a video at {host} (the emulator never fetches URLs). Prompt: {prompt}"
            )
            continue
        mime_type, data = _decode(url)
        probe = await run_in_threadpool(_probe, data)
        seconds += probe.duration or 0.0
        answers.append(describe_probe(probe, prompt, mime_type))
    text = "\n".join(answers) or f"Emulated answer (no video was sent). Prompt: {prompt}"
    completion_tokens = math.ceil(len(text) / 4)
    finish = "stop"
    if max_tokens is not None and completion_tokens > max_tokens:
        text, completion_tokens, finish = text[: max_tokens * 4], max_tokens, "length"
    prompt_tokens = math.ceil(seconds * EMULATED_TOKENS_PER_SECOND) + math.ceil(len(prompt) / 4)
    cost = _price(model, "prompt") * prompt_tokens + _price(model, "completion") * completion_tokens
    now = int(state.now())
    payload = {
        "id": f"gen-{now}-{secrets.token_hex(10)}",
        "object": "chat.completion",
        "created": now,
        "model": model_id,
        "provider": "Google AI Studio",
        "choices": [
            {
                "index": 0,
                "finish_reason": finish,
                "native_finish_reason": "STOP" if finish == "stop" else "MAX_TOKENS",
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cost": float(cost),
            "is_byok": False,
        },
    }
    return JSONResponse(payload)


async def list_chat_models(request: Request, state: EmulatorState, trace: Any) -> Response:
    """`GET /models`: the chat models (no auth, like the live listing)."""
    injection = state.take_injection("models", None)
    if injection is not None and injection.status_code is not None:
        raise ApiError(injection.status_code)
    return JSONResponse({"data": list(chat_models(state).values())})
