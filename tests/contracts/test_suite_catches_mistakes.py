"""The suite catches the mistakes that cost users money or videos.

Each test breaks the (correct) example plugin in one way and checks that the rule guarding
against that mistake fails, with a message naming the rule. If one of these starts passing,
the suite has gone blind to that mistake.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, ClassVar, cast

import httpx
import pytest
from hypothesis import settings
from mediarouter_contracts import ContractViolation, FakeClock

from mediarouter import Download, Job, JobOutput, JobState, JobStatus, MediaRouterError, Provider, VideoRequest
from mediarouter.http import ServerMessage

from . import example_plugin
from .example_plugin import AcmeVideoProvider


class Broken(
    example_plugin.TestAcmeContract
):  # not named Test…: pytest must not run the whole suite on a broken provider
    provider_class: ClassVar[type[AcmeVideoProvider]] = AcmeVideoProvider

    def provider_factory(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> Provider:
        return self.provider_class(api_key=self.api_key, base_url=self.base_url, transport=transport, clock=clock)

    def hypothesis_settings(self, scale: float = 1.0, *, minimum: int = 2) -> settings:
        # Keep these deliberate failures out of the example database the real contracts replay.
        return settings(super().hypothesis_settings(scale, minimum=minimum), database=None)


def broken(provider_class: type[AcmeVideoProvider]) -> Broken:
    return cast(Broken, type(f"Broken{provider_class.__name__}", (Broken,), {"provider_class": provider_class})())


def _with_rules(provider: AcmeVideoProvider, **changes: Any) -> None:
    """The plugin's own StatusRules, "refined" wrongly (what a plugin controls on the shared table)."""
    provider.http.rules = replace(provider.http.rules, **changes)


class Generic402(AcmeVideoProvider):
    """Refines 402 to a generic error instead of InsufficientCredits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _with_rules(self, classes={402: MediaRouterError})


class ResubmitsOnPollError(AcmeVideoProvider):
    """Answers a failed poll by submitting the job again (a second paid job)."""

    async def poll(self, job: Job) -> JobStatus:
        try:
            return await super().poll(job)
        except MediaRouterError:
            again = await self.submit(job.model, VideoRequest(prompt="once more"))
            return JobStatus(job_id=again.id, state=JobState.PENDING)


class PollsUntilDone(AcmeVideoProvider):
    """Loops inside poll() on its own clock until the job ends: the engine's deadline never gets a say."""

    def __init__(self, *args: Any, clock: FakeClock, **kwargs: Any) -> None:
        super().__init__(*args, clock=clock, **kwargs)
        self.own_clock = clock

    async def poll(self, job: Job) -> JobStatus:
        while True:
            status = await super().poll(job)
            if status.state.terminal:
                return status
            await self.own_clock.sleep(10)


class KeyEverywhere(AcmeVideoProvider):
    """Downloads with a hand-made client that puts the key on every URL (CDN links, redirects to them)."""

    def __init__(self, *args: Any, transport: httpx.AsyncBaseTransport, **kwargs: Any) -> None:
        super().__init__(*args, transport=transport, **kwargs)
        self.own_client = httpx.AsyncClient(transport=transport, follow_redirects=True)

    async def aclose(self) -> None:
        await self.own_client.aclose()
        await super().aclose()

    @asynccontextmanager
    async def open_download(
        self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0
    ) -> AsyncIterator[Download]:
        own = self.http.endpoint("generations", job.id, "videos", str(output.index))
        url = output.signed_url or output.url or str(own)
        key = self._key.get_secret_value() if self._key is not None else ""
        context: dict[str, Any] = {"phase": "download", "model": job.model, "job_id": job.id}
        try:
            async with self.own_client.stream("GET", url, headers={"X-Api-Key": key}) as response:
                if not response.is_success:
                    raise self.http.status_error(response, await response.aread(), **context)
                yield Download(chunks=response.aiter_bytes(), content_type=response.headers.get("content-type"))
        except httpx.HTTPError as exc:
            raise self.http.transport_error(exc, **context) from exc


class ExpiredIsRunning(AcmeVideoProvider):
    """Treats `expired` as still running."""

    async def poll(self, job: Job) -> JobStatus:
        status = await super().poll(job)
        if status.state is JobState.EXPIRED:
            return status.model_copy(update={"state": JobState.IN_PROGRESS})
        return status


def _drop_retry_after(error: MediaRouterError, said: ServerMessage, phase: str) -> MediaRouterError:
    error.retry_after = None
    return error


class IgnoresRetryAfter(AcmeVideoProvider):
    """A `refine` hook that drops the server's Retry-After."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _with_rules(self, refine=_drop_retry_after)


class TrustsTheBody(AcmeVideoProvider):
    """Reads the job object with plain dict indexing: a KeyError or JSONDecodeError on an odd answer."""

    async def poll(self, job: Job) -> JobStatus:
        url = self.http.endpoint("generations", job.id)
        answer = await self.http.request_json("GET", url, phase="poll", model=job.model, job_id=job.id)
        generation = json.loads(answer.body)["generation"]
        state = {"queued": JobState.PENDING, "running": JobState.IN_PROGRESS, "succeeded": JobState.COMPLETED}
        return JobStatus(job_id=job.id, state=state.get(generation["state"], JobState.FAILED))


class PrefetchesInTheBackground(AcmeVideoProvider):
    """Starts a background task it never cleans up."""

    async def poll(self, job: Job) -> JobStatus:
        asyncio.get_running_loop().create_task(asyncio.sleep(3600))
        return await super().poll(job)


CASES = [
    pytest.param(Generic402, "test_rule4_http_status_maps_to_core_error", ("submit", 402), "4", id="402-generic"),
    pytest.param(ResubmitsOnPollError, "test_rule5_never_a_second_submit_once_a_job_may_exist", (), "5", id="resubmit"),
    pytest.param(
        PollsUntilDone,
        "test_rule3_deadline_raises_job_timeout_with_job_id_and_no_later_requests",
        (),
        "3",
        id="deadline-ignored",
    ),
    pytest.param(KeyEverywhere, "test_rule8_key_goes_only_to_the_provider_origin", (), "8", id="key-leak"),
    pytest.param(
        ExpiredIsRunning,
        "test_rule6_failed_cancelled_expired_raise_matching_error_with_server_message",
        (),
        "6",
        id="expired-running",
    ),
    pytest.param(
        IgnoresRetryAfter, "test_rule2_polling_respects_interval_backoff_and_retry_after", (), "2", id="retry-after"
    ),
    pytest.param(
        TrustsTheBody,
        "test_rule7_malformed_or_truncated_answer_raises_protocol_error",
        ("poll",),
        "7",
        id="raw-keyerror",
    ),
    pytest.param(
        PrefetchesInTheBackground,
        "test_rule10_cancellation_at_any_await_point_leaves_nothing_behind",
        (),
        "10",
        id="stray-task",
    ),
]


@pytest.mark.parametrize(("provider_class", "rule_test", "args", "rule"), CASES)
def test_the_rule_guarding_a_mistake_fails_and_says_so(
    provider_class: type[AcmeVideoProvider], rule_test: str, args: tuple[Any, ...], rule: str
) -> None:
    contract = broken(provider_class)
    with pytest.raises(ContractViolation, match=rf"^rule {rule}: "):
        getattr(contract, rule_test)(*args)


def test_the_correct_example_passes_the_same_rules() -> None:
    contract = broken(AcmeVideoProvider)  # the unbroken provider through the same harness
    contract.test_rule4_http_status_maps_to_core_error("submit", 402)
    contract.test_rule6_failed_cancelled_expired_raise_matching_error_with_server_message()
