"""The HTTP rules every provider shares, so a plugin is its wire format and its catalog.

- `StatusRules` / `error_for_status`: the default status → error table, refined per provider;
- `parse_retry_after`: `Retry-After` (seconds or HTTP-date) and `retry-after-ms`;
- `ProviderClient`: one long-lived client; credentials only to the configured origin (also
  across redirects), bounded reads, network failures mapped with whether anything was sent,
  downloads opened as core `Download`s;
- `ListingCache`: a TTL cache for model listings with one request in flight;
- `probe_sends`: what the engine asks to tell "never sent" from "may have been accepted".
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import (
        MAX_ERROR_BODY,
        MAX_JSON_BODY,
        DownloadRefused,
        JsonAnswer,
        ProviderClient,
        display_origin,
        is_textual,
        origin_of,
    )
    from .credentials import normalize_key
    from .listing import ListingCache
    from .retry_after import parse_retry_after
    from .sending import SendProbe, current_probe, probe_sends
    from .statuses import (
        DEFAULT_CLASSES,
        UNAVAILABLE_STATUSES,
        ServerMessage,
        StatusRules,
        default_server_message,
        error_for_status,
    )
    from .wire import WireModel, describe_validation_error, parse_json_object, parse_model, snippet

#: Lazy: the engine needs `sending` and `statuses` without importing httpx at `import mediarouter`.
_WHERE = {
    "MAX_ERROR_BODY": "client",
    "MAX_JSON_BODY": "client",
    "DownloadRefused": "client",
    "JsonAnswer": "client",
    "ProviderClient": "client",
    "display_origin": "client",
    "is_textual": "client",
    "origin_of": "client",
    "ListingCache": "listing",
    "normalize_key": "credentials",
    "parse_retry_after": "retry_after",
    "SendProbe": "sending",
    "current_probe": "sending",
    "probe_sends": "sending",
    "DEFAULT_CLASSES": "statuses",
    "UNAVAILABLE_STATUSES": "statuses",
    "ServerMessage": "statuses",
    "StatusRules": "statuses",
    "default_server_message": "statuses",
    "error_for_status": "statuses",
    "WireModel": "wire",
    "describe_validation_error": "wire",
    "parse_json_object": "wire",
    "parse_model": "wire",
    "snippet": "wire",
}

__all__ = [
    "DEFAULT_CLASSES",
    "DownloadRefused",
    "JsonAnswer",
    "ListingCache",
    "MAX_ERROR_BODY",
    "MAX_JSON_BODY",
    "ProviderClient",
    "SendProbe",
    "ServerMessage",
    "StatusRules",
    "UNAVAILABLE_STATUSES",
    "WireModel",
    "current_probe",
    "default_server_message",
    "describe_validation_error",
    "display_origin",
    "error_for_status",
    "is_textual",
    "normalize_key",
    "origin_of",
    "parse_json_object",
    "parse_model",
    "parse_retry_after",
    "probe_sends",
    "snippet",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
