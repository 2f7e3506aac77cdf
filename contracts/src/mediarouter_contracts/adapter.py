"""The adapter a plugin author writes: scenario decisions in, their wire format out.

The kit decides *what* the backend does at every request (accept the job, report
`in_progress`, fail with HTTP 503, cut the body short, …). The adapter only knows *how*
that looks on the author's wire: which URL is which phase, what a job object, a status,
an error envelope and a model listing look like. It holds no state and makes no decisions.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from mediarouter import Capabilities

from .scenarios import HttpError, MalformedKind, Phase, Scenario, StatusName

__all__ = ["DownloadLink", "ResponseContext", "WireAdapter", "json_response"]


@dataclass(frozen=True)
class DownloadLink:
    """Where one output of a completed job can be fetched, as the backend should advertise it.

    `url` is None when the output is served from the provider's own download endpoint: render the
    URL your API would give (or none, if your API has a fixed content endpoint). Otherwise it is a
    URL the kit serves, possibly on a foreign host. `signed` says whether it is a credential-free
    pre-signed URL (valid until `expires_at`, Unix seconds) or one that needs the provider's key.
    """

    index: int
    url: str | None = None
    signed: bool = False
    expires_at: float | None = None


@dataclass(frozen=True)
class ResponseContext:
    """Everything the kit decided about one answer. Fields that do not apply to a phase keep their defaults."""

    phase: Phase
    request: httpx.Request
    scenario: Scenario
    job_id: str
    model_id: str
    base_url: str
    #: Wall-clock Unix seconds on the fake clock (for expiry timestamps).
    now: float
    #: submit and poll: the job state to report (`pending` for an accepted submit).
    status: StatusName = "pending"
    #: poll, for failed/cancelled/expired: the server's message (None: send none).
    error_message: str | None = None
    #: poll, for completed: the cost to report (None: the backend does not know it).
    cost: Decimal | None = None
    #: poll, for completed: one link per output.
    links: tuple[DownloadLink, ...] = ()
    #: download: which output, and its bytes.
    output_index: int = 0
    body: bytes = b""
    #: models: what the model `model_id` should be advertised as supporting.
    capabilities: Capabilities = field(default_factory=Capabilities)


def json_response(status_code: int, data: object, *, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON answer (the kit re-encodes nothing: the bytes are what the provider reads)."""
    body = json.dumps(data, ensure_ascii=False, default=_json_default).encode("utf-8")
    merged = {"content-type": "application/json"}
    merged.update(headers or {})
    return httpx.Response(status_code, content=body, headers=merged)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class WireAdapter(ABC):
    """Turns the kit's decisions into one API's wire format. Subclass it; keep it stateless.

    Required: `phase_of` (routing) and the five `*_response` methods. Optional: `output_index`
    (several outputs per job) and `malformed_response` (the default breaks the normal answer's body
    in wire-neutral ways; override it only if your wire needs a different notion of "broken").
    Every method returns an `httpx.Response` built with `content=` (or `json_response`), not a stream.
    """

    @abstractmethod
    def phase_of(self, request: httpx.Request) -> Phase | None:
        """Which phase a request to the provider's origin belongs to; None if it is none of them."""

    def output_index(self, request: httpx.Request) -> int:
        """Which output a download request asks for (0 when your API has one output per job)."""
        return 0

    @abstractmethod
    def submit_response(self, ctx: ResponseContext) -> httpx.Response:
        """The job was accepted: answer with job `ctx.job_id` in state `ctx.status` (always `pending`)."""

    @abstractmethod
    def poll_response(self, ctx: ResponseContext) -> httpx.Response:
        """Job `ctx.job_id` is in state `ctx.status` (with `ctx.error_message`, or `ctx.cost` and `ctx.links`)."""

    @abstractmethod
    def download_response(self, ctx: ResponseContext) -> httpx.Response:
        """Output `ctx.output_index` of the job: `ctx.body`, as your API serves video bytes."""

    @abstractmethod
    def models_response(self, ctx: ResponseContext) -> httpx.Response:
        """The model listing, advertising model `ctx.model_id` with `ctx.capabilities`."""

    @abstractmethod
    def error_response(self, ctx: ResponseContext, error: HttpError) -> httpx.Response:
        """HTTP `error.status` with your API's error body carrying `error.message` (and Retry-After if set)."""

    def malformed_response(self, ctx: ResponseContext, kind: MalformedKind, normal: httpx.Response) -> httpx.Response:
        """`normal`'s status code with a broken body (see `mediarouter_contracts.scenarios.MalformedKind`)."""
        bodies: dict[MalformedKind, tuple[bytes, str]] = {
            "not_json": (b"this is not json", "application/json"),
            "html": (b"<html><head><title>Service hiccup</title></head><body>oops</body></html>", "text/html"),
            "empty": (b"", "application/json"),
            "wrong_json_type": (b'["unexpected", "list"]', "application/json"),
            "empty_object": (b"{}", "application/json"),
            "json_body": (b'{"error": {"message": "the output is not ready"}}', "application/json"),
        }
        body, content_type = bodies[kind]
        headers = {k: v for k, v in normal.headers.items() if k.lower() not in ("content-length", "content-type")}
        headers["content-type"] = content_type
        return httpx.Response(normal.status_code, content=body, headers=headers)
