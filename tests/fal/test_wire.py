"""fal wire shapes: tolerant of new fields, strict about what we need; unreadable bodies are ProtocolError."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mediarouter_fal.wire import (
    parse_cancel,
    parse_error_body,
    parse_result,
    parse_status,
    parse_submit,
    parse_webhook,
)

from mediarouter import ProtocolError

SUBMIT = {
    "request_id": "80e732af-660e-45cd-bd63-580e4f2a94cc",
    "response_url": "https://queue.fal.run/fal-ai/kling-video/requests/80e732af-660e-45cd-bd63-580e4f2a94cc",
    "status_url": "https://queue.fal.run/fal-ai/kling-video/requests/80e732af-660e-45cd-bd63-580e4f2a94cc/status",
    "cancel_url": "https://queue.fal.run/fal-ai/kling-video/requests/80e732af-660e-45cd-bd63-580e4f2a94cc/cancel",
    "queue_position": 0,
    "status": "IN_QUEUE",
}


def test_the_submit_answer_gives_the_request_id_urls_and_queue_position() -> None:
    answer = parse_submit(json.dumps({**SUBMIT, "something_new": [1]}).encode())
    assert answer.request_id == SUBMIT["request_id"]
    assert answer.status_url == SUBMIT["status_url"]
    assert answer.queue_position == 0
    assert answer.model_extra == {"something_new": [1]}


def test_a_submit_answer_with_only_ids_is_enough() -> None:
    answer = parse_submit(b'{"request_id": "r1", "gateway_request_id": "r1"}')
    assert (answer.request_id, answer.status_url, answer.queue_position) == ("r1", None, None)


@pytest.mark.parametrize("body", [b'{"status_url": "x"}', b'{"request_id": ""}', b'{"request_id": 5}'])
def test_a_submit_answer_without_a_request_id_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError, match="submit answer"):
        parse_submit(body)


def test_status_in_queue_carries_the_position() -> None:
    status = parse_status(b'{"status": "IN_QUEUE", "queue_position": 3, "response_url": "u"}')
    assert (status.status, status.queue_position, status.completed) == ("IN_QUEUE", 3, False)


def test_status_in_progress_carries_logs() -> None:
    body = {"status": "IN_PROGRESS", "logs": [{"message": "step 1/30", "level": "INFO", "timestamp": "t"}]}
    status = parse_status(json.dumps(body).encode())
    assert status.logs is not None and status.logs[0].message == "step 1/30"


def test_completed_with_an_error_is_a_failure_and_without_one_a_success() -> None:
    ok = parse_status(b'{"status": "COMPLETED", "logs": null, "metrics": {"inference_time": 41.2}}')
    assert ok.completed and not ok.failed and ok.metrics == {"inference_time": 41.2}
    failed = parse_status(
        b'{"status": "COMPLETED", "error": "Runner disconnected", "error_type": "runner_disconnected"}'
    )
    assert failed.failed and failed.error_type == "runner_disconnected"


def test_an_error_given_as_an_object_is_kept_as_text() -> None:
    status = parse_status(b'{"status": "COMPLETED", "error": {"message": "boom"}}')
    assert status.error == "boom"


def test_an_unknown_status_value_is_read_not_rejected() -> None:
    assert parse_status(b'{"status": "CANCELLED"}').status == "CANCELLED"


def test_the_result_of_a_video_model_gives_the_file() -> None:
    body = {
        "video": {
            "url": "https://v3.fal.media/files/b/out.mp4",
            "content_type": "video/mp4",
            "file_name": "out.mp4",
            "file_size": 13096952,
        },
        "seed": 42,
    }
    result = parse_result(json.dumps(body).encode())
    assert result.video is not None and [f.url for f in result.files] == [result.video.url]
    assert result.video.url.endswith("out.mp4")
    assert (result.video.content_type, result.video.file_size, result.seed) == ("video/mp4", 13096952, 42)


@pytest.mark.parametrize("body", [b"{}", b'{"video": {}}', b'{"video": {"url": ""}}', b'{"images": [{"url": "x"}]}'])
def test_a_result_without_a_video_url_is_a_protocol_error_not_an_empty_success(body: bytes) -> None:
    with pytest.raises(ProtocolError, match="result"):
        parse_result(body)


def test_cancel_answers_are_read_and_an_empty_body_is_allowed() -> None:
    assert parse_cancel(b'{"status": "CANCELLATION_REQUESTED"}').status == "CANCELLATION_REQUESTED"
    assert parse_cancel(b'{"status": "ALREADY_COMPLETED"}').status == "ALREADY_COMPLETED"
    assert parse_cancel(b"").status is None


def test_a_webhook_delivery_gives_status_and_payload() -> None:
    body = {
        "request_id": "r",
        "gateway_request_id": "r",
        "status": "ERROR",
        "error": "Invalid status code: 422",
        "payload": {"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "value_error"}]},
    }
    hook = parse_webhook(json.dumps(body).encode())
    assert (hook.status, hook.error) == ("ERROR", "Invalid status code: 422")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"", "an empty body"),
        (b"<html>502 Bad Gateway</html>", "502 Bad Gateway"),
        (b'["IN_QUEUE"]', "JSON list"),
        (b"\xff\xfe", "not JSON"),
    ],
)
@pytest.mark.parametrize("parse", [parse_submit, parse_status, parse_result, parse_webhook])
def test_unreadable_bodies_are_protocol_errors_that_show_what_came(parse, body: bytes, said: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProtocolError, match=said):
        parse(body, provider="fal", job_id="r1")


@given(st.binary(max_size=300))
def test_no_body_makes_a_parser_fail_with_anything_but_protocol_error(body: bytes) -> None:
    for parse in (parse_submit, parse_status, parse_result, parse_cancel):
        with contextlib.suppress(ProtocolError):
            parse(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
wire_keys = ("request_id", "status", "queue_position", "logs", "error", "video", "detail", "loc", "url")
near_miss = st.fixed_dictionaries({}, optional={key: json_values for key in wire_keys})


@given(json_values | near_miss)
def test_no_json_value_makes_a_parser_fail_with_anything_but_protocol_error(value: object) -> None:
    body = json.dumps(value).encode()
    for parse in (parse_submit, parse_status, parse_result, parse_cancel):
        with contextlib.suppress(ProtocolError):
            parse(body)
    parse_error_body(body)  # never raises


def test_error_bodies_read_both_the_validation_list_and_the_request_error_shape() -> None:
    validation = parse_error_body(
        b'{"detail": [{"loc": ["body", "duration"], "msg": "bad", "type": "enum", "url": "u", "ctx": {"x": 1}}]}'
    )
    assert validation is not None and validation.details[0].field == "duration"
    request = parse_error_body(b'{"detail": "Request timed out", "error_type": "request_timeout"}')
    assert request is not None and (request.message, request.error_type) == ("Request timed out", "request_timeout")
    assert parse_error_body(b"<html>") is None
    assert parse_error_body(b"[1]") is None
