"""Pydantic models of fal's queue wire shapes, and the parsers that use them.

The models keep unknown fields and treat enums (`status`, `error_type`) as plain strings,
because fal adds fields and values without notice (its own docs warn that not every
endpoint follows the documented error shape yet). Anything that cannot be read (not JSON,
not an object, a required field missing or of the wrong type) becomes `ProtocolError`, so a
caller never sees a KeyError, TypeError or pydantic ValidationError from a bad answer.
See docs/providers/fal.md for where each shape comes from.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from mediarouter.http.wire import SNIPPET_CHARS, WireModel, parse_model, snippet
from mediarouter.http.wire import parse_json_object as _parse_json_object

__all__ = [
    "SNIPPET_CHARS",
    "IN_QUEUE",
    "IN_PROGRESS",
    "COMPLETED",
    "WireModel",
    "SubmitAnswer",
    "LogEntry",
    "QueueStatus",
    "VideoFile",
    "VideoResult",
    "CancelAnswer",
    "ValidationDetail",
    "ErrorBody",
    "WebhookPayload",
    "snippet",
    "parse_json_object",
    "parse_submit",
    "parse_status",
    "parse_result",
    "parse_cancel",
    "parse_webhook",
    "parse_error_body",
]

IN_QUEUE = "IN_QUEUE"
IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"

_Model = TypeVar("_Model", bound=BaseModel)


def _text(value: Any) -> Any:
    """An error given as an object or list is kept as readable text rather than failing the parse."""
    if isinstance(value, dict):
        for key in ("message", "msg", "detail"):
            if isinstance(value.get(key), str):
                return value[key]
        return json.dumps(value, default=str)[:1000]
    if isinstance(value, list):
        return json.dumps(value, default=str)[:1000]
    return value


class SubmitAnswer(WireModel):
    """The answer to `POST {base}/{model id}`."""

    request_id: str = Field(min_length=1)
    status: str | None = Field(default=None, description="IN_QUEUE on a fresh submit")
    status_url: str | None = None
    response_url: str | None = None
    cancel_url: str | None = None
    queue_position: int | None = Field(default=None, ge=0)
    gateway_request_id: str | None = None


class LogEntry(WireModel):
    message: str | None = None
    level: str | None = None
    source: str | None = None
    timestamp: str | None = None


class QueueStatus(WireModel):
    """The answer to `GET …/requests/{id}/status`: IN_QUEUE, IN_PROGRESS or COMPLETED (open enum).

    A failed request is COMPLETED too; it carries `error` (text) and `error_type`.
    """

    status: str = Field(min_length=1)
    queue_position: int | None = Field(default=None, ge=0, description="requests ahead of this one")
    logs: list[LogEntry] | None = None
    metrics: dict[str, Any] | None = Field(default=None, description="e.g. inference_time (seconds)")
    response_url: str | None = None
    status_url: str | None = None
    cancel_url: str | None = None
    error: str | None = None
    error_type: str | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: Any) -> Any:
        return _text(value)

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED

    @property
    def failed(self) -> bool:
        """COMPLETED with an error: the result endpoint answers with that error, not a video."""
        return self.completed and bool(self.error or self.error_type)


class VideoFile(WireModel):
    """fal's `File` object as video models return it; only `url` is required."""

    url: str = Field(min_length=1)
    content_type: str | None = None
    file_name: str | None = None
    file_size: int | None = Field(default=None, ge=0)
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    duration: float | None = None
    num_frames: int | None = None


class VideoResult(WireModel):
    """The answer to `GET …/requests/{id}` for a video model: `{"video": File, "seed"?: int, …}`.

    A `videos` list (the way fal apps return several files, like `images`) is read too, one output
    each; no catalog model is known to send one (docs/providers/fal.md). One of the two must be there.
    """

    video: VideoFile | None = None
    videos: list[VideoFile] | None = None
    seed: int | None = None

    @model_validator(mode="after")
    def _has_a_file(self) -> VideoResult:
        if self.video is None and not self.videos:
            raise ValueError("a video result needs `video` (or a non-empty `videos` list)")
        return self

    @property
    def files(self) -> list[VideoFile]:
        """Every output file, in order: `videos` when given, else the one `video`."""
        if self.videos:
            return list(self.videos)
        return [self.video] if self.video is not None else []


class CancelAnswer(WireModel):
    """The answer to `PUT …/requests/{id}/cancel`: CANCELLATION_REQUESTED, ALREADY_COMPLETED, … (open enum)."""

    status: str | None = None


class ValidationDetail(WireModel):
    """One entry of a 422 `detail` list: where (`loc`), what (`msg`) and which kind (`type`)."""

    loc: list[str | int] = Field(default_factory=list)
    msg: str | None = None
    type: str | None = None
    url: str | None = None
    ctx: dict[str, Any] | None = None
    input: Any = None

    @field_validator("loc", mode="before")
    @classmethod
    def _loc_list(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str | int):
            return [value]
        return value

    @property
    def field(self) -> str:
        """The input field it names, without the leading `body`, dotted for nested fields."""
        parts = [str(p) for p in self.loc]
        if parts and parts[0] == "body":
            parts = parts[1:]
        return ".".join(parts)


class ErrorBody(WireModel):
    """An error answer: model errors have a `detail` list, request errors a `detail` string and `error_type`."""

    detail: list[ValidationDetail] | str | None = None
    error_type: str | None = None

    @field_validator("detail", mode="before")
    @classmethod
    def _detail(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list) and not all(isinstance(item, dict) for item in value):
            return _text(value)
        return value

    @property
    def details(self) -> list[ValidationDetail]:
        return self.detail if isinstance(self.detail, list) else []

    @property
    def message(self) -> str | None:
        """One line a person can read: the string detail, or each entry as `field: msg`."""
        if isinstance(self.detail, str):
            return self.detail or None
        parts = [f"{d.field}: {d.msg}" if d.field else (d.msg or "") for d in self.details]
        text = "; ".join(p for p in parts if p)
        return text or None


class WebhookPayload(WireModel):
    """What fal POSTs to a `fal_webhook` URL: status OK or ERROR, the result (or error) as `payload`."""

    request_id: str = Field(min_length=1)
    gateway_request_id: str | None = None
    status: str | None = None
    payload: Any = None
    error: str | None = None
    payload_error: str | None = None

    @field_validator("error", "payload_error", mode="before")
    @classmethod
    def _error_text(cls, value: Any) -> Any:
        return _text(value)


def parse_json_object(body: bytes, *, what: str, **context: Any) -> dict[str, Any]:
    """Decode a JSON object or raise ProtocolError saying what was expected and what came instead."""
    return _parse_json_object(body, label="fal", what=what, **context)


def _parse(model: type[_Model], body: bytes, what: str, context: dict[str, Any]) -> _Model:
    return parse_model(model, body, label="fal", what=what, **context)


def parse_submit(body: bytes, **context: Any) -> SubmitAnswer:
    """Parse the submit answer; it must at least carry a `request_id`."""
    return _parse(SubmitAnswer, body, "submit answer", context)


def parse_status(body: bytes, **context: Any) -> QueueStatus:
    """Parse a status answer; it must at least carry a `status`."""
    return _parse(QueueStatus, body, "status answer", context)


def parse_result(body: bytes, **context: Any) -> VideoResult:
    """Parse a video model's result; a result without `video.url` is a protocol error, not an empty success."""
    return _parse(VideoResult, body, "result", context)


def parse_cancel(body: bytes, **context: Any) -> CancelAnswer:
    """Parse a cancel answer; an empty body reads as an answer without a status."""
    if not body.strip():
        return CancelAnswer()
    return _parse(CancelAnswer, body, "cancel answer", context)


def parse_webhook(body: bytes, **context: Any) -> WebhookPayload:
    """Parse a webhook delivery (its signature is checked elsewhere, on the raw bytes)."""
    return _parse(WebhookPayload, body, "webhook payload", context)


def parse_error_body(body: bytes) -> ErrorBody | None:
    """The error body, or None when the body is not one (HTML from a proxy, plain text, …)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return ErrorBody.model_validate(data)
    except ValidationError:
        return None
