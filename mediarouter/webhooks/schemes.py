"""Webhook schemes: how one provider signs its deliveries and what their bodies say.

The receiver knows no provider. It asks each `WebhookScheme` in turn whether a delivery is its
(`claims`, by the headers), lets that one check the signature (`verify`, against the raw body)
and read the body into a `Delivery` (`read`); then it does the same for every provider: dedup,
journal, wake-up, events.

- OpenRouter's scheme (`OpenRouterScheme`, HMAC with the workspace secret) is built in, since
  the core already holds its signature code (`signature`);
- a plugin offers its scheme through its provider factory: a ``webhook_scheme`` attribute (a
  classmethod or function taking no required arguments) that returns a `WebhookScheme`, the way
  ``supports_emulator`` declares an emulator. `plugin_schemes()` collects them; the fal plugin
  is the first (ED25519 over fal's published keys).

A scheme never logs or returns the signature or a secret: its `SignatureError` carries a short
reason code and a message safe to log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from pydantic import SecretStr

from ..clock import Clock
from ..errors import ConfigurationError
from .deliveries import Delivery
from .signature import DEFAULT_TOLERANCE, SIGNATURE_HEADER, verify

__all__ = ["IDEMPOTENCY_HEADER", "OpenRouterScheme", "WebhookScheme", "plugin_schemes"]

IDEMPOTENCY_HEADER = "X-OpenRouter-Idempotency-Key"


@runtime_checkable
class WebhookScheme(Protocol):
    """One provider's webhook format. `headers` is case-insensitive (starlette's or httpx's `Headers`)."""

    #: The provider name journal rows carry (`JobRecord.provider`); events and metrics use it too.
    provider: str

    def claims(self, headers: Mapping[str, str]) -> bool:
        """Whether this delivery is in this scheme (its signature header is present)."""
        ...

    async def verify(self, headers: Mapping[str, str], body: bytes, *, clock: Clock, tolerance: float) -> None:
        """Check the signature against the raw body; `SignatureError` (reason code, safe message) when bad."""
        ...

    def read(self, envelope: Any, headers: Mapping[str, str]) -> Delivery:
        """The verified body (parsed JSON) as a `Delivery`; `DeliveryError` naming the field when unreadable."""
        ...


class OpenRouterScheme:
    """``X-OpenRouter-Signature: t=…,v1=<HMAC-SHA256>`` with the workspace's signing secret."""

    def __init__(self, secret: SecretStr, *, provider: str = "openrouter") -> None:
        if not secret.get_secret_value():
            raise ConfigurationError("the webhook secret is empty", hint="set MEDIAROUTER_WEBHOOK_SECRET")
        self._secret = secret
        self.provider = provider

    def __repr__(self) -> str:
        return f"OpenRouterScheme(provider={self.provider!r})"

    def claims(self, headers: Mapping[str, str]) -> bool:
        return SIGNATURE_HEADER in headers

    async def verify(
        self, headers: Mapping[str, str], body: bytes, *, clock: Clock, tolerance: float = DEFAULT_TOLERANCE
    ) -> None:
        verify(headers.get(SIGNATURE_HEADER), body, self._secret, clock=clock, tolerance=tolerance)

    def read(self, envelope: Any, headers: Mapping[str, str]) -> Delivery:
        return Delivery.from_envelope(envelope, idempotency_key=headers.get(IDEMPOTENCY_HEADER))


def plugin_schemes() -> list[WebhookScheme]:
    """The schemes the loaded provider plugins offer (their factories' ``webhook_scheme``), by provider name.

    A plugin whose scheme cannot be built (a missing package, a bad setting) is a ConfigurationError:
    a receiver silently refusing that provider's deliveries would look like "the webhook never fired".
    """
    from ..plugins import provider_factories

    schemes: list[WebhookScheme] = []
    for name, factory in sorted(provider_factories().items()):
        build = getattr(factory, "webhook_scheme", None)
        if build is None or not callable(build):
            continue
        try:
            scheme = build()
        except ConfigurationError:
            raise
        except ImportError as exc:
            raise ConfigurationError(
                f"the {name} webhook scheme needs extra packages ({exc.name or exc})",
                hint="pip install 'mediarouter[webhooks]'",
            ) from None
        if not isinstance(scheme, WebhookScheme):
            raise ConfigurationError(f"provider {name!r}: webhook_scheme() did not return a WebhookScheme")
        schemes.append(scheme)
    return schemes
