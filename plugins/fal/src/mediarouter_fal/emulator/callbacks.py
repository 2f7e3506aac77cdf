"""The fal emulator calling back: when a request submitted with ``fal_webhook`` ends, it POSTs fal's webhook.

Body and headers as fal sends them (docs/providers/fal.md, "Webhooks"): ``{request_id,
gateway_request_id, status: OK|ERROR, payload, error}``, signed with the emulator's ED25519 key
over ``request_id \\n user_id \\n timestamp \\n sha256_hex(body)``; the public key is served as a
JWKS (`jwks`). A ``callback`` injection makes the call late (``slow``), twice (``duplicate``),
signed with another key (``bad_signature``) or never (``lost``). Calls run as tasks on the
emulator's event loop; ``calls`` journals each one (never the signature), ``drain()`` waits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mediarouter.emulation.callbacks import CallbackTasks, callback_target
from mediarouter.emulation.injection import BAD_SIGNATURE, DUPLICATE, LOST, SLOW, Injector
from mediarouter.webhooks.jwks import public_jwk

from ..webhooks import REQUEST_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, USER_ID_HEADER, signed_message
from .config import CALLBACK_PHASE, EmulatorConfig, FalInjection

if TYPE_CHECKING:
    from .app import FalJob

__all__ = ["CallbackEntry", "FalWebhookCaller", "Payload"]

log = logging.getLogger(__name__)

#: What a finished request reports: (status OK|ERROR, payload, error text or None).
Payload = Callable[["FalJob"], Awaitable[tuple[str, Any, str | None]]]


class CallbackEntry(TypedDict):
    """One webhook call (or the reason none was made)."""

    request_id: str
    status: str
    #: sent | lost (injected) | skipped (not a host the emulator calls) | error (no answer)
    outcome: str
    response_status: int | None
    #: the path of the target only: a webhook URL's query may hold a token.
    target: str | None
    error: str | None


class FalWebhookCaller(CallbackTasks):
    """Sends the webhooks of one fal emulator's requests, and holds the key it signs them with."""

    def __init__(
        self,
        config: EmulatorConfig,
        *,
        injector: Injector[FalInjection],
        payload: Payload,
        now: Callable[[], float],
        finish: Callable[[FalJob], None],
    ) -> None:
        super().__init__()
        self.config = config
        self._key = config.webhook_key or Ed25519PrivateKey.generate()
        self._injector = injector
        self._payload = payload
        self._now = now
        self._finish = finish
        self.calls: list[CallbackEntry] = []

    def jwks(self) -> dict[str, Any]:
        """The key set fal would publish: the emulator's one public key."""
        return {"keys": [public_jwk(self._key.public_key(), self.config.webhook_key_id)]}

    @property
    def _sleep(self) -> Callable[[float], Awaitable[None]]:
        return self.config.callback_sleep or asyncio.sleep

    def submitted(self, job: FalJob) -> None:
        """A request with a webhook was queued: with ``callback_after``, it ends by itself then."""
        if self.config.callback_after is not None:
            self._spawn(self._end_later(job, self.config.callback_after))

    async def _end_later(self, job: FalJob, after: float) -> None:
        await self._sleep(after)
        if not job.terminal:
            self._finish(job)

    def finished(self, job: FalJob) -> None:
        """The request ended (by a status look, a cancel, or by itself): call back, on the running loop."""
        self._spawn(self._call(job))

    def _target(self, url: str) -> tuple[str, httpx.AsyncBaseTransport | None] | None:
        return callback_target(url, transport=self.config.callback_transport, forward=self.config.callback_forward)

    def headers(
        self, request_id: str, body: bytes, timestamp: int, *, key: Ed25519PrivateKey | None = None
    ) -> dict[str, str]:
        """fal's four webhook headers for `body` (tests sign their own deliveries with it)."""
        user = self.config.webhook_user_id
        message = signed_message(request_id, user, str(timestamp), body)
        return {
            "Content-Type": "application/json",
            REQUEST_ID_HEADER: request_id,
            USER_ID_HEADER: user,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: (key or self._key).sign(message).hex(),
        }

    async def _call(self, job: FalJob) -> None:
        url = job.webhook_url
        if url is None:
            return
        injection = self._injector.take(CALLBACK_PHASE, job.model)
        outcome = injection.outcome if injection is not None else None
        target = self._target(url)
        status, payload, error = await self._payload(job)
        entry = CallbackEntry(
            request_id=job.id,
            status=status,
            outcome="sent",
            response_status=None,
            target=urlsplit(target[0]).path if target else None,
            error=None,
        )
        if outcome == LOST or target is None:
            self.calls.append(CallbackEntry(**{**entry, "outcome": "lost" if outcome == LOST else "skipped"}))
            return
        if outcome == SLOW:
            await self._sleep(self.config.callback_slow_seconds)
        document: dict[str, Any] = {"request_id": job.id, "gateway_request_id": job.id, "status": status}
        document["payload"] = payload
        if error is not None:
            document["error"] = error
        body = json.dumps(document, separators=(",", ":")).encode()
        key = Ed25519PrivateKey.generate() if outcome == BAD_SIGNATURE else None
        headers = self.headers(job.id, body, int(self._now()), key=key)
        address, transport = target
        async with httpx.AsyncClient(transport=transport, timeout=10.0, follow_redirects=False) as client:
            for _ in range(2 if outcome == DUPLICATE else 1):
                try:
                    response = await client.post(address, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    log.warning("fal emulator: the webhook for %s got no answer (%s)", job.id, type(exc).__name__)
                    self.calls.append(CallbackEntry(**{**entry, "outcome": "error", "error": type(exc).__name__}))
                    continue
                self.calls.append(CallbackEntry(**{**entry, "response_status": response.status_code}))
