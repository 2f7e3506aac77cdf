"""Shared set-up for the `mediarouter jobs` CLI tests: a journal file, the CLI through click's runner, the
OpenRouter provider over one in-process emulator (so every router the CLI builds sees the same jobs), and a
scripted provider for what the emulator cannot be made to say."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import mediarouter.router
from mediarouter import Job, JobStatus, VideoRequest
from mediarouter.cli import cli, load_plugin_commands
from mediarouter.journal import JobRecord, RecordState, SQLiteJobStore
from tests.core.fakes import ScriptedProvider

from .fake_provider import registered_as_fake

emulator = pytest.importorskip("mediarouter_openrouter.emulator")
pytest.importorskip("starlette")
from mediarouter_openrouter import OpenRouterVideoProvider  # noqa: E402

VEO = "google/veo-3.1"


def run(*args: str) -> Result:
    load_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SQLiteJobStore]:
    path = tmp_path / "jobs.sqlite3"
    monkeypatch.setenv("MEDIAROUTER_JOURNAL", str(path))
    store = SQLiteJobStore(path)
    yield store
    store.close()


class Emulated:
    """One in-process OpenRouter emulator behind every provider the CLI's routers create."""

    def __init__(self) -> None:
        self.transport = emulator.emulator_transport(emulator.EmulatorConfig())

    def provider(self) -> OpenRouterVideoProvider:
        return OpenRouterVideoProvider(api_key="sk-or-test", emulator=True, transport=self.transport)

    @property
    def requests(self) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = self.transport.emulator.requests
        return requests

    def submits(self) -> int:
        return sum(1 for r in self.requests if r["method"] == "POST" and r["path"].endswith("/videos"))

    def create_job(self, model: str = VEO) -> str:
        """A job created upstream (the one the user finds on the dashboard after an unknown submit)."""

        async def submit() -> Job:
            provider = self.provider()
            try:
                return await provider.submit(model, VideoRequest(prompt="a dog", duration=4))
            finally:
                await provider.aclose()

        return asyncio.run(submit()).id


@pytest.fixture
def emulated(monkeypatch: pytest.MonkeyPatch) -> Emulated:
    world = Emulated()

    def create_provider(name: str, **kwargs: Any) -> Any:
        assert name == "openrouter"
        return world.provider()

    monkeypatch.setattr(mediarouter.router, "create_provider", create_provider)
    return world


class Scripted(ScriptedProvider):
    """ScriptedProvider whose polls log the job id, so a test sees which job was asked about."""

    async def poll(self, job: Job) -> JobStatus:
        self.calls.append(f"poll:{job.id}")
        return await super().poll(job)

    def polled(self) -> list[str]:
        return [c.removeprefix("poll:") for c in self.calls if c.startswith("poll:")]


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    """One shared Scripted provider, installed as the `fake` plugin; set its `poll_script` per test."""
    instance = Scripted(polls=[])
    with registered_as_fake(instance, "fake-jobs-cli"):
        yield instance


def unknown_row(
    *, provider: str = "openrouter", model: str = VEO, key: str = "order-1", target: Path | None = None
) -> JobRecord:
    """What a submit without a readable answer leaves: no job id, the key held, maybe billed."""
    return JobRecord(
        key="local-f8db",
        provider=provider,
        model=model,
        state=RecordState.UNKNOWN,
        idempotency_key=key,
        target=str(target) if target is not None else None,
        error="HTTP 502 on submit",
    )
