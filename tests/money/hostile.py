"""An in-process OpenRouter emulator behind a scripted hostile front, counting the jobs it really made.

Every submit behaviour below lets the emulator create (and so "bill") the job first and only then
misbehaves, because that is the case that costs money: the server has a job, the client has no
readable answer. `created` maps each job the emulator made to the prompt it was made for, so a test
counts paid jobs per logical request at the server, whatever the client believed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from mediarouter_openrouter import OpenRouterVideoProvider
from mediarouter_openrouter.emulator import EmulatorConfig, emulator_transport

__all__ = [
    "Behaviour",
    "HostileServer",
    "accept_then_body",
    "accept_then_cancel",
    "accept_then_hang",
    "accept_then_interrupt",
    "accept_then_raise",
    "accept_then_status",
    "error_body",
    "refuse",
    "unreachable",
]

Behaviour = Callable[["HostileServer", httpx.Request], Awaitable[httpx.Response]]
SUBMIT_PATH = "/api/v1/videos"


def error_body(status: int, message: str = "scripted") -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "metadata": None}}


class HostileServer(httpx.AsyncBaseTransport):
    """The emulator, with `submit_plan` behaviours used by the next submits (normal once it is empty)."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.inner = emulator_transport(config or EmulatorConfig(polls_before_in_progress=0, polls_before_completed=0))
        self.submit_plan: list[Behaviour] = []
        #: (method, path) of every request that reached the server.
        self.requests: list[tuple[str, str]] = []
        #: job id -> prompt, for every job the emulator created (accepted = paid).
        self.created: dict[str, str] = {}
        #: job id -> HTTP status every download of that job is answered with.
        self.content_status: dict[str, int] = {}
        #: When set, the next poll waits for this event (a job that takes its time).
        self.poll_gate: asyncio.Event | None = None

    @property
    def state(self) -> Any:
        return self.inner.emulator

    @property
    def submits(self) -> int:
        return sum(1 for method, path in self.requests if method == "POST" and path == SUBMIT_PATH)

    def jobs_for(self, prompt: str) -> list[str]:
        return [job for job, p in self.created.items() if p == prompt]

    def video(self, job_id: str) -> bytes:
        data: bytes = self.state.video(self.state.jobs[job_id], 0)
        return data

    def provider(self, api_key: str = "sk-or-hostile") -> OpenRouterVideoProvider:
        return OpenRouterVideoProvider(api_key=api_key, emulator=True, transport=self)

    async def forward(self, request: httpx.Request) -> httpx.Response:
        """The emulator's own answer, read in full; a job it created is recorded with its prompt."""
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        if request.method == "POST" and request.url.path == SUBMIT_PATH and response.status_code == 202:
            prompt = json.loads(request.content).get("prompt", "")
            self.created[json.loads(body)["id"]] = prompt
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if request.method == "POST" and request.url.path == SUBMIT_PATH and self.submit_plan:
            return await self.submit_plan.pop(0)(self, request)
        parts = request.url.path.split("/")
        if request.method == "GET" and parts[-2] == "videos" and parts[-1] != "models" and self.poll_gate:
            gate, self.poll_gate = self.poll_gate, None
            await gate.wait()
        if parts[-1] == "content" and parts[-2] in self.content_status:
            status = self.content_status[parts[-2]]
            return httpx.Response(status, json=error_body(status, "scripted download refusal"))
        return await self.forward(request)


# -- submit behaviours -----------------------------------------------------------------------------


def accept_then_status(status: int, body: bytes | None = None) -> Behaviour:
    """The job is created, then the answer is replaced by an error (a 5xx/524 from a proxy)."""

    async def behave(server: HostileServer, request: httpx.Request) -> httpx.Response:
        await server.forward(request)
        content = body if body is not None else json.dumps(error_body(status, "upstream trouble")).encode()
        return httpx.Response(status, content=content, headers={"content-type": "application/json"})

    return behave


def accept_then_body(status: int, body: bytes, content_type: str = "application/json") -> Behaviour:
    """The job is created, then a success status comes with a body that is not a readable job."""

    async def behave(server: HostileServer, request: httpx.Request) -> httpx.Response:
        await server.forward(request)
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    return behave


def accept_then_raise(error: type[httpx.TransportError]) -> Behaviour:
    """The job is created, then the connection dies before the answer (RemoteProtocolError, ReadError)."""

    async def behave(server: HostileServer, request: httpx.Request) -> httpx.Response:
        await server.forward(request)
        raise error("connection closed by the hostile server", request=request)

    return behave


def accept_then_hang() -> Behaviour:
    """The job is created, then no answer ever comes (the client's timeout must end it)."""

    async def behave(server: HostileServer, request: httpx.Request) -> httpx.Response:
        await server.forward(request)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return behave


def accept_then_cancel() -> Behaviour:
    """The job is created, then the caller's task is cancelled before the answer (Ctrl-C in a host)."""

    async def behave(server: HostileServer, request: httpx.Request) -> httpx.Response:
        await server.forward(request)
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(0)
        raise AssertionError("unreachable")

    return behave


def accept_then_interrupt() -> Behaviour:
    """The job is created, then KeyboardInterrupt arrives before the answer (Ctrl-C at the CLI)."""

    async def behave(server: HostileServer, request: httpx.Request) -> httpx.Response:
        await server.forward(request)
        raise KeyboardInterrupt

    return behave


def refuse(status: int, message: str = "scripted refusal") -> Behaviour:
    """A definite refusal with a readable error body; no job is created."""

    async def behave(server: HostileServer, request: httpx.Request) -> httpx.Response:
        headers = {"retry-after": "1"} if status == 429 else None
        return httpx.Response(status, json=error_body(status, message), headers=headers)

    return behave


def unreachable() -> Behaviour:
    """Connection refused: the request never left, so nothing can have been created."""

    async def behave(server: HostileServer, request: httpx.Request) -> httpx.Response:
        server.requests.pop()  # it never reached the server
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    return behave
