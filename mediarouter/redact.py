"""Redaction: the one place that decides what of a URL or a secret may reach a log line or a span.

Secrets are API keys and signed download URLs (a signed URL *is* a credential: whoever has it
can fetch the video until it expires). The policy:

- a URL keeps its scheme, host, port and path; its query string and fragment (where signatures
  and tokens live) become ``?[redacted]``; user:password@ is dropped;
- a URL known to be signed (``JobOutput.signed_url``) keeps only its origin: ``https://host/…[redacted]``;
- ``Bearer <token>`` and any registered secret (see `add_secret`, and every environment variable
  whose name ends in ``_API_KEY``, ``_TOKEN`` or ``_SECRET``) become ``[redacted]``.

Only the standard library is used here: this module is imported by the library's listeners.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "HTTP_LOGGERS",
    "REDACTED",
    "RedactingFilter",
    "add_secret",
    "install_http_log_redaction",
    "known_secrets",
    "redact_text",
    "redact_url",
    "redact_value",
    "scrub",
]

REDACTED = "[redacted]"

#: A URL with an authority (`scheme://…`) inside free text, up to whitespace or a quote.
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>`]+")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/\-]+=*")
#: `token=…`-style pairs outside URLs (query strings inside URLs are dropped whole).
_PAIR = re.compile(r"(?i)\b(token|access_token|api[_-]?key|signature|sig)(=)[^&\s\"',;]+")
#: Environment variables whose values are treated as secrets wherever they show up.
_SECRET_ENV_SUFFIXES = ("_API_KEY", "_APIKEY", "_TOKEN", "_SECRET", "_PASSWORD")
#: Shorter values are not scrubbed (they would blank out ordinary words).
_MIN_SECRET = 8

_registered: set[str] = set()
_lock = threading.Lock()


def add_secret(value: str | None) -> None:
    """Treat `value` as a secret in every redacted text from now on (e.g. a key read from a vault)."""
    if value and len(value) >= _MIN_SECRET:
        with _lock:
            _registered.add(value)


def known_secrets() -> tuple[str, ...]:
    """Registered secrets plus the values of secret-looking environment variables (longest first)."""
    found = set(_registered)
    for name, value in os.environ.items():
        if value and len(value) >= _MIN_SECRET and name.upper().endswith(_SECRET_ENV_SUFFIXES):
            found.add(value)
    return tuple(sorted(found, key=len, reverse=True))


#: A given secret shorter than this is not scrubbed: a one-letter "key" would blank that letter in every word
#: (`Name or service not [redacted]nown`), and no real API key is that short.
_MIN_GIVEN_SECRET = 3


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every given secret (and every known one) replaced by ``[redacted]``."""
    for secret in (*(s for s in secrets if len(s) >= _MIN_GIVEN_SECRET), *known_secrets()):
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_url(url: str, *, signed: bool = False) -> str:
    """A URL safe to log: no credentials, no query string; only the origin when it is `signed`."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        # Not an absolute URL (a relative path, or garbage): keep only a path without its query.
        path = url.split("?", 1)[0].split("#", 1)[0]
        return path + ("?" + REDACTED if path != url else "") if path else REDACTED
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    origin = f"{parts.scheme.lower()}://{netloc}"
    if signed:
        return f"{origin}/…{REDACTED}" if (parts.path not in ("", "/") or parts.query or parts.fragment) else origin
    tail = parts.path
    if parts.query or parts.fragment:
        tail += "?" + REDACTED
    return origin + tail


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text (a log message, a traceback) with URLs redacted, bearer tokens and secrets blanked out."""
    if "://" in text:
        text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return scrub(text, secrets)


def redact_value(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`redact_text` applied to every string inside lists, tuples and dicts (keys named like secrets are blanked)."""
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping):
        return {k: _redact_item(str(k), v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, secrets) for v in value]
    return value


def _redact_item(key: str, value: Any, secrets: Iterable[str]) -> Any:
    lowered = key.lower()
    if value is not None and any(w in lowered for w in ("api_key", "apikey", "authorization", "password", "secret")):
        return REDACTED
    if lowered == "signed_url" and isinstance(value, str):
        return redact_url(value, signed=True)
    return redact_value(value, secrets)


class RedactingFilter(logging.Filter):
    """A logging filter for hosts: redacts URLs and secrets in every record's message and extras.

    Attach it to a *handler* (filters on a logger do not see records from child loggers):
    ``handler.addFilter(RedactingFilter())``. Third-party libraries log full URLs (httpx logs every
    request URL at INFO), and a signed download URL is a credential.
    """

    _STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format must not drop the record
            message = str(record.msg)
        record.msg, record.args = redact_text(message, self.secrets), None
        for key, value in list(record.__dict__.items()):
            if key not in self._STANDARD and isinstance(value, (str, list, tuple, dict)):
                setattr(record, key, _redact_item(key, value, self.secrets))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.secrets)
        return True


#: The HTTP stack's loggers. httpx logs every request's full URL at INFO ("HTTP Request: GET https://…?sig=…");
#: httpcore's trace records are DEBUG. A filter on a logger does not see its children's records, so each is listed.
HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def install_http_log_redaction() -> None:
    """Redact every record of the HTTP stack's loggers at the source, whatever handlers the host has.

    Called when mediarouter is imported, so a host's own handler on ``httpx`` never sees a signed
    URL's token or a key. Idempotent. It adds a filter only: no handler, no level change (a host
    still decides what is shown), and nothing is formatted for a level that is off.
    """
    for name in HTTP_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())
