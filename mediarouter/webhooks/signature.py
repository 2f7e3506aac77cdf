"""OpenRouter's webhook signature: ``X-OpenRouter-Signature: t=<unix ts>,v1=<hex>``.

``v1`` is HMAC-SHA256, keyed with the workspace's signing secret, over ``"<ts>," + raw body``.
It is checked against the raw bytes (re-serialised JSON would not match), compared in constant
time, and its timestamp must be within `tolerance` seconds of now in either direction: an old
delivery replayed later is refused, and so is one from a clock far ahead. Time comes from an
injected `Clock`, so the edges are tested without waiting.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

from ..clock import Clock, SystemClock

__all__ = [
    "SIGNATURE_HEADER",
    "DEFAULT_TOLERANCE",
    "SignatureError",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "X-OpenRouter-Signature"
#: Seconds a signature's timestamp may differ from now (either way).
DEFAULT_TOLERANCE = 300.0


class SignatureError(Exception):
    """A delivery whose signature does not check out; `reason` is a short code safe to log.

    Neither the secret nor the signature is ever part of the message. `status_code` is what the
    receiver answers: 401, or 503 when the keys to check it with could not be had (deliver again).
    """

    def __init__(self, reason: str, message: str, *, status_code: int = 401) -> None:
        super().__init__(message)
        self.reason = reason
        self.status_code = status_code


def _digest(secret: SecretStr, timestamp: int, body: bytes) -> str:
    key = secret.get_secret_value().encode()
    return hmac.new(key, f"{timestamp},".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: SecretStr, body: bytes, timestamp: int) -> str:
    """The header value OpenRouter would send for `body` at `timestamp` (for emulators and tests)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isdigit() and timestamp is None:
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        raise SignatureError("malformed_signature", f"{SIGNATURE_HEADER} must look like t=<unix seconds>,v1=<hex>")
    return timestamp, signatures


def verify(
    header: str | None,
    body: bytes,
    secret: SecretStr,
    *,
    clock: Clock | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> int:
    """Check `header` against the raw `body`; the signed timestamp when good, else SignatureError.

    Any of several ``v1`` entries may match (a sender rotating its secret signs with both).
    """
    if not header:
        raise SignatureError("missing_signature", f"the {SIGNATURE_HEADER} header is missing")
    timestamp, signatures = _parse(header)
    now = (clock or SystemClock()).time()
    if abs(now - timestamp) > tolerance:
        raise SignatureError("stale_signature", f"the signature's timestamp is more than {tolerance:g}s away from now")
    expected = _digest(secret, timestamp, body)
    # compare_digest on every candidate (no early exit that would tell which one got closest).
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(candidate.encode(), expected.encode())
    if not matched:
        raise SignatureError("bad_signature", "the signature does not match the body and the webhook secret")
    return timestamp
