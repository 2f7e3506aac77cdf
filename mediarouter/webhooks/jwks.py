"""Ed25519 public keys from a JSON Web Key Set, for webhooks signed with a provider's private key.

A provider that signs with a key pair (fal) publishes the public halves as a JWKS (RFC 7517;
Ed25519 keys are ``{"kty": "OKP", "crv": "Ed25519", "x": <base64url>}``, RFC 8037). `JwksCache`
fetches that set without credentials, keeps it for `ttl` seconds on the injected clock, and runs
one fetch at a time (concurrent deliveries share it). A signature that no cached key verifies (or
a ``kid`` the set does not name) may be a rotated key, so it refetches once, at most once per
`min_refetch` seconds, so a stream of forged deliveries cannot make it hammer the key server. A
failed refresh keeps the keys it had; with no key at all it raises `KeysUnavailable` (answered
503: the sender delivers again later). Needs ``cryptography`` (the ``webhooks`` extra).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..clock import Clock, SystemClock
from .signature import SignatureError

__all__ = ["DEFAULT_TTL", "MIN_REFETCH", "JwksCache", "KeysUnavailable", "PublicKey", "parse_jwks", "public_jwk"]

logger = logging.getLogger("mediarouter.webhooks")

#: Seconds a fetched key set is used before it is fetched again (fal: "cache for up to 24 hours").
DEFAULT_TTL = 24 * 3600.0
#: Seconds between two fetches at least (after a failure, or to look for a rotated key).
MIN_REFETCH = 60.0
#: A key set larger than this is refused (it holds a handful of 32-byte keys).
MAX_JWKS_BYTES = 64 * 1024


class KeysUnavailable(SignatureError):
    """No public key to check a delivery with (the key set could not be fetched): answered 503."""

    def __init__(self, message: str) -> None:
        super().__init__("keys_unavailable", message, status_code=503)


@dataclass(frozen=True)
class PublicKey:
    """One Ed25519 key of the set; `kid` is None when the set names none."""

    kid: str | None
    key: Ed25519PublicKey


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_jwks(document: Any) -> tuple[PublicKey, ...]:
    """The Ed25519 keys of a JWKS document; entries of other types or unreadable ones are skipped."""
    entries = document.get("keys") if isinstance(document, dict) else None
    keys: list[PublicKey] = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        x, kid = entry.get("x"), entry.get("kid")
        if not isinstance(x, str):
            continue
        try:
            raw = _b64url(x)
            key = Ed25519PublicKey.from_public_bytes(raw)
        except (ValueError, binascii.Error):
            continue
        keys.append(PublicKey(kid=kid if isinstance(kid, str) and kid else None, key=key))
    return tuple(keys)


def public_jwk(key: Ed25519PublicKey, kid: str | None = None) -> dict[str, str]:
    """The JWK of a public key (emulators publish their signing key with it)."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig"}
    jwk["x"] = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    if kid:
        jwk["kid"] = kid
    return jwk


def _verifies(keys: tuple[PublicKey, ...], message: bytes, signature: bytes, kid: str | None) -> bool:
    matched = False
    for candidate in keys:
        if kid is not None and candidate.kid is not None and candidate.kid != kid:
            continue
        try:
            candidate.key.verify(signature, message)
        except InvalidSignature:
            continue
        matched = True  # keep going: the time taken does not tell which key matched
    return matched


class JwksCache:
    """The key set at `url`, cached; `verify` checks one Ed25519 signature against it.

    `transport` is for tests (an emulator's ASGI transport); no credentials are ever sent.
    One instance serves one event loop (the receiver's).
    """

    def __init__(
        self,
        url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        ttl: float = DEFAULT_TTL,
        min_refetch: float = MIN_REFETCH,
        timeout: float = 10.0,
    ) -> None:
        if not url.lower().startswith(("https://", "http://")):
            raise ValueError(f"the JWKS URL must be http(s)://, got {url!r}")
        if ttl <= 0 or min_refetch < 0:
            raise ValueError("ttl must be > 0 and min_refetch >= 0 seconds")
        self.url = url
        self.clock: Clock = clock or SystemClock()
        self.ttl = ttl
        self.min_refetch = min_refetch
        self._transport = transport
        self._timeout = timeout
        self._keys: tuple[PublicKey, ...] = ()
        self._fetched_at: float | None = None
        self._tried_at: float | None = None
        self._inflight: asyncio.Task[bool] | None = None
        #: How many fetches were made (tests and the receiver's health).
        self.fetches = 0

    def __repr__(self) -> str:
        return f"JwksCache(url={self.url!r}, keys={len(self._keys)})"

    @property
    def cached(self) -> tuple[PublicKey, ...]:
        return self._keys

    @property
    def _fetching(self) -> bool:
        return self._inflight is not None and not self._inflight.done()

    def _may_fetch(self) -> bool:
        return self._tried_at is None or self.clock.monotonic() - self._tried_at >= self.min_refetch

    async def keys(self) -> tuple[PublicKey, ...]:
        """The cached keys, fetched first when there are none or they are older than `ttl`."""
        fresh = self._fetched_at is not None and self.clock.monotonic() - self._fetched_at < self.ttl
        if self._fetching or (not fresh and self._may_fetch()):
            await self._fetch_shared()
        if not self._keys:
            raise KeysUnavailable(f"no public key to check the signature with (no key set from {self.url})")
        return self._keys

    async def refresh(self) -> bool:
        """Fetch again unless a fetch was tried less than `min_refetch` ago; True when a new set came."""
        if not self._fetching and not self._may_fetch():
            return False
        return await self._fetch_shared()

    async def verify(self, message: bytes, signature: bytes, *, kid: str | None = None) -> None:
        """SignatureError unless a key of the set (the one named `kid`, when given) verifies `signature`."""
        keys = await self.keys()
        known = kid is None or any(k.kid in (None, kid) for k in keys)
        if known and _verifies(keys, message, signature, kid):
            return
        if await self.refresh() and _verifies(self._keys, message, signature, kid):
            return
        raise SignatureError("bad_signature", "the signature does not match the body and the published keys")

    async def _fetch_shared(self) -> bool:
        if self._inflight is None or self._inflight.done():
            self._tried_at = self.clock.monotonic()
            self._inflight = asyncio.ensure_future(self._fetch())
        # Shielded: a delivery whose connection drops must not cancel the fetch others wait on.
        return await asyncio.shield(self._inflight)

    async def _fetch(self) -> bool:
        self.fetches += 1
        try:
            document = await self._download()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("could not fetch the webhook keys from %s (%s); keeping %d", self.url, exc, len(self._keys))
            return False
        keys = parse_jwks(document)
        if not keys:
            logger.warning("the key set at %s holds no Ed25519 key; keeping %d", self.url, len(self._keys))
            return False
        self._keys, self._fetched_at = keys, self.clock.monotonic()
        logger.info("fetched %d webhook key(s) from %s", len(keys), self.url)
        return True

    async def _download(self) -> Any:
        headers = {"Accept": "application/json"}
        async with (
            httpx.AsyncClient(transport=self._transport, timeout=self._timeout, follow_redirects=False) as client,
            client.stream("GET", self.url, headers=headers) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_JWKS_BYTES:
                    raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
                chunks.append(chunk)
        return json.loads(b"".join(chunks))
