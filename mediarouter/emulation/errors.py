"""Errors an emulator's request logic raises; the backend's app renders them in its own wire shape."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

__all__ = ["ApiError", "ConnectionDropped", "NetworkFault", "NoAnswer"]


class ApiError(Exception):
    """An HTTP error answer: ``status``, a human ``message`` and optionally a backend-shaped ``body``.

    Backends subclass it to set ``messages`` (their realistic texts per status); otherwise the
    message defaults to the HTTP reason phrase. ``headers`` go on the answer (e.g. Retry-After).
    """

    messages: ClassVar[Mapping[int, str]] = {}

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.message = message or self.default_message(status)
        self.body = body
        self.headers = dict(headers or {})
        super().__init__(self.message)

    @classmethod
    def default_message(cls, status: int) -> str:
        known = cls.messages.get(status)
        if known is not None:
            return known
        try:
            return HTTPStatus(status).phrase
        except ValueError:
            return f"Emulated error {status}"


class NetworkFault(Exception):
    """A request the emulator must not answer normally; the transport turns it into a client-side error.

    A backend's error wrapper must let these through (they are not 500s).
    """


class NoAnswer(NetworkFault):
    """The ``timeout`` outcome: no answer ever comes (in-process: ``httpx.ReadTimeout``)."""


class ConnectionDropped(NetworkFault):
    """The ``drop`` outcome: the connection closes without an answer (in-process: ``httpx.RemoteProtocolError``)."""
