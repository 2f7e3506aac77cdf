"""The OpenRouter emulator behaves like the documented video API, injects failures on demand and
serves real MP4s. Everything runs in-process except one loopback uvicorn test."""

from __future__ import annotations

import asyncio
import io
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import av
import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from mediarouter_openrouter.emulator import (
    EMULATOR_BASE_URL,
    EmulatorConfig,
    Injection,
    create_app,
    emulator_transport,
)
from mediarouter_openrouter.emulator.app import EmulatorTransport
from mediarouter_openrouter.emulator.cli import emulator_command
from mediarouter_openrouter.emulator.config import PHASES, POLL_TERMINALS
from mediarouter_openrouter.emulator.mp4 import frame_size, make_mp4

AUTH = {"Authorization": "Bearer sk-or-test"}
VEO = "google/veo-3.1"
WAN = "alibaba/wan-2.6"
SORA = "openai/sora-2-pro"
JOB_ID = re.compile(r"^gen-vid-\d{9,}-[A-Za-z0-9]{20}$")
ERROR_KEYS = {"error", "openrouter_metadata", "user_id"}


@asynccontextmanager
async def emulator(
    config: EmulatorConfig | None = None, *, auth: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, EmulatorTransport]]:
    transport = emulator_transport(config)
    headers = AUTH if auth else {}
    async with httpx.AsyncClient(transport=transport, base_url=EMULATOR_BASE_URL, headers=headers) as client:
        yield client, transport


def veo(**fields: Any) -> dict[str, Any]:
    return {"model": VEO, "prompt": "a lighthouse at dusk", **fields}


async def submit(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/videos", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def run_to_end(client: httpx.AsyncClient, job_id: str, limit: int = 10) -> dict[str, Any]:
    for _ in range(limit):
        response = await client.get(f"/videos/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] not in ("pending", "in_progress"):
            return body
    raise AssertionError(f"job {job_id} did not finish in {limit} polls")


def assert_error(response: httpx.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["error"]["code"] == status
    assert body["error"]["metadata"] is None
    for fragment in fragments:
        assert fragment in body["error"]["message"], body["error"]["message"]


# -- submit and poll ------------------------------------------------------------------------------


async def test_submit_answers_202_with_the_job_envelope() -> None:
    async with emulator() as (client, _):
        response = await client.post("/videos", json=veo())
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "polling_url", "status"}
    assert body["status"] == "pending"
    assert JOB_ID.match(body["id"]), body["id"]
    assert body["polling_url"] == f"/api/v1/videos/{body['id']}"


async def test_absolute_polling_url_uses_the_request_base() -> None:
    async with emulator(EmulatorConfig(absolute_polling_url=True)) as (client, _):
        response = await client.post("/videos", json=veo())
        job_id = response.json()["id"]
        assert response.json()["polling_url"] == f"{EMULATOR_BASE_URL}/videos/{job_id}"
        polled = await client.get(response.json()["polling_url"])
    assert polled.json()["polling_url"] == f"{EMULATOR_BASE_URL}/videos/{job_id}"


@pytest.mark.parametrize(
    ("before_in_progress", "before_completed", "expected"),
    [
        (1, 2, ["pending", "in_progress", "completed", "completed"]),
        (0, 0, ["completed", "completed"]),
        (2, 4, ["pending", "pending", "in_progress", "in_progress", "completed"]),
        (0, 1, ["in_progress", "completed"]),
        (1, 1, ["pending", "completed"]),
    ],
)
async def test_status_progresses_by_poll_count(
    before_in_progress: int, before_completed: int, expected: list[str]
) -> None:
    config = EmulatorConfig(polls_before_in_progress=before_in_progress, polls_before_completed=before_completed)
    async with emulator(config) as (client, _):
        job_id = await submit(client, veo())
        seen = [(await client.get(f"/videos/{job_id}")).json()["status"] for _ in expected]
    assert seen == expected


def test_config_rejects_an_impossible_schedule() -> None:
    with pytest.raises(ValueError, match="polls_before_completed"):
        EmulatorConfig(polls_before_in_progress=3, polls_before_completed=2)


async def test_completed_job_carries_urls_usage_and_generation_id() -> None:
    async with emulator() as (client, _):
        job_id = await submit(client, veo(duration=6, generate_audio=False))
        pending = (await client.get(f"/videos/{job_id}")).json()
        done = await run_to_end(client, job_id)
    assert set(pending) == {"id", "polling_url", "status"}
    assert done["status"] == "completed"
    assert done["unsigned_urls"] == [f"{EMULATOR_BASE_URL}/videos/{job_id}/content?index=0"]
    assert done["usage"] == {"cost": pytest.approx(0.40 * 6), "is_byok": False}
    assert done["generation_id"].startswith("gen-")
    assert "error" not in done
    assert "urls" not in done and "expires_at" not in done


@pytest.mark.parametrize(
    ("body", "cost"),
    [
        (veo(duration=8, generate_audio=True), 0.50 * 8),  # per_second_with_audio
        (veo(generate_audio=False), 0.40 * 4),  # default duration: the smallest supported
        (veo(), 0.50 * 4),  # generate_audio defaults to the model's capability (true for Veo)
        ({"model": WAN, "prompt": "x", "duration": 10}, 0.04 * 10),
    ],
)
async def test_cost_is_price_per_second_times_duration(body: dict[str, Any], cost: float) -> None:
    async with emulator() as (client, _):
        done = await run_to_end(client, await submit(client, body))
    assert done["usage"]["cost"] == pytest.approx(cost)


# -- auth, lookups, readiness ----------------------------------------------------------------------


async def test_auth_is_required_everywhere_but_the_model_listing() -> None:
    async with emulator() as (client, transport):
        job_id = (await run_to_end(client, await submit(client, veo())))["id"]
        async with httpx.AsyncClient(transport=transport, base_url=EMULATOR_BASE_URL) as anon:
            assert_error(await anon.post("/videos", json=veo()), 401, "No auth credentials found")
            assert_error(await anon.post("/videos", json=veo(), headers={"Authorization": "Bearer "}), 401)
            assert_error(await anon.post("/videos", json=veo(), headers={"Authorization": "Basic abc"}), 401)
            assert list(transport.emulator.jobs) == [job_id]
            assert_error(await anon.get(f"/videos/{job_id}"), 401)
            assert_error(await anon.get(f"/videos/{job_id}/content"), 401)
            models = await anon.get("/videos/models")
        assert (await client.get(f"/videos/{job_id}/content")).status_code == 200
    assert models.status_code == 200


async def test_configured_api_key_is_the_only_accepted_bearer() -> None:
    async with emulator(EmulatorConfig(api_key="sk-right")) as (client, _):
        assert_error(await client.post("/videos", json=veo()), 401, "Invalid API key")
        right = await client.post("/videos", json=veo(), headers={"Authorization": "Bearer sk-right"})
    assert right.status_code == 202


async def test_models_listing_returns_the_catalog_and_accepts_a_bearer() -> None:
    from mediarouter_openrouter.catalog import catalog_models

    async with emulator() as (client, _):
        response = await client.get("/videos/models")
    assert response.status_code == 200
    assert response.json() == {"data": catalog_models()}


async def test_unknown_ids_and_models_are_404() -> None:
    async with emulator() as (client, _):
        assert_error(await client.get("/videos/gen-vid-1-nope"), 404, "gen-vid-1-nope")
        assert_error(await client.get("/videos/gen-vid-1-nope/content"), 404)
        assert_error(await client.post("/videos", json={"model": "acme/nothing", "prompt": "x"}), 404, "acme/nothing")
        assert_error(await client.get("/no/such/route"), 404)


async def test_content_before_completion_is_409() -> None:
    async with emulator() as (client, _):
        job_id = await submit(client, veo())
        assert_error(await client.get(f"/videos/{job_id}/content"), 409, "not completed")
        await client.get(f"/videos/{job_id}")
        await client.get(f"/videos/{job_id}")  # in_progress
        assert_error(await client.get(f"/videos/{job_id}/content"), 409, "in_progress")


@pytest.mark.parametrize("index", ["abc", "-1", "1", "1.5"])
async def test_bad_index_is_400(index: str) -> None:
    async with emulator() as (client, _):
        job_id = (await run_to_end(client, await submit(client, veo())))["id"]
        assert_error(await client.get(f"/videos/{job_id}/content", params={"index": index}), 400, "index")


async def test_several_outputs_each_download() -> None:
    async with emulator(EmulatorConfig(outputs_per_job=2)) as (client, _):
        done = await run_to_end(client, await submit(client, veo(generate_audio=False)))
        assert len(done["unsigned_urls"]) == 2
        first, second = [(await client.get(url)).content for url in done["unsigned_urls"]]
        assert_error(await client.get(f"/videos/{done['id']}/content", params={"index": 2}), 400)
    assert first[4:8] == second[4:8] == b"ftyp"
    assert first != second


# -- real MP4s -------------------------------------------------------------------------------------


def probe(data: bytes) -> tuple[float, int, int, bool]:
    with av.open(io.BytesIO(data), mode="r") as container:
        video = container.streams.video[0]
        assert container.duration is not None
        return container.duration / 1_000_000, video.width, video.height, bool(container.streams.audio)


@pytest.mark.parametrize(
    ("fields", "ratio", "audio"),
    [
        ({"duration": 8, "aspect_ratio": "16:9", "generate_audio": True}, 16 / 9, True),
        ({"duration": 4, "aspect_ratio": "9:16", "generate_audio": False}, 9 / 16, False),
        ({"duration": 6, "size": "1080x1920", "generate_audio": False}, 1080 / 1920, False),
    ],
)
async def test_content_is_a_real_mp4_of_the_requested_shape(fields: dict[str, Any], ratio: float, audio: bool) -> None:
    async with emulator() as (client, _):
        done = await run_to_end(client, await submit(client, veo(**fields)))
        response = await client.get(done["unsigned_urls"][0], headers={"Accept": "video/mp4"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(response.content)
    duration, width, height, has_audio = probe(response.content)
    assert duration == pytest.approx(fields["duration"], abs=0.5)
    assert height == 144
    assert abs(width / height - ratio) < 2 / height
    assert has_audio is audio


@pytest.mark.parametrize(
    ("aspect_ratio", "size", "expected"),
    [("16:9", None, (256, 144)), ("9:16", None, (82, 144)), ("1:1", None, (144, 144)), (None, "1280x720", (256, 144))],
)
def test_frame_size_keeps_the_shape_at_144_px(
    aspect_ratio: str | None, size: str | None, expected: tuple[int, int]
) -> None:
    assert frame_size(aspect_ratio, size) == expected


def test_make_mp4_duration_is_exact_and_frames_move() -> None:
    data = make_mp4(2.5, "4:3", None, with_audio=True, seed=7, label="unit")
    with av.open(io.BytesIO(data), mode="r") as container:
        assert container.duration is not None
        assert abs(container.duration / 1_000_000 - 2.5) <= 0.1
        lumas = {bytes(frame.planes[0]) for frame in container.decode(video=0)}
    assert len(lumas) == 30  # 2.5 s × 12 fps, and no two frames alike
    assert make_mp4(1, "1:1", None, with_audio=False, seed=1, label="a") != make_mp4(
        1, "1:1", None, with_audio=False, seed=2, label="a"
    )


def test_make_mp4_is_fast() -> None:
    started = time.perf_counter()
    make_mp4(8, "16:9", None, with_audio=True, seed=None, label="speed")
    assert time.perf_counter() - started < 1.0


# -- failure injection -----------------------------------------------------------------------------


async def test_submit_injection_answers_the_status_and_creates_no_job() -> None:
    config = EmulatorConfig(injections=[Injection.parse("submit:402")])
    async with emulator(config) as (client, transport):
        response = await client.post("/videos", json=veo())
    assert_error(response, 402, "Insufficient credits. Add more using https://openrouter.ai/credits")
    assert transport.emulator.jobs == {}
    last = transport.emulator.requests[-1]
    assert (last["method"], last["path"], last["status"], last["model"], last["job_id"]) == (
        "POST",
        "/api/v1/videos",
        402,
        VEO,
        None,
    )


async def test_injection_with_times_fires_that_often_then_stops() -> None:
    config = EmulatorConfig(injections=[Injection.parse("submit:429x2")])
    async with emulator(config) as (client, transport):
        statuses = [(await client.post("/videos", json=veo())).status_code for _ in range(3)]
        assert len(transport.emulator.jobs) == 1
    assert statuses == [429, 429, 202]


async def test_poll_500_once_then_normal_progression() -> None:
    config = EmulatorConfig(injections=[Injection.parse("poll:500x1")])
    async with emulator(config) as (client, _):
        job_id = await submit(client, veo())
        first = await client.get(f"/videos/{job_id}")
        later = [(await client.get(f"/videos/{job_id}")).json()["status"] for _ in range(3)]
    assert_error(first, 500, "Internal Server Error")
    assert later == ["pending", "in_progress", "completed"]  # the failed poll did not count


@pytest.mark.parametrize(("terminal", "content_status"), [("failed", 409), ("cancelled", 409), ("expired", 410)])
async def test_poll_terminal_injection_ends_the_job_with_an_error(terminal: str, content_status: int) -> None:
    config = EmulatorConfig(injections=[Injection.parse(f"poll:{terminal}")])
    async with emulator(config) as (client, _):
        job_id = await submit(client, veo())
        statuses = [(await client.get(f"/videos/{job_id}")).json()["status"] for _ in range(2)]
        done = (await client.get(f"/videos/{job_id}")).json()
        content = await client.get(f"/videos/{job_id}/content")
    assert statuses == ["pending", "in_progress"]  # it fails when it would have completed
    assert done["status"] == terminal
    assert isinstance(done["error"], str) and done["error"].startswith("Emulated")
    assert "unsigned_urls" not in done and "usage" not in done
    assert_error(content, content_status, terminal)


async def test_injections_filter_by_model() -> None:
    config = EmulatorConfig(
        injections=[Injection.parse(f"submit:402:{VEO}"), Injection.parse(f"poll:expired:{WAN}")],
        polls_before_in_progress=0,
        polls_before_completed=0,
    )
    async with emulator(config) as (client, _):
        assert_error(await client.post("/videos", json=veo()), 402)
        wan = await submit(client, {"model": WAN, "prompt": "x"})
        sora = await submit(client, {"model": SORA, "prompt": "x"})
        assert (await client.get(f"/videos/{wan}")).json()["status"] == "expired"
        assert (await client.get(f"/videos/{sora}")).json()["status"] == "completed"


@pytest.mark.parametrize(("spec", "status"), [("submit:429", 429), ("submit:503", 503)])
async def test_retry_after_on_429_and_503(spec: str, status: int) -> None:
    config = EmulatorConfig(injections=[Injection.parse(spec)], retry_after=7)
    async with emulator(config) as (client, _):
        response = await client.post("/videos", json=veo())
    assert_error(response, status)
    assert response.headers["retry-after"] == "7"


async def test_no_retry_after_on_other_errors() -> None:
    async with emulator(EmulatorConfig(injections=[Injection.parse("submit:500")])) as (client, _):
        response = await client.post("/videos", json=veo())
    assert response.status_code == 500
    assert "retry-after" not in response.headers


async def test_content_and_models_injections() -> None:
    config = EmulatorConfig(injections=[Injection.parse("content:410x1"), Injection.parse("models:500")])
    async with emulator(config) as (client, _):
        done = await run_to_end(client, await submit(client, veo()))
        assert_error(await client.get(done["unsigned_urls"][0]), 410, "no longer available")
        assert (await client.get(done["unsigned_urls"][0])).status_code == 200
        assert_error(await client.get("/videos/models"), 500)


# -- Injection.parse ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("submit:402", Injection("submit", 402)),
        ("submit:402:google/veo-3.1", Injection("submit", 402, "google/veo-3.1")),
        ("poll:500x1", Injection("poll", 500, None, 1)),
        ("poll:failed", Injection("poll", "failed")),
        ("poll:expired:alibaba/wan-2.6", Injection("poll", "expired", "alibaba/wan-2.6")),
        ("poll:cancelled:alibaba/wan-2.6x3", Injection("poll", "cancelled", "alibaba/wan-2.6", 3)),
        ("content:410", Injection("content", 410)),
        ("models:500", Injection("models", 500)),
        ("submit:429:vendor/model:free", Injection("submit", 429, "vendor/model:free")),
    ],
)
def test_injection_parse_accepts_good_specs(spec: str, expected: Injection) -> None:
    parsed = Injection.parse(spec)
    assert parsed == expected
    assert Injection.parse(parsed.spec()) == parsed


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "submit",
        "upload:500",
        "submit:failed",
        "poll:done",
        "poll:399",
        "poll:600",
        "submit:402:",
        "poll:500x0",
        "models:500:google/veo-3.1",
    ],
)
def test_injection_parse_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError) as info:
        Injection.parse(spec)
    message = str(info.value)
    for word in (*PHASES, *POLL_TERMINALS, "400-599"):
        assert word in message


_models = st.from_regex(r"[a-z0-9][a-z0-9./:-]{0,30}", fullmatch=True).filter(lambda m: re.search(r"x\d+$", m) is None)


@given(
    phase=st.sampled_from(PHASES),
    status=st.integers(400, 599),
    terminal=st.sampled_from(POLL_TERMINALS),
    use_terminal=st.booleans(),
    model=st.none() | _models,
    times=st.none() | st.integers(1, 1000),
)
def test_injection_spec_round_trips(
    phase: str, status: int, terminal: str, use_terminal: bool, model: str | None, times: int | None
) -> None:
    outcome: int | str = terminal if use_terminal and phase == "poll" else status
    injection = Injection(phase, outcome, None if phase == "models" else model, times)  # type: ignore[arg-type]
    assert Injection.parse(injection.spec()) == injection


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"prompt": "x"}, ["model is required"]),
        ({"model": VEO}, ["prompt is required"]),
        (veo(duration=7), ["duration", "supported_durations", "4, 6, 8"]),
        (veo(resolution="4K"), ["resolution", "720p, 1080p"]),
        (veo(aspect_ratio="1:1"), ["aspect_ratio", "16:9, 9:16"]),
        (veo(size="640x480"), ["size", "1280x720, 720x1280, 1920x1080, 1080x1920"]),
        (veo(size="big"), ["size", "WIDTHxHEIGHT"]),
        (
            {
                "model": SORA,
                "frame_images": [
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}, "frame_type": "last_frame"}
                ],
            },
            ["frame_images[0].frame_type", "first_frame"],
        ),
        (veo(input_references=[{"type": "text", "text": "x"}]), ["input_references[0].type", "image_url"]),
        (veo(callback_url="http://example.com/hook"), ["callback_url", "HTTPS"]),
        (veo(generate_audio="yes"), ["generate_audio"]),
        (veo(creativity=3), ["creativity"]),
    ],
)
async def test_out_of_set_values_are_400_naming_field_and_allowed_values(
    body: dict[str, Any], fragments: list[str]
) -> None:
    async with emulator() as (client, transport):
        response = await client.post("/videos", json=body)
        assert transport.emulator.jobs == {}
    assert_error(response, 400, *fragments)


async def test_image_only_submit_needs_no_prompt() -> None:
    frame = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}, "frame_type": "first_frame"}
    async with emulator() as (client, _):
        assert (await client.post("/videos", json={"model": VEO, "frame_images": [frame]})).status_code == 202


async def test_wrong_method_and_oversized_body() -> None:
    async with emulator() as (client, _):
        wrong = await client.delete("/videos/models")
        huge = await client.post("/videos", content=b"{}", headers={"Content-Length": str(60 * 1024 * 1024)})
    assert_error(wrong, 405)
    assert "GET" in wrong.headers["allow"]
    assert_error(huge, 413, "50 MiB")


async def test_invalid_json_is_400() -> None:
    async with emulator() as (client, _):
        response = await client.post("/videos", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 400, "JSON")


async def test_audio_is_refused_for_a_model_without_it() -> None:
    silent = {"id": "acme/silent", "supported_durations": [3], "generate_audio": False, "pricing_skus": None}
    async with emulator(EmulatorConfig(models=(silent,))) as (client, _):
        body = {"model": "acme/silent", "prompt": "x", "generate_audio": True}
        assert_error(await client.post("/videos", json=body), 400, "generate_audio")
        done = await run_to_end(client, await submit(client, {"model": "acme/silent", "prompt": "x"}))
        data = (await client.get(done["unsigned_urls"][0])).content
    assert done["usage"]["cost"] is None
    assert probe(data)[0] == pytest.approx(3, abs=0.5)
    assert probe(data)[3] is False


async def test_previous_job_id_must_be_completed_and_same_model() -> None:
    async with emulator() as (client, _):
        running = await submit(client, veo())
        assert_error(await client.post("/videos", json=veo(previous_job_id=running)), 409, "completed")
        await run_to_end(client, running)
        assert_error(await client.post("/videos", json={"model": WAN, "prompt": "x", "previous_job_id": running}), 400)
        assert (await client.post("/videos", json=veo(previous_job_id=running))).status_code == 202


# -- signed URLs, foreign download host, ranges ----------------------------------------------------


async def test_signed_urls_serve_without_auth_and_refuse_bad_tokens() -> None:
    async with emulator(EmulatorConfig(signed_urls=True, signed_url_ttl=60)) as (client, transport):
        done = await run_to_end(client, await submit(client, veo(generate_audio=False)))
        unsigned = (await client.get(done["unsigned_urls"][0])).content
        async with httpx.AsyncClient(transport=transport) as anon:
            signed = await anon.get(done["urls"][0])
            forged = await anon.get(re.sub(r"token=[^&]+", "token=forged", done["urls"][0]))
            missing = await anon.get(done["urls"][0].split("?")[0])
    assert done["urls"][0].startswith(f"http://openrouter.emulator/_emulator/signed/{done['id']}/0?token=")
    assert done["expires_at"] - time.time() == pytest.approx(60, abs=5)
    assert signed.status_code == 200 and signed.content == unsigned
    assert signed.headers["content-type"] == "video/mp4"
    assert_error(forged, 403)
    assert_error(missing, 403)
    signed_entry = next(e for e in transport.emulator.requests if e["path"].startswith("/_emulator/signed/"))
    assert signed_entry["authorized"] is False


async def test_signed_urls_expire() -> None:
    now = [1_800_000_000.0]
    config = EmulatorConfig(signed_urls=True, signed_url_ttl=10, clock=lambda: now[0])
    async with emulator(config) as (client, _):
        done = await run_to_end(client, await submit(client, veo()))
        assert done["expires_at"] == 1_800_000_010
        assert (await client.get(done["urls"][0])).status_code == 200
        now[0] += 11
        assert_error(await client.get(done["urls"][0]), 403, "expired")


async def test_foreign_download_host_gets_no_key_from_a_careful_client() -> None:
    config = EmulatorConfig(foreign_download_host="cdn.elsewhere.test")
    async with emulator(config) as (client, transport):
        done = await run_to_end(client, await submit(client, veo(generate_audio=False)))
        url = done["unsigned_urls"][0]
        assert url.startswith("http://cdn.elsewhere.test/api/v1/videos/")
        async with httpx.AsyncClient(transport=transport) as careful:
            response = await careful.get(url)
    assert response.status_code == 200 and response.content[4:8] == b"ftyp"
    foreign = [e for e in transport.emulator.requests if e["host"] == "cdn.elsewhere.test"]
    assert [e["authorized"] for e in foreign] == [False]


async def test_range_request_resumes_a_download() -> None:
    async with emulator() as (client, _):
        done = await run_to_end(client, await submit(client, veo()))
        url = done["unsigned_urls"][0]
        full = (await client.get(url)).content
        partial = await client.get(url, headers={"Range": "bytes=100-"})
        bounded = await client.get(url, headers={"Range": "bytes=0-9"})
        beyond = await client.get(url, headers={"Range": f"bytes={len(full)}-"})
    assert partial.status_code == 206
    assert partial.headers["content-range"] == f"bytes 100-{len(full) - 1}/{len(full)}"
    assert partial.content == full[100:]
    assert int(partial.headers["content-length"]) == len(full) - 100
    assert bounded.status_code == 206 and bounded.content == full[:10]
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(full)}"


# -- journal ---------------------------------------------------------------------------------------


async def test_journal_records_requests_but_never_the_key() -> None:
    key = "sk-or-v1-very-secret-key-0123456789"
    async with emulator(EmulatorConfig(api_key=key), auth=False) as (client, transport):
        authed = {"Authorization": f"Bearer {key}"}
        job_id = (await client.post("/videos", json=veo(), headers=authed)).json()["id"]
        await client.get(f"/videos/{job_id}")
        await client.get("/videos/models")
        await client.get(f"/videos/{job_id}/content", headers={**authed, "Range": "bytes=5-"})
        served = (await client.get("http://openrouter.emulator/_emulator/requests")).json()
        state = transport.emulator
        assert served == {"requests": state.requests}
        assert len(state.requests) == 4  # the journal endpoint is not journaled itself
        assert [e["authorized"] for e in state.requests] == [True, False, False, True]
        assert [e["status"] for e in state.requests] == [202, 401, 200, 409]
        assert [e["model"] for e in state.requests] == [VEO, None, None, VEO]
        assert state.requests[0]["job_id"] == state.requests[1]["job_id"] == job_id
        assert state.requests[3]["range"] == "bytes=5-"
        for text in (json.dumps(served), repr(state.config), repr(vars(state)), repr(transport.emulator.jobs)):
            assert key not in text
        cleared = await client.delete("http://openrouter.emulator/_emulator/requests")
        assert cleared.status_code == 204
        assert state.requests == []


async def test_create_app_exposes_state() -> None:
    app = create_app(EmulatorConfig(polls_before_completed=5))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=EMULATOR_BASE_URL, headers=AUTH) as client:
        job_id = await submit(client, veo())
    assert list(app.state.emulator.jobs) == [job_id]
    assert app.state.emulator.config.polls_before_completed == 5


# -- CLI and loopback serving -----------------------------------------------------------------------


def test_cli_help_describes_the_options() -> None:
    result = CliRunner().invoke(emulator_command, ["--help"])
    assert result.exit_code == 0
    for option in (
        "--host",
        "--port",
        "--inject",
        "--api-key",
        "--signed-urls",
        "--retry-after",
        "MEDIAROUTER_EMULATOR_API_KEY",
    ):
        assert option in result.output


def test_cli_rejects_a_bad_injection_with_a_usage_error() -> None:
    result = CliRunner().invoke(emulator_command, ["--inject", "upload:oops"])
    assert result.exit_code == 2
    assert "--inject" in result.output
    for word in ("submit", "poll", "content", "models", "failed", "cancelled", "expired"):
        assert word in result.output


def test_cli_builds_the_configured_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    monkeypatch.setenv("MEDIAROUTER_EMULATOR_API_KEY", "sk-env")
    args = ["--port", "8123", "--inject", "poll:500x1", "--signed-urls", "--polls-before-completed", "3"]
    result = CliRunner().invoke(emulator_command, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "OpenRouter emulator on http://127.0.0.1:8123/api/v1 (OPENROUTER_BASE_URL)"
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    state = served["app"].state.emulator
    assert state.config.injections == (Injection("poll", 500, None, 1),)
    assert state.config.signed_urls is True and state.config.polls_before_completed == 3
    assert state.check_bearer("Bearer sk-env") == "ok" and state.check_bearer("Bearer other") == "invalid"
    bad = CliRunner().invoke(emulator_command, ["--polls-before-in-progress", "4", "--polls-before-completed", "1"])
    assert bad.exit_code == 2


_WITHOUT_EXTRAS = """
import sys
from importlib.abc import MetaPathFinder

class Block(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("starlette", "uvicorn", "av"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
from click.testing import CliRunner
from mediarouter_openrouter.emulator import EmulatorConfig, Injection
from mediarouter_openrouter.emulator.cli import emulator_command

EmulatorConfig(injections=[Injection.parse("poll:failed")])
result = CliRunner().invoke(emulator_command, [])
print(result.exit_code)
print(result.output)
"""


def test_cli_without_the_emulator_extra_names_the_install_command() -> None:
    done = subprocess.run([sys.executable, "-c", _WITHOUT_EXTRAS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    code, output = done.stdout.split("\n", 1)
    assert code == "1"
    assert "install 'mediarouter-openrouter[emulator]'" in output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
async def test_serves_over_loopback_with_uvicorn() -> None:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.02)
        base = f"http://127.0.0.1:{port}/api/v1"
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=5) as client:
            models = await client.get("/videos/models")
            job = (await client.post("/videos", json=veo())).json()
    finally:
        server.should_exit = True
        thread.join(timeout=5)
    assert models.status_code == 200 and models.json()["data"]
    assert JOB_ID.match(job["id"])
    assert not thread.is_alive()
