"""fal's webhook scheme: ED25519 signatures checked against fal's published keys (docs/providers/fal.md).

fal POSTs ``{request_id, gateway_request_id, status: "OK"|"ERROR", payload, error?, payload_error?}``
to the ``fal_webhook`` URL of a submit, with four headers: ``X-Fal-Webhook-Request-Id``,
``-User-Id``, ``-Timestamp`` (Unix seconds) and ``-Signature`` (hex ED25519). The signed message
is ``request_id \\n user_id \\n timestamp \\n sha256_hex(raw body)``; the public keys are a JWKS
(`FAL_WEBHOOK_JWKS_URL`, fetched without any key) that the core's `JwksCache` keeps for a day.
`FalWebhookScheme` is what the receiver (`mediarouter.webhooks`) runs for it: the provider
offers it as `FalVideoProvider.webhook_scheme`, so the core never imports this plugin.

`FAL_WEBHOOK_USER_ID`, when set, pins deliveries to that fal user: fal signs for any account,
so this refuses deliveries that fal made for someone else's requests.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from mediarouter import Clock, JobState
from mediarouter.webhooks import Delivery, DeliveryError, SignatureError
from mediarouter.webhooks.jwks import DEFAULT_TTL, MIN_REFETCH, JwksCache

from . import PROVIDER_NAME
from .errors import is_cancellation
from .wire import VideoResult, WebhookPayload

__all__ = [
    "DEFAULT_JWKS_URL",
    "JWKS_URL_ENV",
    "REQUEST_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "USER_ID_ENV",
    "USER_ID_HEADER",
    "FalWebhookScheme",
    "signed_message",
]

REQUEST_ID_HEADER = "X-Fal-Webhook-Request-Id"
USER_ID_HEADER = "X-Fal-Webhook-User-Id"
TIMESTAMP_HEADER = "X-Fal-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Fal-Webhook-Signature"
#: Where fal publishes its webhook keys (older pages name https://rest.alpha.fal.ai/.well-known/jwks.json).
DEFAULT_JWKS_URL = "https://rest.fal.ai/.well-known/jwks.json"
JWKS_URL_ENV = "FAL_WEBHOOK_JWKS_URL"
USER_ID_ENV = "FAL_WEBHOOK_USER_ID"
_HEADERS = (REQUEST_ID_HEADER, USER_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
_STATES = {"OK": JobState.COMPLETED, "ERROR": JobState.FAILED}


def signed_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    """The bytes fal signs: the three headers and the body's SHA-256 (hex), one per line."""
    return "\n".join((request_id, user_id, timestamp, hashlib.sha256(body).hexdigest())).encode()


class FalWebhookScheme:
    """Checks and reads fal's deliveries; `transport` and `clock` are for tests (an emulator's JWKS)."""

    provider = PROVIDER_NAME

    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        user_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        ttl: float = DEFAULT_TTL,
        min_refetch: float = MIN_REFETCH,
    ) -> None:
        url = jwks_url or os.environ.get(JWKS_URL_ENV) or DEFAULT_JWKS_URL
        self.keys = JwksCache(url, transport=transport, clock=clock, ttl=ttl, min_refetch=min_refetch)
        pinned = user_id if user_id is not None else os.environ.get(USER_ID_ENV)
        self.user_id = pinned.strip() if pinned and pinned.strip() else None

    def __repr__(self) -> str:
        return f"FalWebhookScheme(jwks_url={self.keys.url!r}, user_pinned={self.user_id is not None})"

    def claims(self, headers: Mapping[str, str]) -> bool:
        return SIGNATURE_HEADER in headers

    async def verify(self, headers: Mapping[str, str], body: bytes, *, clock: Clock, tolerance: float) -> None:
        missing = [name for name in _HEADERS if not headers.get(name)]
        if missing:
            raise SignatureError("missing_signature", f"fal's webhook header(s) missing: {', '.join(missing)}")
        request_id, user_id = headers[REQUEST_ID_HEADER], headers[USER_ID_HEADER]
        timestamp, signature_hex = headers[TIMESTAMP_HEADER].strip(), headers[SIGNATURE_HEADER].strip()
        if not timestamp.isdigit():
            raise SignatureError("malformed_signature", f"{TIMESTAMP_HEADER} must be Unix seconds")
        try:
            signature = bytes.fromhex(signature_hex)
        except ValueError:
            signature = b""
        if len(signature) != 64:
            raise SignatureError("malformed_signature", f"{SIGNATURE_HEADER} must be 128 hex digits (ED25519)")
        if abs(clock.time() - int(timestamp)) > tolerance:
            raise SignatureError(
                "stale_signature", f"the signature's timestamp is more than {tolerance:g}s away from now"
            )
        if self.user_id is not None and not hmac.compare_digest(user_id.encode(), self.user_id.encode()):
            raise SignatureError("unexpected_user", f"the delivery is for another fal user than {USER_ID_ENV}")
        await self.keys.verify(signed_message(request_id, user_id, timestamp, body), signature)

    def read(self, envelope: Any, headers: Mapping[str, str]) -> Delivery:
        if not isinstance(envelope, dict):
            raise DeliveryError("the body must be a JSON object {request_id, status, payload}")
        try:
            wire = WebhookPayload.model_validate(envelope)
        except ValidationError:
            raise DeliveryError("request_id must be a non-empty string (the fal request id)") from None
        if wire.request_id != headers.get(REQUEST_ID_HEADER):
            raise DeliveryError(f"request_id differs from the signed {REQUEST_ID_HEADER} header")
        status = wire.status if isinstance(wire.status, str) and wire.status else ""
        if not status:
            raise DeliveryError("status must be one of: OK, ERROR")
        state = _STATES.get(status)
        if state is JobState.FAILED and _cancelled(wire.payload):
            state = JobState.CANCELLED  # a cancelled job must not read as failed: failed ones may be paid for again
        return Delivery(
            job_id=wire.request_id,
            event_type="",
            status=status,
            state=state,
            idempotency_key=f"{wire.request_id}-{status}",
            error=_error(wire) if state in (JobState.FAILED, JobState.CANCELLED) else None,
            unsigned_urls=_urls(wire.payload) if state is JobState.COMPLETED else (),
        )


def _cancelled(payload: Any) -> bool:
    """An ERROR whose payload is fal's request error for a cancellation (`error_type: client_cancelled`)."""
    error_type = payload.get("error_type") if isinstance(payload, dict) else None
    return isinstance(error_type, str) and is_cancellation(error_type)


def _error(wire: WebhookPayload) -> str:
    """fal's words: the payload's `detail` (when text) with the `error` line, else `payload_error`."""
    detail = wire.payload.get("detail") if isinstance(wire.payload, dict) else None
    detail = detail.strip() if isinstance(detail, str) and detail.strip() else None
    parts = [p for p in (detail, wire.error) if p]
    words = " — ".join(parts) if parts else wire.payload_error
    return (words or "fal reported ERROR (by webhook)")[:500]


def _urls(payload: Any) -> tuple[str, ...]:
    """The video URLs of an OK payload (the poll that follows reads them again; this is for the journal)."""
    try:
        result = VideoResult.model_validate(payload)
    except ValidationError:
        return ()
    return tuple(f.url for f in result.files if f.url.lower().startswith(("https://", "http://")))
