"""Pydantic models of the Gemini API's video wire shapes, and the parsers that use them.

A Veo job is a google.longrunning `Operation`: `{name, done, metadata, error | response}`.
The models accept unknown fields and keep enums as plain strings, because Google adds
fields without notice. Anything that cannot be read (not JSON, not an object, a required
field missing or of the wrong type) becomes `ProtocolError`, so a caller never sees a
KeyError, TypeError or pydantic ValidationError from a bad answer.

See docs/providers/gemini.md for the wire reference these models follow.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mediarouter.http.wire import parse_json_object as _parse_json_object
from mediarouter.http.wire import parse_model, snippet

__all__ = [
    "WireModel",
    "RpcStatus",
    "Video",
    "GeneratedSample",
    "GenerateVideoResponse",
    "OperationResponse",
    "Operation",
    "ErrorEnvelope",
    "is_operation_name",
    "snippet",
    "parse_json_object",
    "parse_operation",
    "parse_error_body",
]

#: An operation name is appended to the base URL for polling, with the API key attached.
#: Only plain resource paths (`models/<model>/operations/<id>`, `operations/<id>`) are
#: accepted, so a hostile or broken answer cannot point the keyed poll at another path.
_OPERATION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~\-]*(/[A-Za-z0-9][A-Za-z0-9._~\-]*)*$")


def is_operation_name(value: str) -> bool:
    """A plain resource path (`models/<model>/operations/<id>`): no scheme, no `..`, no query, no empty segment."""
    return bool(_OPERATION_NAME.match(value)) and not any(part in {".", ".."} for part in value.split("/"))


class WireModel(BaseModel):
    """Base of every wire shape: extra fields are kept, never an error."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class RpcStatus(WireModel):
    """google.rpc.Status: `{code, message, details}`; the HTTP error envelope adds `status` (the code's name)."""

    code: int | None = Field(default=None, description="google.rpc.Code number (in an operation) or HTTP status")
    message: str | None = None
    status: str | None = Field(default=None, description="google.rpc.Code name, e.g. RESOURCE_EXHAUSTED")
    details: list[dict[str, Any]] | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code_number(cls, value: Any) -> Any:
        """A numeric string is read as a number; any other non-integer is dropped rather than failing the poll."""
        if isinstance(value, bool):
            return None
        if isinstance(value, str):
            return int(value) if value.strip().lstrip("-").isdigit() else None
        if isinstance(value, float):
            return int(value) if value.is_integer() else None
        return value

    @field_validator("details", mode="before")
    @classmethod
    def _details_list(cls, value: Any) -> Any:
        """Keep only the object entries of `details`; anything else there says nothing we use."""
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
        if isinstance(value, dict):
            return [value]
        return None


class Video(WireModel):
    """A generated video: a `uri` to download (with the key), or its bytes inline as base64.

    The inline bytes have three spellings (docs/providers/gemini.md, "Inline videos"): `encodedVideo` +
    `encoding` (what Google's SDK reads on the Gemini API), `video` (the proto field, `oneof content
    {video, uri}`), and Vertex's `bytesBase64Encoded` + `mimeType`. A paid video in any of them is an output.
    """

    uri: str | None = None
    encoded_video: str | None = Field(default=None, alias="encodedVideo", repr=False, description="base64 bytes")
    proto_video: str | None = Field(default=None, alias="video", repr=False, description="base64 bytes (proto)")
    bytes_base64: str | None = Field(default=None, alias="bytesBase64Encoded", repr=False, description="Vertex")
    encoding: str | None = Field(default=None, description="MIME type of encodedVideo")
    mime_type: str | None = Field(default=None, alias="mimeType")

    @property
    def inline_base64(self) -> str | None:
        """The base64 text of an inline video, whichever field carries it."""
        for value in (self.encoded_video, self.proto_video, self.bytes_base64):
            if isinstance(value, str) and value.strip():
                return value
        return None

    @property
    def deliverable(self) -> bool:
        """A video the caller paid for is here: a URI to fetch, or the bytes themselves."""
        return bool(self.uri) or self.inline_base64 is not None


class GeneratedSample(WireModel):
    video: Video | None = None


class GenerateVideoResponse(WireModel):
    """`response.generateVideoResponse`: the samples, and what the safety filters removed."""

    generated_samples: list[GeneratedSample] = Field(default_factory=list, alias="generatedSamples")
    rai_media_filtered_count: int | None = Field(default=None, alias="raiMediaFilteredCount")
    rai_media_filtered_reasons: list[str] = Field(default_factory=list, alias="raiMediaFilteredReasons")

    @field_validator("generated_samples", mode="before")
    @classmethod
    def _samples(cls, value: Any) -> Any:
        """null means none; an entry that is not an object is kept as an empty (unreadable) sample rather than
        losing the rest, so `unreadable_samples` still counts it."""
        if value is None:
            return []
        if isinstance(value, list):
            return [item if isinstance(item, dict) else {} for item in value]
        return value

    @field_validator("rai_media_filtered_reasons", mode="before")
    @classmethod
    def _reasons(cls, value: Any) -> Any:
        """A single string is one reason; non-string entries are kept as text."""
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [item if isinstance(item, str) else json.dumps(item, default=str) for item in value]
        return value

    def videos(self) -> list[Video]:
        """Every sample that holds a video (a URI or inline bytes), in order: the job's outputs."""
        return [s.video for s in self.generated_samples if s.video is not None and s.video.deliverable]

    @property
    def unreadable_samples(self) -> int:
        """Samples that hold no video this plugin can read (no `video`, no URI, no inline bytes)."""
        return sum(1 for s in self.generated_samples if s.video is None or not s.video.deliverable)

    @property
    def filtered(self) -> bool:
        """The safety filters say they removed something (a count above 0, or a reason)."""
        return bool(self.rai_media_filtered_reasons) or bool(self.rai_media_filtered_count)


class OperationResponse(WireModel):
    """`response`: `{"@type": …PredictLongRunningResponse, "generateVideoResponse": {…}}`."""

    type: str | None = Field(default=None, alias="@type")
    generate_video_response: GenerateVideoResponse | None = Field(default=None, alias="generateVideoResponse")

    @model_validator(mode="before")
    @classmethod
    def _unwrapped(cls, value: Any) -> Any:
        """Tolerate samples sent without the `generateVideoResponse` wrapper (the Vertex-like shape)."""
        if (
            isinstance(value, dict)
            and "generateVideoResponse" not in value
            and ("generatedSamples" in value or "raiMediaFilteredReasons" in value)
        ):
            return {**value, "generateVideoResponse": value}
        return value


class Operation(WireModel):
    """The job: returned by submit and by every poll."""

    name: str = Field(min_length=1, description="e.g. models/veo-3.1-generate-preview/operations/abc123")
    done: bool = Field(default=False, description="absent while running")
    metadata: dict[str, Any] | None = None
    error: RpcStatus | None = None
    response: OperationResponse | None = None

    @field_validator("name")
    @classmethod
    def _resource_path(cls, value: str) -> str:
        if not is_operation_name(value):
            raise ValueError(f"not a resource path: {value[:80]!r}")
        return value

    @field_validator("done", mode="before")
    @classmethod
    def _done(cls, value: Any) -> Any:
        return False if value is None else value

    @property
    def video_response(self) -> GenerateVideoResponse | None:
        return self.response.generate_video_response if self.response is not None else None

    def videos(self) -> list[Video]:
        """The videos of a finished operation (by URI or inline); empty on error or when everything was filtered."""
        response = self.video_response
        return response.videos() if response is not None else []


class ErrorEnvelope(WireModel):
    """The HTTP error body: `{"error": {"code": 429, "message": …, "status": "RESOURCE_EXHAUSTED", "details": […]}}`."""

    error: RpcStatus | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"message": value}
        return value


def parse_json_object(body: bytes, *, what: str, **context: Any) -> dict[str, Any]:
    """Decode a JSON object or raise ProtocolError saying what was expected and what came instead."""
    return _parse_json_object(body, label="Gemini", what=what, **context)


def parse_operation(body: bytes, **context: Any) -> Operation:
    """Parse an operation (the submit answer or a poll answer)."""
    return parse_model(Operation, body, label="Gemini", what="operation", **context)


def parse_error_body(body: bytes) -> ErrorEnvelope | None:
    """The error envelope, or None when the body is not one (HTML from a proxy, plain text, …).

    A one-element JSON list around the envelope is accepted too (the SDK tolerates that shape).
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict) or "error" not in data:
        return None
    try:
        return ErrorEnvelope.model_validate(data)
    except ValidationError:
        return None
