"""Where OpenRouter's answers differ from the shared status table: its hints, its error envelope,
and moderation reasons on 403. The table itself is the core's (`mediarouter.http.statuses`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from mediarouter import MediaRouterError
from mediarouter.http import ServerMessage, StatusRules, default_server_message, error_for_status

from .wire import parse_error_body

__all__ = ["KEY_HINT", "Phase", "RULES", "error_from_response"]

Phase = Literal["submit", "poll", "download", "models", "chat"]

EMULATOR_HINT = (
    "install the emulator extra: mediarouter install 'mediarouter-openrouter[emulator]' "
    "(from a clone: mediarouter install './plugins/openrouter[emulator]')"
)
KEY_HINT = (
    "set OPENROUTER_API_KEY, run `mediarouter keys set openrouter` or pass api_key=...; "
    "keys are at https://openrouter.ai/settings/keys"
)


def _server_message(body: bytes) -> ServerMessage:
    """OpenRouter's `{"error": {"code", "message", "metadata"}}` envelope, else the common shapes."""
    envelope = parse_error_body(body)
    if envelope is not None and envelope.error is not None and envelope.error.message:
        detail = envelope.error
        return ServerMessage(message=detail.message, metadata=detail.metadata, code=detail.code, structured=True)
    return default_server_message(body)


def _reasons(metadata: Mapping[str, Any] | None) -> list[str]:
    reasons = (metadata or {}).get("reasons")
    if isinstance(reasons, str):
        return [reasons]
    if isinstance(reasons, list):
        return [str(r) for r in reasons if r is not None]
    return []


def _refine(error: MediaRouterError, said: ServerMessage, phase: str) -> MediaRouterError:
    """A moderation block (403) says why: `error.metadata.reasons`."""
    reasons = _reasons(said.metadata) if error.status_code == 403 else []
    if reasons:
        error.message += f" (reasons: {'; '.join(reasons)})"
        error.details["reasons"] = reasons
    return error


RULES = StatusRules(
    label="OpenRouter",
    key_hint=KEY_HINT,
    server_message=_server_message,
    refine=_refine,
    hints={
        402: "add credits at https://openrouter.ai/settings/credits (or raise the key's limit); waiting will not help",
        (400, "submit"): "check the request against the model's capabilities (`mediarouter models`)",
        (404, "submit"): "unknown model id: run `mediarouter models` to list them",
        404: "unknown job id (or a job created with another key)",
        (409, "submit"): "previous_job_id must name a completed job",
        409: "the output is not ready yet; poll until the job is completed",
        413: "the request body is over OpenRouter's 50 MiB limit: use https:// URLs instead of data: URLs "
        "for frame images and references",
        429: "wait and retry; OpenRouter limits requests per key",
        (400, "chat"): "check that the model takes video input (`mediarouter describe --list-models`)",
        (404, "chat"): "unknown model id: `mediarouter describe --list-models` lists the models that take video",
        (413, "chat"): "the video is over the provider's limit: --shrink (shrink=True) fits a copy, "
        "or give an https:// URL the provider can fetch",
    },
)


def error_from_response(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    phase: Phase,
    model: str | None = None,
    job_id: str | None = None,
    secrets: Iterable[str] = (),
    now: float | None = None,
) -> MediaRouterError:
    """The core error for one of OpenRouter's non-2xx answers."""
    return error_for_status(
        status_code,
        headers,
        body,
        rules=RULES,
        phase=phase,
        provider="openrouter",
        model=model,
        job_id=job_id,
        secrets=secrets,
        now=now,
    )
