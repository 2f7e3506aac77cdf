"""google.rpc statuses → the mediarouter taxonomy (which decides retry, failover or stop).

HTTP answers go through the core's shared table with Gemini's `RULES`; only what Google's status
names and details add is Gemini's own. A finished operation's error is a job state, not an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from mediarouter_gemini.rpc import RPC_CODES, RULES, operation_ending, status_name
from mediarouter_gemini.wire import Operation

from mediarouter import (
    AuthenticationFailed,
    Conflict,
    InsufficientCredits,
    InvalidRequest,
    JobState,
    MediaRouterError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
)
from mediarouter.http import error_for_status

KEY = "AIzaSy-secret-test-key"


def _envelope(code: int, status: str, message: str = "m", details: list[dict[str, Any]] | None = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return json.dumps({"error": error}).encode()


def error_from_http(
    status_code: int,
    body: bytes,
    *,
    phase: str,
    headers: Mapping[str, str] | None = None,
    model: str | None = None,
    secrets: tuple[str, ...] = (),
) -> MediaRouterError:
    return error_for_status(
        status_code, headers or {}, body, rules=RULES, phase=phase, provider="gemini", model=model, secrets=secrets
    )


@pytest.mark.parametrize(
    ("http", "status", "cls"),
    [
        (400, "INVALID_ARGUMENT", InvalidRequest),
        (400, "FAILED_PRECONDITION", InvalidRequest),
        (400, "OUT_OF_RANGE", InvalidRequest),
        (401, "UNAUTHENTICATED", AuthenticationFailed),
        (403, "PERMISSION_DENIED", PermissionDenied),
        (404, "NOT_FOUND", NotFound),
        (409, "ABORTED", Conflict),
        (429, "RESOURCE_EXHAUSTED", RateLimited),
        (500, "INTERNAL", ProviderUnavailable),
        (503, "UNAVAILABLE", ProviderUnavailable),
        (504, "DEADLINE_EXCEEDED", ProviderUnavailable),
        (499, "CANCELLED", ProviderUnavailable),
    ],
)
def test_the_status_name_in_the_body_picks_the_class(http: int, status: str, cls: type[MediaRouterError]) -> None:
    body = _envelope(http, status, "server words")
    error = error_from_http(http, body, phase="poll", model="veo-3.1-generate-preview")
    assert type(error) is cls
    assert error.status_code == http and error.provider == "gemini" and error.model == "veo-3.1-generate-preview"
    assert error.details["rpc_status"] == status
    assert "server words" in str(error)


def test_without_a_readable_body_the_http_code_decides() -> None:
    assert isinstance(error_from_http(429, b"<html>Too Many</html>", phase="poll"), RateLimited)
    assert isinstance(error_from_http(502, b"", phase="poll"), ProviderUnavailable)
    assert isinstance(error_from_http(418, b"", phase="poll"), InvalidRequest)


def test_googles_ordinary_quota_text_without_a_delay_stays_a_rate_limit() -> None:
    """Every 429 says "check your plan and billing details": that alone is no reason to stop retrying."""
    message = "You exceeded your current quota, please check your plan and billing details."
    error = error_from_http(429, _envelope(429, "RESOURCE_EXHAUSTED", message), phase="submit")
    assert type(error) is RateLimited


def test_a_bad_key_answered_as_invalid_argument_is_an_authentication_failure() -> None:
    body = _envelope(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
    )
    error = error_from_http(400, body, phase="submit")
    assert isinstance(error, AuthenticationFailed)
    assert error.details["reason"] == "API_KEY_INVALID"
    assert "GEMINI_API_KEY" in (error.hint or "")


def test_a_payload_size_refusal_is_payload_too_large() -> None:
    body = _envelope(400, "INVALID_ARGUMENT", "Request payload size exceeds the limit: 20971520 bytes.")
    assert isinstance(error_from_http(400, body, phase="submit"), PayloadTooLarge)


def test_rate_limit_carries_googles_retry_delay() -> None:
    body = _envelope(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
        [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}],
    )
    error = error_from_http(429, body, phase="submit")
    assert isinstance(error, RateLimited) and error.retry_after == 17.0


def test_rate_limit_falls_back_to_the_retry_after_header() -> None:
    error = error_from_http(429, _envelope(429, "RESOURCE_EXHAUSTED"), headers={"Retry-After": "3"}, phase="poll")
    assert isinstance(error, RateLimited) and error.retry_after == 3.0


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("RESOURCE_EXHAUSTED", "Quota exceeded for metric: generate_requests_per_model, limit: 0"),
        ("RESOURCE_EXHAUSTED", "Your prepayment credits are depleted. Please go to AI Studio to manage billing."),
        ("FAILED_PRECONDITION", "Gemini API free tier is not available in your country. Please enable billing."),
    ],
)
def test_a_zero_quota_or_billing_block_is_insufficient_credits_not_a_rate_limit(status: str, message: str) -> None:
    """Waiting does not fix these, so they must not be retried as a rate limit."""
    http = 429 if status == "RESOURCE_EXHAUSTED" else 400
    error = error_from_http(http, _envelope(http, status, message), phase="submit")
    assert isinstance(error, InsufficientCredits)
    assert "billing" in (error.hint or "")


def test_a_submit_5xx_warns_that_the_job_may_exist() -> None:
    error = error_from_http(503, _envelope(503, "UNAVAILABLE"), phase="submit")
    assert isinstance(error, ProviderUnavailable) and error.sent
    assert "may have been created" in (error.hint or "")


def test_the_key_never_appears_in_the_error() -> None:
    body = _envelope(400, "INVALID_ARGUMENT", f"bad request with key={KEY}")
    error = error_from_http(400, body, phase="submit", secrets=(KEY,))
    assert KEY not in str(error) and KEY not in (error.server_message or "") and KEY not in repr(error)


def test_an_unexpected_non_error_status_is_a_protocol_error() -> None:
    assert isinstance(error_from_http(302, b"", phase="download"), ProtocolError)


def test_googles_raw_details_never_reach_the_error() -> None:
    """Only the distilled facts (status name, reason) are kept: `details` may carry anything."""
    body = _envelope(403, "PERMISSION_DENIED", "no", [{"@type": "x.ErrorInfo", "reason": "R", "metadata": {"k": KEY}}])
    error = error_from_http(403, body, phase="poll")
    assert error.details["reason"] == "R" and "metadata" not in error.details
    assert KEY not in repr(error.to_dict()) and KEY not in repr(error.details)


def test_status_name_prefers_the_name_and_knows_every_rpc_code() -> None:
    assert status_name(8, None) == "RESOURCE_EXHAUSTED"
    assert status_name(3, "permission_denied") == "PERMISSION_DENIED"
    assert status_name(None, None) is None
    assert sorted(RPC_CODES) == list(range(17))


# -- a finished operation that failed ---------------------------------------------------------


def _failed(code: int, message: str = "why") -> Operation:
    return Operation.model_validate(
        {
            "name": "models/veo-3.1-generate-preview/operations/op1",
            "done": True,
            "error": {"code": code, "message": message},
        }
    )


@pytest.mark.parametrize("code", [c for c in RPC_CODES if c not in (0, 1, 4)])
def test_every_operation_error_but_cancelled_and_deadline_is_failed_with_code_and_name(code: int) -> None:
    """`failed` lets the router try the next candidate; the text and details say what Google decided."""
    ending = operation_ending(_failed(code, "Google's words"))
    assert ending is not None and ending.state is JobState.FAILED
    assert ending.details == {"rpc_code": code, "rpc_status": RPC_CODES[code]}
    assert ending.error == f"{RPC_CODES[code]} (code {code}): Google's words"


def test_a_cancelled_operation_is_cancelled() -> None:
    ending = operation_ending(_failed(1, "cancelled by user"))
    assert ending is not None and ending.state is JobState.CANCELLED and "cancelled by user" in ending.error


def test_a_deadline_exceeded_operation_is_expired_so_the_router_does_not_pay_twice() -> None:
    ending = operation_ending(_failed(4, "took too long"))
    assert ending is not None and ending.state is JobState.EXPIRED and ending.raw_status == "DEADLINE_EXCEEDED"


def test_an_operation_error_with_an_unknown_code_is_still_failed() -> None:
    ending = operation_ending(_failed(99))
    assert ending is not None and ending.state is JobState.FAILED and ending.details["rpc_status"] == "UNKNOWN"


def test_a_running_operation_or_one_with_videos_has_no_ending() -> None:
    running = Operation.model_validate({"name": "operations/op1"})
    uri = "https://generativelanguage.googleapis.com/v1beta/files/f:download?alt=media"
    done = Operation.model_validate(
        {"name": "operations/op1", "done": True, "response": {"generatedSamples": [{"video": {"uri": uri}}]}}
    )
    assert operation_ending(running) is None and operation_ending(done) is None


# -- safety filtering ---------------------------------------------------------------------------


def _filtered(response: dict[str, Any] | None) -> Operation:
    body: dict[str, Any] = {"name": "operations/op1", "done": True}
    if response is not None:
        body["response"] = {"generateVideoResponse": response}
    return Operation.model_validate(body)


def test_a_filtered_result_is_failed_carrying_the_reasons() -> None:
    reasons = ["Contains a child.", "Unsafe content."]
    ending = operation_ending(_filtered({"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": reasons}))
    assert ending is not None and ending.state is JobState.FAILED and ending.raw_status == "filtered"
    assert ending.details["rai_media_filtered_reasons"] == reasons
    assert "Contains a child.; Unsafe content." in ending.error and "not billed" in ending.error


def test_a_count_without_reasons_is_still_filtered() -> None:
    ending = operation_ending(_filtered({"raiMediaFilteredCount": 2}))
    assert ending is not None and ending.state is JobState.FAILED and "2 video(s) removed" in ending.error


@pytest.mark.parametrize(
    "response",
    [None, {}, {"raiMediaFilteredCount": 0, "raiMediaFilteredReasons": []}, {"generatedSamples": [{"video": {}}]}],
)
def test_a_result_with_no_video_and_no_reason_is_a_protocol_error_not_a_failure(
    response: dict[str, Any] | None,
) -> None:
    """MONEY: "done, no video, no reason" may be a finished, billed job: `failed` would fail over and pay twice."""
    with pytest.raises(ProtocolError, match="cannot be read as a video") as caught:
        operation_ending(_filtered(response), provider="gemini", job_id="operations/op1")
    assert caught.value.job_id == "operations/op1"


def _documented_rows() -> list[tuple[int, str, str]]:
    """(HTTP, status, first class named) for every row of the error table in docs/providers/gemini.md."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "providers" / "gemini.md"
    rows = []
    for line in doc.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            status = cells[1].split(" / ")[0]
            rows.append((int(cells[0]), status, re.split(r"[;,( ]", cells[3], maxsplit=1)[0]))
    return rows


def test_the_documented_error_table_is_what_the_plugin_does() -> None:
    """Rule: docs/providers/gemini.md's error table names the class each status really becomes."""
    rows = _documented_rows()
    assert {code for code, _, _ in rows} >= {400, 401, 403, 404, 429, 500, 501, 503, 504}
    for code, status, documented in rows:
        error = error_for_status(code, {}, _envelope(code, status), rules=RULES, phase="poll", provider="gemini")
        assert type(error).__name__ == documented, (code, status)
