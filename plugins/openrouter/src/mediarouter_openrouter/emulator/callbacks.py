"""The emulator calling back: when a job submitted with ``callback_url`` ends, it POSTs the webhook.

The envelope, headers and signature are OpenRouter's (``{type, created_at, data}``,
``X-OpenRouter-Idempotency-Key: <job id>-<status>``, ``X-OpenRouter-Signature: t=…,v1=…``; the
signing is the core's `mediarouter.webhooks.sign`). A ``callback`` injection makes the call late
(``slow``), twice (``duplicate``), signed with a wrong secret (``bad_signature``) or never
(``lost``). Calls run as tasks on the emulator's event loop; ``calls`` journals each one (never
the secret or the signature), and ``drain()`` waits for those under way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from mediarouter.emulation.callbacks import CallbackTasks, callback_target
from mediarouter.emulation.injection import BAD_SIGNATURE, DUPLICATE, LOST, SLOW
from mediarouter.webhooks.signature import SIGNATURE_HEADER, sign

if TYPE_CHECKING:
    from .state import EmulatedJob, EmulatorState

__all__ = ["CallbackEntry", "WebhookCaller"]

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "X-OpenRouter-Idempotency-Key"
_WRONG_SECRET = SecretStr("not-the-workspace-secret")


class CallbackEntry(TypedDict):
    """One webhook call (or the reason none was made)."""

    job_id: str
    event_type: str
    #: sent | lost (injected) | skipped (not a host the emulator calls) | error (no answer)
    outcome: str
    response_status: int | None
    signed: bool
    #: "path" of the target only: the query of a callback URL may hold a token.
    target: str | None
    error: str | None


class WebhookCaller(CallbackTasks):
    """Sends the webhooks of one emulator's jobs."""

    def __init__(self, state: EmulatorState) -> None:
        super().__init__()
        self._state = state
        self.calls: list[CallbackEntry] = []

    @property
    def _sleep(self) -> Callable[[float], Awaitable[None]]:
        return self._state.config.callback_sleep or asyncio.sleep

    def submitted(self, job: EmulatedJob) -> None:
        """A job with a callback was accepted: with ``callback_after``, it ends by itself then."""
        after = self._state.config.callback_after
        if after is not None:
            self._spawn(self._end_later(job, after))

    async def _end_later(self, job: EmulatedJob, after: float) -> None:
        await self._sleep(after)
        if not job.terminal:
            forced = self._state.take_injection("poll", job.model, terminal=True)
            self._state.machine.finish(job, forced.job_outcome if forced is not None else None)

    def finished(self, job: EmulatedJob) -> None:
        """The job ended (by a poll or by itself): call back, on the running loop."""
        self._spawn(self._call(job))

    # -- one call --------------------------------------------------------------------------

    def envelope(self, job: EmulatedJob) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": job.id,
            "status": job.status,
            "generation_id": job.generation_id,
            "model": job.model,
        }
        if job.status == "completed":
            data["unsigned_urls"] = [
                f"{job.origin}/api/v1/videos/{job.id}/content?index={i}" for i in range(job.outputs)
            ]
            data["usage"] = {"cost": None if job.cost is None else float(job.cost), "is_byok": False}
        elif job.error is not None:
            data["error"] = job.error
        created = datetime.fromtimestamp(job.finished_at or self._state.now(), UTC)
        return {"type": f"video.generation.{job.status}", "created_at": created.isoformat(), "data": data}

    def _target(self, url: str) -> tuple[str, httpx.AsyncBaseTransport | None] | None:
        return callback_target(
            url, transport=self._state.config.callback_transport, forward=self._state.config.callback_forward
        )

    async def _call(self, job: EmulatedJob) -> None:
        url = job.callback_url
        if url is None:
            return
        config = self._state.config
        injection = self._state.take_injection("callback", job.model)
        outcome = injection.outcome if injection is not None else None
        event = self.envelope(job)
        target = self._target(url)
        entry = CallbackEntry(
            job_id=job.id,
            event_type=event["type"],
            outcome="sent",
            response_status=None,
            signed=config.callback_secret is not None,
            target=urlsplit(target[0]).path if target else None,
            error=None,
        )
        if outcome == LOST or target is None:
            self.calls.append(CallbackEntry(**{**entry, "outcome": "lost" if outcome == LOST else "skipped"}))
            return
        if outcome == SLOW:
            await self._sleep(config.callback_slow_seconds)
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: f"{job.id}-{job.status}"}
        if config.callback_secret is not None:
            secret = _WRONG_SECRET if outcome == BAD_SIGNATURE else config.callback_secret
            headers[SIGNATURE_HEADER] = sign(secret, body, int(self._state.now()))
        address, transport = target
        async with httpx.AsyncClient(transport=transport, timeout=10.0, follow_redirects=False) as client:
            for _ in range(2 if outcome == DUPLICATE else 1):
                try:
                    response = await client.post(address, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    log.warning("emulator: the webhook for job %s got no answer (%s)", job.id, type(exc).__name__)
                    self.calls.append(CallbackEntry(**{**entry, "outcome": "error", "error": type(exc).__name__}))
                    continue
                self.calls.append(CallbackEntry(**{**entry, "response_status": response.status_code}))
