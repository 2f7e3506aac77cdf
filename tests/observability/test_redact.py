"""Redaction rules: what of a URL or a secret may reach a log line or a span."""

from __future__ import annotations

import logging

import pytest

from mediarouter.redact import REDACTED, RedactingFilter, add_secret, redact_text, redact_url, redact_value, scrub


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://openrouter.ai/api/v1/videos/gen-1", "https://openrouter.ai/api/v1/videos/gen-1"),
        ("https://cdn.test/v/1.mp4?X-Goog-Signature=abc&X-Goog-Expires=60", "https://cdn.test/v/1.mp4?[redacted]"),
        ("https://user:pw@host.test:8443/p#frag", "https://host.test:8443/p?[redacted]"),
        ("HTTP://Host.Test/p", "http://host.test/p"),
        ("http://[::1]:8080/x?y=1", "http://[::1]:8080/x?[redacted]"),
        ("/api/v1/videos/gen-1?token=t", "/api/v1/videos/gen-1?[redacted]"),
        ("", REDACTED),
    ],
)
def test_a_url_keeps_its_origin_and_path_but_never_its_query(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_signed_url_keeps_only_its_origin() -> None:
    assert redact_url("https://cdn.test/v/tok3n/1.mp4?sig=1", signed=True) == f"https://cdn.test/…{REDACTED}"
    assert redact_url("https://cdn.test", signed=True) == "https://cdn.test"


def test_free_text_loses_queries_bearer_tokens_and_known_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", "acme-key-0123456789")
    text = (
        "GET https://cdn.test/a.mp4?token=abc failed; Authorization: Bearer sk-live-xyz; "
        "key acme-key-0123456789; token=zzz"
    )
    assert redact_text(text) == (
        f"GET https://cdn.test/a.mp4?{REDACTED} failed; Authorization: Bearer {REDACTED}; "
        f"key {REDACTED}; token={REDACTED}"
    )
    assert redact_text("the token expired") == "the token expired"  # plain words stay


def test_registered_and_given_secrets_are_scrubbed() -> None:
    add_secret("vault-secret-42424242")
    assert scrub("a vault-secret-42424242 b") == f"a {REDACTED} b"
    assert scrub("short abc", ["abc"]) == f"short {REDACTED}"
    # A one- or two-letter "key" would blank those letters in every word; no real key is that short.
    assert scrub("Name or service not known", ["k"]) == "Name or service not known"
    add_secret("tiny")  # too short to scrub safely: ignored
    assert scrub("tiny") == "tiny"


def test_structures_are_redacted_by_key_and_value() -> None:
    value = {
        "api_key": "k-123456789",
        "signed_url": "https://cdn.test/x?sig=1",
        "urls": ["https://a.test/p?q=1"],
        "n": 3,
    }
    assert redact_value(value) == {
        "api_key": REDACTED,
        "signed_url": f"https://cdn.test/…{REDACTED}",
        "urls": [f"https://a.test/p?{REDACTED}"],
        "n": 3,
    }


def test_the_filter_redacts_message_args_extras_and_traceback() -> None:
    try:
        raise RuntimeError("boom at https://cdn.test/v.mp4?token=secret-in-traceback")
    except RuntimeError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "GET %s", ("https://h.test/p?sig=s3",), exc_info)
    record.url = "https://h.test/p?sig=s3"
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"GET https://h.test/p?{REDACTED}"
    assert record.url == f"https://h.test/p?{REDACTED}"
    assert record.exc_text is not None and "secret-in-traceback" not in record.exc_text
    formatted = logging.Formatter().format(record)
    assert "secret-in-traceback" not in formatted and "s3" not in formatted
