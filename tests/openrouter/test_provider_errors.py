"""OpenRouter status and network failures → core errors, and wire parsing that never leaks raw exceptions."""

from __future__ import annotations

import email.utils
import json
from typing import Any

import httpx
import pytest
from mediarouter_openrouter.errors import RULES, error_from_response
from mediarouter_openrouter.wire import parse_error_body, parse_job, parse_models

from mediarouter import (
    AuthenticationFailed,
    Conflict,
    InsufficientCredits,
    InvalidRequest,
    MediaRouterError,
    NotFound,
    OutputGone,
    PayloadTooLarge,
    PermissionDenied,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
)
from mediarouter.http import ProviderClient, parse_retry_after

PHASES = ("submit", "poll", "download", "models")

#: The mapping the brief fixes: status → exact error class.
TABLE: list[tuple[int, type[MediaRouterError]]] = [
    (400, InvalidRequest),
    (401, AuthenticationFailed),
    (402, InsufficientCredits),
    (403, PermissionDenied),
    (404, NotFound),
    (405, InvalidRequest),
    (408, ProviderUnavailable),
    (409, Conflict),
    (410, OutputGone),
    (413, PayloadTooLarge),
    (416, InvalidRequest),
    (422, InvalidRequest),
    (429, RateLimited),
    (499, ProviderUnavailable),
    (500, ProviderUnavailable),
    (502, ProviderUnavailable),
    (503, ProviderUnavailable),
    (504, ProviderUnavailable),
    (524, ProviderUnavailable),
    (529, ProviderUnavailable),
]


def envelope(code: int, message: str, metadata: dict[str, Any] | None = None) -> bytes:
    return json.dumps(
        {
            "error": {"code": code, "message": message, "metadata": metadata},
            "openrouter_metadata": None,
            "user_id": None,
        }
    ).encode()


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize(("status", "expected"), TABLE)
def test_status_maps_to_the_error_class_and_keeps_the_server_text(
    status: int, expected: type[MediaRouterError], phase: Any
) -> None:
    text = f"server explanation for {status}"
    error = error_from_response(status, {}, envelope(status, text), model="google/veo-3.1", job_id="job-1", phase=phase)
    assert type(error) is expected
    assert error.status_code == status
    assert error.server_message == text
    assert text in error.message  # a one-line CLI print shows what the server said
    assert text in str(error)
    assert (error.provider, error.model, error.job_id) == ("openrouter", "google/veo-3.1", "job-1")
    assert error.details["phase"] == phase


def test_401_hint_names_the_environment_variable() -> None:
    error = error_from_response(401, {}, envelope(401, "No auth credentials found"), phase="submit")
    assert error.hint is not None and "OPENROUTER_API_KEY" in error.hint


def test_402_hint_says_add_credits_and_is_not_retryable() -> None:
    error = error_from_response(402, {}, envelope(402, "Insufficient credits"), phase="submit")
    assert error.hint is not None and "credits" in error.hint
    assert not error.retryable


def test_403_includes_moderation_reasons() -> None:
    metadata = {"reasons": ["violence", "self-harm"], "flagged_input": "…", "provider_name": "x", "model_slug": "y"}
    error = error_from_response(403, {}, envelope(403, "Input was flagged", metadata), phase="submit")
    assert isinstance(error, PermissionDenied)
    assert "violence" in error.message and "self-harm" in error.message
    assert error.details["reasons"] == ["violence", "self-harm"]
    assert error.details["metadata"]["provider_name"] == "x"


def test_413_hint_suggests_https_urls_instead_of_data_urls() -> None:
    error = error_from_response(413, {}, b"", phase="submit")
    assert error.hint is not None and "https://" in error.hint and "data:" in error.hint


def test_499_is_unavailable_but_was_sent() -> None:
    error = error_from_response(499, {}, envelope(499, "client closed"), phase="submit")
    assert isinstance(error, ProviderUnavailable) and error.sent is True


def test_5xx_on_submit_warns_that_the_job_may_exist() -> None:
    error = error_from_response(500, {}, envelope(500, "oops"), phase="submit")
    assert isinstance(error, ProviderUnavailable) and error.sent
    assert error.hint is not None and "may have been created" in error.hint


@pytest.mark.parametrize("status", [429, 503, 500, 529, 408])
def test_retry_after_seconds_is_attached(status: int) -> None:
    error = error_from_response(status, {"Retry-After": "17"}, envelope(status, "slow down"), phase="poll")
    assert error.retry_after == 17.0


def test_retry_after_http_date_counts_from_now() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 42, usegmt=True)
    error = error_from_response(429, httpx.Headers({"Retry-After": date}), b"", phase="submit", now=now)
    assert error.retry_after == pytest.approx(42.0)


def test_retry_after_ms_wins_and_is_in_milliseconds() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    error = error_from_response(429, {"Retry-After-Ms": "250"}, b"", phase="submit")
    assert error.retry_after == 0.25


@pytest.mark.parametrize(
    "headers",
    [{}, {"Retry-After": "soon"}, {"Retry-After": "-3"}, {"Retry-After": "nan"}, {"retry-after-ms": "x"}],
)
def test_unusable_retry_after_is_ignored(headers: dict[str, str]) -> None:
    assert parse_retry_after(headers) is None


def test_a_past_http_date_means_retry_now() -> None:
    date = email.utils.formatdate(1_000, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=2_000.0) == 0.0


def test_non_json_body_becomes_a_short_server_message() -> None:
    body = b"upstream connect error or disconnect/reset before headers " + b"x" * 5000
    error = error_from_response(502, {}, body, phase="download")
    assert error.server_message is not None
    assert error.server_message.startswith("upstream connect error")
    assert len(error.server_message) <= 200
    assert "upstream connect error" in str(error)


def test_html_error_page_shows_its_title() -> None:
    body = b"<html><head><title>524: A timeout occurred</title></head><body><p>lots</p></body></html>"
    error = error_from_response(524, {}, body, phase="poll")
    assert error.server_message == "524: A timeout occurred"
    assert isinstance(error, ProviderUnavailable)


def test_json_without_the_envelope_uses_a_top_level_message() -> None:
    error = error_from_response(400, {}, b'{"message": "bad duration"}', phase="submit")
    assert error.server_message == "bad duration"


def test_empty_body_still_gives_a_readable_message() -> None:
    error = error_from_response(503, {}, b"", phase="poll")
    assert error.server_message is None
    assert "HTTP 503" in error.message and "Service Unavailable" in error.message


def test_unexpected_3xx_is_a_protocol_error() -> None:
    error = error_from_response(302, {"Location": "/elsewhere"}, b"", phase="poll")
    assert type(error) is ProtocolError


def test_secrets_and_signed_url_queries_never_reach_messages() -> None:
    key = "sk-or-v1-topsecret"
    body = envelope(400, f"bad key {key} for https://cdn.example.com/v/1.mp4?sig=SECRETSIG")
    error = error_from_response(400, {}, body, phase="download", secrets=[key])
    text = str(error) + repr(error) + json.dumps(error.to_dict())
    assert key not in text
    assert "SECRETSIG" not in text
    assert "https://cdn.example.com" in text


# -- network failures ------------------------------------------------------------------------

CLIENT = ProviderClient(provider="openrouter", rules=RULES, base_url="https://openrouter.ai/api/v1")
REQ = httpx.Request("GET", "https://storage.example.com/out.mp4?X-Signature=SECRETSIG")


@pytest.mark.parametrize(
    ("exc", "sent"),
    [
        (httpx.ConnectError("connection refused", request=REQ), False),
        (httpx.ConnectTimeout("timed out", request=REQ), False),
        (httpx.PoolTimeout("pool", request=REQ), False),
        (httpx.ReadTimeout("timed out", request=REQ), True),
        (httpx.WriteTimeout("timed out", request=REQ), True),
        (httpx.ReadError("reset", request=REQ), True),
        (httpx.WriteError("broken pipe", request=REQ), True),
        (httpx.RemoteProtocolError("peer closed connection", request=REQ), True),
    ],
)
@pytest.mark.parametrize("phase", PHASES)
def test_network_errors_say_whether_the_request_was_sent(exc: httpx.HTTPError, sent: bool, phase: Any) -> None:
    error = CLIENT.transport_error(exc, model="m", job_id="j", phase=phase)
    assert type(error) is ProviderUnavailable
    assert error.sent is sent
    assert error.retryable
    assert type(exc).__name__ in error.message
    assert "https://storage.example.com" in error.message
    assert "SECRETSIG" not in str(error)
    assert (error.provider, error.model, error.job_id) == ("openrouter", "m", "j")


def test_transport_error_without_a_request_still_maps() -> None:
    error = CLIENT.transport_error(httpx.ConnectError("refused"), phase="submit", model=None, job_id=None)
    assert error.sent is False and "OpenRouter" in error.message


# -- wire parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"<html>oops</html>",
        b"",
        b"\xff\xfe\x00",
        b"[1, 2, 3]",
        b'"just a string"',
        b"{}",
        b'{"id": ""}',
        b'{"id": 123, "status": "pending"}',
        b'{"id": "j", "status": "completed", "unsigned_urls": "https://x"}',
        b'{"id": "j", "status": "completed", "usage": {"cost": "lots"}}',
        b'{"id": "j", "status": "completed", "expires_at": "whenever"}',
        b'{"id": "j", "status": 7}',
    ],
)
def test_malformed_job_bodies_become_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_job(body, provider="openrouter", job_id="j")
    assert info.value.job_id == "j"


def test_job_parsing_tolerates_extra_fields_and_error_objects() -> None:
    job = parse_job(b'{"id": "j", "status": "failed", "error": {"message": "nsfw"}, "brand_new": {"x": 1}}')
    assert job.error == "nsfw"
    assert job.model_extra == {"brand_new": {"x": 1}}


def test_model_listing_skips_one_bad_entry_but_not_all() -> None:
    good = {"id": "a/b", "name": "B"}
    models = parse_models(json.dumps({"data": [good, {"id": 5}, "junk"]}).encode())
    assert [m.id for m in models] == ["a/b"]
    with pytest.raises(ProtocolError):
        parse_models(json.dumps({"data": [{"id": 5}]}).encode())
    with pytest.raises(ProtocolError):
        parse_models(b'{"models": []}')
    assert parse_models(b'{"data": []}') == []


def test_error_body_parsing_is_lenient() -> None:
    assert parse_error_body(b"nope") is None
    assert parse_error_body(b"[]") is None
    parsed = parse_error_body(b'{"error": "plain string"}')
    assert parsed is not None and parsed.error is not None and parsed.error.message == "plain string"
