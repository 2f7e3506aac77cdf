"""Wire models: tolerant of additions, strict about what the poll loop and the download rely on."""

from __future__ import annotations

import json

import pytest
from mediarouter_gemini.wire import parse_error_body, parse_operation

from mediarouter import ProtocolError


def _body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_a_running_operation_without_done_is_not_done() -> None:
    op = parse_operation(_body({"name": "models/veo-3.1-generate-preview/operations/abc"}))
    assert op.done is False
    assert op.videos() == []


def test_a_finished_operation_yields_its_sample_uris_in_order() -> None:
    op = parse_operation(
        _body(
            {
                "name": "models/veo-3.1-generate-preview/operations/abc",
                "done": True,
                "response": {
                    "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
                    "generateVideoResponse": {
                        "generatedSamples": [
                            {
                                "video": {
                                    "uri": "https://generativelanguage.googleapis.com/v1beta/files/a:download?alt=media"
                                }
                            },
                            {"video": {}},
                            {
                                "video": {
                                    "uri": "https://generativelanguage.googleapis.com/v1beta/files/b:download?alt=media"
                                }
                            },
                        ]
                    },
                },
                "futureField": {"kept": True},
            }
        )
    )
    assert op.done
    assert [(v.uri or "").split("/files/")[1].split(":")[0] for v in op.videos()] == ["a", "b"]
    assert op.model_extra == {"futureField": {"kept": True}}


def test_samples_without_the_generate_video_response_wrapper_are_still_read() -> None:
    op = parse_operation(
        _body({"name": "operations/x", "done": True, "response": {"generatedSamples": [{"video": {"uri": "u"}}]}})
    )
    assert [v.uri for v in op.videos()] == ["u"]


def test_filter_reasons_are_read_and_a_single_string_is_one_reason() -> None:
    op = parse_operation(
        _body(
            {
                "name": "operations/x",
                "done": True,
                "response": {"generateVideoResponse": {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": "nope"}},
            }
        )
    )
    assert op.video_response is not None
    assert op.video_response.rai_media_filtered_reasons == ["nope"]
    assert op.video_response.rai_media_filtered_count == 1
    assert op.videos() == []


def test_an_operation_error_is_read_with_its_numeric_code() -> None:
    op = parse_operation(_body({"name": "operations/x", "done": True, "error": {"code": "8", "message": "quota"}}))
    assert op.error is not None
    assert (op.error.code, op.error.message) == (8, "quota")


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502</html>", b"[1, 2]", b'{"done": true}', b'{"name": ""}', b'{"name": 5}'],
    ids=["empty", "html", "list", "no-name", "empty-name", "name-not-string"],
)
def test_an_unreadable_operation_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError, match="Gemini sent"):
        parse_operation(body, job_id="operations/x")


@pytest.mark.parametrize(
    "name",
    ["../../files/x", "models/../../oops", "https://evil.example/x", "operations/a b", "/operations/x", "a//b"],
)
def test_an_operation_name_that_is_not_a_plain_resource_path_is_refused(name: str) -> None:
    """The name is appended to the base URL and polled with the key: it must stay a resource path."""
    with pytest.raises(ProtocolError, match="not a resource path"):
        parse_operation(_body({"name": name}))


def test_the_error_envelope_is_read_with_status_and_details() -> None:
    envelope = parse_error_body(
        _body(
            {
                "error": {
                    "code": 429,
                    "message": "Resource has been exhausted",
                    "status": "RESOURCE_EXHAUSTED",
                    "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}, "junk"],
                }
            }
        )
    )
    assert envelope is not None and envelope.error is not None
    assert (envelope.error.code, envelope.error.status) == (429, "RESOURCE_EXHAUSTED")
    assert envelope.error.details == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]


def test_an_error_envelope_in_a_one_element_list_is_read() -> None:
    envelope = parse_error_body(_body([{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}]))
    assert envelope is not None and envelope.error is not None and envelope.error.status == "INVALID_ARGUMENT"


@pytest.mark.parametrize("body", [b"", b"<html>oops</html>", b'"text"', b'{"message": "no error key"}'])
def test_a_body_that_is_not_the_envelope_gives_none(body: bytes) -> None:
    assert parse_error_body(body) is None
