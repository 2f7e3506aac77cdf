"""The fake backend: routing, outcomes, recording, streams, the request cap."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from mediarouter_contracts import (
    FOREIGN_ORIGIN,
    ConnectError,
    Delay,
    FakeClock,
    HttpError,
    Malformed,
    Mutated,
    Scenario,
    ScenarioOverrun,
    ScenarioTransport,
    Script,
    Truncated,
)

from .kit_adapter import BASE, KitAdapter

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(200)) * 20


def transport(scenario: Scenario, clock: FakeClock | None = None, **kwargs: object) -> ScenarioTransport:
    return ScenarioTransport(scenario, KitAdapter(), base_url=BASE, model_id="m-1", clock=clock, **kwargs)  # type: ignore[arg-type]


async def test_records_every_request_and_answers_the_normal_path() -> None:
    t = transport(Scenario(job_id="j-7", statuses=("pending", "in_progress", "completed"), outputs=(VIDEO,)))
    async with httpx.AsyncClient(transport=t) as client:
        submit = await client.post(f"{BASE}/jobs", json={"prompt": "a dog"}, headers={"Authorization": "Bearer k"})
        states = [(await client.get(f"{BASE}/jobs/j-7")).json()["state"] for _ in range(4)]
        done = (await client.get(f"{BASE}/jobs/j-7")).json()
        video = await client.get(done["files"][0]["url"])
    assert submit.status_code == 202 and submit.json() == {"id": "j-7", "state": "pending"}
    assert states == ["pending", "in_progress", "completed", "completed"]  # the last state repeats
    assert done["cost"] == 0.4
    assert video.content == VIDEO
    first = t.requests[0]
    assert (first.method, first.url, first.phase) == ("POST", f"{BASE}/jobs", "submit")
    assert first.header("authorization") == "Bearer k"
    assert json.loads(first.body) == {"prompt": "a dog"}
    assert [r.phase for r in t.requests] == ["submit", "poll", "poll", "poll", "poll", "poll", "download"]
    assert all(r.status_code is not None for r in t.requests)
    assert not t.open_streams()


async def test_each_phase_follows_its_script_then_its_fallback() -> None:
    scenario = Scenario(
        submit=Script(first=(HttpError(429, "slow down", retry_after=7),)),
        polls=Script(first=(HttpError(503, "busy"), Malformed("not_json")), then=HttpError(500, "broken")),
    )
    t = transport(scenario)
    async with httpx.AsyncClient(transport=t) as client:
        limited = await client.post(f"{BASE}/jobs")
        accepted = await client.post(f"{BASE}/jobs")
        polls = [await client.get(f"{BASE}/jobs/job-1") for _ in range(3)]
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert limited.json() == {"message": "slow down"}
    assert accepted.status_code == 202
    assert [p.status_code for p in polls] == [503, 200, 500]
    assert polls[1].content == b"this is not json"
    assert [repr(r.outcome) for r in t.requests] == [
        "HTTP 429 'slow down' (Retry-After: 7)",
        "Ok",
        "HTTP 503 'busy'",
        "Malformed(not_json)",
        "HTTP 500 'broken'",
    ]


async def test_connect_error_delay_and_truncation() -> None:
    clock = FakeClock()
    scenario = Scenario(
        submit=Script(first=(ConnectError(), Delay(42.0))),
        polls=Script(first=(Truncated(),)),
        statuses=("completed",),
        download=Script(first=(Truncated(),)),
        outputs=(VIDEO,),
    )
    t = transport(scenario, clock)
    async with httpx.AsyncClient(transport=t) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"{BASE}/jobs")
        await client.post(f"{BASE}/jobs")
        assert clock.elapsed == 42.0 and clock.sleeps == []  # a slow server moves time without a sleep
        cut = await client.get(f"{BASE}/jobs/job-1")
        whole = await client.get(f"{BASE}/jobs/job-1")
        short = await client.get(f"{BASE}/jobs/job-1/out/0")
    assert t.requests[0].status_code is None and t.requests[0].note == "connection refused"
    assert cut.content == whole.content[: len(whole.content) // 2]
    assert "content-length" not in cut.headers  # a cut JSON answer is close-delimited
    assert whole.json()["state"] == "completed"  # the unreadable poll did not advance the status path
    assert short.content == VIDEO[: len(VIDEO) // 2]
    assert short.headers["content-length"] == str(len(VIDEO))  # a cut download announces the full size


async def test_mutations_damage_one_node_and_say_which() -> None:
    t = transport(Scenario(polls=Script(first=(Mutated("retype", pick=1), Mutated("drop", 0), Mutated("null", 1)))))
    async with httpx.AsyncClient(transport=t) as client:
        retyped, dropped, nulled = [(await client.get(f"{BASE}/jobs/job-1")).json() for _ in range(3)]
    assert retyped == {"id": "job-1", "state": 12345}
    assert dropped == {"state": "pending"}
    assert nulled == {"id": "job-1", "state": None}
    assert [r.note for r in t.requests] == ["`state` retyped to 12345", "`id` dropped", "`state` set to null"]


@pytest.mark.parametrize(
    ("origin", "signed", "expected_prefix"),
    [
        ("provider", False, f"{BASE}/jobs/job-1/out/0"),
        ("provider", True, "https://api.kit.test/__contract__/download/job-1/0?signature="),
        ("foreign", True, f"{FOREIGN_ORIGIN}/__contract__/download/job-1/0?signature="),
        ("foreign", False, f"{FOREIGN_ORIGIN}/__contract__/download/job-1/0"),
    ],
)
async def test_download_links_point_where_the_scenario_says(origin: str, signed: bool, expected_prefix: str) -> None:
    t = transport(Scenario(statuses=("completed",), download_origin=origin, signed_urls=signed))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=t) as client:
        url = (await client.get(f"{BASE}/jobs/job-1")).json()["files"][0]["url"]
        video = await client.get(url)
    assert url.startswith(expected_prefix)
    assert video.status_code == 200 and t.requests[-1].phase == "download"


async def test_redirects_the_providers_download_to_a_foreign_host() -> None:
    t = transport(Scenario(statuses=("completed",), redirect_download=True))
    async with httpx.AsyncClient(transport=t, follow_redirects=True) as client:
        video = await client.get(f"{BASE}/jobs/job-1/out/0", headers={"Authorization": "Bearer k"})
    assert video.status_code == 200
    first, second = t.requests
    assert first.status_code == 302 and first.note == f"redirected to {FOREIGN_ORIGIN}"
    assert second.origin == FOREIGN_ORIGIN
    assert second.header("authorization") is None  # httpx drops it across origins; the kit sees what was sent


async def test_unrouted_requests_get_404_and_are_marked() -> None:
    t = transport(Scenario())
    async with httpx.AsyncClient(transport=t) as client:
        answer = await client.delete(f"{BASE}/jobs/job-1")
        elsewhere = await client.get("https://somewhere.test/jobs")
    assert answer.status_code == 404 and elsewhere.status_code == 404
    assert all(r.phase is None and "did not route" in r.note for r in t.requests)


async def test_the_request_cap_stops_a_runaway_provider() -> None:
    t = transport(Scenario(statuses=("in_progress",)), max_requests=3)
    async with httpx.AsyncClient(transport=t) as client:
        for _ in range(3):
            await client.get(f"{BASE}/jobs/job-1")
        with pytest.raises(ScenarioOverrun, match="more than 3 requests"):
            await client.get(f"{BASE}/jobs/job-1")
    assert t.overrun


async def test_unclosed_response_bodies_are_visible() -> None:
    t = transport(Scenario(statuses=("completed",)))
    client = httpx.AsyncClient(transport=t)
    request = client.build_request("GET", f"{BASE}/jobs/job-1/out/0")
    response = await client.send(request, stream=True)
    assert len(t.open_streams()) == 1
    await response.aclose()
    assert t.open_streams() == []
    await client.aclose()
    assert t.closed


async def test_models_and_cost_come_from_the_scenario_and_capabilities() -> None:
    from mediarouter import Capabilities

    t = ScenarioTransport(
        Scenario(statuses=("completed",), cost=None),
        KitAdapter(),
        base_url=BASE,
        model_id="m-1",
        capabilities=Capabilities(durations=(4, 8)),
    )
    async with httpx.AsyncClient(transport=t) as client:
        models = (await client.get(f"{BASE}/models")).json()
        job = (await client.get(f"{BASE}/jobs/job-1")).json()
    assert models == {"models": [{"id": "m-1", "durations": [4, 8]}]}
    assert job["cost"] is None
    assert Decimal("0.40") == Scenario().cost
