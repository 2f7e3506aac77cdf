"""The provider against the in-process emulator: the `emulator=True` path and key hygiene end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediarouter_contracts.clock import FakeClock
from mediarouter_openrouter import OpenRouterVideoProvider

from mediarouter import InsufficientCredits, JobState, VideoRequest

emulator = pytest.importorskip("mediarouter_openrouter.emulator")
pytest.importorskip("starlette")


@pytest.fixture(autouse=True)
def _no_openrouter_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.delenv("OPENROUTER_BASE_URL", raising=False)


async def test_emulator_flag_generates_a_real_mp4(tmp_path: Path) -> None:
    provider = OpenRouterVideoProvider(emulator=True, clock=FakeClock())
    assert provider.base_url == emulator.EMULATOR_BASE_URL
    result = await provider.generate_video(
        "A cat playing with yarn", model="openrouter/alibaba/wan-2.6", duration=5, output=tmp_path / "cat.mp4"
    )
    data = (tmp_path / "cat.mp4").read_bytes()
    assert data[4:8] == b"ftyp"
    assert result.job_id.startswith("gen-vid-")
    assert result.files[0].size == len(data)
    await provider.aclose()


async def test_the_environment_key_is_not_sent_to_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-real-production-key")
    config = emulator.EmulatorConfig(api_key="emulator-key")
    provider = OpenRouterVideoProvider(emulator=True, emulator_config=config)
    job = await provider.submit("google/veo-3.1", VideoRequest(prompt="x", duration=4))  # 401 if the real key went
    assert job.id.startswith("gen-vid-")


async def test_an_emulator_key_in_the_config_is_used() -> None:
    config = emulator.EmulatorConfig(api_key="emu-secret")
    provider = OpenRouterVideoProvider(emulator=True, emulator_config=config)
    job = await provider.submit("google/veo-3.1", VideoRequest(prompt="x", duration=4))
    assert job.provider == "openrouter"


async def test_unsigned_urls_on_a_foreign_host_are_never_contacted_with_the_key(tmp_path: Path) -> None:
    transport = emulator.emulator_transport(emulator.EmulatorConfig(foreign_download_host="cdn.elsewhere.test"))
    provider = OpenRouterVideoProvider(emulator=True, transport=transport, clock=FakeClock())
    await provider.generate_video("x", model="google/veo-3.1", duration=4, output=tmp_path / "o.mp4")
    journal = transport.emulator.requests
    assert journal, "the emulator saw no requests"
    assert all(entry["host"] == "openrouter.emulator" for entry in journal if entry["authorized"])
    assert not [e for e in journal if e["host"] == "cdn.elsewhere.test" and e["authorized"]]
    assert (tmp_path / "o.mp4").read_bytes()[4:8] == b"ftyp"


async def test_signed_urls_are_downloaded_without_the_key(tmp_path: Path) -> None:
    clock = FakeClock()
    transport = emulator.emulator_transport(emulator.EmulatorConfig(signed_urls=True, clock=clock.time))
    provider = OpenRouterVideoProvider(emulator=True, transport=transport, clock=clock)
    await provider.generate_video("x", model="google/veo-3.1", duration=4, output=tmp_path / "o.mp4")
    downloads = [e for e in transport.emulator.requests if "/_emulator/signed/" in e["path"]]
    assert len(downloads) == 1 and downloads[0]["authorized"] is False
    assert (tmp_path / "o.mp4").read_bytes()[4:8] == b"ftyp"


async def test_injected_402_maps_to_insufficient_credits_with_the_server_text() -> None:
    config = emulator.EmulatorConfig(injections=[emulator.Injection.parse("submit:402")])
    provider = OpenRouterVideoProvider(emulator=True, emulator_config=config)
    with pytest.raises(InsufficientCredits) as info:
        await provider.submit("google/veo-3.1", VideoRequest(prompt="x", duration=4))
    assert info.value.server_message
    assert info.value.server_message in str(info.value)


async def test_polls_progress_through_the_emulator_statuses() -> None:
    provider = OpenRouterVideoProvider(emulator=True)
    job = await provider.submit("google/veo-3.1", VideoRequest(prompt="x", duration=4))
    states = [(await provider.poll(job)).state for _ in range(3)]
    assert states == [JobState.PENDING, JobState.IN_PROGRESS, JobState.COMPLETED]
    models = await provider.list_models()
    assert models and all(m.source == "live" for m in models)
