"""What the emulator remembers: jobs, their progression, armed injections and the request journal.

Independent of the web framework so tests (and the contract kit) can drive and inspect it
directly. The API key is never kept: only a SHA-256 digest, to compare bearers against. The
job state machine, the injector, the journal and the MP4 cache are the shared ones from
:mod:`mediarouter.emulation`; what is OpenRouter's (messages, validation, wire shapes) is here.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import secrets
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypedDict

from mediarouter.emulation import errors as _errors
from mediarouter.emulation.injection import Injector
from mediarouter.emulation.jobs import Job, JobMachine, JobStatus
from mediarouter.emulation.journal import Journal
from mediarouter.emulation.mp4 import DEFAULT_CACHE, VideoCache, make_mp4
from mediarouter.pricing import estimate, rules_from_skus

from ..catalog import catalog_models
from .callbacks import WebhookCaller
from .config import EmulatorConfig, Injection

__all__ = [
    "DEFAULT_MESSAGES",
    "ApiError",
    "EmulatedJob",
    "EmulatorState",
    "JournalEntry",
    "Submission",
    "price_per_second",
    "validate_submission",
]

JobStatusName = JobStatus
AuthResult = Literal["ok", "missing", "invalid"]

#: Realistic messages for errors the emulator makes up (injections, generic statuses).
DEFAULT_MESSAGES: dict[int, str] = {
    400: "Invalid request",
    401: "No auth credentials found",
    402: "Insufficient credits. Add more using https://openrouter.ai/credits",
    403: "Forbidden: the request was blocked by a guardrail or moderation",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict: the job is not in a state that allows this",
    410: "Gone: the video output is no longer available",
    413: "Request body too large: the limit is 50 MiB",
    429: "Rate limit exceeded",
    499: "Client Closed Request",
    500: "Internal Server Error",
    502: "Bad Gateway: the upstream provider failed while the video was downloaded",
    503: "No available provider",
    504: "Gateway Timeout",
    524: "Edge network timeout",
    529: "Provider overloaded",
}

_ALNUM = string.ascii_letters + string.digits
_SIZE = re.compile(r"^[1-9]\d*x[1-9]\d*$")
_REFERENCE_TYPES = ("image_url", "audio_url", "video_url")
#: Used when a model advertises no durations and the request names none.
_FALLBACK_DURATION = 5


def message_for(status: int) -> str:
    return DEFAULT_MESSAGES.get(status, f"Emulated error {status}")


class ApiError(_errors.ApiError):
    """An error answer in OpenRouter's shape; raised by the request logic, rendered by the app."""

    messages: ClassVar[dict[int, str]] = DEFAULT_MESSAGES

    @classmethod
    def default_message(cls, status: int) -> str:
        return message_for(status)


class JournalEntry(TypedDict):
    """One request as seen by the emulator. Never holds header values, tokens or the key."""

    method: str
    path: str
    status: int
    #: submit, poll, content (also signed downloads) or models; None for unknown routes.
    phase: str | None
    host: str
    model: str | None
    job_id: str | None
    authorized: bool
    range: str | None


def _random_alnum(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def price_per_second(
    model: dict[str, Any],
    *,
    with_audio: bool,
    resolution: str | None = None,
    size: str | None = None,
    image_input: bool = False,
) -> Decimal | None:
    """The rate the emulator bills: the SKU rule the client's estimate picks (mediarouter.pricing) for this request."""
    found = estimate(
        rules_from_skus(model.get("pricing_skus")),
        1,
        resolution=resolution,
        audio=with_audio,
        size=size,
        mode="image-to-video" if image_input else "text-to-video",
        resolutions=model.get("supported_resolutions"),
        sizes=model.get("supported_sizes"),
    )
    return found.price_per_second if found is not None else None


@dataclass(frozen=True)
class Submission:
    """A validated submit body, reduced to what shapes the emulated output."""

    model: str
    duration: int
    resolution: str | None
    aspect_ratio: str | None
    size: str | None
    with_audio: bool
    seed: int | None
    price_per_second: Decimal | None


def _allowed(values: Sequence[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _check_in_set(model: dict[str, Any], field_name: str, capability: str, value: Any) -> None:
    supported = model.get(capability)
    if supported is not None and value not in supported:
        raise ApiError(
            400,
            f"{field_name} {value!r} is not supported by {model['id']}; "
            f"{capability} (allowed values): {_allowed(supported)}",
        )


def _url_holder(item: dict[str, Any], key: str, where: str) -> None:
    holder = item.get(key)
    if not isinstance(holder, dict) or not isinstance(holder.get("url"), str) or not holder["url"]:
        raise ApiError(400, f"{where}.{key}.url is required and must be a string")


def _check_frame_images(model: dict[str, Any], frames: Any) -> None:
    if not isinstance(frames, list):
        raise ApiError(400, "frame_images must be an array")
    supported = model.get("supported_frame_images")
    for i, frame in enumerate(frames):
        where = f"frame_images[{i}]"
        if not isinstance(frame, dict):
            raise ApiError(400, f"{where} must be an object")
        if frame.get("type") != "image_url":
            raise ApiError(400, f"{where}.type must be 'image_url'")
        _url_holder(frame, "image_url", where)
        frame_type = frame.get("frame_type")
        allowed = supported if supported is not None else ["first_frame", "last_frame"]
        if frame_type not in allowed:
            raise ApiError(
                400,
                f"{where}.frame_type {frame_type!r} is not supported by {model['id']}; "
                f"supported_frame_images (allowed values): {_allowed(allowed)}",
            )


def _check_input_references(refs: Any) -> None:
    if not isinstance(refs, list):
        raise ApiError(400, "input_references must be an array")
    for i, ref in enumerate(refs):
        where = f"input_references[{i}]"
        if not isinstance(ref, dict) or ref.get("type") not in _REFERENCE_TYPES:
            raise ApiError(400, f"{where}.type must be one of (allowed values): {_allowed(_REFERENCE_TYPES)}")
        _url_holder(ref, str(ref["type"]), where)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_submission(body: Any, models: dict[str, dict[str, Any]]) -> Submission:
    """Check a submit body the way the live API does; raises ApiError naming the field and allowed values."""
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid request body: expected a JSON object")
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        raise ApiError(400, "model is required")
    model = models.get(model_id)
    if model is None:
        raise ApiError(404, f"Model {model_id!r} not found or not a video generation model")

    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise ApiError(400, "prompt must be a string")
    has_images = bool(body.get("frame_images")) or bool(body.get("input_references"))
    if not prompt and not has_images:
        raise ApiError(400, "prompt is required unless frame_images or input_references are given")

    duration = body.get("duration")
    if duration is not None:
        if not _is_int(duration) or duration <= 0:
            raise ApiError(400, f"duration must be a positive integer (seconds), got {duration!r}")
        _check_in_set(model, "duration", "supported_durations", duration)
    for name, capability in (("resolution", "supported_resolutions"), ("aspect_ratio", "supported_aspect_ratios")):
        value = body.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise ApiError(400, f"{name} must be a string")
            _check_in_set(model, name, capability, value)
    size = body.get("size")
    if size is not None:
        if not isinstance(size, str) or not _SIZE.match(size):
            raise ApiError(400, f"size must be 'WIDTHxHEIGHT' (e.g. '1280x720'), got {size!r}")
        _check_in_set(model, "size", "supported_sizes", size)

    audio = body.get("generate_audio")
    if audio is not None and not isinstance(audio, bool):
        raise ApiError(400, "generate_audio must be a boolean")
    if audio is True and model.get("generate_audio") is False:
        raise ApiError(400, f"generate_audio is not supported by {model_id}; allowed values: false")
    # The SDK documents the default: the model's own audio capability, false when unset.
    with_audio = audio if audio is not None else bool(model.get("generate_audio"))

    seed = body.get("seed")
    if seed is not None and not _is_int(seed):
        raise ApiError(400, "seed must be an integer")
    if body.get("frame_images") is not None:
        _check_frame_images(model, body["frame_images"])
    if body.get("input_references") is not None:
        _check_input_references(body["input_references"])

    callback = body.get("callback_url")
    if callback is not None and (not isinstance(callback, str) or not callback.lower().startswith("https://")):
        raise ApiError(400, "callback_url must be an HTTPS URL")
    session_id = body.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or len(session_id) > 256):
        raise ApiError(400, "session_id must be a string of at most 256 characters")
    provider = body.get("provider")
    if provider is not None and (not isinstance(provider, dict) or not isinstance(provider.get("options", {}), dict)):
        raise ApiError(400, "provider must be an object like {'options': {'<slug>': {...}}}")
    for upscale_field in ("creativity", "upscale_factor"):
        if body.get(upscale_field) is not None and model.get(upscale_field) is None:
            raise ApiError(400, f"{upscale_field} is not supported by {model_id}: it applies to upscaling models only")

    if duration is None:
        durations = model.get("supported_durations")
        duration = min(durations) if durations else _FALLBACK_DURATION
    return Submission(
        model=model_id,
        duration=duration,
        resolution=body.get("resolution"),
        aspect_ratio=body.get("aspect_ratio"),
        size=size,
        with_audio=with_audio,
        seed=seed,
        price_per_second=price_per_second(
            model,
            with_audio=with_audio,
            resolution=body.get("resolution"),
            size=size,
            image_input=bool(body.get("frame_images")),
        ),
    )


@dataclass(kw_only=True)
class EmulatedJob(Job):
    """One video job and how far it has got (the shared Job plus OpenRouter's fields)."""

    submission: Submission
    #: Where the webhook goes when the job ends (None: no webhook), and the API origin its URLs name.
    callback_url: str | None = None
    origin: str = ""
    generation_id: str | None = None
    signed_token: str | None = field(default=None, repr=False)
    expires_at: int | None = None

    def to_wire(
        self,
        polling_url: str,
        content_url: Callable[[int], str],
        signed_url: Callable[[int], str] | None,
    ) -> dict[str, Any]:
        """The `VideoGenerationResponse` a poll returns for this job."""
        body: dict[str, Any] = {"id": self.id, "polling_url": polling_url, "status": self.status}
        if self.generation_id is not None:
            body["generation_id"] = self.generation_id
        if self.error is not None:
            body["error"] = self.error
        if self.status == "completed":
            body["unsigned_urls"] = [content_url(i) for i in range(self.outputs)]
            if signed_url is not None and self.signed_token is not None:
                body["urls"] = [signed_url(i) for i in range(self.outputs)]
                body["expires_at"] = self.expires_at
            body["usage"] = {"cost": None if self.cost is None else float(self.cost), "is_byok": False}
        return body


class EmulatorState:
    """All mutable emulator state. Lives in one event loop; MP4 rendering may run in worker threads."""

    def __init__(self, config: EmulatorConfig, *, videos: VideoCache | None = None) -> None:
        key = config.api_key
        self._key_digest = hashlib.sha256(key.encode()).digest() if key else None
        #: The configuration, minus the key.
        self.config = replace(config, api_key=None)
        models = config.models if config.models is not None else tuple(catalog_models())
        self._models: dict[str, dict[str, Any]] = {m["id"]: copy.deepcopy(m) for m in models}
        self.injector: Injector[Injection] = Injector(config.injections)
        self.machine: JobMachine[EmulatedJob] = JobMachine(
            config.schedule(), injector=self.injector, now=self.now, on_finish=self._finished
        )
        self.jobs: dict[str, EmulatedJob] = self.machine.jobs
        self.journal = Journal()
        #: The webhooks of jobs submitted with a callback_url (`webhooks.calls` journals them).
        self.webhooks = WebhookCaller(self)
        #: Rendered clips, shared by every emulator in the process unless a test brings its own.
        self.videos = videos if videos is not None else DEFAULT_CACHE

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The request journal's entries (JournalEntry dicts), oldest first."""
        return self.journal.entries

    # -- time, models, auth ------------------------------------------------------------------

    def now(self) -> float:
        return self.config.clock() if self.config.clock is not None else time.time()

    def list_models(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self._models.values()))

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        return self._models

    def check_bearer(self, authorization: str | None) -> AuthResult:
        """Judge an Authorization header: any non-empty bearer, or exactly the configured key."""
        if not authorization:
            return "missing"
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "missing"
        if self._key_digest is None:
            return "ok"
        given = hashlib.sha256(token.encode()).digest()
        return "ok" if hmac.compare_digest(given, self._key_digest) else "invalid"

    # -- injections ---------------------------------------------------------------------------

    def take_injection(self, phase: str, model: str | None, *, terminal: bool = False) -> Injection | None:
        """The first armed injection for this phase and model, spending one of its firings."""
        return self.injector.take(phase, model, job=terminal)

    def add_injection(self, injection: Injection) -> None:
        self.injector.add(injection)

    # -- jobs -----------------------------------------------------------------------------------

    def create_job(self, submission: Submission, *, callback_url: str | None = None, origin: str = "") -> EmulatedJob:
        now = self.now()
        job_id = f"gen-vid-{int(now)}-{_random_alnum(20)}"
        price = submission.price_per_second
        job = EmulatedJob(
            id=job_id,
            submission=submission,
            model=submission.model,
            created_at=now,
            outputs=self.config.outputs_per_job,
            cost=None if price is None else price * submission.duration,
            callback_url=callback_url,
            origin=origin,
        )
        self.machine.add(job)
        if callback_url is not None:
            self.webhooks.submitted(job)
        return job

    def advance(self, job: EmulatedJob) -> None:
        """Count one answered poll and move the job along the configured schedule."""
        self.machine.poll(job)

    def _finished(self, job: EmulatedJob) -> None:
        now = self.now()
        job.generation_id = f"gen-{int(now)}-{_random_alnum(20)}"
        if job.status == "completed" and self.config.signed_urls:
            job.signed_token = secrets.token_urlsafe(24)
            job.expires_at = int(now) + self.config.signed_url_ttl
        if job.callback_url is not None:
            self.webhooks.finished(job)

    def check_signed(self, job: EmulatedJob, token: str | None) -> str | None:
        """Why a signed download is refused, or None when the token is good and unexpired."""
        if job.signed_token is None or not token or not hmac.compare_digest(token, job.signed_token):
            return "Invalid signature: the signed URL is not valid for this object"
        if job.expires_at is not None and self.now() >= job.expires_at:
            return "Request has expired: the signed URL is no longer valid"
        return None

    def video(self, job: EmulatedJob, index: int) -> bytes:
        """The job's MP4 for this output (thread-safe, blocking).

        One render per shape, seed and output index is shared by all jobs; the job id and index
        are stamped into each copy, so every job's bytes are its own and stable across requests.
        """
        sub = job.submission
        return make_mp4(
            sub.duration,
            sub.aspect_ratio,
            sub.size,
            with_audio=sub.with_audio,
            seed=sub.seed,
            label=f"{job.id}#{index}",
            variant=f"#{index}",
            cache=self.videos,
        )

    # -- journal --------------------------------------------------------------------------------

    def record(self, entry: JournalEntry) -> None:
        self.journal.append(entry)

    def clear_journal(self) -> None:
        self.journal.clear()

    def reset(self) -> None:
        """Forget jobs and the journal and re-arm the configured injections."""
        self.webhooks.cancel()
        self.machine.clear()
        self.journal.clear()
        self.injector.reset()
