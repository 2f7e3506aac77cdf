"""Queue URL rules: sub-path model ids address requests by app id; the key never leaves the origin."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mediarouter_fal.urls import (
    DEFAULT_QUEUE_URL,
    app_id,
    follow,
    normalize_base,
    on_origin,
    request_urls,
    submit_url,
    with_logs,
)

from mediarouter import ConfigurationError, InvalidRequest

segment = st.from_regex(r"[a-z0-9][a-z0-9.-]{0,12}", fullmatch=True)


@pytest.mark.parametrize(
    ("model_id", "app"),
    [
        ("fal-ai/veo3", "fal-ai/veo3"),
        ("fal-ai/veo3/fast", "fal-ai/veo3"),
        ("fal-ai/kling-video/v2.1/master/text-to-video", "fal-ai/kling-video"),
        ("fal-ai/wan/v2.2-a14b/text-to-video", "fal-ai/wan"),
        ("workflows/someone/my-flow/run", "workflows/someone/my-flow"),
    ],
)
def test_app_id_is_owner_and_app_without_the_endpoint_path(model_id: str, app: str) -> None:
    assert app_id(model_id) == app


@given(owner=segment, app=segment, path=st.lists(segment, max_size=4))
def test_status_result_and_cancel_use_the_app_id_whatever_the_sub_path(owner: str, app: str, path: list[str]) -> None:
    model_id = "/".join([owner, app, *path])
    urls = request_urls(DEFAULT_QUEUE_URL, model_id, "req-1")
    root = f"{DEFAULT_QUEUE_URL}/{owner}/{app}/requests/req-1"
    if owner not in ("workflows", "comfy"):
        assert (urls.result, urls.status, urls.cancel) == (root, root + "/status", root + "/cancel")


def test_submit_goes_to_the_full_model_id_and_a_webhook_rides_in_fal_webhook() -> None:
    model_id = "fal-ai/kling-video/v2.1/master/text-to-video"
    assert submit_url("https://queue.fal.run/", model_id) == f"https://queue.fal.run/{model_id}"
    hooked = submit_url("https://queue.fal.run", model_id, webhook_url="https://me.example/hook?a=1")
    assert hooked == f"https://queue.fal.run/{model_id}?fal_webhook=https%3A%2F%2Fme.example%2Fhook%3Fa%3D1"


def test_a_base_with_a_path_prefix_is_kept_for_compatible_servers() -> None:
    urls = request_urls("http://127.0.0.1:8123/fal/", "fal-ai/veo3", "r")
    assert urls.status == "http://127.0.0.1:8123/fal/fal-ai/veo3/requests/r/status"


def test_a_request_id_cannot_add_path_segments() -> None:
    urls = request_urls(DEFAULT_QUEUE_URL, "fal-ai/veo3", "../../other")
    assert urls.result == f"{DEFAULT_QUEUE_URL}/fal-ai/veo3/requests/..%2F..%2Fother"


@pytest.mark.parametrize(
    "bad", ["veo3", "fal-ai/", "/fal-ai/veo3", "fal-ai//veo3", "fal-ai/../x", "fal-ai/veo3?x=1", ""]
)
def test_a_malformed_model_id_is_refused_naming_the_expected_shape(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="owner/app"):
        app_id(bad)


@pytest.mark.parametrize(
    "bad", ["queue.fal.run", "ftp://queue.fal.run", "https://user:pw@queue.fal.run", "https://q?x=1", "http://h:99x"]
)
def test_an_unusable_base_url_is_a_configuration_error_naming_the_variable(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="FAL_QUEUE_URL") as info:
        normalize_base(bad)
    assert "pw" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://queue.fal.run/fal-ai/veo3/requests/1/status",
        "https://QUEUE.fal.run/fal-ai/veo3/requests/1",
        "https://queue.fal.run:443/fal-ai/veo3/requests/1/cancel",
    ],
)
def test_urls_on_the_configured_origin_may_be_followed(url: str) -> None:
    assert on_origin(url, "https://queue.fal.run")


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/fal-ai/veo3/requests/1/status",
        "http://queue.fal.run/fal-ai/veo3/requests/1/status",
        "https://queue.fal.run:8443/fal-ai/veo3/requests/1",
        "https://queue.fal.run.evil.example/x",
        "https://queue.fal.run@evil.example/x",
        "https://user@queue.fal.run/x",
        "https://v3.fal.media/files/out.mp4",
        "/fal-ai/veo3/requests/1/status",
        "not a url",
    ],
)
def test_foreign_origin_urls_are_not_followed(url: str) -> None:
    assert not on_origin(url, "https://queue.fal.run")


def test_a_path_prefixed_base_only_admits_urls_under_its_prefix() -> None:
    base = "http://127.0.0.1:8123/fal"
    assert on_origin("http://127.0.0.1:8123/fal/fal-ai/veo3/requests/1", base)
    assert not on_origin("http://127.0.0.1:8123/other/fal-ai/veo3/requests/1", base)
    assert not on_origin("http://127.0.0.1:8123/falx/y", base)
    assert not on_origin("http://127.0.0.1:8123/fal/../admin", base)


def test_follow_takes_the_answered_url_on_origin_else_rebuilds_from_the_base() -> None:
    built = request_urls(DEFAULT_QUEUE_URL, "fal-ai/veo3", "1").status
    same = "https://queue.fal.run/fal-ai/veo3/requests/1/status"
    assert follow(same, built, DEFAULT_QUEUE_URL) == same
    assert follow("https://evil.example/steal", built, DEFAULT_QUEUE_URL) == built
    assert follow(None, built, DEFAULT_QUEUE_URL) == built


@given(host=st.from_regex(r"[a-z]{1,10}\.[a-z]{2,5}", fullmatch=True), path=st.lists(segment, max_size=3))
def test_no_other_host_is_ever_on_the_fal_origin(host: str, path: list[str]) -> None:
    if host != "queue.fal.run":
        assert not on_origin(f"https://{host}/" + "/".join(path), DEFAULT_QUEUE_URL)


def test_with_logs_adds_the_logs_flag_keeping_other_query_parameters() -> None:
    assert with_logs("https://q/a/requests/1/status") == "https://q/a/requests/1/status?logs=1"
    assert with_logs("https://q/a/requests/1/status?x=2") == "https://q/a/requests/1/status?x=2&logs=1"
