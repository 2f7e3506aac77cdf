"""The contract suite: the rules every provider plugin must keep, as pytest tests.

Subclass `ProviderContract` in a test module (its name must start with `Test`), give it your
provider factory, your `WireAdapter`, a model id and your base URL, and pytest collects one
test per rule. Each rule runs the real `mediarouter.engine.JobEngine` on a fake clock against
backend behaviours drawn by hypothesis, and a failure starts with the rule it broke, then
tells the scenario, every request sent and how the run ended.

    class TestMyProvider(ProviderContract):
        adapter = MyWireAdapter()
        model_id = "my-model"
        base_url = "https://api.example.com/v1"

        def provider_factory(self, transport, clock):
            return MyProvider(api_key=self.api_key, base_url=self.base_url, transport=transport, clock=clock)
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar, NoReturn

import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mediarouter import (
    AuthenticationFailed,
    Capabilities,
    CapabilityMismatch,
    Conflict,
    InsufficientCredits,
    InvalidRequest,
    JobCancelled,
    JobExpired,
    JobFailed,
    JobTimeout,
    MediaRouterError,
    Modality,
    ModelInfo,
    NotFound,
    OutputGone,
    PayloadTooLarge,
    PermissionDenied,
    ProtocolError,
    Provider,
    ProviderUnavailable,
    RateLimited,
    SubmitUnknown,
    VideoRequest,
)

from .adapter import WireAdapter
from .clock import FakeClock
from .profiles import contract_settings
from .runner import CancelKind, CancelPoint, EngineOptions, JobRun, describe_error, run_job, run_listing
from .scenarios import (
    FAILURE_STATUSES,
    JSON_PHASES,
    OK,
    PHASES,
    RUNNING_STATUSES,
    ConnectError,
    Delay,
    HttpError,
    Malformed,
    Mutated,
    Ok,
    Outcome,
    Phase,
    Scenario,
    Script,
    Truncated,
)
from .strategies import (
    ERROR_STATUSES,
    SERVER_MESSAGES,
    http_errors,
    invalid_cases_for,
    malformed,
    outcomes,
    requests_for,
    scenarios,
    scripts,
    status_paths,
    successful_scenarios,
    transient_outcomes,
)
from .transport import RecordedRequest, origin_of

__all__ = ["ProviderContract", "ContractViolation", "DEFAULT_CAPABILITIES", "EXPECTED_ERRORS", "expected_sleeps"]

#: What a model advertises unless the contract says otherwise.
DEFAULT_CAPABILITIES = Capabilities(
    modalities=(Modality.TEXT_TO_VIDEO, Modality.IMAGE_TO_VIDEO, Modality.REFERENCE_TO_VIDEO),
    durations=(4, 6, 8),
    resolutions=("720p", "1080p"),
    aspect_ratios=("16:9", "9:16"),
    frame_images=("first_frame", "last_frame"),
    audio=True,
    seed=True,
    price_per_second=Decimal("0.40"),
)

#: Rule 4: HTTP status (or "connect") → the core error a provider must raise, at every phase.
EXPECTED_ERRORS: dict[int | str, type[MediaRouterError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    402: InsufficientCredits,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    410: OutputGone,
    413: PayloadTooLarge,
    429: RateLimited,
    500: ProviderUnavailable,
    502: ProviderUnavailable,
    503: ProviderUnavailable,
    "connect": ProviderUnavailable,
}
#: Subclasses that would make a mapping *more* specific in a wrong way (401 → PermissionDenied, 400 → …).
_TOO_SPECIFIC: tuple[type[MediaRouterError], ...] = (*set(EXPECTED_ERRORS.values()), CapabilityMismatch)
_TERMINAL_ERRORS: dict[str, type[MediaRouterError]] = {
    "failed": JobFailed,
    "cancelled": JobCancelled,
    "expired": JobExpired,
}
_ODD_STATUSES: tuple[int, ...] = (405, 418, 422, 451, 504, 507)
#: Names the engine gives outputs and their partial files: video.mp4, video-1.mp4, .video.mp4.<tag>.part
_OUTPUT_FILE = re.compile(r"^\.?video(?:-(\d+))?\.mp4(?:\..+\.part)?$")
#: Requests the rule-2 model follows at most per phase (a scenario that never ends is not rule 2's).
_MODEL_LIMIT = 200
_RULE4_CASES = [(phase, status) for phase in PHASES for status in (*ERROR_STATUSES, "connect")]


class ContractViolation(AssertionError):
    """A provider broke a rule of the contract. The message starts with `rule N:`."""


def _fail(rule: str, message: str, run: JobRun | None = None, *, details: str = "") -> NoReturn:
    text = f"rule {rule}: {message}"
    if details:
        text += "\n" + details
    if run is not None:
        text += "\n" + run.report()
    raise ContractViolation(text)


def _mentions(error: BaseException, text: str) -> bool:
    server = error.server_message if isinstance(error, MediaRouterError) else None
    return text in (server or "") or text in str(error)


def _is_mapped(error: BaseException, expected: type[MediaRouterError]) -> bool:
    """The expected class, or a subclass of it that is not itself another entry of the table."""
    if not isinstance(error, expected):
        return False
    return not any(
        isinstance(error, other) and other is not expected and issubclass(other, expected) for other in _TOO_SPECIFIC
    )


def _backoff(attempt: int, retry_after: int | None) -> tuple[float, str]:
    if retry_after is not None:
        return float(retry_after), f"Retry-After: {retry_after}"
    delay = min(30.0, 2.0 ** (attempt - 1))
    return delay, f"backoff after failure #{attempt}"


def _failing(outcome: Outcome) -> bool:
    return not isinstance(outcome, Ok | Delay | Mutated)


def _retry_after(outcome: Outcome) -> int | None:
    return outcome.retry_after if isinstance(outcome, HttpError) else None


def expected_sleeps(scenario: Scenario, options: EngineOptions) -> list[tuple[float, str]]:
    """Rule 2 as a model: the sleeps the engine must make for a scenario whose failures are all retried.

    Submit: back off 1, 2, 4 … s (capped at 30 s) after each 429 or connection error. Polls: the first
    after `poll_interval`, each next one `poll_growth` times later, capped at `max_poll_interval`; after a
    failed poll back off the same way, counting consecutive failures. Downloads: back off per output.
    A Retry-After always replaces the computed delay. Each entry is (seconds, why).
    """
    sleeps: list[tuple[float, str]] = []
    n = 0
    attempt = 0
    while n < _MODEL_LIMIT and _failing(outcome := scenario.submit.at(n)):
        n += 1
        attempt += 1
        delay, why = _backoff(attempt, _retry_after(outcome))
        sleeps.append((delay, f"submit retry #{attempt} ({outcome!r}; {why})"))

    max_interval = max(options.poll_interval, options.max_poll_interval)
    interval = options.poll_interval
    delay, why = interval, f"first poll after poll_interval {interval:g}s"
    failures = readable = n = 0
    while n < _MODEL_LIMIT:
        sleeps.append((delay, why))
        outcome = scenario.polls.at(n)
        n += 1
        if _failing(outcome):
            failures += 1
            delay, reason = _backoff(failures, _retry_after(outcome))
            why = f"poll retry after {outcome!r} ({reason})"
            continue
        failures = 0
        state = scenario.status_at(readable)
        readable += 1
        if state not in RUNNING_STATUSES:
            break
        interval = min(max_interval, interval * options.poll_growth)
        delay, why = interval, f"poll interval ×{options.poll_growth:g} (max {max_interval:g}s) after {state!r}"

    if scenario.final_status == "completed":
        n = 0
        for index in range(len(scenario.outputs)):
            failures = 0
            while n < _MODEL_LIMIT and _failing(outcome := scenario.download.at(n)):
                n += 1
                failures += 1
                delay, reason = _backoff(failures, _retry_after(outcome))
                sleeps.append((delay, f"download #{index} retry after {outcome!r} ({reason})"))
            n += 1
    return sleeps


def _accepts_job(outcome: Outcome | None) -> tuple[bool, str]:
    """Whether a submit answered this way may have created a job, and why."""
    if outcome is None:
        return True, "it got no answer (the server may have created the job)"
    if isinstance(outcome, ConnectError):
        return False, "the connection failed before anything was sent"
    if isinstance(outcome, HttpError):
        if outcome.status >= 500:
            return True, f"it was answered HTTP {outcome.status} (the server may have created the job)"
        return False, f"it was refused with HTTP {outcome.status}"
    return True, f"the backend accepted it ({outcome!r})"


class ProviderContract:
    """Base class of a plugin's contract test. Subclass it as `Test…`; pytest collects one test per rule.

    Required: `adapter`, `model_id`, `base_url` and `provider_factory(transport, clock)`, which must build
    the provider with `api_key=self.api_key`, `base_url=self.base_url`, the given httpx transport and the
    given clock (if it reads time at all). Optional: `capabilities` (what the adapter's model listing
    advertises for `model_id`, and what requests are drawn from), `phases` (leave out "models" if your API
    has no listing), `max_outputs` (1 for one output per job), `listing_error(provider)`.
    """

    adapter: ClassVar[WireAdapter]
    model_id: ClassVar[str]
    base_url: ClassVar[str]
    capabilities: ClassVar[Capabilities] = DEFAULT_CAPABILITIES
    api_key: ClassVar[str] = "sk-contract-kit-0123456789-SECRET"
    phases: ClassVar[tuple[Phase, ...]] = PHASES
    #: The most outputs one job of your API can have: 1 when it has one output per job (the kit then never
    #: draws a job with two, which your backend could not serve).
    max_outputs: ClassVar[int] = 2
    #: How the engine runs in every property (the engine's defaults, with a long deadline).
    engine_options: ClassVar[EngineOptions] = EngineOptions()

    # -- what the plugin author provides ------------------------------------------------------

    def provider_factory(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> Provider:
        """Build the provider under test on `transport` (and `clock`), keyed with `self.api_key`."""
        raise NotImplementedError(f"{type(self).__name__} must define provider_factory(self, transport, clock)")

    def hypothesis_settings(self, scale: float = 1.0, *, minimum: int = 2) -> settings:
        """Hypothesis settings for one rule: the active profile (ci/thorough) × the rule's scale."""
        return contract_settings(scale, minimum=minimum)

    def listing_error(self, provider: Provider) -> BaseException | None:
        """Why the last `list_models()` fell back instead of raising (default: `provider.last_listing_error`)."""
        error = getattr(provider, "last_listing_error", None)
        return error if isinstance(error, BaseException) else None

    # -- tools for the rules (and for authors' own properties) ---------------------------------

    @property
    def origin(self) -> str:
        """The provider's origin: the only place its key may go."""
        return origin_of(self.base_url)

    def run(
        self,
        scenario: Scenario,
        request: VideoRequest,
        *,
        options: EngineOptions | None = None,
        discover: bool = False,
        cancel: CancelPoint | None = None,
    ) -> JobRun:
        """One job of this provider against `scenario` (its outputs cut to `max_outputs`), on the real engine
        and a fake clock."""
        if len(scenario.outputs) > self.max_outputs:
            scenario = dataclasses.replace(scenario, outputs=scenario.outputs[: max(1, self.max_outputs)])
        return run_job(
            self.provider_factory,
            self.adapter,
            scenario,
            request,
            base_url=self.base_url,
            model_id=self.model_id,
            capabilities=self.capabilities,
            options=options or self.engine_options,
            discover=discover,
            cancel=cancel,
        )

    def requests(self) -> st.SearchStrategy[VideoRequest]:
        """Valid requests for the contract's model."""
        return requests_for(self.capabilities)

    def _run_property(self, prop: Callable[[], None], *params: object) -> None:
        """Run a rule's hypothesis property, its saved examples kept apart per contract class and parameters."""
        key = ":".join([type(self).__module__, type(self).__qualname__, *map(str, params)]).encode()
        inner = getattr(getattr(prop, "hypothesis", None), "inner_test", None)
        if inner is not None:
            inner._hypothesis_internal_add_digest = key  # what hypothesis' own pytest plugin does for parametrize
        prop()

    def _require_phase(self, phase: Phase) -> None:
        if phase not in self.phases:
            pytest.skip(f"{type(self).__name__} declares no {phase!r} phase")

    def _check_common(self, rule: str, run: JobRun, *, crashes: bool = True) -> None:
        """What every run must respect, whatever the rule: no runaway loop, no raw crash (rule 7's own check)."""
        late = [r for r in run.requests if r.at >= run.options.timeout]
        if late:
            first = late[0]
            _fail(
                rule,
                f"request #{first.number} was sent at t=+{first.at:g}s, after the {run.options.timeout:g}s deadline",
                run,
            )
        if run.overrun:
            _fail(rule, f"the provider sent more than {run.transport.max_requests} requests for one job", run)
        if not crashes:
            return
        if run.unexpected_error:
            _fail(rule, "the provider raised a raw exception instead of a core error (see rule 7)", run)
        if run.error is not None and not isinstance(run.error, MediaRouterError):
            _fail(rule, f"a non-core exception escaped the engine: {describe_error(run.error)}", run)

    # -- rule 1 ---------------------------------------------------------------------------------

    def test_rule1_completed_job_saves_exact_bytes_and_reports_cost_and_job_id(self) -> None:
        """A completed job's files hold exactly the backend's bytes; cost and job id are reported."""

        @self.hypothesis_settings()
        @given(scenario=successful_scenarios(self.engine_options), request=self.requests())
        def rule1(scenario: Scenario, request: VideoRequest) -> None:
            self.check_completed(self.run(scenario, request))

        self._run_property(rule1)

    def check_completed(self, run: JobRun, rule: str = "1") -> None:
        self._check_common(rule, run)
        scenario = run.scenario
        if run.result is None:
            _fail(rule, "the backend completed the job, yet no video came back", run)
        result = run.result
        if len(run.saved) != len(scenario.outputs):
            _fail(rule, f"the job has {len(scenario.outputs)} output(s) but {len(run.saved)} file(s) were saved", run)
        for index, (saved, expected) in enumerate(zip(run.saved, scenario.outputs, strict=True)):
            if saved != expected:
                first = next((i for i, (a, b) in enumerate(zip(saved, expected, strict=False)) if a != b), None)
                where = f"first difference at byte {first}" if first is not None else "one is a prefix of the other"
                _fail(rule, f"output #{index}: saved {len(saved)} bytes, backend sent {len(expected)} ({where})", run)
        if result.job_id != scenario.job_id:
            _fail(rule, f"the result reports job id {result.job_id!r}, the backend said {scenario.job_id!r}", run)
        if result.cost != scenario.cost:
            _fail(rule, f"the result reports cost {result.cost!r}, the backend said {scenario.cost!r}", run)
        self.check_files_on_disk(run, rule)
        if run.partial_files:
            _fail(rule, f"the job completed, yet partial files were left behind: {run.partial_files}", run)

    def check_files_on_disk(self, run: JobRun, rule: str) -> None:
        """Never a wrong byte on disk: a saved file is a whole output; a partial file kept for resuming
        (the engine keeps one after a cancel, a timeout or a retryable failure) is a prefix of one."""
        outputs = run.scenario.outputs
        for name, data in run.files.items():
            match = _OUTPUT_FILE.match(name)
            index = int(match.group(1) or 0) if match else -1
            if not 0 <= index < len(outputs):
                _fail(rule, f"an unexpected file {name!r} was written", run)
            expected = outputs[index]
            if name.startswith("."):
                if not expected.startswith(data):
                    _fail(
                        rule,
                        f"the partial file {name} ({len(data)} bytes) is not a prefix of output #{index}: "
                        "resuming it would corrupt the video",
                        run,
                    )
            elif data != expected:
                _fail(rule, f"{name} holds {len(data)} bytes that are not output #{index} ({len(expected)} bytes)", run)

    # -- rule 2 ---------------------------------------------------------------------------------

    def test_rule2_polling_respects_interval_backoff_and_retry_after(self) -> None:
        """Polls come every poll_interval (growing, capped); failures back off; Retry-After wins."""
        poll_answer = st.one_of(
            st.just(OK),
            http_errors((429, 500, 502, 503)),
            st.just(ConnectError()),
            malformed("poll"),
        )
        strategy = scenarios(
            submit=scripts(transient_outcomes("submit"), max_first=self.engine_options.submit_retries),
            polls=scripts(poll_answer, max_first=self.engine_options.poll_retries),
            download=scripts(
                st.one_of(http_errors((429, 409, 500, 502, 503)), st.just(ConnectError()), st.just(Truncated())),
                max_first=self.engine_options.download_retries,
            ),
            models=st.just(Script()),
            statuses=status_paths(("completed",), max_running=6),
            redirect_download=st.just(False),
        )
        options = st.builds(
            EngineOptions,
            timeout=st.just(1e6),
            poll_interval=st.sampled_from((10.0, 1.0, 5.0, 30.0)),
            poll_growth=st.sampled_from((1.25, 1.0, 2.0)),
            max_poll_interval=st.sampled_from((60.0, 30.0)),
        )

        @self.hypothesis_settings()
        @given(scenario=strategy, options=options, request=self.requests())
        def rule2(scenario: Scenario, options: EngineOptions, request: VideoRequest) -> None:
            run = self.run(scenario, request, options=options)
            self._check_common("2", run)
            if run.error is not None:
                _fail("2", "every failure in this scenario is one the engine retries, yet the job failed", run)
            expected = expected_sleeps(run.scenario, options)
            actual = run.clock.sleeps
            for i, ((want, why), got) in enumerate(zip(expected, actual, strict=False)):
                if got != pytest.approx(want):
                    _fail("2", f"sleep #{i + 1} lasted {got:g}s; expected {want:g}s ({why})", run)
            if len(actual) != len(expected):
                listed = "; ".join(f"{s:g}s {w}" for s, w in expected)
                _fail("2", f"the engine slept {len(actual)} times, expected {len(expected)}: {listed}", run)

        self._run_property(rule2)

    # -- rule 3 ---------------------------------------------------------------------------------

    def test_rule3_deadline_raises_job_timeout_with_job_id_and_no_later_requests(self) -> None:
        """The overall deadline ends the job with JobTimeout at the right time, and nothing is sent after it."""
        strategy = scenarios(
            submit=st.just(Script()) | scripts(st.integers(1, 20).map(lambda s: Delay(float(s))), max_first=1),
            polls=scripts(transient_outcomes("poll"), max_first=4),
            statuses=status_paths(RUNNING_STATUSES, max_running=3),
            download=st.just(Script()),
            models=st.just(Script()),
            redirect_download=st.just(False),
        )

        @self.hypothesis_settings()
        @given(scenario=strategy, timeout=st.sampled_from((600.0, 15.0, 45.0, 100.0, 250.0)), request=self.requests())
        def rule3(scenario: Scenario, timeout: float, request: VideoRequest) -> None:
            options = EngineOptions(timeout=timeout)
            run = self.run(scenario, request, options=options)
            self.check_deadline(run, timeout)

        self._run_property(rule3)

    def check_deadline(self, run: JobRun, timeout: float) -> None:
        late = [r for r in run.requests if r.at >= timeout]
        if late:
            first = late[0]
            _fail("3", f"request #{first.number} was sent at t=+{first.at:g}s, after the {timeout:g}s deadline", run)
        self._check_common("3", run)
        if not isinstance(run.error, JobTimeout):
            _fail("3", f"the job never ends, so the {timeout:g}s deadline must raise JobTimeout", run)
        if run.error.job_id != run.scenario.job_id:
            _fail("3", f"JobTimeout carries job id {run.error.job_id!r}, not {run.scenario.job_id!r}", run)
        delays = [o.seconds for o in run.scenario.outcomes() if isinstance(o, Delay)]
        latest = timeout + max(delays, default=0.0)
        if not timeout - 1e-6 <= run.elapsed <= latest + 1e-6:
            _fail("3", f"JobTimeout came at t=+{run.elapsed:g}s; the deadline was {timeout:g}s", run)
        if run.leftover_tasks:
            _fail("3", f"tasks still running after the timeout: {run.leftover_tasks}", run)

    # -- rule 4 ---------------------------------------------------------------------------------

    @pytest.mark.parametrize(("phase", "status"), _RULE4_CASES, ids=[f"{p}-{s}" for p, s in _RULE4_CASES])
    def test_rule4_http_status_maps_to_core_error(self, phase: Phase, status: int | str) -> None:
        """Each HTTP status (and a failed connection) at each phase maps to the right core error,
        keeping the server's message, status and Retry-After."""
        self._require_phase(phase)
        expected = EXPECTED_ERRORS[status]
        if phase == "submit" and expected is ProviderUnavailable and status != "connect":
            # The server may have created the job: the engine reports the outcome as unknown,
            # and the provider's own mapping is the error's `cause`.
            expected = SubmitUnknown

        @self.hypothesis_settings(scale=0.08)
        @given(
            message=st.sampled_from(SERVER_MESSAGES),
            retry_after=st.none() | st.sampled_from((1, 7, 30)),
            request=self.requests(),
        )
        def rule4(message: str, retry_after: int | None, request: VideoRequest) -> None:
            outcome: Outcome = ConnectError() if status == "connect" else HttpError(int(status), message, retry_after)
            scenario = Scenario().with_script(phase, Script.always(outcome))
            if phase == "models":
                self._check_listing_error("4", scenario, expected, outcome)
                return
            run = self.run(scenario, request)
            self._check_common("4", run)
            error = run.error
            if error is None:
                _fail("4", f"{outcome!r} at {phase} must fail the job with {expected.__name__}", run)
            self._check_mapping(run, error, expected, outcome, phase)

        self._run_property(rule4, phase, status)

    def _check_mapping(
        self, run: JobRun | None, error: BaseException, expected: type[MediaRouterError], outcome: Outcome, phase: str
    ) -> None:
        what = f"{outcome!r} at {phase}"
        if not _is_mapped(error, expected):
            _fail("4", f"{what} must raise {expected.__name__}, got {describe_error(error)}", run)
        assert isinstance(error, MediaRouterError)
        if expected is SubmitUnknown and error.details.get("cause") != ProviderUnavailable.__name__:
            cause = error.details.get("cause")
            _fail("4", f"{what}: the provider must map it to ProviderUnavailable, got {cause}", run)
        if isinstance(outcome, HttpError):
            if error.status_code != outcome.status:
                _fail("4", f"{what}: the error reports status_code={error.status_code!r}", run)
            if not _mentions(error, outcome.message):
                _fail("4", f"{what}: the server's message {outcome.message!r} was lost: {describe_error(error)}", run)
            hinted = outcome.retry_after is not None and outcome.status in (429, 503)
            if hinted and error.retry_after != outcome.retry_after:
                _fail("4", f"{what}: the error's retry_after is {error.retry_after!r}", run)
        if run is None:
            return
        submits = len(run.transport.by_phase("submit"))
        retried = isinstance(outcome, ConnectError) or (isinstance(outcome, HttpError) and outcome.status == 429)
        if phase == "submit":
            want = run.options.submit_retries + 1 if retried else 1
            if submits != want:
                why = "it is retried" if retried else "it is final"
                if expected is ProviderUnavailable and not retried:
                    why = "the server may have accepted it"
                _fail("4", f"{what} must surface after exactly {want} submit(s) ({why}); {submits} were sent", run)
        elif submits != 1:
            _fail("4", f"{what}: {submits} submits were sent for one job", run)
        elif run.error is not None and getattr(run.error, "job_id", None) != run.scenario.job_id:
            _fail("4", f"{what}: the error lost the job id {run.scenario.job_id!r}", run)

    def _check_listing_error(
        self, rule: str, scenario: Scenario, expected: type[MediaRouterError], outcome: Outcome
    ) -> None:
        transport, provider, answer = run_listing(
            self.provider_factory,
            self.adapter,
            scenario,
            base_url=self.base_url,
            model_id=self.model_id,
            capabilities=self.capabilities,
        )
        context = f"scenario: {scenario!r}\nrequests:\n  {transport.log()}\nlist_models() gave: {answer!r}"
        if not transport.by_phase("models"):
            _fail(rule, "list_models() sent no request the adapter routes to the models phase", details=context)
        if isinstance(answer, BaseException):
            error: BaseException = answer
        else:
            if not isinstance(answer, list) or not all(isinstance(m, ModelInfo) for m in answer):
                _fail(rule, "list_models() must return a list of ModelInfo", details=context)
            fallback = self.listing_error(provider)
            if fallback is None:
                _fail(
                    rule,
                    f"the listing answered {outcome!r}; list_models() returned {len(answer)} model(s) and no error "
                    "(raise it, or keep it in `last_listing_error` / override `listing_error()`)",
                    details=context,
                )
            error = fallback
        if rule == "4":
            try:
                self._check_mapping(None, error, expected, outcome, "models")
            except ContractViolation as exc:
                raise ContractViolation(f"{exc}\n{context}") from None
        elif not _is_mapped(error, expected) or (
            isinstance(error, MediaRouterError) and error.details.get("unexpected")
        ):
            message = f"{outcome!r} at models must give {expected.__name__}, got {describe_error(error)}"
            _fail(rule, message, details=context)

    # -- rule 5 ---------------------------------------------------------------------------------

    def test_rule5_never_a_second_submit_once_a_job_may_exist(self) -> None:
        """Only polls and downloads are retried freely; a submit only when the server provably refused it."""

        @self.hypothesis_settings()
        @given(scenario=scenarios(), request=self.requests())
        def rule5(scenario: Scenario, request: VideoRequest) -> None:
            self.check_single_submit(self.run(scenario, request))

        self._run_property(rule5)

    def check_single_submit(self, run: JobRun, rule: str = "5") -> None:
        submits = run.transport.by_phase("submit")
        for previous, current in itertools.pairwise(submits):
            accepted, why = _accepts_job(previous.outcome)
            if accepted:
                _fail(
                    rule,
                    f"a second submit was sent after the job was accepted: submit #{previous.number} — {why} — "
                    f"was followed by submit #{current.number}",
                    run,
                )
        self._check_common(rule, run, crashes=False)
        if submits and isinstance(submits[0].outcome, Ok | Delay) and run.error is not None:
            job_id = getattr(run.error, "job_id", None)
            if job_id != run.scenario.job_id and isinstance(run.error, MediaRouterError):
                _fail(rule, f"the job was accepted but the error does not carry its id ({job_id!r})", run)

    # -- rule 6 ---------------------------------------------------------------------------------

    def test_rule6_failed_cancelled_expired_raise_matching_error_with_server_message(self) -> None:
        """A job that ends failed/cancelled/expired raises JobFailed/JobCancelled/JobExpired with the server's words."""
        strategy = scenarios(
            submit=st.just(Script()),
            polls=scripts(transient_outcomes("poll"), max_first=2),
            statuses=status_paths(FAILURE_STATUSES),
            download=st.just(Script()),
            models=st.just(Script()),
        )

        @self.hypothesis_settings()
        @given(scenario=strategy, request=self.requests())
        def rule6(scenario: Scenario, request: VideoRequest) -> None:
            run = self.run(scenario, request)
            self._check_common("6", run)
            final = scenario.final_status
            expected = _TERMINAL_ERRORS[final]
            if not isinstance(run.error, expected):
                _fail("6", f"the backend reported {final!r}, so the job must raise {expected.__name__}", run)
            if scenario.job_error is not None and not _mentions(run.error, scenario.job_error):
                _fail("6", f"the server's message {scenario.job_error!r} was lost", run)
            if run.error.job_id != scenario.job_id:
                _fail("6", f"{expected.__name__} carries job id {run.error.job_id!r}, not {scenario.job_id!r}", run)
            if run.transport.by_phase("download"):
                _fail("6", f"a {final!r} job must not be downloaded", run)
            if len(run.transport.by_phase("submit")) != 1:
                _fail("6", "a terminal state must not lead to another submit", run)

        self._run_property(rule6)

    # -- rule 7 ---------------------------------------------------------------------------------

    @pytest.mark.parametrize("phase", PHASES)
    def test_rule7_malformed_or_truncated_answer_raises_protocol_error(self, phase: Phase) -> None:
        """An unreadable answer is a ProtocolError (a cut-off download may also be ProviderUnavailable),
        never a KeyError, TypeError or ValidationError from the plugin."""
        self._require_phase(phase)

        @self.hypothesis_settings(scale=0.3)
        @given(broken=malformed(phase), request=self.requests())
        def rule7(broken: Malformed | Truncated, request: VideoRequest) -> None:
            scenario = Scenario().with_script(phase, Script.always(broken))
            if phase == "models":
                self._check_listing_error("7", scenario, ProtocolError, broken)
                return
            run = self.run(scenario, request)
            self._check_common("7", run)
            allowed: tuple[type[MediaRouterError], ...] = (ProtocolError,)
            if phase == "download" and isinstance(broken, Truncated):
                allowed = (ProtocolError, ProviderUnavailable)
            if phase == "submit":
                # The server answered 2xx, so a job may exist: the engine reports the outcome as unknown.
                allowed = (SubmitUnknown,)
                cause = run.error.details.get("cause") if isinstance(run.error, MediaRouterError) else None
                if isinstance(run.error, SubmitUnknown) and cause not in ("ProtocolError", "ProviderUnavailable"):
                    _fail("7", f"{broken!r} at submit: the provider must raise ProtocolError, got {cause}", run)
            if not isinstance(run.error, allowed):
                names = " or ".join(a.__name__ for a in allowed)
                _fail("7", f"{broken!r} at {phase} must raise {names}", run)
            if len(run.transport.by_phase("submit")) != 1:
                _fail("7", "an unreadable answer must not lead to a second submit", run)
            if any(not name.startswith(".") for name in run.files):
                _fail("7", "a broken download must not leave a file at the target path", run)
            self.check_files_on_disk(run, "7")

        self._run_property(rule7, phase)

    @pytest.mark.parametrize("phase", JSON_PHASES)
    def test_rule7_odd_answers_never_crash_the_provider(self, phase: Phase) -> None:
        """Damaged fields, unknown statuses and odd HTTP codes end in success or a core error, never a crash."""
        self._require_phase(phase)
        odd = st.one_of(
            st.builds(Mutated, how=st.sampled_from(("drop", "null", "retype")), pick=st.integers(0, 60)),
            http_errors(_ODD_STATUSES),
        )

        @self.hypothesis_settings(scale=0.5)
        @given(answer=odd, persistent=st.booleans(), request=self.requests())
        def rule7_odd(answer: Outcome, persistent: bool, request: VideoRequest) -> None:
            script = Script.always(answer) if persistent else Script(first=(answer,))
            scenario = Scenario().with_script(phase, script)
            if phase == "models":
                transport, _, result = run_listing(
                    self.provider_factory,
                    self.adapter,
                    scenario,
                    base_url=self.base_url,
                    model_id=self.model_id,
                    capabilities=self.capabilities,
                )
                if isinstance(result, BaseException) and not isinstance(result, MediaRouterError):
                    _fail(
                        "7",
                        f"list_models() crashed on {answer!r}: {describe_error(result)}",
                        details=f"requests:\n  {transport.log()}",
                    )
                return
            self._check_common("7", self.run(scenario, request))

        self._run_property(rule7_odd, phase)

    # -- rule 8 ---------------------------------------------------------------------------------

    def test_rule8_key_goes_only_to_the_provider_origin(self) -> None:
        """No request to another host carries the key (Authorization or otherwise); errors never show it."""
        # Mostly jobs that reach the download, where URLs point elsewhere, redirect, or get refused.
        reaching_download = scenarios(
            submit=st.just(Script()),
            polls=scripts(transient_outcomes("poll"), max_first=2),
            statuses=status_paths(("completed",)),
            download=scripts(outcomes("download"), max_first=3, then=st.just(OK) | outcomes("download")),
            models=st.just(Script()),
            download_origins=st.sampled_from(("foreign", "provider")),
        )
        strategy = reaching_download | scenarios()

        @self.hypothesis_settings()
        @given(scenario=strategy, request=self.requests())
        def rule8(scenario: Scenario, request: VideoRequest) -> None:
            self.check_key_stays_home(self.run(scenario, request))

        self._run_property(rule8)

    def check_key_stays_home(self, run: JobRun) -> None:
        key = self.api_key
        for record in run.requests:
            if record.origin == self.origin:
                continue
            if record.header("authorization") is not None:
                _fail("8", f"request #{record.number} to {record.origin} carries an Authorization header", run)
            if _carries(record, key):
                _fail("8", f"request #{record.number} to {record.origin} carries the API key", run)
        if run.error is not None:
            shown = [str(run.error), repr(run.error)]
            if isinstance(run.error, MediaRouterError):
                shown.append(repr(run.error.to_dict()))
            if any(key in text for text in shown):
                _fail("8", "the API key appears in the error", run)
        self._check_common("8", run, crashes=False)

    # -- rule 9 ---------------------------------------------------------------------------------

    def test_rule9_invalid_request_is_rejected_before_any_request(self) -> None:
        """A request the model cannot serve is refused locally, against the provider's own capabilities:
        nothing but the model listing is ever sent."""

        @self.hypothesis_settings()
        @given(case=invalid_cases_for(self.capabilities))
        def rule9(case: Any) -> None:
            run = self.run(Scenario(), case.request, discover=True)
            sent = [r for r in run.requests if r.phase != "models"]
            if sent:
                _fail("9", f"a request breaking one rule ({case.rule}) was sent to the backend: {sent[0]}", run)
            if not isinstance(run.error, InvalidRequest):
                _fail("9", f"a request breaking one rule ({case.rule}) must raise InvalidRequest", run)
            self._check_common("9", run)

        self._run_property(rule9)

    def test_rule9_valid_requests_pass_the_providers_own_capabilities(self) -> None:
        """Every request the model supports passes validation against the capabilities the provider discovers."""

        @self.hypothesis_settings(scale=0.5)
        @given(request=self.requests())
        def rule9_valid(request: VideoRequest) -> None:
            run = self.run(Scenario(), request, discover=True)
            if isinstance(run.error, InvalidRequest) and not run.transport.by_phase("submit"):
                _fail(
                    "9",
                    f"the provider's discovered capabilities refuse a request {self.model_id} supports "
                    f"({describe_error(run.error)}); does its model listing lose what the adapter advertises?",
                    run,
                )
            self.check_completed(run, rule="9")

        self._run_property(rule9_valid)

    # -- rule 10 --------------------------------------------------------------------------------

    def test_rule10_cancellation_at_any_await_point_leaves_nothing_behind(self) -> None:
        """Cancelled anywhere, the job ends with CancelledError, no task, no open response, no partial file,
        no later request, and the provider still closes cleanly."""

        @self.hypothesis_settings()
        @given(scenario=successful_scenarios(self.engine_options), request=self.requests(), data=st.data())
        def rule10(scenario: Scenario, request: VideoRequest, data: st.DataObject) -> None:
            dry = self.run(scenario, request)
            self.check_completed(dry, rule="1")  # a run that cannot finish cannot be cancelled meaningfully
            points: dict[CancelKind, int] = {
                "request": len(dry.requests),
                "response": len(dry.requests),
                "sleep": len(dry.clock.sleeps),
            }
            kinds = [kind for kind, count in points.items() if count > 0]
            kind = data.draw(st.sampled_from(kinds), label="cancel at")
            n = data.draw(st.integers(1, points[kind]), label=f"{kind} number")
            point = CancelPoint(kind, n)
            run = self.run(scenario, request, cancel=point)
            assume(run.cancel_sent)  # the job ended before that point: nothing to cancel
            self.check_cancelled(run)

        self._run_property(rule10)

    def check_cancelled(self, run: JobRun) -> None:
        if not run.cancelled:
            _fail("10", "the engine task was cancelled but did not end with CancelledError", run)
        if run.leftover_tasks:
            _fail("10", f"tasks were left running after the cancellation: {run.leftover_tasks}", run)
        if run.open_streams:
            _fail("10", f"{run.open_streams} response(s) were left open after the cancellation", run)
        self.check_files_on_disk(run, "10")
        if len(run.requests) > run.requests_at_cancel:
            _fail("10", f"request #{run.requests_at_cancel + 1} was sent after the cancellation", run)
        if run.close_error is not None:
            _fail("10", f"provider.aclose() failed after the cancellation: {describe_error(run.close_error)}", run)


def _carries(record: RecordedRequest, secret: str) -> bool:
    if not secret:
        return False
    if secret in record.url or secret.encode() in record.body:
        return True
    return any(secret in value for _, value in record.headers)
