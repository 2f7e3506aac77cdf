"""The OpenRouter emulator on loopback with a slow submit, for tests that kill real clients mid-submit.

Run as a script: ``python slow_server.py EVENTS_DIR PRE POST``; it prints its port on the first line.

A submit is read in full, held PRE seconds (the request is at the server, no job yet), passed to the
emulator (the job now exists and is billed, whether or not the client is still there), and its
answer held POST seconds more (accepted, the answer not yet on its way). Each client identifies
itself by its API key (the "tag"); the server drops an empty file ``EVENTS_DIR/TAG.EVENT`` as each
step happens (``models``, ``submit-arrived``, ``submit-created``, ``submit-answered``), which is how a
test times its kill and later learns where it landed. ``GET /_money/jobs`` maps every created job id
to its tag, and ``GET /_money/sha256/JOB`` gives the sha256 of that job's video.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SUBMIT = "/api/v1/videos"


def _tag(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return str(value.decode()).removeprefix("Bearer ").strip()
    return "anonymous"


def build(events: Path, pre: float, post: float) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    from mediarouter_openrouter.emulator import EmulatorConfig
    from mediarouter_openrouter.emulator.app import create_app

    app = create_app(EmulatorConfig(polls_before_in_progress=0, polls_before_completed=0))
    state = app.state.emulator
    created: dict[str, str] = {}

    def mark(tag: str, event: str) -> None:
        (events / f"{tag}.{event}").touch()

    async def reply(send: Send, data: Any) -> None:
        body = json.dumps(data).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path, method, tag = scope["path"], scope["method"], _tag(scope)
        if path == "/_money/jobs":
            await reply(send, created)
            return
        if path.startswith("/_money/sha256/"):
            job = state.jobs[path.rsplit("/", 1)[1]]
            await reply(send, hashlib.sha256(state.video(job, 0)).hexdigest())
            return
        if path.endswith("/videos/models"):
            mark(tag, "models")
        if not (method == "POST" and path == SUBMIT):
            await app(scope, receive, send)
            return
        mark(tag, "submit-arrived")
        chunks = []
        while True:  # the whole request first: the job gets made even if the client dies meanwhile
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        await asyncio.sleep(pre)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                await asyncio.Event().wait()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        answer: list[Message] = []

        async def hold(message: Message) -> None:
            answer.append(message)

        await app(scope, replay, hold)
        body = b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")
        if answer and answer[0].get("status") == 202:
            created[json.loads(body)["id"]] = tag
            mark(tag, "submit-created")
        await asyncio.sleep(post)
        try:
            for message in answer:
                await send(message)
        finally:
            mark(tag, "submit-answered")

    return slow


def main() -> None:
    import uvicorn

    events, pre, post = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(build(events, pre, post), log_level="warning", lifespan="off"))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
