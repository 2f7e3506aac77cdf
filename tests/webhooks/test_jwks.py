"""The JWKS cache: one fetch per day, refetch for a rotated key at most once a minute, no credentials sent."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock

pytest.importorskip("cryptography")

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mediarouter.webhooks import SignatureError
from mediarouter.webhooks.jwks import JwksCache, KeysUnavailable, parse_jwks, public_jwk

URL = "https://keys.example/.well-known/jwks.json"
MESSAGE = b"request\nuser\n1800000000\nabc"


class KeyServer:
    """An httpx MockTransport serving whatever key set the test puts up, counting requests."""

    def __init__(self, *keys: Ed25519PrivateKey, status: int = 200) -> None:
        self.keys = list(keys)
        self.status = status
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.answer)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, text="down")
        document = {"keys": [public_jwk(k.public_key(), f"k{i}") for i, k in enumerate(self.keys)]}
        return httpx.Response(200, json=document)


def cache(server: KeyServer, clock: FakeClock) -> JwksCache:
    return JwksCache(URL, transport=server.transport, clock=clock)


async def test_the_key_set_is_fetched_once_and_kept_for_a_day() -> None:
    key, clock = Ed25519PrivateKey.generate(), FakeClock()
    server = KeyServer(key)
    keys = cache(server, clock)
    for _ in range(3):
        await keys.verify(MESSAGE, key.sign(MESSAGE))
    assert len(server.requests) == 1
    clock.advance(24 * 3600)
    await keys.verify(MESSAGE, key.sign(MESSAGE))
    assert len(server.requests) == 2


async def test_no_credentials_are_sent_for_the_keys() -> None:
    key = Ed25519PrivateKey.generate()
    server = KeyServer(key)
    await cache(server, FakeClock()).verify(MESSAGE, key.sign(MESSAGE))
    assert "authorization" not in server.requests[0].headers
    assert str(server.requests[0].url) == URL


async def test_a_rotated_key_is_found_by_one_refetch() -> None:
    old, new, clock = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), FakeClock()
    server = KeyServer(old)
    keys = cache(server, clock)
    await keys.verify(MESSAGE, old.sign(MESSAGE))
    clock.advance(61)
    server.keys = [new]
    await keys.verify(MESSAGE, new.sign(MESSAGE))
    assert len(server.requests) == 2


async def test_an_unknown_kid_refetches_once() -> None:
    old, new, clock = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), FakeClock()
    server = KeyServer(old)
    keys = cache(server, clock)
    await keys.keys()
    clock.advance(61)
    server.keys = [old, new]  # new is "k1"
    await keys.verify(MESSAGE, new.sign(MESSAGE), kid="k1")
    assert len(server.requests) == 2


async def test_forged_signatures_refetch_at_most_once_a_minute() -> None:
    key, forger, clock = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), FakeClock()
    server = KeyServer(key)
    keys = cache(server, clock)
    await keys.keys()
    clock.advance(61)
    for _ in range(5):
        with pytest.raises(SignatureError) as caught:
            await keys.verify(MESSAGE, forger.sign(MESSAGE))
        assert caught.value.reason == "bad_signature" and caught.value.status_code == 401
    assert len(server.requests) == 2  # the first and one refetch, not one per forgery
    clock.advance(60)
    with pytest.raises(SignatureError):
        await keys.verify(MESSAGE, forger.sign(MESSAGE))
    assert len(server.requests) == 3


async def test_a_failed_refresh_keeps_the_keys_it_had() -> None:
    key, clock = Ed25519PrivateKey.generate(), FakeClock()
    server = KeyServer(key)
    keys = cache(server, clock)
    await keys.keys()
    server.status = 503
    clock.advance(24 * 3600)
    await keys.verify(MESSAGE, key.sign(MESSAGE))  # stale, unrefreshable: still the keys it has
    assert len(server.requests) == 2


async def test_without_any_key_it_is_keys_unavailable_503_and_does_not_hammer() -> None:
    clock = FakeClock()
    server = KeyServer(status=500)
    keys = cache(server, clock)
    for _ in range(3):
        with pytest.raises(KeysUnavailable) as caught:
            await keys.verify(MESSAGE, b"\0" * 64)
        assert caught.value.status_code == 503 and caught.value.reason == "keys_unavailable"
    assert len(server.requests) == 1
    clock.advance(60)
    server.status, server.keys = 200, [Ed25519PrivateKey.generate()]
    with pytest.raises(SignatureError, match="does not match"):
        await keys.verify(MESSAGE, b"\0" * 64)


async def test_concurrent_deliveries_share_one_fetch() -> None:
    key = Ed25519PrivateKey.generate()
    started = asyncio.Event()
    release = asyncio.Event()
    count = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        started.set()
        await release.wait()
        return httpx.Response(200, json={"keys": [public_jwk(key.public_key())]})

    keys = JwksCache(URL, transport=httpx.MockTransport(slow), clock=FakeClock())
    tasks = [asyncio.create_task(keys.verify(MESSAGE, key.sign(MESSAGE))) for _ in range(5)]
    await started.wait()
    release.set()
    await asyncio.gather(*tasks)
    assert count == 1


def test_only_ed25519_keys_are_read_from_the_set() -> None:
    key = Ed25519PrivateKey.generate()
    document = {
        "keys": [
            {"kty": "RSA", "n": "x", "e": "AQAB"},
            {"kty": "OKP", "crv": "X25519", "x": public_jwk(key.public_key())["x"]},
            {"kty": "OKP", "crv": "Ed25519", "x": "not base64!"},
            {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},  # wrong length
            public_jwk(key.public_key(), "good"),
        ]
    }
    parsed = parse_jwks(json.loads(json.dumps(document)))
    assert [k.kid for k in parsed] == ["good"]
    assert parse_jwks({"keys": "nope"}) == () and parse_jwks([]) == ()


def test_the_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        JwksCache("file:///etc/keys.json")
