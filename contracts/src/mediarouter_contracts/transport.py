"""A fake backend: plays a `Scenario` through `httpx.MockTransport` and records every request.

The provider under test gets this transport instead of the network. For each request the
transport works out the phase (the kit's own URLs first, then the plugin's `WireAdapter`),
picks that phase's next outcome from the scenario, asks the adapter for the wire answer
and serves it as a stream it can later check was closed. Nothing leaves the process and
delays move the fake clock only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import httpx

from mediarouter import Capabilities

from .adapter import DownloadLink, ResponseContext, WireAdapter
from .clock import FakeClock
from .scenarios import (
    FOREIGN_ORIGIN,
    JSON_PHASES,
    KIT_PATH,
    ConnectError,
    Delay,
    HttpError,
    Malformed,
    Mutated,
    Ok,
    Outcome,
    Phase,
    Scenario,
    Truncated,
)

__all__ = ["RecordedRequest", "ScenarioOverrun", "ScenarioTransport", "TrackedStream", "origin_of"]

#: Lifetime of the signed URLs the kit hands out.
SIGNED_URL_LIFETIME = 3600.0
#: Size of the chunks a body is streamed in (every chunk is an await point).
CHUNK_SIZE = 1024


def origin_of(url: str | httpx.URL) -> str:
    """`scheme://host[:port]` with default ports dropped, lowercased."""
    u = httpx.URL(str(url))
    scheme = u.scheme.lower()
    port = u.port
    default = {"http": 80, "https": 443}.get(scheme)
    host = (u.host or "").lower()
    return f"{scheme}://{host}" if port is None or port == default else f"{scheme}://{host}:{port}"


class ScenarioOverrun(BaseException):
    """The provider sent more requests than any sane run of one job needs (a loop inside the plugin).

    A BaseException, so no `except Exception` in the code under test can swallow it.
    """


@dataclass
class RecordedRequest:
    """One request the provider sent, and what the fake backend did with it."""

    number: int
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    #: Fake seconds since the transport was made (the job's start).
    at: float
    phase: Phase | None = None
    outcome: Outcome | None = None
    #: The status answered; None when no answer was given (connection error, cancelled).
    status_code: int | None = None
    note: str = ""

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive)."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    @property
    def origin(self) -> str:
        return origin_of(self.url)

    def __str__(self) -> str:
        answer = "no answer" if self.status_code is None else f"→ {self.status_code}"
        parts = [f"#{self.number} t=+{self.at:g}s {self.method} {self.url} [{self.phase or 'unrouted'}]"]
        if self.outcome is not None and not isinstance(self.outcome, Ok):
            parts.append(repr(self.outcome))
        parts.append(answer)
        if self.note:
            parts.append(f"({self.note})")
        return " ".join(parts)


class TrackedStream(httpx.AsyncByteStream):
    """A response body served in chunks, remembering whether the client closed it."""

    def __init__(self, body: bytes, *, chunk_size: int = CHUNK_SIZE) -> None:
        self.body = body
        self.chunk_size = chunk_size
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), self.chunk_size):
            yield self.body[start : start + self.chunk_size]
            await asyncio.sleep(0)

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class _Route:
    phase: Phase
    index: int = 0
    kit_url: bool = False


@dataclass
class _Progress:
    counts: dict[str, int] = field(default_factory=lambda: {"submit": 0, "poll": 0, "download": 0, "models": 0})
    readable_polls: int = 0


class ScenarioTransport(httpx.MockTransport):
    """An `httpx.MockTransport` that answers as `scenario` says, in `adapter`'s wire format.

    `requests` records every request (method, URL, headers, body, phase, outcome, answer).
    `open_streams()` lists response bodies the client never closed. `max_requests` caps one
    run, and `stop_after` (fake seconds) ends it at the first request sent that late: either
    raises `ScenarioOverrun` into the provider. For cancellation tests,
    `on_request(record)` runs as each request arrives, `block_at=n` makes request n hang until
    cancelled, and `on_response(record)` runs just before an answer is handed back.
    """

    def __init__(
        self,
        scenario: Scenario,
        adapter: WireAdapter,
        *,
        base_url: str,
        model_id: str,
        clock: FakeClock | None = None,
        capabilities: Capabilities | None = None,
        max_requests: int = 200,
        stop_after: float | None = None,
    ) -> None:
        super().__init__(self._handle)
        self.scenario = scenario
        self.adapter = adapter
        self.base_url = base_url.rstrip("/")
        self.origin = origin_of(self.base_url)
        self.model_id = model_id
        self.clock = clock or FakeClock()
        self.capabilities = capabilities or Capabilities()
        self.max_requests = max_requests
        self.stop_after = stop_after
        self.requests: list[RecordedRequest] = []
        self.streams: list[TrackedStream] = []
        self.overrun = False
        self.closed = False
        self.on_request: Callable[[RecordedRequest], None] | None = None
        self.on_response: Callable[[RecordedRequest], None] | None = None
        self.block_at: int | None = None
        self._start = self.clock.monotonic()
        self._progress = _Progress()

    # -- what tests read ------------------------------------------------------------------

    def by_phase(self, phase: Phase) -> list[RecordedRequest]:
        return [r for r in self.requests if r.phase == phase]

    def open_streams(self) -> list[TrackedStream]:
        return [s for s in self.streams if not s.closed]

    def log(self, limit: int = 40) -> str:
        """The request log, one line each (the first and last ones when there are many)."""
        lines = [str(r) for r in self.requests]
        if len(lines) > limit:
            half = limit // 2
            lines = [*lines[:half], f"… {len(lines) - limit} more …", *lines[-half:]]
        return "\n".join(lines) if lines else "(no request was sent)"

    async def aclose(self) -> None:
        self.closed = True

    # -- answering ------------------------------------------------------------------------

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        record = RecordedRequest(
            number=len(self.requests) + 1,
            method=request.method,
            url=str(request.url),
            headers=tuple((k.lower(), v) for k, v in request.headers.multi_items()),
            body=request.content,
            at=self.clock.monotonic() - self._start,
        )
        self.requests.append(record)
        if record.number > self.max_requests:
            self.overrun = True
            record.note = "over the request cap"
            raise ScenarioOverrun(
                f"the provider sent more than {self.max_requests} requests for one job; plugins must not loop "
                "(the job engine owns polling and retries)"
            )
        if self.stop_after is not None and record.at >= self.stop_after:
            self.overrun = True
            record.note = "after the deadline"
            raise ScenarioOverrun(f"the provider sent a request at t=+{record.at:g}s, after the run's deadline")
        if self.on_request is not None:
            self.on_request(record)
        if self.block_at == record.number:
            record.note = "held until cancelled"
            await asyncio.get_running_loop().create_future()  # never resolves: only a cancel ends it
        response = self._answer(request, record)
        record.status_code = response.status_code
        if self.on_response is not None:
            self.on_response(record)
        return response

    def _route(self, request: httpx.Request) -> _Route | None:
        path = request.url.path
        if path.startswith(KIT_PATH):
            tail = path[len(KIT_PATH) :].split("/")
            try:
                index = int(tail[-1])
            except (ValueError, IndexError):
                index = 0
            return _Route("download", index, kit_url=True)
        if origin_of(request.url) != self.origin:
            return None
        phase = self.adapter.phase_of(request)
        if phase is None:
            return None
        index = self.adapter.output_index(request) if phase == "download" else 0
        return _Route(phase, index)

    def _kit_url(self, origin: str, kind: str, index: int, *, signed: bool) -> str:
        url = f"{origin}{KIT_PATH}{kind}/{quote(self.scenario.job_id, safe='')}/{index}"
        return url + "?signature=contract-kit-signature" if signed else url

    def _context(self, phase: Phase, request: httpx.Request, **fields: Any) -> ResponseContext:
        return ResponseContext(
            phase=phase,
            request=request,
            scenario=self.scenario,
            job_id=self.scenario.job_id,
            model_id=self.model_id,
            base_url=self.base_url,
            now=self.clock.time(),
            **fields,
        )

    def _answer(self, request: httpx.Request, record: RecordedRequest) -> httpx.Response:
        route = self._route(request)
        if route is None:
            record.note = "no such endpoint (the adapter did not route it)"
            return self._serve(
                httpx.Response(404, json={"error": {"message": "contract kit: no such endpoint"}}), "download"
            )
        record.phase = route.phase
        if route.phase == "download" and self.scenario.redirect_download and not route.kit_url:
            target = self._kit_url(FOREIGN_ORIGIN, "redirected", route.index, signed=True)
            record.note = f"redirected to {FOREIGN_ORIGIN}"
            return self._serve(httpx.Response(302, headers={"location": target}), "download")

        progress = self._progress
        n = progress.counts[route.phase]
        progress.counts[route.phase] += 1
        outcome = self.scenario.script(route.phase).at(n)
        record.outcome = outcome
        if isinstance(outcome, ConnectError):
            record.note = "connection refused"
            raise httpx.ConnectError("contract kit: connection refused", request=request)
        if isinstance(outcome, HttpError):
            return self._serve(self.adapter.error_response(self._context(route.phase, request), outcome), route.phase)
        if isinstance(outcome, Delay):
            self.clock.advance(outcome.seconds)
        readable = isinstance(outcome, Ok | Delay)
        normal = self._normal(route, request, advance=readable)
        if isinstance(outcome, Malformed):
            ctx = self._context(route.phase, request)
            return self._serve(self.adapter.malformed_response(ctx, outcome.kind, normal), route.phase)
        if isinstance(outcome, Truncated):
            return self._serve(normal, route.phase, truncate=True)
        if isinstance(outcome, Mutated):
            mutated, note = _mutate(normal, outcome)
            record.note = note
            return self._serve(mutated, route.phase)
        return self._serve(normal, route.phase)

    def _normal(self, route: _Route, request: httpx.Request, *, advance: bool) -> httpx.Response:
        scenario = self.scenario
        if route.phase == "submit":
            return self.adapter.submit_response(self._context("submit", request, status="pending"))
        if route.phase == "poll":
            progress = self._progress
            status = scenario.status_at(progress.readable_polls)
            if advance:
                progress.readable_polls += 1
            fields: dict[str, Any] = {"status": status}
            if status == "completed":
                fields["cost"] = scenario.cost
                fields["links"] = self._links()
            elif status in ("failed", "cancelled", "expired"):
                fields["error_message"] = scenario.job_error
            return self.adapter.poll_response(self._context("poll", request, **fields))
        if route.phase == "download":
            if not 0 <= route.index < len(scenario.outputs):
                error = HttpError(404, f"no output #{route.index}")
                return self.adapter.error_response(self._context("download", request), error)
            ctx = self._context("download", request, output_index=route.index, body=scenario.outputs[route.index])
            return self.adapter.download_response(ctx)
        return self.adapter.models_response(self._context("models", request, capabilities=self.capabilities))

    def _links(self) -> tuple[DownloadLink, ...]:
        scenario = self.scenario
        links = []
        for index in range(len(scenario.outputs)):
            if scenario.download_origin == "provider" and not scenario.signed_urls:
                links.append(DownloadLink(index=index))
                continue
            origin = FOREIGN_ORIGIN if scenario.download_origin == "foreign" else self.origin
            url = self._kit_url(origin, "download", index, signed=scenario.signed_urls)
            expires = self.clock.time() + SIGNED_URL_LIFETIME if scenario.signed_urls else None
            links.append(DownloadLink(index=index, url=url, signed=scenario.signed_urls, expires_at=expires))
        return tuple(links)

    def _serve(self, response: httpx.Response, phase: Phase, *, truncate: bool = False) -> httpx.Response:
        body = response.content
        headers = httpx.Headers(response.headers)
        if self.scenario.extra_fields and phase in JSON_PHASES:
            body = _with_extra_field(body)
        full_length = len(body)
        if truncate:
            body = body[: len(body) // 2]
        if "content-length" in headers:
            del headers["content-length"]
        if not truncate or phase == "download":
            # A truncated JSON answer is close-delimited (no length); a truncated download announces the full size.
            headers["content-length"] = str(full_length)
        stream = TrackedStream(body)
        self.streams.append(stream)
        return httpx.Response(response.status_code, headers=headers, stream=stream)


def _with_extra_field(body: bytes) -> bytes:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    if not isinstance(data, dict):
        return body
    data["x_contract_unknown_field"] = {"added_by": "contract kit", "values": [1, "two", None]}
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


_Path = tuple[str | int, ...]


def _paths(value: Any, prefix: _Path = ()) -> list[_Path]:
    found: list[_Path] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((*prefix, index))
            found.extend(_paths(child, (*prefix, index)))
    return found


def _retyped(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, str):
        return 12345
    if isinstance(value, int | float):
        return "twelve"
    if isinstance(value, list):
        return {"unexpected": "object"}
    if isinstance(value, dict):
        return ["unexpected", "list"]
    return {"unexpected": "object"}  # null


def _mutate(response: httpx.Response, mutation: Mutated) -> tuple[httpx.Response, str]:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return response, "not JSON: nothing to mutate"
    paths = _paths(data)
    if not paths:
        return response, "no field to mutate"
    path = paths[mutation.pick % len(paths)]
    parent: Any = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if mutation.how == "drop":
        if isinstance(parent, dict):
            del parent[last]
        else:
            parent.pop(last)
        done = "dropped"
    elif mutation.how == "null":
        parent[last] = None
        done = "set to null"
    else:
        parent[last] = _retyped(parent[last])
        done = f"retyped to {json.dumps(parent[last])}"
    where = ".".join(unquote(str(p)) for p in path)
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return httpx.Response(response.status_code, content=body, headers=headers), f"`{where}` {done}"
