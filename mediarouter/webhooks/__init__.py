"""Webhooks: jobs finish from signed callbacks, with polling only as the safety net.

- `signature`: OpenRouter's ``X-OpenRouter-Signature`` (sign, verify; injected clock);
- `schemes`: how the receiver tells providers apart (`WebhookScheme`; OpenRouter's built in, a
  plugin's from its provider factory's ``webhook_scheme``, e.g. fal's);
- `jwks`: Ed25519 public keys from a provider's JWKS, cached (needs ``cryptography``);
- `deliveries`: what a delivery does (journal + in-process wake-up: `Waiters`);
- `receiver`: the ASGI app (`create_receiver`) hosts mount, and `mediarouter webhooks serve`;
- `settings`: `MEDIAROUTER_WEBHOOK_SECRET`.

The receiver needs starlette (``pip install 'mediarouter[webhooks]'``); it is imported on first
use, so the engine can use `Waiters` without it. See docs/webhooks.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .deliveries import (
    EVENT_TYPES,
    Delivery,
    DeliveryError,
    DeliveryOutcome,
    Waiters,
    Watch,
    journal_delivery,
    record_delivery,
    sleep_or_event,
)
from .schemes import OpenRouterScheme, WebhookScheme, plugin_schemes
from .settings import SECRET_ENV, WebhookSettings
from .signature import SIGNATURE_HEADER, SignatureError, sign, verify

if TYPE_CHECKING:
    from .receiver import IDEMPOTENCY_HEADER, WebhookReceiver, create_receiver

__all__ = [
    "EVENT_TYPES",
    "IDEMPOTENCY_HEADER",
    "SECRET_ENV",
    "SIGNATURE_HEADER",
    "Delivery",
    "DeliveryError",
    "DeliveryOutcome",
    "OpenRouterScheme",
    "SignatureError",
    "Waiters",
    "Watch",
    "WebhookReceiver",
    "WebhookScheme",
    "WebhookSettings",
    "create_receiver",
    "journal_delivery",
    "plugin_schemes",
    "record_delivery",
    "sign",
    "sleep_or_event",
    "verify",
]

_LAZY = frozenset({"IDEMPOTENCY_HEADER", "WebhookReceiver", "create_receiver"})


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from . import receiver
    except ImportError as exc:
        from ..errors import ConfigurationError

        raise ConfigurationError(
            f"the webhook receiver needs starlette ({exc})", hint="pip install 'mediarouter[webhooks]'"
        ) from None
    return getattr(receiver, name)
