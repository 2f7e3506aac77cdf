"""The one HTTP client a provider holds: credentials only to its configured origin, bounded reads,
statuses and network failures mapped to core errors, and downloads opened as core `Download`s.

A plugin gives it the base URL, the credential headers and its `StatusRules`; it then makes
one HTTP exchange per call. Redirects are followed by httpx; httpx already drops
`Authorization` when a redirect leaves the origin, and a request hook here drops every other
credential header (`x-goog-api-key`, `X-Api-Key`, …) too, so no key reaches another host.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from ..clock import Clock
from ..errors import (
    AuthenticationFailed,
    ConfigurationError,
    InvalidRequest,
    MediaRouterError,
    ProtocolError,
    ProviderUnavailable,
)
from ..provider import Download
from ..redact import redact_text
from .sending import current_probe
from .socketbody import connection_socket, iter_body
from .statuses import PHASE_TEXT, StatusRules, error_for_status

__all__ = [
    "MAX_ERROR_BODY",
    "MAX_JSON_BODY",
    "DownloadRefused",
    "JsonAnswer",
    "Origin",
    "ProviderClient",
    "display_origin",
    "is_textual",
    "origin_of",
]

log = logging.getLogger("mediarouter.http")

#: Caps on bodies read into memory (job objects and listings are small; errors are only shown).
MAX_JSON_BODY = 8 * 1024 * 1024
MAX_ERROR_BODY = 64 * 1024
#: Response headers worth handing to the engine (never Set-Cookie and the like).
_DOWNLOAD_HEADERS = ("content-type", "content-length", "content-range", "accept-ranges", "etag", "last-modified")

Origin = tuple[str, str, int]

#: A provider client's connection pool; the router's `max_concurrent_requests` (64) and
#: `max_concurrent_downloads` (8) stay below it, so no request waits inside httpx's pool (where the wait
#: would count against its timeout). At most 16 idle connections are kept: httpcore walks every pooled
#: connection on each request start and close (an `is_readable` syscall per idle one, and a quadratic
#: idle count), so a pool that stays at 64 after a burst made every poll cost about twice the CPU
#: (benchmarks/README.md, overhead.py); polls 10 s apart outlive the 5 s expiry anyway.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=16, keepalive_expiry=5.0)


def origin_of(url: httpx.URL | str | None) -> Origin | None:
    """(scheme, host, port) with default ports filled in; None for anything that is not http(s)."""
    if url is None:
        return None
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https") or not parsed.host:
        return None
    return scheme, parsed.host.lower(), parsed.port or (443 if scheme == "https" else 80)


def display_origin(url: httpx.URL | str) -> str:
    """`scheme://host[:port]`: safe to show, since a signed URL's secret is in its path or query."""
    origin = origin_of(url)
    if origin is None:
        return "?"
    scheme, host, port = origin
    return f"{scheme}://{host}" if port == (443 if scheme == "https" else 80) else f"{scheme}://{host}:{port}"


def is_textual(media_type: str) -> bool:
    """An error page or JSON where bytes of a video were expected."""
    return (
        media_type.startswith("text/")
        or media_type in ("application/json", "application/xml", "application/xhtml+xml")
        or media_type.endswith(("+json", "+xml"))
    )


def _int_header(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number >= 0 else None


def _range_start(content_range: str | None) -> int | None:
    """`bytes 100-999/1000` → 100; None when absent or unreadable."""
    if not content_range:
        return None
    unit, _, spec = content_range.strip().partition(" ")
    if unit.lower() != "bytes":
        return None
    start, sep, _ = spec.partition("-")
    return int(start) if sep and start.strip().isdigit() else None


@dataclass(frozen=True)
class JsonAnswer:
    """A 2xx answer read in full (within the size cap)."""

    status_code: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL

    def json(self) -> Any:
        """The body as JSON; ProtocolError (never ValueError) when it is not."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError(f"expected JSON, got {self.body[:80]!r}", status_code=self.status_code) from None


async def _unsent_probe_hook(name: str, info: Mapping[str, Any]) -> None:
    """httpcore trace hook: the request is leaving once its headers start to be written."""
    if name.endswith("send_request_headers.started"):
        probe = current_probe()
        if probe is not None:
            probe.sent = True


class ProviderClient:
    """One long-lived `httpx.AsyncClient` for one provider, made on first use (constructing does no I/O)."""

    def __init__(
        self,
        *,
        provider: str,
        rules: StatusRules,
        base_url: str,
        credentials: Mapping[str, SecretStr] | None = None,
        origin_headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        clock: Clock | None = None,
        max_redirects: int = 5,
        limits: httpx.Limits | None = None,
        threaded_downloads: bool | None = None,
    ) -> None:
        self.provider = provider
        self.rules = rules
        self.base_url = base_url.rstrip("/")
        origin = origin_of(self.base_url)
        if origin is None:
            raise ConfigurationError(f"unusable base URL {base_url!r}: it must be http(s)", provider=provider)
        self.origin: Origin = origin
        self.server_address = f"{origin[1]}:{origin[2]}"
        self._base_dir = httpx.URL(self.base_url + "/")  # so relative references keep the base path
        self._credentials = dict(credentials or {})
        self._credential_names = frozenset(name.lower() for name in self._credentials)
        self._origin_headers = dict(origin_headers or {})
        self._user_agent = user_agent
        self._transport = transport
        # A real network transport reports sends through httpcore's trace hook; anything else
        # (ASGI, mock) is "sent" the moment it is handed the request.
        self._reports_sends = transport is None or isinstance(transport, httpx.AsyncHTTPTransport)
        self._timeout = timeout or httpx.Timeout(60.0, connect=10.0)
        self._clock = clock
        self._max_redirects = max_redirects
        # Every pooled connection may stay open between bursts of polls: httpx's default keeps 20 of its
        # 100, so 64 jobs polling together reconnect most of theirs each round.
        self._limits = limits or DEFAULT_LIMITS
        self._client: httpx.AsyncClient | None = None
        # Downloads read in worker threads through a blocking client (see `open_download`): on the real
        # network by default, or through a given transport that also works blocking (httpx.MockTransport).
        self._sync_transport = transport if isinstance(transport, httpx.BaseTransport) else None
        if threaded_downloads is None:
            threaded_downloads = transport is None
        elif threaded_downloads and transport is not None and self._sync_transport is None:
            raise ConfigurationError(
                f"threaded downloads need a blocking transport; {type(transport).__name__} is async only",
                provider=provider,
            )
        self.threaded_downloads = threaded_downloads
        self._sync_client: httpx.Client | None = None
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None

    # -- facts ------------------------------------------------------------------------------

    @property
    def has_credentials(self) -> bool:
        return bool(self._credentials)

    def secrets(self) -> tuple[str, ...]:
        """Credential values, for blanking out of any text that might show them."""
        found: list[str] = []
        for value in self._credentials.values():
            text = value.get_secret_value()
            found.append(text)
            scheme, _, token = text.partition(" ")  # "Bearer sk-…" → also "sk-…"
            if token and scheme.isalpha():
                found.append(token)
        return tuple(found)

    def require_credentials(self, phase: str, *, model: str | None = None, job_id: str | None = None) -> None:
        """No key: refused here, before any request (the engine counts that submit as never sent)."""
        if not self._credentials:
            raise AuthenticationFailed(
                f"no {self.rules.label} API key: cannot {phase}",
                provider=self.provider,
                model=model,
                job_id=job_id,
                hint=self.rules.key_hint,
                details={"phase": phase},
            )

    def now(self) -> float:
        return self._clock.time() if self._clock is not None else time.time()

    def on_origin(self, url: httpx.URL | str | None) -> bool:
        return origin_of(url) == self.origin

    def endpoint(self, *segments: str, params: Mapping[str, str] | None = None) -> httpx.URL:
        """`{base}/{segment}/…`, each segment percent-encoded (an id never changes the path's shape)."""
        url = httpx.URL(self.base_url + "/" + "/".join(quote(s, safe="") for s in segments))
        return url.copy_merge_params(dict(params)) if params else url

    def path(self, path: str, params: Mapping[str, str] | None = None) -> httpx.URL:
        """`{base}/{path}` for a path whose slashes are meaningful (`models/veo:predictLongRunning`)."""
        url = httpx.URL(self.base_url + "/" + quote(path.lstrip("/"), safe="/:@-._~"))
        return url.copy_merge_params(dict(params)) if params else url

    def resolve(self, reference: str | None) -> str | None:
        """A URL from an answer made absolute against the base URL (APIs send relative ones too)."""
        if not reference:
            return None
        try:
            return str(self._base_dir.join(reference))
        except (httpx.InvalidURL, TypeError, ValueError):
            return None

    def follow(self, reference: str | None, fallback: httpx.URL) -> httpx.URL:
        """The URL an answer points to if it is on the configured origin, else `fallback` (built from the base)."""
        resolved = self.resolve(reference)
        if resolved is not None and self.on_origin(resolved):
            return httpx.URL(resolved)
        if resolved is not None:
            log.warning(
                "%s answered with a URL on %s, not its API origin; using %s",
                self.provider,
                display_origin(resolved),
                display_origin(fallback),
            )
        return fallback

    # -- plumbing -------------------------------------------------------------------------

    def http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport, event_hooks={"request": [self._keep_credentials_home]}, **self._options()
            )
        return self._client

    def blocking_http(self) -> httpx.Client:
        """The blocking client threaded downloads use: the same timeouts, pool size, redirect and
        credential rules as `http()`."""
        if self._sync_client is None:
            self._sync_client = httpx.Client(
                transport=self._sync_transport,
                event_hooks={"request": [self._strip_foreign_credentials]},
                **self._options(),
            )
        return self._sync_client

    def _options(self) -> dict[str, Any]:
        """What the async and the blocking client share: timeouts, pool, redirects."""
        return {
            "timeout": self._timeout,
            "limits": self._limits,
            "follow_redirects": True,
            "max_redirects": self._max_redirects,
        }

    def download_threads(self) -> concurrent.futures.ThreadPoolExecutor:
        """The threads blocking downloads send and read on: this client's own, as many as its pool has
        connections, so downloads never queue behind (or hold up) the loop's default executor, which
        also resolves host names."""
        if self._threads is None:
            self._threads = concurrent.futures.ThreadPoolExecutor(
                max_workers=self._limits.max_connections or 100,
                thread_name_prefix=f"mediarouter-{self.provider}-download",
            )
        return self._threads

    async def aclose(self) -> None:
        client, self._client = self._client, None
        sync_client, self._sync_client = self._sync_client, None
        threads, self._threads = self._threads, None
        if sync_client is not None:
            sync_client.close()
        if threads is not None:
            threads.shutdown(wait=False)
        if client is not None:
            await client.aclose()

    async def _keep_credentials_home(self, request: httpx.Request) -> None:
        self._strip_foreign_credentials(request)

    def _strip_foreign_credentials(self, request: httpx.Request) -> None:
        """Runs for every request, redirects included: nothing secret or identifying leaves the origin."""
        if request.url.scheme.lower() not in ("http", "https"):
            raise _RefusedLocation(request.url.scheme)
        if not self.on_origin(request.url):
            for name in (*self._credential_names, "authorization", *(h.lower() for h in self._origin_headers)):
                request.headers.pop(name, None)

    def _headers(self, url: httpx.URL, *, accept: str, auth: bool) -> httpx.Headers:
        values = {"Accept": accept}
        if self._user_agent:
            values["User-Agent"] = self._user_agent
        if self.on_origin(url):
            if auth:
                for name, value in self._credentials.items():
                    values[name] = value.get_secret_value()
            values.update(self._origin_headers)
        return httpx.Headers(values, encoding="utf-8")  # attribution may be non-ASCII

    def transport_error(
        self, exc: httpx.HTTPError, *, phase: str, model: str | None, job_id: str | None
    ) -> ProviderUnavailable:
        """A network failure. `sent=False` only when the request provably never left."""
        probe = current_probe()
        unsent_kind = isinstance(
            exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.UnsupportedProtocol
        )
        sent = not unsent_kind and not (probe is not None and probe.provably_unsent)
        where = self.rules.label
        with contextlib.suppress(RuntimeError):  # RuntimeError: the exception carries no request
            where = display_origin(exc.request.url)
        detail = redact_text(str(exc), self.secrets()).strip()
        kind = type(exc).__name__
        what = PHASE_TEXT.get(phase, phase)
        if not sent:
            reason = f"{kind}: {detail}" if detail else kind
            message = f"{self.rules.label} {what} failed: could not reach {where} ({reason})"
            hint = "nothing was sent; check the network and the base URL"
        else:
            message = f"{self.rules.label} {what} failed: {kind} talking to {where}{': ' + detail if detail else ''}"
            hint = (
                f"the request may have reached {self.rules.label}, so a job may exist; check before submitting again"
                if phase == "submit"
                else "a network problem; retrying is safe"
            )
        return ProviderUnavailable(
            message,
            sent=sent,
            provider=self.provider,
            model=model,
            job_id=job_id,
            hint=hint,
            details={"phase": phase, "exception": kind},
        )

    def status_error(
        self, response: httpx.Response, body: bytes, *, phase: str, model: str | None, job_id: str | None
    ) -> MediaRouterError:
        return error_for_status(
            response.status_code,
            response.headers,
            body,
            rules=self.rules,
            phase=phase,
            provider=self.provider,
            model=model,
            job_id=job_id,
            secrets=self.secrets(),
            now=self.now(),
        )

    async def send(
        self,
        request: httpx.Request,
        *,
        phase: str,
        model: str | None = None,
        job_id: str | None = None,
        blocking: bool = False,
    ) -> httpx.Response:
        """Send with streaming on; network failures become ProviderUnavailable (with `sent` known).

        `blocking=True` sends through `blocking_http()` in a worker thread (a request built by it), for
        a body that will be read in a thread too."""
        probe = current_probe()
        if probe is not None:
            probe.tracked = True
            if self._reports_sends and not blocking:
                request.extensions = {**request.extensions, "trace": _unsent_probe_hook}
            else:
                probe.sent = True
        log.debug("%s %s %s %s", self.provider, phase, request.method, display_origin(request.url))
        try:
            # auth=None: a caller-supplied client's own auth must not ride along to other origins.
            if blocking:
                return await _send_in_thread(self.blocking_http(), request, self.download_threads())
            return await self.http().send(request, stream=True)
        except _RefusedLocation as refused:
            raise ProtocolError(
                f"{self.rules.label} {PHASE_TEXT.get(phase, phase)}: refused to follow a redirect to a "
                f"{refused.scheme}: URL",
                provider=self.provider,
                model=model,
                job_id=job_id,
            ) from None
        except httpx.TooManyRedirects:
            raise ProtocolError(
                f"{self.rules.label} {PHASE_TEXT.get(phase, phase)}: more than {self._max_redirects} redirects",
                provider=self.provider,
                model=model,
                job_id=job_id,
            ) from None
        except httpx.HTTPError as exc:
            raise self.transport_error(exc, phase=phase, model=model, job_id=job_id) from exc

    async def read_limited(
        self, response: httpx.Response, *, limit: int, phase: str, model: str | None, job_id: str | None
    ) -> bytes:
        """The whole body, or ProtocolError once it passes `limit` bytes."""
        data = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > limit:
                    raise ProtocolError(
                        f"{self.rules.label} sent a {PHASE_TEXT.get(phase, phase)} answer over {limit} bytes",
                        provider=self.provider,
                        model=model,
                        job_id=job_id,
                        status_code=response.status_code,
                    )
        except httpx.HTTPError as exc:
            raise self.transport_error(exc, phase=phase, model=model, job_id=job_id) from exc
        return bytes(data)

    @staticmethod
    async def read_quietly(response: httpx.Response, limit: int = MAX_ERROR_BODY) -> bytes:
        """Up to `limit` bytes of a body that only feeds an error message (a broken one must not hide the status)."""
        data = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) >= limit:
                    break
        except httpx.HTTPError:
            pass
        return bytes(data[:limit])

    # -- exchanges ------------------------------------------------------------------------

    async def request_json(
        self,
        method: str,
        url: httpx.URL,
        *,
        phase: str,
        model: str | None = None,
        job_id: str | None = None,
        body: Any = None,
        auth: bool = True,
        limit: int = MAX_JSON_BODY,
    ) -> JsonAnswer:
        """One JSON exchange: the 2xx answer read in full, else the mapped core error."""
        headers = self._headers(url, accept="application/json", auth=auth)
        content: bytes | None = None
        if body is not None:
            try:
                content = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
            except (TypeError, ValueError) as exc:
                raise InvalidRequest(
                    f"the request cannot be sent as JSON: {exc}", provider=self.provider, model=model
                ) from None
            headers["Content-Type"] = "application/json"
        request = self.http().build_request(method, url, headers=headers, content=content)
        response = await self.send(request, phase=phase, model=model, job_id=job_id)
        ok = 200 <= response.status_code < 300
        try:
            if ok:
                raw = await self.read_limited(response, limit=limit, phase=phase, model=model, job_id=job_id)
            else:
                raw = await self.read_quietly(response)
        finally:
            await response.aclose()
        if not ok:
            raise self.status_error(response, raw, phase=phase, model=model, job_id=job_id)
        return JsonAnswer(status_code=response.status_code, headers=response.headers, body=raw, url=response.url)

    @asynccontextmanager
    async def open_download(
        self,
        url: httpx.URL,
        *,
        model: str | None,
        job_id: str | None,
        offset: int = 0,
        auth: bool = True,
        accept: str = "video/mp4",
        refused: Iterable[int] = (),
    ) -> AsyncIterator[Download]:
        """Stream one output as a core `Download`; what is not a video (error pages, JSON, empty) is refused.

        `offset > 0` asks for the rest of a part file (`Range: bytes=offset-`); the server may answer
        206 from that offset (`resumed_from`) or 200 with the whole body (`resumed_from == 0`).
        A status in `refused` is raised as `DownloadRefused` (carrying the mapped error), so a caller
        can try another URL for the same output.

        With `threaded_downloads` (the default on the real network) the exchange goes through the
        blocking client and the `Download` carries a `blocking` body, which the core reads, hashes and
        writes in threads: the event loop does no per-read work (benchmarks/README.md, downloads).
        """
        from .readsize import BLOCKING_READ_SIZE, READ_SIZE, larger_reads

        threaded = self.threaded_downloads
        response = await self._open_media(
            url, offset=offset, auth=auth, accept=accept, model=model, job_id=job_id, blocking=threaded
        )
        chunks: AsyncIterator[bytes] | None = None
        # Larger socket reads for this body only (see readsize.py).
        default_reads = larger_reads(response, BLOCKING_READ_SIZE if threaded else READ_SIZE)
        try:
            body = _BlockingBody(self, response, model=model, job_id=job_id) if threaded else None
            download = await self._check_download(
                response, offset, model=model, job_id=job_id, refused=refused, body=body
            )
            chunks = download.chunks
            yield download
        finally:
            default_reads()  # the pooled connection goes back with httpcore's own read size
            if chunks is not None:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
            if threaded:
                response.close()  # the body's reader thread has finished (the core waits for it)
            else:
                await response.aclose()

    async def _open_media(
        self,
        url: httpx.URL,
        *,
        offset: int,
        auth: bool,
        accept: str,
        model: str | None,
        job_id: str | None,
        blocking: bool = False,
    ) -> httpx.Response:
        headers = self._headers(url, accept=accept, auth=auth)
        headers["Accept-Encoding"] = "identity"  # byte offsets must mean bytes of the file
        if offset > 0:
            headers["Range"] = f"bytes={offset}-"
        client: httpx.Client | httpx.AsyncClient = self.blocking_http() if blocking else self.http()
        request = client.build_request("GET", url, headers=headers)
        return await self.send(request, phase="download", model=model, job_id=job_id, blocking=blocking)

    async def _check_download(
        self,
        response: httpx.Response,
        offset: int,
        *,
        model: str | None,
        job_id: str | None,
        refused: Iterable[int],
        body: _BlockingBody | None = None,
    ) -> Download:
        context: dict[str, Any] = {
            "provider": self.provider,
            "model": model,
            "job_id": job_id,
            "status_code": response.status_code,
        }
        read_some: Callable[[int], Awaitable[bytes]] = (
            (lambda limit: self.read_quietly(response, limit))
            if body is None
            else (
                lambda limit: asyncio.get_running_loop().run_in_executor(
                    self.download_threads(), _read_quietly_blocking, response, limit
                )
            )
        )
        code = response.status_code
        if not 200 <= code < 300:
            raw = await read_some(MAX_ERROR_BODY)
            error = self.status_error(response, raw, phase="download", model=model, job_id=job_id)
            if code == 416 and "content-range" in response.headers:  # `bytes */N`: the engine checks its part file
                error.details["content_range"] = response.headers["content-range"]
            if code in set(refused):
                raise DownloadRefused(error)
            raise error
        content_type = response.headers.get("content-type")
        media_type = (content_type or "").split(";")[0].strip().lower()
        if is_textual(media_type):
            said = self.rules.server_message(await read_some(4096))
            words = redact_text(said.message or "", self.secrets())  # it may quote a signed URL, or the key
            raise ProtocolError(
                f"{self.rules.label} download: expected a video, got {media_type}: {words or 'an empty body'}",
                server_message=words if said.structured else None,
                hint="the output may not be ready; poll the job again",
                **context,
            )
        length = _int_header(response.headers.get("content-length"))
        if code in (204, 205) or length == 0:
            raise ProtocolError(f"{self.rules.label} download: the server sent an empty body", **context)
        resumed_from = 0
        if code == 206:
            start = _range_start(response.headers.get("content-range"))
            if start is not None and start != offset:
                raise ProtocolError(
                    f"{self.rules.label} download: asked for bytes from {offset}, got a range starting at {start}",
                    **context,
                )
            resumed_from = offset
        return Download(
            chunks=self._chunks(response, model=model, job_id=job_id)
            if body is None
            else _chunks_of(body, self.download_threads()),
            content_type=media_type or None,
            content_length=length,
            origin=display_origin(response.url),
            resumed_from=resumed_from,
            headers={k: response.headers[k] for k in _DOWNLOAD_HEADERS if k in response.headers},
            blocking=body,
        )

    async def _chunks(self, response: httpx.Response, *, model: str | None, job_id: str | None) -> AsyncIterator[bytes]:
        total = 0
        try:
            async for chunk in response.aiter_bytes():
                if chunk:
                    total += len(chunk)
                    yield chunk
        except httpx.HTTPError as exc:
            raise self.transport_error(exc, phase="download", model=model, job_id=job_id) from exc
        if total == 0:
            raise self.empty_body(response, model=model, job_id=job_id)

    def empty_body(self, response: httpx.Response, *, model: str | None, job_id: str | None) -> ProtocolError:
        return ProtocolError(
            f"{self.rules.label} download: the server sent an empty body",
            provider=self.provider,
            model=model,
            job_id=job_id,
            status_code=response.status_code,
        )


class _BlockingBody:
    """A download body read by a worker thread (the core's `BlockingBody`), with the same errors as the
    async chunks: network failures mapped to ProviderUnavailable, an empty body a ProtocolError."""

    def __init__(self, client: ProviderClient, response: httpx.Response, *, model: str | None, job_id: str | None):
        self._client = client
        self._response = response
        self._model = model
        self._job_id = job_id

    def __iter__(self) -> Iterator[bytes | bytearray]:
        total = 0
        try:
            length = _int_header(self._response.headers.get("content-length"))
            for chunk in iter_body(self._response, length):  # past h11 where it safely can (socketbody.py)
                if chunk:
                    total += len(chunk)
                    yield chunk
        except httpx.HTTPError as exc:
            raise self._client.transport_error(exc, phase="download", model=self._model, job_id=self._job_id) from exc
        if total == 0:
            raise self._client.empty_body(self._response, model=self._model, job_id=self._job_id)

    def abort(self) -> None:
        """Shut the connection's socket down, so a read blocked in another thread returns at once. The
        plain socket's shutdown, not TLS's (which would tear down state the reader is using)."""
        sock = connection_socket(self._response)
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


async def _chunks_of(body: _BlockingBody, threads: concurrent.futures.Executor) -> AsyncIterator[bytes]:
    """A blocking body as async chunks, one thread hop per read (up to 1 MiB): for small bodies, and for
    callers that do not use `blocking`. A cancellation aborts the read it interrupts and waits for that
    thread to let go, so the response is never closed under a read still running."""
    chunks = iter(body)
    loop = asyncio.get_running_loop()
    while True:
        pending = loop.run_in_executor(threads, next, chunks, None)
        try:
            chunk = await asyncio.shield(pending)
        except asyncio.CancelledError:
            body.abort()
            await asyncio.wait([pending])
            if not pending.cancelled():
                pending.exception()  # the aborted read's error: expected, and not worth a warning
            raise
        if chunk is None:
            return
        yield bytes(chunk) if isinstance(chunk, bytearray) else chunk  # `Download.chunks` are bytes


def _read_quietly_blocking(response: httpx.Response, limit: int) -> bytes:
    """`ProviderClient.read_quietly` for a blocking response (run in a thread)."""
    data = bytearray()
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= limit:
                break
    except httpx.HTTPError:
        pass
    return bytes(data[:limit])


async def _send_in_thread(
    client: httpx.Client, request: httpx.Request, threads: concurrent.futures.Executor
) -> httpx.Response:
    """`client.send(request, stream=True)` in a worker thread. If the caller is cancelled meanwhile, the
    response the thread still gets is closed, so no connection is left checked out of the pool."""
    pending = asyncio.get_running_loop().run_in_executor(threads, lambda: client.send(request, stream=True))
    try:
        return await asyncio.shield(pending)
    except asyncio.CancelledError:

        def close(done: asyncio.Future[httpx.Response]) -> None:
            if not done.cancelled() and done.exception() is None:
                done.result().close()

        pending.add_done_callback(close)
        raise


class _RefusedLocation(Exception):
    """A redirect to something that is not http(s) (`file:`, `ftp:` …)."""

    def __init__(self, scheme: str) -> None:
        super().__init__(scheme)
        self.scheme = scheme


class DownloadRefused(Exception):
    """A download URL answered with a status the caller asked to handle itself (e.g. a stale signed URL)."""

    def __init__(self, error: MediaRouterError) -> None:
        super().__init__(str(error))
        self.error = error
