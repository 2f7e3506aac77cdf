"""The suite catches the mistakes that cost users money or videos.

Each test breaks the (correct) example plugin in one way and checks that the rule guarding
against that mistake fails, with a message naming the rule. If one of these starts passing,
the suite has gone blind to that mistake.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import settings
from mediarouter_contracts import ContractViolation, FakeClock

from mediarouter import JobState, JobStatus, MediaRouterError, Provider, VideoRequest

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
    return type(f"Broken{provider_class.__name__}", (Broken,), {"provider_class": provider_class})()


class Generic402(AcmeVideoProvider):
    """Maps 402 to a generic error instead of InsufficientCredits."""

    @staticmethod
    def _error(response: httpx.Response, body: bytes, **context: Any) -> MediaRouterError:
        error = AcmeVideoProvider._error(response, body, **context)
        if response.status_code == 402:
            return MediaRouterError(error.message, status_code=402, server_message=error.server_message)
        return error


class ResubmitsOnPollError(AcmeVideoProvider):
    """Answers a failed poll by submitting the job again (a second paid job)."""

    async def poll(self, job: Any) -> JobStatus:
        try:
            return await super().poll(job)
        except MediaRouterError:
            again = await self.submit(job.model, VideoRequest(prompt="once more"))
            return JobStatus(job_id=again.id, state=JobState.PENDING)


class PollsUntilDone(AcmeVideoProvider):
    """Loops inside poll() on its own clock until the job ends: the engine's deadline never gets a say."""

    def __init__(self, *args: Any, clock: FakeClock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock

    async def poll(self, job: Any) -> JobStatus:
        while True:
            status = await super().poll(job)
            if status.state.terminal:
                return status
            await self.clock.sleep(10)


class KeyEverywhere(AcmeVideoProvider):
    """Sends the key with every request, CDN downloads included."""

    def _headers(self, url: httpx.URL) -> dict[str, str]:
        return {"X-Api-Key": self._key or ""}


class ExpiredIsRunning(AcmeVideoProvider):
    """Treats `expired` as still running."""

    async def poll(self, job: Any) -> JobStatus:
        status = await super().poll(job)
        if status.state is JobState.EXPIRED:
            return status.model_copy(update={"state": JobState.IN_PROGRESS})
        return status


class IgnoresRetryAfter(AcmeVideoProvider):
    """Drops the server's Retry-After."""

    @staticmethod
    def _error(response: httpx.Response, body: bytes, **context: Any) -> MediaRouterError:
        error = AcmeVideoProvider._error(response, body, **context)
        error.retry_after = None
        return error


class TrustsTheBody(AcmeVideoProvider):
    """Reads the job object with plain dict indexing: a KeyError or JSONDecodeError on an odd answer."""

    async def poll(self, job: Any) -> JobStatus:
        raw = await self._json("GET", self._url("generations", job.id), model=job.model, job_id=job.id)
        generation = json.loads(raw)["generation"]
        state = {"queued": JobState.PENDING, "running": JobState.IN_PROGRESS, "succeeded": JobState.COMPLETED}
        return JobStatus(job_id=job.id, state=state.get(generation["state"], JobState.FAILED))


class PrefetchesInTheBackground(AcmeVideoProvider):
    """Starts a background task it never cleans up."""

    async def poll(self, job: Any) -> JobStatus:
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
