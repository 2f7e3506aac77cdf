"""The fal emulator, alone and under the provider, the engine and the router (all in-process, fake clock)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import (
    ConfigurationError,
    Conflict,
    InsufficientCredits,
    Job,
    JobCancelled,
    JobFailed,
    JobState,
    Router,
    VideoRequest,
)

pytest.importorskip("starlette")
pytest.importorskip("av")

from mediarouter_fal.emulator import (
    CDN_ORIGIN,
    EMULATOR_BASE_URL,
    EMULATOR_KEY,
    EmulatorConfig,
    FalInjection,
    config_from_options,
    emulator_transport,
)
from mediarouter_fal.provider import FalVideoProvider

KLING = "fal-ai/kling-video/v2.1/master/text-to-video"
AUTH = {"authorization": f"Key {EMULATOR_KEY}"}


@pytest.fixture(autouse=True)
def _no_fal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("FAL_QUEUE_URL", raising=False)


def emulated(config: EmulatorConfig | None = None) -> tuple[FalVideoProvider, Any]:
    transport = emulator_transport(config)
    provider = FalVideoProvider(emulator=True, transport=transport, clock=FakeClock())
    return provider, transport.emulator


def client(config: EmulatorConfig | None = None) -> tuple[httpx.AsyncClient, Any]:
    transport = emulator_transport(config)
    return httpx.AsyncClient(transport=transport, base_url=EMULATOR_BASE_URL, headers=AUTH), transport.emulator


async def test_a_generated_video_is_a_real_mp4_fetched_from_the_cdn_without_the_key(tmp_path: Path) -> None:
    """Rule: the whole lifecycle works offline; the CDN (another origin) never sees the key; one submit."""
    provider, state = emulated()
    async with Router(providers={"fal": provider}, clock=FakeClock()) as router:
        result = await router.generate("A fox", model=f"fal/{KLING}", duration=5, output=tmp_path / "fox.mp4")
    data = (tmp_path / "fox.mp4").read_bytes()
    assert data[4:8] == b"ftyp"
    av = pytest.importorskip("av")
    with av.open(str(tmp_path / "fox.mp4")) as container:
        assert container.duration / 1_000_000 == pytest.approx(5.0, abs=0.2)
    assert result.cost is None and result.estimated_cost == Decimal("1.40")  # Kling 2.1: $0.28/s × 5 s
    journal = state.journal
    assert journal.count("submit") == 1
    cdn = journal.select("download")
    assert cdn and all(e["host"] == CDN_ORIGIN.removeprefix("http://") and not e["authorized"] for e in cdn)
    assert all(e["authorized"] for e in journal if e["phase"] != "download")


async def test_status_and_result_answer_only_under_the_app_id() -> None:
    """Rule: like fal, a request is addressed by owner/app; the full sub-path id does not find it."""
    http, _ = client()
    async with http:
        submitted = (await http.post(f"/{KLING}", json={"prompt": "x"})).json()
        rid = submitted["request_id"]
        assert submitted["status_url"] == f"{EMULATOR_BASE_URL}/fal-ai/kling-video/requests/{rid}/status"
        assert (await http.get(f"/fal-ai/kling-video/requests/{rid}/status")).status_code == 202
        assert (await http.get(f"/{KLING}/requests/{rid}/status")).status_code == 404


async def test_bad_input_gets_a_fal_style_422_naming_the_input() -> None:
    http, state = client()
    async with http:
        answer = await http.post(f"/{KLING}", json={"prompt": "x", "duration": "7", "resolution": "720p"})
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {("body", "duration"), ("body", "resolution")}
    duration = next(d for d in detail if d["loc"] == ["body", "duration"])
    assert "'5', '10'" in duration["msg"]
    assert state.machine.jobs == {}, "a refused input must not queue a request"


async def test_without_the_key_the_queue_answers_401() -> None:
    transport = emulator_transport(EmulatorConfig(api_key="emu-secret"))
    async with httpx.AsyncClient(transport=transport, base_url=EMULATOR_BASE_URL) as http:
        assert (await http.post("/fal-ai/veo3", json={"prompt": "x"})).status_code == 401
        wrong = {"authorization": "Key not-it"}
        assert (await http.post("/fal-ai/veo3", json={"prompt": "x"}, headers=wrong)).status_code == 401


async def test_late_validation_fails_the_job_on_the_result_naming_the_field() -> None:
    """Rule: a 422 that comes with the result (not at submit) fails the job and names the field."""
    transport = emulator_transport(
        EmulatorConfig(validate_on="result", polls_before_in_progress=0, polls_before_completed=0)
    )
    async with httpx.AsyncClient(transport=transport, base_url=EMULATOR_BASE_URL, headers=AUTH) as http:
        answer = await http.post("/fal-ai/veo3", json={"prompt": "x", "duration": "5s"})
    assert answer.status_code == 200, "late validation queues the request"
    provider = FalVideoProvider(emulator=True, transport=transport)
    polled = await provider.poll(Job(id=answer.json()["request_id"], provider="fal", model="fal-ai/veo3"))
    assert polled.state is JobState.FAILED
    assert polled.error is not None and "duration" in polled.error and "'8s'" in polled.error
    assert polled.extra["field"] == "duration"


async def test_queue_positions_count_the_requests_ahead() -> None:
    provider, _ = emulated(EmulatorConfig(polls_before_in_progress=3, polls_before_completed=4))
    first = await provider.submit("fal-ai/veo3", VideoRequest(prompt="one"))
    second = await provider.submit("fal-ai/veo3", VideoRequest(prompt="two"))
    ahead = (await provider.poll(second)).extra["queue_position"]
    own = (await provider.poll(first)).extra["queue_position"]
    assert ahead > own >= 0
    later = (await provider.poll(second)).extra["queue_position"]
    assert later < ahead


async def test_cancel_of_a_queued_request_ends_it_cancelled() -> None:
    """Rule: cancel is real: a queued request is removed and the job ends JobCancelled."""
    provider, state = emulated(EmulatorConfig(polls_before_in_progress=5, polls_before_completed=6))
    job = await provider.submit("fal-ai/veo3", VideoRequest(prompt="x"))
    await provider.cancel(job)
    polled = await provider.poll(job)
    assert (polled.state, polled.extra.get("error_type")) == (JobState.CANCELLED, "client_cancelled")
    assert state.journal.select("cancel")[0]["status"] == 202


async def test_cancel_of_a_running_request_takes_effect_on_the_next_look_through_the_router(tmp_path: Path) -> None:
    provider, _ = emulated(EmulatorConfig(polls_before_in_progress=0, polls_before_completed=5))
    async with Router(providers={"fal": provider}, clock=FakeClock(), journal=str(tmp_path / "j.db")) as router:
        job = await provider.submit("fal-ai/veo3", VideoRequest(prompt="x"))
        assert (await provider.poll(job)).state is JobState.IN_PROGRESS
        await provider.cancel(job)
        with pytest.raises(JobCancelled, match="cancelled"):
            await router.engine().complete(provider, job, output=tmp_path / "o.mp4", first_poll_delay=0)


async def test_cancel_after_completion_is_already_completed() -> None:
    provider, _ = emulated(EmulatorConfig(polls_before_in_progress=0, polls_before_completed=0))
    job = await provider.submit("fal-ai/veo3", VideoRequest(prompt="x"))
    assert (await provider.poll(job)).state is JobState.COMPLETED
    with pytest.raises(Conflict, match="ALREADY_COMPLETED"):
        await provider.cancel(job)


async def test_injected_failures_follow_the_shared_grammar(tmp_path: Path) -> None:
    """Rule: `status:500x1` is retried (one submit); `submit:402` refuses; `status:failed` fails the job."""
    options = {"inject": ["status:500x1"], "polls_before_completed": 1}
    async with Router(emulator=True, emulator_options=options, clock=FakeClock()) as router:
        await router.generate("x", model="fal/fal-ai/veo3", output=tmp_path / "a.mp4")
        state = router.provider("fal").emulator_state  # type: ignore[attr-defined]
        assert state.journal.count("submit") == 1
        assert [e["status"] for e in state.journal.select("status")][:1] == [500]
    async with Router(emulator=True, emulator_options={"inject": ["submit:402"]}, clock=FakeClock()) as router:
        with pytest.raises(InsufficientCredits):
            await router.generate("x", model="fal/fal-ai/veo3", output=tmp_path / "b.mp4")
    async with Router(emulator=True, emulator_options={"inject": ["status:failed"]}, clock=FakeClock()) as router:
        with pytest.raises(JobFailed, match="runner_server_error"):
            await router.generate("x", model="fal/fal-ai/veo3", output=tmp_path / "c.mp4")


def test_other_backends_specs_are_left_to_them_and_aliases_map_to_fal_phases() -> None:
    """Rule: in a mixed chain, OpenRouter-model specs and phases fal lacks are ignored; `poll` means `status`."""
    config = config_from_options(
        {"inject": ["submit:402:google/veo-3.1", "models:500", "content:503:alibaba/wan-2.6", "poll:500x2"]}
    )
    assert config.injections == (FalInjection("status", 500, None, 2),)


@pytest.mark.parametrize(
    "options", [{"inject": ["status:teapot"]}, {"inject": ["nowhere:500"]}, {"colour": "red"}], ids=str
)
def test_bad_emulator_options_are_a_configuration_error(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="emulator option"):
        config_from_options(options)


async def test_answer_urls_on_another_origin_are_never_called(tmp_path: Path) -> None:
    """Rule: status/response/cancel URLs the queue gives on a foreign origin are rebuilt from the base."""
    provider, state = emulated(EmulatorConfig(answer_origin="http://elsewhere.test"))
    async with Router(providers={"fal": provider}, clock=FakeClock()) as router:
        await router.generate("x", model="fal/fal-ai/veo3", output=tmp_path / "o.mp4")
    assert {e["host"] for e in state.journal if e["authorized"]} == {"queue.fal.emulator"}


async def test_emulator_mode_never_reads_the_real_key_or_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAL_KEY", "real-production-key")
    monkeypatch.setenv("FAL_QUEUE_URL", "https://queue.fal.run")
    provider = FalVideoProvider(emulator=True)
    assert provider.base_url == EMULATOR_BASE_URL
    job = await provider.submit("fal-ai/veo3", VideoRequest(prompt="x"))
    assert job.provider == "fal"
    await provider.aclose()


async def test_failover_from_openrouter_to_fal_submits_once_on_each(tmp_path: Path) -> None:
    """Rule: a 402 injected for OpenRouter's model only moves the chain to fal: one submit on each backend."""
    pytest.importorskip("mediarouter_openrouter.emulator")
    options = {"inject": ["submit:402:google/veo-3.1"]}
    async with Router(emulator=True, emulator_options=options, clock=FakeClock()) as router:
        result = await router.generate(
            "A fox", model="openrouter/google/veo-3.1", fallbacks=["fal/fal-ai/veo3"], output=tmp_path / "fox.mp4"
        )
        fal_state = router.provider("fal").emulator_state  # type: ignore[attr-defined]
        openrouter = router.provider("openrouter")
        # The OpenRouter emulator's journal (its provider has no public handle on its transport).
        or_journal = openrouter.http._transport.emulator.requests  # type: ignore[attr-defined]
    assert result.ref == "fal/fal-ai/veo3"
    assert [(e["model"], e["status"]) for e in or_journal if e["phase"] == "submit"] == [("google/veo-3.1", 402)]
    assert [e["status"] for e in fal_state.journal.select("submit")] == [200]
    assert (tmp_path / "fox.mp4").read_bytes()[4:8] == b"ftyp"
