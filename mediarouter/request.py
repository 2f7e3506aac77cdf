"""The provider-neutral video request.

Input rules enforced here, so that bad input fails before anything is sent (and paid for):

- a prompt, when given, must contain something other than whitespace;
- every image/audio/video URL is an `https://` URL or a `data:<mime>;base64,…` URL; an existing
  local file (a `str` or `pathlib.Path`, `~` expanded) is read and sent as a `data:` URL, its MIME
  type sniffed from its bytes (`mediarouter.media_types`);
- the media must fit in the provider's request body: OpenRouter refuses bodies over 50 MiB with a
  413, and base64 makes a file a third larger, so an oversized file or `data:` URL is refused
  locally, naming the field, its size and the limit;
- `provider_options` is sent untouched, so its shape is checked: `{slug: {"parameters": {...}, ...}}`,
  each slug's options and their `parameters` objects (`check_provider_options`, applied by
  `VideoRequest.build` and again by `validate_request`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, Self
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import InvalidRequest, PayloadTooLarge
from .media_types import HEADER_BYTES, SUPPORTED, MediaKind, kind_of, sniff
from .redact import redact_url

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "AudioURLRef",
    "FrameImage",
    "ImageURLRef",
    "InputReference",
    "URLRef",
    "VideoRequest",
    "VideoURLRef",
    "check_media_url",
    "check_provider_options",
    "redact_media_url",
]

#: OpenRouter's documented request body cap (a bigger body gets a 413).
DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024
#: Room left in the body for the prompt, the other fields and the provider's own envelope.
_ENVELOPE_BYTES = 16 * 1024
#: Validation-context keys `VideoRequest.build` sets.
_LIMIT_KEY = "max_body_bytes"
_LOCAL_KEY = "local_files"
#: Error types raised by this module's validators (their context carries the hint, and for model-level checks the
#: field); `invalid_from_validation` turns them into InvalidRequest, a body over the limit into PayloadTooLarge.
_MEDIA_ERROR = "media_url"
_TOO_LARGE_ERROR = "payload_too_large"
_PROMPT_ERROR = "blank_prompt"
_OPTIONS_SHAPE = "expected provider_options={'<slug>': {'parameters': {'<name>': <value>, ...}}}"
_ALLOWED = "an https:// URL, a data:<mime>;base64,… URL or the path of a local file"
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
#: Query parameters that make a URL a credential (S3, GCS, Azure SAS, CloudFront, generic tokens).
_SIGNED_PARAM = re.compile(
    r"(?i)^(x-amz-.*|x-goog-.*|sig|signature|token|access_token|auth|key|api_key|apikey|expires|policy|"
    r"key-pair-id|se|sp|sv|sr|st|skoid|sktid|hmac|hash|credential|jwt)$"
)


def _error(message: str, *, hint: str | None = None, too_large: bool = False, field: str | None = None) -> Exception:
    """A pydantic error that keeps our message, hint and (for model-level checks) the field it is about."""
    context: dict[str, Any] = {"message": message, "hint": hint}
    if field is not None:
        context["field"] = field
    return PydanticCustomError(_TOO_LARGE_ERROR if too_large else _MEDIA_ERROR, "{message}", context)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _limit_of(context: Any) -> int:
    limit = context.get(_LIMIT_KEY) if isinstance(context, Mapping) else None
    return int(limit) if limit is not None else DEFAULT_MAX_BODY_BYTES


def _kind_label(kind: MediaKind | None) -> str:
    if kind is None:
        return "an image, audio or video file"
    return f"{'an' if kind == 'image' else 'a'} {kind} ({', '.join(SUPPORTED[kind])})"


def check_media_url(value: Any, *, kind: MediaKind | None, context: Any = None) -> str:
    """`value` as a URL a provider may be sent: https:// or data: as given, a local file as a data: URL.

    Raises a pydantic error (turned into InvalidRequest / PayloadTooLarge by `VideoRequest.build`).
    """
    limit = _limit_of(context)
    local_ok = not (isinstance(context, Mapping) and context.get(_LOCAL_KEY) is False)
    if isinstance(value, os.PathLike):
        return _file_to_data_url(Path(os.fspath(value)), str(value), kind, limit, local_ok)
    if not isinstance(value, str):
        raise _error(f"must be a URL string or a file path, not {type(value).__name__}", hint=f"give {_ALLOWED}")
    if not value:
        raise _error("must not be empty", hint=f"give {_ALLOWED}")
    scheme_match = _SCHEME.match(value)
    scheme = scheme_match.group(1).lower() if scheme_match else None
    if scheme == "https":
        try:
            host = urlsplit(value).hostname
        except ValueError:
            host = None
        if not host:
            raise _error(f"{redact_url(value)!r} is not a valid https:// URL (no host)", hint=f"give {_ALLOWED}")
        return value
    if scheme == "data":
        return _check_data_url(value, kind, limit)
    local = _local_file(value)
    if local is not None:
        return _file_to_data_url(local, value, kind, limit, local_ok)
    if scheme == "http":
        raise _error(
            "http:// URLs are not allowed (the provider fetches only https://)",
            hint=f"give {_ALLOWED}",
        )
    if scheme is not None and len(scheme) > 1:  # one letter is a Windows drive, i.e. a path
        raise _error(f"{scheme}: URLs are not allowed", hint=f"give {_ALLOWED}")
    shown = value if len(value) <= 120 else value[:117] + "..."
    raise _error(f"no such file: {shown!r}", hint=f"give {_ALLOWED}")


def _local_file(value: str) -> Path | None:
    try:
        path = Path(os.path.expanduser(value))
        return path if path.is_file() else None
    except (OSError, ValueError):  # too long for a path, or a NUL byte: not a file
        return None


def _check_data_url(value: str, kind: MediaKind | None, limit: int) -> str:
    header, comma, body = value.partition(",")
    params = header[len("data:") :].split(";")
    mime = params[0].strip().lower()
    if not comma or params[-1].strip().lower() != "base64" or "/" not in mime or not body:
        raise _error(
            f"a data: URL must look like data:<mime>;base64,<data> (got {header[:60]!r}…)",
            hint="base64-encode the file, or give its path and let mediarouter encode it",
        )
    found = kind_of(mime)
    if found is None or (kind is not None and found != kind):
        raise _error(f"a data:{mime} URL is not {_kind_label(kind)}", hint=f"give {_kind_label(kind)}")
    if len(value) > limit - _ENVELOPE_BYTES:
        raise _error(
            f"the data: URL is {_mib(len(value))}, over the {_mib(limit)} request body limit",
            hint="host the file and give an https:// URL instead",
            too_large=True,
        )
    return value


def _file_to_data_url(path: Path, shown: str, kind: MediaKind | None, limit: int, local_ok: bool) -> str:
    if not local_ok:
        raise _error(f"local files are not allowed here (got {shown!r})", hint="give an https:// or data: URL")
    try:
        path = path.expanduser()
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = handle.read(HEADER_BYTES)
            mime = sniff(header)
            if mime is None or (kind is not None and kind_of(mime) != kind):
                raise _error(
                    f"{shown} is not {_kind_label(kind)} (told by its first bytes, not its name)",
                    hint=f"give {_kind_label(kind)}",
                )
            prefix = f"data:{mime};base64,"
            encoded = len(prefix) + 4 * math.ceil(size / 3)
            if encoded > limit - _ENVELOPE_BYTES:
                raise _error(
                    f"file {shown} is {_mib(size)}, {_mib(encoded)} as a data: URL, "
                    f"over the {_mib(limit)} request body limit",
                    hint="host the file and give an https:// URL instead",
                    too_large=True,
                )
            data = header + handle.read()
    except FileNotFoundError:
        raise _error(f"no such file: {shown!r}", hint=f"give {_ALLOWED}") from None
    except OSError as exc:
        raise _error(f"cannot read {shown}: {exc.strerror or exc}") from None
    return prefix + base64.b64encode(data).decode("ascii")


def check_provider_options(options: Mapping[str, Any] | None, **context: Any) -> None:
    """Refuse `provider_options` not shaped `{slug: {"parameters": {...}, ...}}`, naming the path; it is sent untouched.

    A slug's options and its `parameters` must be objects; other keys under a slug are the provider's own.
    `context` (provider, model) goes into the InvalidRequest.
    """
    for slug, value in (options or {}).items():
        field = f"provider_options.{slug}"
        if not isinstance(value, Mapping):
            raise InvalidRequest(
                f"{field} must be an object of that provider's options, not {_type_name(value)}",
                hint=_OPTIONS_SHAPE,
                details={"field": field},
                **context,
            )
        if "parameters" in value and not isinstance(value["parameters"], Mapping):
            raise InvalidRequest(
                f"{field}.parameters must be an object of parameter name → value, "
                f"not {_type_name(value['parameters'])}",
                hint=_OPTIONS_SHAPE,
                details={"field": f"{field}.parameters"},
                **context,
            )


def _type_name(value: Any) -> str:
    """What a caller gave, in JSON's words (the CLI and batch lines are JSON), without the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


class URLRef(BaseModel):
    """`{"url": …}`. The typed subclasses also check the kind of media; a plain URLRef takes any."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    #: The media this URL must point at (None: image, audio or video).
    kind: ClassVar[MediaKind | None] = None

    url: str

    @field_validator("url", mode="before")
    @classmethod
    def _check_url(cls, value: Any, info: ValidationInfo) -> Any:
        return check_media_url(value, kind=cls.kind, context=info.context)


class ImageURLRef(URLRef):
    kind: ClassVar[MediaKind | None] = "image"


class AudioURLRef(URLRef):
    kind: ClassVar[MediaKind | None] = "audio"


class VideoURLRef(URLRef):
    kind: ClassVar[MediaKind | None] = "video"


def _retype(value: Any) -> Any:
    """A plain URLRef given for a typed field is checked again as that type."""
    return value.model_dump() if type(value) is URLRef else value


class FrameImage(BaseModel):
    """Fixes the first or last frame: `{"type":"image_url","image_url":{"url":…},"frame_type":…}`."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    type: Literal["image_url"] = "image_url"
    image_url: ImageURLRef
    frame_type: str = Field(description="first_frame or last_frame (checked against the model's capabilities)")

    @field_validator("image_url", mode="before")
    @classmethod
    def _typed(cls, value: Any) -> Any:
        return _retype(value)


class InputReference(BaseModel):
    """A reference asset: `{"type":"image_url"|"audio_url"|"video_url", "<type>": {"url": …}}`."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    type: Literal["image_url", "audio_url", "video_url"]
    image_url: ImageURLRef | None = None
    audio_url: AudioURLRef | None = None
    video_url: VideoURLRef | None = None

    @field_validator("image_url", "audio_url", "video_url", mode="before")
    @classmethod
    def _typed(cls, value: Any) -> Any:
        return _retype(value)

    @property
    def url(self) -> str | None:
        holder = getattr(self, self.type)
        return holder.url if holder is not None else None


#: Not "omit it": most models require a prompt; leaving it out is only for image-to-video models that take none.
BLANK_PROMPT_HINT = "give the prompt text (leave prompt out only for an image-only request, where the model allows it)"


class VideoRequest(BaseModel):
    """What the caller wants, independent of any provider's wire format.

    `frame_images`, `input_references` and `provider_options` are passed through to the
    provider untouched (after a shape check and the URL rules above); `image_url` is a
    shortcut for a first frame.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)

    prompt: str | None = None
    duration: int | None = Field(default=None, gt=0, description="seconds")
    resolution: str | None = None
    aspect_ratio: str | None = None
    size: str | None = Field(default=None, description="WIDTHxHEIGHT, e.g. 1280x720")
    generate_audio: bool | None = None
    seed: int | None = None
    image_url: str | None = Field(
        default=None, description="shortcut: use this image (https://, data: or a local file) as the first frame"
    )
    frame_images: list[FrameImage] | None = None
    input_references: list[InputReference] | None = None
    provider_options: dict[str, Any] | None = Field(
        default=None, description="provider slug → options object, sent as provider.options untouched"
    )
    callback_url: str | None = None
    previous_job_id: str | None = None
    session_id: str | None = Field(default=None, max_length=256)
    user: str | None = None
    trace: dict[str, Any] | None = None
    creativity: int | None = None
    upscale_factor: float | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise PydanticCustomError(
                _PROMPT_ERROR,
                "{message}",
                {"message": "must not be empty or only whitespace", "hint": BLANK_PROMPT_HINT},
            )
        return value

    @field_validator("image_url", mode="before")
    @classmethod
    def _check_image_url(cls, value: Any, info: ValidationInfo) -> Any:
        return None if value is None else check_media_url(value, kind="image", context=info.context)

    @model_validator(mode="after")
    def _check_body_size(self, info: ValidationInfo) -> Self:
        """Every URL fits on its own; together they must still fit in one request body."""
        limit = _limit_of(info.context)
        urls = self.media_urls()
        total = sum(len(url) for _, url in urls) + len((self.prompt or "").encode()) + _ENVELOPE_BYTES
        if total > limit:
            field, largest = max(urls, key=lambda item: len(item[1]))
            raise _error(
                f"the request would be about {_mib(total)} ({_mib(len(largest))} of it here), "
                f"over the {_mib(limit)} request body limit",
                hint="host the largest files and give https:// URLs instead",
                too_large=True,
                field=field,
            )
        return self

    @classmethod
    def build(cls, *, max_body_bytes: int | None = None, local_files: bool = True, **fields: Any) -> VideoRequest:
        """Build a request from keyword arguments, turning pydantic errors into InvalidRequest.

        `max_body_bytes` is the provider's request body limit (default 50 MiB, OpenRouter's);
        `local_files=False` refuses file paths (for hosts passing on URLs from untrusted users).
        """
        unknown = sorted(set(fields) - set(cls.model_fields))
        if unknown:
            raise InvalidRequest(
                f"unknown request field(s): {', '.join(unknown)}",
                hint=(
                    f"accepted fields: {', '.join(cls.model_fields)}; provider-specific parameters go in "
                    "provider_options={'<slug>': {'parameters': {...}}}"
                ),
            )
        context = {_LIMIT_KEY: max_body_bytes or DEFAULT_MAX_BODY_BYTES, _LOCAL_KEY: local_files}
        try:
            request = cls.model_validate(fields, context=context)
        except ValidationError as exc:
            raise invalid_from_validation(exc) from None
        check_provider_options(request.provider_options)  # validate_request checks it again for hand-built ones
        return request

    def effective_frame_images(self) -> list[FrameImage]:
        """Frame images including the `image_url` shortcut (as the first frame)."""
        frames = list(self.frame_images or [])
        if self.image_url and not any(f.frame_type == "first_frame" for f in frames):
            # Already checked when image_url was set: construct, do not check again (with another limit).
            ref = ImageURLRef.model_construct(url=self.image_url)
            frames.insert(0, FrameImage.model_construct(type="image_url", image_url=ref, frame_type="first_frame"))
        return frames

    def media_urls(self) -> list[tuple[str, str]]:
        """(field path, URL) of every image/audio/video URL the request carries."""
        found: list[tuple[str, str]] = []
        if self.image_url:
            found.append(("image_url", self.image_url))
        for i, frame in enumerate(self.frame_images or []):
            found.append((f"frame_images[{i}].image_url.url", frame.image_url.url))
        for i, ref in enumerate(self.input_references or []):
            for name in ("image_url", "audio_url", "video_url"):
                holder = getattr(ref, name)
                if holder is not None:
                    found.append((f"input_references[{i}].{name}.url", holder.url))
        return found

    def redacted(self) -> dict[str, Any]:
        """JSON-ready form for logs and journals: data: URL bodies and signed query strings replaced by markers."""
        data: dict[str, Any] = _redact_urls(self.model_dump(mode="json", exclude_none=True))
        return data


def redact_media_url(url: str) -> str:
    """A media or callback URL safe to journal.

    A data: URL keeps its MIME type and becomes `data:image/png;base64,<123456 bytes sha256=…>`
    (the digest tells two images apart); an http(s) URL with credentials or a signed-looking
    query string loses them. Anything else is returned unchanged.
    """
    if url[:5].lower() == "data:":
        header, _, body = url.partition(",")
        try:
            raw = base64.b64decode(body, validate=False)
        except (binascii.Error, ValueError):
            raw = body.encode()
        return f"{header},<{len(raw)} bytes sha256={hashlib.sha256(raw).hexdigest()}>"
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("http", "https"):
        return url
    try:
        parts = urlsplit(url)
        names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    except ValueError:
        return redact_url(url)
    if "@" in parts.netloc or any(_SIGNED_PARAM.match(name) for name in names) or parts.fragment:
        return redact_url(url)
    return url


def _redact_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_urls(v) for v in value]
    if isinstance(value, str) and (value[:5].lower() == "data:" or "://" in value[:12]):
        return redact_media_url(value)
    return value


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def invalid_from_validation(exc: ValidationError) -> InvalidRequest:
    """A readable InvalidRequest naming every offending field, e.g. `frame_images[0].image_url.url: Field required`.

    Each error reads `<field>: <message>` (a model-level check of ours names its field in the context); the
    first one gives the class (PayloadTooLarge for a body over the limit), the hint and `details["field"]`.
    """
    errors = exc.errors()
    fields = [str((e.get("ctx") or {}).get("field") or _field_path(e["loc"]) or "request") for e in errors]
    message = "; ".join(f"{field}: {e['msg']}" for field, e in zip(fields, errors, strict=True))
    first = errors[0]
    cls = PayloadTooLarge if first["type"] == _TOO_LARGE_ERROR else InvalidRequest
    error = cls(message, hint=(first.get("ctx") or {}).get("hint"))
    error.details["field"] = fields[0]
    return error
