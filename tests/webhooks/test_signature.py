"""OpenRouter's webhook signature: HMAC-SHA256 over "<ts>," + raw body, ±5 minutes, constant-time."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from mediarouter_contracts.clock import FakeClock
from pydantic import SecretStr

from mediarouter.webhooks import SignatureError, sign, verify

from .helpers import SECRET

BODY = b'{"type":"video.generation.completed","data":{"id":"gen-vid-1","status":"completed"}}'


def test_the_signature_is_hmac_sha256_over_timestamp_comma_raw_body() -> None:
    expected = hmac.new(b"whsec-test-secret", b"1800000000," + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, 1_800_000_000) == f"t=1800000000,v1={expected}"


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_a_timestamp_within_five_minutes_either_way_is_accepted(offset: int) -> None:
    clock = FakeClock()
    now = int(clock.time())
    assert verify(sign(SECRET, BODY, now + offset), BODY, SECRET, clock=clock) == now + offset


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_a_timestamp_more_than_five_minutes_off_either_way_is_refused(offset: int) -> None:
    clock = FakeClock()
    header = sign(SECRET, BODY, int(clock.time()) + offset)
    with pytest.raises(SignatureError) as info:
        verify(header, BODY, SECRET, clock=clock)
    assert info.value.reason == "stale_signature"


def test_the_edge_moves_with_the_injected_clock() -> None:
    clock = FakeClock()
    header = sign(SECRET, BODY, int(clock.time()))
    clock.advance(300)
    verify(header, BODY, SECRET, clock=clock)
    clock.advance(1)
    with pytest.raises(SignatureError, match="more than 300s"):
        verify(header, BODY, SECRET, clock=clock)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, b: (h, b + b" "), "bad_signature"),  # re-serialised / tampered body
        (lambda h, b: (h.replace("v1=", "v1=0"), b), "bad_signature"),
        (lambda h, b: (None, b), "missing_signature"),
        (lambda h, b: ("", b), "missing_signature"),
        (lambda h, b: ("v1=abc", b), "malformed_signature"),
        (lambda h, b: ("t=soon,v1=abc", b), "malformed_signature"),
        (lambda h, b: (h.split(",")[0], b), "malformed_signature"),
    ],
)
def test_a_wrong_missing_or_malformed_signature_is_refused_with_its_reason(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    header, body = mutate(sign(SECRET, BODY, int(clock.time())), BODY)
    with pytest.raises(SignatureError) as info:
        verify(header, body, SECRET, clock=clock)
    assert info.value.reason == reason


def test_another_secret_does_not_verify_and_the_error_never_shows_secret_or_signature() -> None:
    clock = FakeClock()
    header = sign(SecretStr("someone-else"), BODY, int(clock.time()))
    with pytest.raises(SignatureError) as info:
        verify(header, BODY, SECRET, clock=clock)
    text = str(info.value) + repr(info.value)
    assert "whsec-test-secret" not in text and header.split("v1=")[1] not in text


def test_any_of_several_v1_entries_may_match_during_a_secret_rotation() -> None:
    clock = FakeClock()
    ts = int(clock.time())
    old = sign(SecretStr("old-secret"), BODY, ts).split(",")[1]
    header = f"t={ts},{old},{sign(SECRET, BODY, ts).split(',')[1]}"
    assert verify(header, BODY, SECRET, clock=clock) == ts
