"""Queue URLs: which to build, and which URLs from an answer may be followed.

fal submits to the full model id (`{base}/fal-ai/kling-video/v2.1/master/text-to-video`)
but addresses the request afterwards by the *app* only
(`{base}/fal-ai/kling-video/requests/{id}/status`), see docs/providers/fal.md.
The key goes with every queue call, so a URL from an answer is followed only when it
is on the configured origin; anything else is rebuilt from the base (an answer cannot
send the key elsewhere).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from mediarouter import ConfigurationError, InvalidRequest

from . import PROVIDER_NAME

__all__ = [
    "DEFAULT_QUEUE_URL",
    "QUEUE_URL_ENV",
    "APP_NAMESPACES",
    "RequestUrls",
    "normalize_base",
    "check_model_id",
    "app_id",
    "submit_url",
    "request_urls",
    "with_logs",
    "on_origin",
    "follow",
]

DEFAULT_QUEUE_URL = "https://queue.fal.run"
QUEUE_URL_ENV = "FAL_QUEUE_URL"

#: First segments that are a namespace in front of owner/app (`workflows/<owner>/<app>/…`).
#: Taken from how fal's own client splits ids; no video model in the catalog uses one.
APP_NAMESPACES: tuple[str, ...] = ("workflows", "comfy")

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class RequestUrls:
    """Where to poll, fetch and cancel one queued request."""

    status: str
    result: str
    cancel: str


def normalize_base(base: str) -> str:
    """The queue base URL without a trailing slash; ConfigurationError for anything unusable."""
    try:
        parts = urlsplit(base.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigurationError(
            f"{QUEUE_URL_ENV} must be an http(s) URL such as {DEFAULT_QUEUE_URL} (got {base!r})",
            provider=PROVIDER_NAME,
        )
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ConfigurationError(
            f"{QUEUE_URL_ENV} must not carry credentials, a query or a fragment (got {_redact(base)!r})",
            provider=PROVIDER_NAME,
            hint="the key goes in FAL_KEY",
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def check_model_id(model_id: str) -> list[str]:
    """The path segments of a fal model id, or InvalidRequest saying what is wrong with it."""
    segments = model_id.split("/")
    bad = [s for s in segments if not _SEGMENT.match(s)]
    if bad or len(segments) < 2:
        raise InvalidRequest(
            f"not a fal model id: {model_id!r}; expected owner/app[/path], e.g. fal-ai/veo3 or "
            "fal-ai/kling-video/v2.1/master/text-to-video",
            provider=PROVIDER_NAME,
            model=model_id,
        )
    if segments[0] in APP_NAMESPACES and len(segments) < 3:
        raise InvalidRequest(
            f"not a fal model id: {model_id!r}; {segments[0]}/ ids are {segments[0]}/owner/app[/path]",
            provider=PROVIDER_NAME,
            model=model_id,
        )
    return segments


def app_id(model_id: str) -> str:
    """The app a model id belongs to: its first two segments (three behind a namespace)."""
    segments = check_model_id(model_id)
    keep = 3 if segments[0] in APP_NAMESPACES else 2
    return "/".join(segments[:keep])


def submit_url(base: str, model_id: str, *, webhook_url: str | None = None) -> str:
    """`POST` target: the full model id under the base, with `fal_webhook` when a webhook is wanted."""
    check_model_id(model_id)
    url = f"{normalize_base(base)}/{model_id}"
    if webhook_url is not None:
        url += "?" + urlencode({"fal_webhook": webhook_url})
    return url


def request_urls(base: str, model_id: str, request_id: str) -> RequestUrls:
    """Status, result and cancel URLs of a request, built from the base and the app id."""
    if not request_id:
        raise InvalidRequest("a fal request id must not be empty", provider=PROVIDER_NAME, model=model_id)
    root = f"{normalize_base(base)}/{app_id(model_id)}/requests/{quote(request_id, safe='')}"
    return RequestUrls(status=f"{root}/status", result=root, cancel=f"{root}/cancel")


def with_logs(status_url: str) -> str:
    """The status URL asking for runner logs too (`?logs=1`), keeping any query it already has."""
    parts = urlsplit(status_url)
    query = f"{parts.query}&logs=1" if parts.query else "logs=1"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def on_origin(url: str, base: str) -> bool:
    """Whether `url` may be called with the key: same scheme, host and port as the base, under its path."""
    try:
        target = urlsplit(url)
        origin = urlsplit(normalize_base(base))
        target_port = target.port or _DEFAULT_PORTS.get(target.scheme)
        origin_port = origin.port or _DEFAULT_PORTS.get(origin.scheme)
    except (ValueError, ConfigurationError):
        return False
    if target.username is not None or target.password is not None:
        return False
    if ".." in target.path.split("/"):
        return False
    if target.scheme != origin.scheme or target_port != origin_port:
        return False
    if (target.hostname or "").lower() != (origin.hostname or "").lower():
        return False
    prefix = origin.path.rstrip("/")
    if not prefix:
        return True
    return target.path == prefix or target.path.startswith(prefix + "/")


def follow(answered: str | None, built: str, base: str) -> str:
    """The URL an answer gave when it is on the configured origin, else the one built from the base."""
    if answered and on_origin(answered, base):
        return answered
    return built


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    netloc = "***@" + parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
