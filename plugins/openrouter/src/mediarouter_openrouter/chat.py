"""OpenRouter chat completions with a video: the describe request body, its answer, and the model listing.

`POST {base}/chat/completions` with one user message whose content is the text part and the
documented video part, `{"type": "video_url", "video_url": {"url": …, "processing"?}}` (not
`image_url`, as some old examples have it). A local video goes inline as a `data:` URL; an
https:// URL is sent as given (OpenRouter forwards URLs only to providers that take them).
Which models take video comes from `GET {base}/models` (`architecture.input_modalities`).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from pydantic import Field, ValidationError, field_validator

from mediarouter import ProtocolError
from mediarouter.http import ProviderClient
from mediarouter.redact import redact_text
from mediarouter.understanding import DescribeModel, DescribeRequest, DescribeResult, TokenUsage, valid_unicode

from .chat_catalog import chat_catalog_models
from .models import PROVIDER_NAME
from .wire import WireModel, parse_json_object

__all__ = [
    "ChatCompletion",
    "ListedModel",
    "build_chat_body",
    "catalog_describe_models",
    "describe",
    "describe_model",
    "fetch_describe_models",
    "parse_chat_completion",
    "parse_chat_models",
]

log = logging.getLogger("mediarouter.openrouter")

#: Bigger than a job object: a long transcript fits.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
_SERVER_CHARS = 2000
#: The video types OpenRouter documents for chat input (as the core's sniffer names them); others are
#: refused before upload, and `shrink` converts them to MP4.
VIDEO_MIME_TYPES: tuple[str, ...] = ("video/mp4", "video/mpeg", "video/quicktime", "video/webm")
#: Where OpenRouter's documented name differs from the sniffer's.
_WIRE_MIME_TYPES = {"video/quicktime": "video/mov"}


def build_chat_body(model_id: str, request: DescribeRequest) -> dict[str, Any]:
    """The request body: the prompt as a text part, then the video part."""
    video = request.video
    if video.url is not None:
        holder: dict[str, Any] = {"url": video.url}
    else:
        holder = {"url": video.data_url(_WIRE_MIME_TYPES.get(video.mime_type or "", video.mime_type))}
    if request.processing is not None:
        holder["processing"] = request.processing
    body: dict[str, Any] = {
        "model": model_id,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": request.prompt}, {"type": "video_url", "video_url": holder}],
            }
        ],
        "max_tokens": request.max_tokens,
        "stream": False,
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    return body


# -- the answer --------------------------------------------------------------------------------


class ChatUsage(WireModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost: Decimal | None = Field(default=None, description="USD (credits)")


class ChatMessage(WireModel):
    role: str | None = None
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The answer's text, always valid Unicode (it is printed, cached and logged as UTF-8)."""
        if isinstance(self.content, str):
            return valid_unicode(self.content)
        parts = [p.get("text") for p in self.content or [] if isinstance(p, dict) and p.get("type") == "text"]
        return valid_unicode("".join(p for p in parts if isinstance(p, str)))


class ChatChoice(WireModel):
    message: ChatMessage | None = None
    finish_reason: str | None = None
    error: dict[str, Any] | None = None


class ChatCompletion(WireModel):
    id: str | None = None
    model: str | None = None
    provider: str | None = None
    choices: list[ChatChoice] = Field(default_factory=list)
    usage: ChatUsage | None = None


def parse_chat_completion(body: bytes, **context: Any) -> ChatCompletion:
    data = parse_json_object(body, what="a chat completion", **context)
    try:
        completion = ChatCompletion.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ProtocolError(
            f"OpenRouter sent a malformed chat completion ({where}: {first['msg']})", **context
        ) from None
    if not completion.choices or completion.choices[0].message is None:
        raise ProtocolError("OpenRouter sent a chat completion without a message", **context)
    error = completion.choices[0].error
    if error:
        # A provider failure mid-answer arrives as a 200 whose choice carries the error; its words may
        # echo the video's (signed) URL, so they are redacted like any server message.
        said = redact_text(str(error.get("message") or error))[:_SERVER_CHARS]
        raise ProtocolError(
            f"OpenRouter's upstream provider failed while answering: {said}",
            server_message=said if error.get("message") else None,
            **context,
        )
    return completion


async def describe(http: ProviderClient, model_id: str, request: DescribeRequest) -> DescribeResult:
    """One `POST /chat/completions`, never retried here (the core decides), as a DescribeResult."""
    url = http.endpoint("chat", "completions")
    body = build_chat_body(model_id, request)
    answer = await http.request_json("POST", url, phase="chat", model=model_id, body=body, limit=MAX_ANSWER_BYTES)
    context: dict[str, Any] = {"provider": PROVIDER_NAME, "model": model_id, "status_code": answer.status_code}
    completion = parse_chat_completion(answer.body, **context)
    choice = completion.choices[0]
    assert choice.message is not None
    usage = completion.usage or ChatUsage()
    log.info("openrouter described a video with %s (%s tokens)", model_id, usage.total_tokens)
    return DescribeResult(
        text=choice.message.text(),
        provider=PROVIDER_NAME,
        model=model_id,
        usage=TokenUsage(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        ),
        cost=usage.cost,
        generation_id=completion.id,
        finish_reason=choice.finish_reason,
    )


# -- which models take video ---------------------------------------------------------------------


class Architecture(WireModel):
    input_modalities: list[str] = Field(default_factory=list)
    output_modalities: list[str] = Field(default_factory=list)


class ListedModel(WireModel):
    """One entry of `GET /models` (only what the describe path reads)."""

    id: str = Field(min_length=1)
    name: str | None = None
    context_length: int | None = None
    architecture: Architecture = Field(default_factory=Architecture)
    pricing: dict[str, str] = Field(default_factory=dict)

    @field_validator("pricing", mode="before")
    @classmethod
    def _prices_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items() if v is not None}
        return value


def _price(text: str | None) -> Decimal | None:
    try:
        price = Decimal(text.strip()) if text is not None else None
    except ArithmeticError:
        return None
    return price if price is not None and price.is_finite() and price >= 0 else None


def describe_model(model: ListedModel, *, source: str) -> DescribeModel:
    return DescribeModel(
        provider=PROVIDER_NAME,
        id=model.id,
        name=model.name,
        video_mime_types=VIDEO_MIME_TYPES,
        accepts_video_urls=None,
        price_per_input_token=_price(model.pricing.get("prompt")),
        price_per_output_token=_price(model.pricing.get("completion")),
        price_per_request=_price(model.pricing.get("request")),
        context_length=model.context_length,
        source=source,
    )


def parse_chat_models(body: bytes, *, source: str = "live", **context: Any) -> list[DescribeModel]:
    """The models of a `GET /models` answer whose input modalities include video."""
    data = parse_json_object(body, what="a model listing", **context)
    entries = data.get("data")
    if not isinstance(entries, list):
        raise ProtocolError("OpenRouter sent a model listing without a `data` list", **context)
    models = []
    for entry in entries:
        try:
            listed = ListedModel.model_validate(entry)
        except ValidationError:
            log.warning("skipping a malformed entry in OpenRouter's model listing")
            continue
        if "video" in listed.architecture.input_modalities:
            models.append(describe_model(listed, source=source))
    return models


async def fetch_describe_models(http: ProviderClient) -> list[DescribeModel]:
    answer = await http.request_json("GET", http.endpoint("models"), phase="models", limit=MAX_ANSWER_BYTES)
    return parse_chat_models(answer.body, provider=PROVIDER_NAME, status_code=answer.status_code)


def catalog_describe_models() -> list[DescribeModel]:
    return [describe_model(ListedModel.model_validate(entry), source="catalog") for entry in chat_catalog_models()]
