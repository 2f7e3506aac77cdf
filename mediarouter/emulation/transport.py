"""Running an emulator's ASGI app: in-process as an httpx transport, or on loopback with uvicorn.

In-process there is no socket, so the ``timeout`` and ``drop`` outcomes cannot be real network
events: the app raises :class:`~mediarouter.emulation.errors.NoAnswer` or
:class:`~mediarouter.emulation.errors.ConnectionDropped` and this transport turns them into the
exceptions httpx raises for the real thing (``ReadTimeout``, ``RemoteProtocolError``). Served by
uvicorn, the same outcomes really withhold the answer or close the connection (see ``asgi``).
"""

from __future__ import annotations

from typing import Any

import httpx

from .errors import ConnectionDropped, NoAnswer

__all__ = ["IN_PROCESS", "EmulatorTransport", "serve"]

#: Scope key set on every in-process request, so a handler knows no socket is there to hold open.
IN_PROCESS = "mediarouter.emulator.in_process"


class EmulatorTransport(httpx.ASGITransport):
    """An in-process transport to an ASGI app; its ``app.state.emulator`` is at hand as ``.emulator``.

    Every host routes to the app, so a "foreign" download origin is served by it too.
    """

    def __init__(self, app: Any, *, state_attribute: str = "emulator") -> None:
        async def in_process(scope: Any, receive: Any, send: Any) -> None:
            await app(dict(scope, **{IN_PROCESS: True}), receive, send)

        super().__init__(app=in_process)
        self.asgi_app = app
        state = getattr(app, "state", None)
        self.emulator: Any = getattr(state, state_attribute, None) if state is not None else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except NoAnswer:
            raise httpx.ReadTimeout("the emulator gave no answer (injected timeout)", request=request) from None
        except ConnectionDropped:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response (injected drop).", request=request
            ) from None


def serve(app: Any, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "info") -> None:
    """Serve ``app`` with uvicorn until interrupted (blocking); needs the ``emulator`` extra."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level)
