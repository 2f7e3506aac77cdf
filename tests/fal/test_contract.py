"""The fal plugin under the provider contract suite, through the kit's public API.

Two places where fal's wire is not what the kit's model of a backend assumes, adapted here
(not in the kit; both reported to the kit's owner):

- fal reports no cost, so a completed job's cost must be None (the core's estimate stands),
  whatever cost the scenario would have reported;
- a poll of a finished fal request is two requests (status, then result), both routed to the
  kit's `poll` phase, so rule 2's sleep model here knows that the result fetch spends one more
  poll outcome, and that its failure fails (and backs off) the whole poll.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mediarouter_contracts import (
    OK,
    ContractViolation,
    EngineOptions,
    FakeClock,
    JobRun,
    ProviderContract,
    Scenario,
    Script,
    Truncated,
)
from mediarouter_contracts.scenarios import RUNNING_STATUSES, ConnectError, Delay, HttpError, Mutated, Ok, Outcome
from mediarouter_contracts.strategies import (
    http_errors,
    malformed,
    scripts,
    status_paths,
    transient_outcomes,
)
from mediarouter_contracts.strategies import scenarios as kit_scenarios
from mediarouter_fal.catalog import catalog_entry
from mediarouter_fal.provider import FalVideoProvider

from mediarouter import Capabilities, CapabilityMismatch, Job, Provider, VideoRequest

from .contract_adapter import FalWireAdapter

BASE_URL = "https://queue.fal.test"
#: A sub-path model id: submits go to fal-ai/veo3/fast, status and result to the app fal-ai/veo3.
MODEL_ID = "fal-ai/veo3/fast"
_ENTRY = catalog_entry(MODEL_ID)
assert _ENTRY is not None
CAPABILITIES: Capabilities = _ENTRY.capabilities
#: Requests the sleep model follows at most per phase (as the kit's own model).
_LIMIT = 200


def _failing(outcome: Outcome) -> bool:
    return not isinstance(outcome, Ok | Delay | Mutated)


def _backoff(attempt: int, outcome: Outcome) -> tuple[float, str]:
    retry_after = outcome.retry_after if isinstance(outcome, HttpError) else None
    if retry_after is not None:
        return float(retry_after), f"Retry-After: {retry_after}"
    return min(30.0, 2.0 ** (attempt - 1)), f"backoff after failure #{attempt}"


def fal_expected_sleeps(scenario: Scenario, options: EngineOptions) -> list[tuple[float, str]]:
    """The kit's rule-2 model (`mediarouter_contracts.expected_sleeps`), with a completing poll as two requests."""
    sleeps: list[tuple[float, str]] = []
    n = attempt = 0
    while n < _LIMIT and _failing(outcome := scenario.submit.at(n)):
        n += 1
        attempt += 1
        delay, why = _backoff(attempt, outcome)
        sleeps.append((delay, f"submit retry #{attempt} ({outcome!r}; {why})"))

    max_interval = max(options.poll_interval, options.max_poll_interval)
    interval = options.poll_interval
    delay, why = interval, f"first poll after poll_interval {interval:g}s"
    failures = readable = n = 0
    while n < _LIMIT:
        sleeps.append((delay, why))
        outcome = scenario.polls.at(n)
        n += 1
        if not _failing(outcome):
            state = scenario.status_at(readable)
            readable += 1
            if state == "completed":  # the result fetch, inside the same poll
                outcome = scenario.polls.at(n)
                n += 1
                if not _failing(outcome):
                    break
            elif state not in RUNNING_STATUSES:
                break
            else:
                failures = 0
                interval = min(max_interval, interval * options.poll_growth)
                delay, why = interval, f"poll interval ×{options.poll_growth:g} after {state!r}"
                continue
        failures += 1
        delay, reason = _backoff(failures, outcome)
        why = f"poll retry after {outcome!r} ({reason})"

    if scenario.final_status == "completed":
        n = 0
        for index in range(len(scenario.outputs)):
            failures = 0
            while n < _LIMIT and _failing(outcome := scenario.download.at(n)):
                n += 1
                failures += 1
                delay, reason = _backoff(failures, outcome)
                sleeps.append((delay, f"download #{index} retry after {outcome!r} ({reason})"))
            n += 1
    return sleeps


class TestFalContract(ProviderContract):
    adapter = FalWireAdapter(BASE_URL, MODEL_ID)
    model_id = MODEL_ID
    base_url = BASE_URL
    capabilities = CAPABILITIES
    api_key = "fal-contract-kit-0123456789:SECRET"
    phases = ("submit", "poll", "download")  # fal has no model listing: the catalog is built in

    def provider_factory(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> Provider:
        return FalVideoProvider(api_key=self.api_key, base_url=self.base_url, transport=transport, clock=clock)

    @pytest.fixture(autouse=True)
    def _no_fal_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A developer's FAL_* settings must not change what is under test."""
        for var in ("FAL_KEY", "FAL_QUEUE_URL"):
            monkeypatch.delenv(var, raising=False)

    def check_completed(self, run: JobRun, rule: str = "1") -> None:
        """Rule 1 as the kit states it, except that fal reports no cost: the result's cost must stay None."""
        super().check_completed(replace(run, scenario=replace(run.scenario, cost=None)), rule)

    def test_rule2_polling_respects_interval_backoff_and_retry_after(self) -> None:
        """Rule 2 with the kit's strategy and a sleep model that knows a finished poll is status + result."""
        errors = http_errors((429, 500, 502, 503))
        poll_answer = st.one_of(st.just(OK), errors, st.just(ConnectError()), malformed("poll"))
        options = self.engine_options
        strategy = kit_scenarios(
            submit=scripts(transient_outcomes("submit"), max_first=options.submit_retries),
            polls=scripts(poll_answer, max_first=options.poll_retries),
            download=scripts(
                st.one_of(http_errors((429, 409, 500, 502, 503)), st.just(ConnectError()), st.just(Truncated())),
                max_first=options.download_retries,
            ),
            models=st.just(Script()),
            statuses=status_paths(("completed",), max_running=6),
            redirect_download=st.just(False),
        )
        engine_options = st.builds(
            EngineOptions,
            timeout=st.just(1e6),
            poll_interval=st.sampled_from((10.0, 1.0, 5.0, 30.0)),
            poll_growth=st.sampled_from((1.25, 1.0, 2.0)),
            max_poll_interval=st.sampled_from((60.0, 30.0)),
        )

        @self.hypothesis_settings()
        @given(scenario=strategy, options=engine_options, request=self.requests())
        def rule2(scenario: Scenario, options: EngineOptions, request: VideoRequest) -> None:
            run = self.run(scenario, request, options=options)
            self._check_common("2", run)
            if run.error is not None:
                raise ContractViolation("rule 2: every failure here is retried, yet the job failed\n" + run.report())
            expected = fal_expected_sleeps(scenario, options)
            actual = run.clock.sleeps
            for i, ((want, why), got) in enumerate(zip(expected, actual, strict=False)):
                if got != pytest.approx(want):
                    message = f"rule 2: sleep #{i + 1} lasted {got:g}s; expected {want:g}s ({why})"
                    raise ContractViolation(message + "\n" + run.report())
            if len(actual) != len(expected):
                listed = "; ".join(f"{s:g}s {w}" for s, w in expected)
                message = f"rule 2: slept {len(actual)} times, expected {len(expected)}: {listed}"
                raise ContractViolation(message + "\n" + run.report())

        self._run_property(rule2)


class _RefusesOtherBackendsOptions(FalVideoProvider):
    """Checks every slug's parameters against fal's own list (what core validation used to do)."""

    async def submit(self, model_id: str, request: VideoRequest) -> Job:
        allowed = CAPABILITIES.passthrough_parameters or ()
        for slug, options in (request.provider_options or {}).items():
            for key in options.get("parameters", {}):
                if key not in allowed:
                    raise CapabilityMismatch(
                        f"provider_options.{slug}.parameters.{key} is not allowed", provider="fal", model=model_id
                    )
        return await super().submit(model_id, request)


class _BrokenFalContract(TestFalContract):
    def provider_factory(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> Provider:
        return _RefusesOtherBackendsOptions(
            api_key=self.api_key, base_url=self.base_url, transport=transport, clock=clock
        )

    def hypothesis_settings(self, scale: float = 1.0, *, minimum: int = 2) -> settings:
        return settings(super().hypothesis_settings(scale, minimum=minimum), database=None)


def test_rule9_catches_a_plugin_that_refuses_another_backends_options() -> None:
    """A failover chain's request carries every backend's options; fal must serve it on its own slug alone."""
    with pytest.raises(ContractViolation, match=r"^rule 9: .*provider_options\.another-backend"):
        _BrokenFalContract().test_rule9_valid_requests_pass_the_providers_own_capabilities()
