"""The webhook receiver: an ASGI app a host mounts in its Starlette/FastAPI app (or serves alone).

One POST per delivery, at whatever path the host mounts it on. Which provider sent it is told by
its signature header: each `WebhookScheme` (OpenRouter's built in, a plugin's such as fal's, see
`schemes`) claims its own, and checks and reads it; everything else is the same for every provider:

- the signature is checked first, against the raw body (401 when missing, malformed, stale or
  wrong; 503 when the provider's public keys cannot be had; nothing else is read from an
  unauthenticated request);
- an unreadable body is 400, one larger than `max_body_bytes` 413, another method 405;
- a repeated delivery (same ``X-OpenRouter-Idempotency-Key``, or ``<job id>-<status>`` when there
  is no such header, as for fal) is acknowledged with 204 and does nothing;
- otherwise the delivery is recorded in the journal and wakes a job waiting in this process
  (see `deliveries`), then 204. A delivery for a job the journal does not know is acknowledged (and
  not remembered: redelivered once the submit's answer journaled the job id, it is recorded); one
  whose job is another provider's records nothing and wakes nobody.
  A journal that fails is 500, so the sender delivers again later.

Every delivery emits one event (`webhook.accepted` / `webhook.rejected` / `webhook.duplicate`),
which the default listeners turn into a log line, a span and a metric. Neither the secret nor
the signature is ever logged. Needs starlette (the `webhooks` or `emulator` extra).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ..clock import Clock, SystemClock
from ..errors import ConfigurationError
from ..events import (
    Event,
    EventPayload,
    Listener,
    WebhookAcceptedEvent,
    WebhookDuplicateEvent,
    WebhookRejectedEvent,
    emit,
)
from ..journal import JobStore
from .deliveries import DeliveryError, Waiters, journal_delivery
from .schemes import IDEMPOTENCY_HEADER, OpenRouterScheme, WebhookScheme, plugin_schemes
from .settings import SECRET_ENV, WebhookSettings
from .signature import SIGNATURE_HEADER, SignatureError

__all__ = ["IDEMPOTENCY_HEADER", "WebhookReceiver", "create_receiver"]

logger = logging.getLogger("mediarouter.webhooks")


class _TooLarge(Exception):
    pass


class WebhookReceiver:
    """The ASGI app. Build it with `create_receiver` (which reads the settings)."""

    def __init__(
        self,
        *,
        secret: SecretStr | None = None,
        schemes: Sequence[WebhookScheme] = (),
        journal: JobStore | None = None,
        waiters: Waiters | None = None,
        clock: Clock | None = None,
        listeners: Sequence[Listener] | None = None,
        provider: str = "openrouter",
        tolerance: float = 300.0,
        max_body_bytes: int = 1 << 20,
        remember: int = 4096,
    ) -> None:
        built = [OpenRouterScheme(secret, provider=provider)] if secret is not None else []
        self.schemes: list[WebhookScheme] = [*built, *schemes]
        if not self.schemes:
            raise ConfigurationError("no webhook scheme to check deliveries with", hint=f"set {SECRET_ENV}")
        self.journal = journal
        self.waiters = waiters
        self.clock: Clock = clock or SystemClock()
        if listeners is None:
            from ..observability import default_listeners

            listeners = default_listeners()
        self.listeners = list(listeners)
        self.provider = provider
        self.tolerance = tolerance
        self.max_body_bytes = max_body_bytes
        self._remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        providers = ",".join(s.provider for s in self.schemes)
        return f"WebhookReceiver(providers={providers!r}, journal={type(self.journal).__name__})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served on its own: nothing to set up or tear down
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        """Answer one delivery (see the module docstring for the statuses)."""
        if request.method != "POST":
            return JSONResponse({"error": "only POST is accepted"}, status_code=405, headers={"Allow": "POST"})
        try:
            body = await self._body(request)
        except _TooLarge:
            return self._reject("too_large", 413, f"the body is larger than {self.max_body_bytes} bytes")
        except ClientDisconnect:
            return self._reject("unreadable_body", 400, "the body could not be read")
        scheme = next((s for s in self.schemes if s.claims(request.headers)), None)
        if scheme is None:
            return self._unclaimed(request)
        provider = scheme.provider
        try:
            await scheme.verify(request.headers, body, clock=self.clock, tolerance=self.tolerance)
        except SignatureError as exc:
            return self._reject(exc.reason, exc.status_code, str(exc), provider=provider)
        try:
            delivery = scheme.read(json.loads(body), request.headers)
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError and DeliveryError are ValueErrors
            message = str(exc) if isinstance(exc, DeliveryError) else "the body is not JSON"
            return self._reject("unreadable_body", 400, message, provider=provider)
        key = f"{provider}:{delivery.idempotency_key}"
        if self._seen_before(key):
            self._emit(
                delivery.job_id,
                WebhookDuplicateEvent(event_type=delivery.event_type, status=delivery.status),
                provider=provider,
            )
            logger.info("webhook for %s job %s (%s): duplicate, ignored", provider, delivery.job_id, delivery.status)
            return Response(status_code=204)
        try:
            outcome = await run_in_threadpool(journal_delivery, self.journal, delivery, provider=provider)
        except Exception as exc:
            logger.error("webhook for job %s: could not record it (%s); asking for a redelivery", delivery.job_id, exc)
            return self._reject(
                "journal_error", 500, "the delivery could not be recorded; deliver it again", provider=provider
            )
        recorded = outcome == "recorded"
        # Another provider's job: that provider did not say it ended, so no engine waiting for it is woken.
        wakes = self.waiters is not None and delivery.state is not None and outcome != "other_provider"
        woke = self.waiters.wake(delivery) if wakes and self.waiters is not None else 0
        if outcome != "unknown_job":  # a job id not journaled yet (its submit's answer is on the way) may come again
            self._remember_key(key)
        self._emit(
            delivery.job_id,
            WebhookAcceptedEvent(event_type=delivery.event_type, status=delivery.status, recorded=recorded, woke=woke),
            provider=provider,
        )
        logger.info(
            "webhook for %s job %s (%s): accepted, recorded=%s, woke=%d",
            provider,
            delivery.job_id,
            delivery.status,
            recorded,
            woke,
        )
        return Response(status_code=204)

    def _unclaimed(self, request: Request) -> Response:
        """No scheme claims it: unsigned, or OpenRouter's header on a receiver without the secret."""
        if SIGNATURE_HEADER in request.headers:
            return self._reject(
                "no_secret",
                401,
                f"an OpenRouter delivery, but this receiver has no secret to check it ({SECRET_ENV} is unset)",
                provider="openrouter",
            )
        names = ", ".join(s.provider for s in self.schemes)
        return self._reject("missing_signature", 401, f"no signature this receiver checks (it verifies: {names})")

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _seen_before(self, key: str) -> bool:
        with self._lock:
            return key in self._seen

    def _remember_key(self, key: str) -> None:
        with self._lock:
            self._seen[key] = None
            while len(self._seen) > self._remember:
                self._seen.popitem(last=False)

    def _reject(self, reason: str, status: int, message: str, *, provider: str | None = None) -> Response:
        self._emit(None, WebhookRejectedEvent(reason=reason, status_code=status), provider=provider)
        logger.warning("webhook rejected (%d %s): %s", status, reason, message)
        return JSONResponse({"error": message, "reason": reason}, status_code=status)

    def _emit(self, job_id: str | None, payload: EventPayload, *, provider: str | None = None) -> None:
        if self.listeners:
            emit(self.listeners, Event(payload=payload, provider=provider or self.provider, job_id=job_id))


def create_receiver(
    *,
    secret: SecretStr | str | None = None,
    schemes: Sequence[WebhookScheme] | None = None,
    journal: JobStore | None = None,
    waiters: Waiters | None = None,
    clock: Clock | None = None,
    listeners: Sequence[Listener] | None = None,
    settings: WebhookSettings | None = None,
    **options: Any,
) -> WebhookReceiver:
    """The receiver for OpenRouter (with the secret from `secret` or `MEDIAROUTER_WEBHOOK_SECRET`) and
    for every provider plugin that offers a webhook scheme (fal), or only the `schemes` given.

    At least one must be usable: without a secret and without a plugin scheme it refuses to start.
    `journal` is where deliveries are recorded (usually the Router's, `router.journal`), `waiters`
    the registry the engine waits on (`JobEngine(webhooks=waiters)`). `options`: provider,
    tolerance, max_body_bytes, remember (see `WebhookReceiver`).
    """
    if settings is None:
        try:
            settings = WebhookSettings()
        except ValidationError as exc:
            problems = "; ".join(
                f"MEDIAROUTER_WEBHOOK_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigurationError(f"invalid webhook setting: {problems}") from None
    if isinstance(secret, str):
        secret = SecretStr(secret) if secret.strip() else None
    secret = secret if secret is not None else settings.secret
    others = list(plugin_schemes() if schemes is None else schemes)
    if secret is None and not others:
        raise ConfigurationError(
            "no webhook secret: deliveries cannot be verified",
            hint=f"set {SECRET_ENV} to the signing secret of your OpenRouter workspace (Settings → Webhooks)",
        )
    if secret is None:
        logger.warning(
            "no %s: OpenRouter deliveries will be refused (401); verifying %s only",
            SECRET_ENV,
            ", ".join(s.provider for s in others),
        )
    options.setdefault("tolerance", settings.tolerance)
    options.setdefault("max_body_bytes", settings.max_body_bytes)
    return WebhookReceiver(
        secret=secret, schemes=others, journal=journal, waiters=waiters, clock=clock, listeners=listeners, **options
    )
