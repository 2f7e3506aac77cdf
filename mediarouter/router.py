"""The router: from a ref, an alias or a chain of candidates to one saved video, paid for once.

One routed call: resolve the candidates (candidates.py), plan every candidate before any
request (capabilities, fitting, cost estimate, budget: fitting.py), then try them in order
through the job engine and fail over by error class (failover.py), skipping candidates in
cooldown (cooldown.py). Every candidate considered leaves an `Attempt` in the result or error.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import copy
import inspect
import logging
import os
import socket
import threading
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .candidates import resolve_candidates
from .capabilities import Capabilities, ModelInfo
from .clock import Clock, SystemClock
from .cooldown import Cooldowns
from .downloads import check_output
from .engine import JobEngine, terminal_error
from .errors import (
    AllCandidatesFailed,
    BudgetExceeded,
    CapabilityMismatch,
    ConfigurationError,
    Conflict,
    InvalidRequest,
    JobError,
    JobFailed,
    JobTimeout,
    MediaRouterError,
    NotFound,
    ProviderUnavailable,
)
from .events import (
    Event,
    EventPayload,
    Listener,
    RouterAttemptFinishedEvent,
    RouterAttemptStartedEvent,
    RouterCallFinishedEvent,
    RouterCallStartedEvent,
    RouterCooldownEvent,
    RouterEstimateEvent,
    RouterFailoverEvent,
    RouterSkippedEvent,
    emit,
    with_context,
)
from .failover import FailoverPolicy, Phase, Scope
from .fitting import fit_request
from .journal import (
    JobRecord,
    JobStore,
    RecordState,
    RequestFingerprint,
    fingerprint_request,
    idempotency_mismatch,
    journal_location,
    open_store,
    submitting_elsewhere,
)
from .journal_writer import JournalWriter
from .limits import ProviderLimits
from .observability import default_listeners
from .plugins import create_provider, provider_factories
from .pricing import CostEstimate
from .pricing import format_usd as _usd
from .provider import Provider
from .recovery import cancel_job, resume_job, unknown_advice
from .refs import ModelRef
from .request import VideoRequest
from .results import Attempt, VideoResult
from .settings import EMULATOR_POLL_INTERVAL, FIT_POLICIES, FitPolicy, MediaRouterSettings, load_settings
from .understanding import DescribeResult, VideoLike

if TYPE_CHECKING:
    from .batch import BatchListener, BatchReport
from .validation import closest_name, validate_request
from .webhooks.deliveries import Waiters

__all__ = ["PlannedCandidate", "Router", "default_router", "generate", "generate_sync"]

logger = logging.getLogger("mediarouter.router")

Money = Decimal | float | int | str


class Router:
    """Resolves candidates to providers (one long-lived instance each) and runs routed calls.

    Router-wide defaults (each overridable per call where it makes sense): `fit` (strict |
    adjust | skip), `max_cost` (USD), `cooldown` (seconds), `failover` (a FailoverPolicy).
    Unset ones come from `settings` (environment and config file). Cooldowns live on the
    router, so a long-lived router remembers which backends are down.
    """

    def __init__(
        self,
        *,
        settings: MediaRouterSettings | None = None,
        clock: Clock | None = None,
        provider_options: Mapping[str, Mapping[str, Any]] | None = None,
        providers: Mapping[str, Provider] | None = None,
        emulator: bool = False,
        emulator_options: Mapping[str, Any] | None = None,
        listeners: Sequence[Listener] = (),
        failover: FailoverPolicy | None = None,
        fit: FitPolicy | None = None,
        max_cost: Money | None = None,
        cooldown: float | None = None,
        journal: JobStore | str | None = None,
        webhooks: Waiters | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        if emulator and settings is None and not {"poll_interval", "first_poll"} & self.settings.model_fields_set:
            # As `--emulator` does: an emulated job is polled every 0.2 s unless the environment or config says.
            self.settings = self.settings.model_copy(update={"poll_interval": EMULATOR_POLL_INTERVAL})
        #: Jobs submitted with a callback_url wait on these (safety-net polling, woken by a delivery).
        self.webhooks = webhooks or Waiters()
        if journal is not None and not isinstance(journal, str | JobStore):
            raise ConfigurationError(
                f"journal must be a path, 'off', ':memory:' or a JobStore; {type(journal).__name__} lacks "
                "JobStore methods (claim, try_lease, release_lease …)",
            )
        self._journal_spec = journal
        self._journal: JobStore | None = journal if isinstance(journal, JobStore) else None
        self._journal_open = isinstance(journal, JobStore)
        self._owns_journal = False
        self.clock = clock
        self.emulator = emulator
        self.emulator_options = dict(emulator_options or {})
        self.listeners: list[Listener] = [*default_listeners(), *listeners]
        self.failover = failover or FailoverPolicy()
        self.fit: FitPolicy = _check_fit(fit if fit is not None else self.settings.fit)
        self.max_cost = _money(max_cost) if max_cost is not None else self.settings.max_cost
        self.cooldowns = Cooldowns(clock or SystemClock(), cooldown if cooldown is not None else self.settings.cooldown)
        self._provider_options = {k: dict(v) for k, v in (provider_options or {}).items()}
        self._providers: dict[str, Provider] = dict(providers or {})
        self._owned: set[str] = set()
        self._concurrency_checked = False
        #: Per-provider queues for HTTP exchanges, downloads and jobs (settings max_concurrent_requests /
        #: _downloads / _jobs, and provider_concurrency for one provider's own).
        self.limits = ProviderLimits(
            max_requests=self.settings.max_concurrent_requests,
            max_jobs=self.settings.max_concurrent_jobs,
            max_downloads=self.settings.max_concurrent_downloads,
            per_provider={
                name: own.model_dump(exclude_none=True) for name, own in self.settings.provider_concurrency.items()
            },
        )
        self._writer: JournalWriter | None = None

    # -- providers ----------------------------------------------------------------------

    def provider(self, name: str) -> Provider:
        """The provider instance for `name`, created on first use from its plugin."""
        self._check_concurrency_names()
        if name not in self._providers:
            self._providers[name] = create_provider(
                name,
                options=self._provider_options.get(name),
                clock=self.clock,
                emulator=self.emulator,
                emulator_options=self.emulator_options,
            )
            self._owned.add(name)
        return self._providers[name]

    def _check_concurrency_names(self) -> None:
        """A `provider_concurrency` entry for no known provider is a typo whose limit would silently not
        apply (a `jobs = 1` meant to cap spending, say): refused when the first provider is made, which
        loads the plugins anyway, rather than at construction, which must stay cheap."""
        if self._concurrency_checked:
            return
        installed = self.provider_names()
        unknown = sorted(set(self.settings.provider_concurrency) - set(installed))
        if unknown:
            raise ConfigurationError(
                f"provider_concurrency names {', '.join(map(repr, unknown))}, which is not an installed provider; "
                f"installed: {', '.join(installed) or 'none'}",
                hint="fix the name in [router.provider_concurrency] (or MEDIAROUTER_PROVIDER_CONCURRENCY), "
                "or install the plugin; `mediarouter plugins` lists them",
            )
        self._concurrency_checked = True

    def provider_names(self) -> list[str]:
        return sorted(set(provider_factories()) | set(self._providers))

    def resolve(self, model: str | Sequence[str] | None, fallbacks: Sequence[str] | None = None) -> list[ModelRef]:
        """Candidate refs in order: `model` (ref, alias or list; the default model when None), then `fallbacks`."""
        return resolve_candidates(
            model, fallbacks, aliases=self.settings.aliases, default_model=self.settings.default_model
        )

    # -- generation ---------------------------------------------------------------------

    async def generate(
        self,
        prompt: str | None = None,
        *,
        model: str | Sequence[str] | None = None,
        output: str | Path | None = None,
        fallbacks: Sequence[str] | None = None,
        fit: FitPolicy | None = None,
        max_cost: Money | None = None,
        poll_interval: float | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> VideoResult:
        """Generate one video from the first candidate that can serve it; save it to `output`.

        `model` is a ref, an alias or an ordered list; `fallbacks` extends it. `timeout`
        bounds the whole call, every candidate included. With an `idempotency_key`, a call
        whose job is already journaled returns (or resumes) that job instead of submitting.
        """
        request = VideoRequest.build(prompt=prompt, max_body_bytes=self.settings.max_request_bytes, **fields)
        return await self.generate_request(
            request,
            model=model,
            output=output,
            fallbacks=fallbacks,
            fit=fit,
            max_cost=max_cost,
            poll_interval=poll_interval,
            timeout=timeout,
            idempotency_key=idempotency_key,
        )

    async def generate_request(
        self,
        request: VideoRequest,
        *,
        model: str | Sequence[str] | None = None,
        output: str | Path | None = None,
        fallbacks: Sequence[str] | None = None,
        fit: FitPolicy | None = None,
        max_cost: Money | None = None,
        poll_interval: float | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
    ) -> VideoResult:
        """`generate` for a ready-made VideoRequest."""
        call = self._call(
            request,
            model=model,
            output=output,
            fallbacks=fallbacks,
            fit=fit,
            max_cost=max_cost,
            poll_interval=poll_interval,
            timeout=timeout,
            idempotency_key=idempotency_key,
        )
        if idempotency_key is not None:
            previous = await self._idempotent(idempotency_key, call)
            if previous is not None:
                return previous
        try:
            return await call.run()
        except Conflict as exc:
            # Another process claimed the key between our look-up and our submit: its job, not a second one.
            if idempotency_key is not None and exc.details.get("idempotency_claimed"):
                previous = await self._idempotent(idempotency_key, call)
                if previous is not None:
                    return previous
            raise

    async def plan(
        self,
        prompt: str | None = None,
        *,
        model: str | Sequence[str] | None = None,
        fallbacks: Sequence[str] | None = None,
        fit: FitPolicy | None = None,
        max_cost: Money | None = None,
        **fields: Any,
    ) -> list[PlannedCandidate]:
        """What `generate` would try, in order, with adjustments and estimates; submits nothing.

        Reading capabilities may read a provider's (free) model listing; no job is created. A request
        `generate` refuses outright (no prompt) is refused here too, with the same error; a candidate in
        cooldown on this router is shown as skipped, as `generate` would skip it now.
        """
        request = VideoRequest.build(prompt=prompt, max_body_bytes=self.settings.max_request_bytes, **fields)
        call = self._call(request, model=model, fallbacks=fallbacks, fit=fit, max_cost=max_cost)
        call.check_request()
        plan = await call.plan()
        now = call.clock.monotonic()
        for candidate in plan:
            if candidate.error is None and (cooling := self.cooldowns.active(str(candidate.ref))) is not None:
                candidate.error, candidate.refusal = cooling.skip_error(now), "skipped"
        return [candidate.planned() for candidate in plan]

    def _call(
        self,
        request: VideoRequest,
        *,
        model: str | Sequence[str] | None = None,
        output: str | Path | None = None,
        fallbacks: Sequence[str] | None = None,
        fit: FitPolicy | None = None,
        max_cost: Money | None = None,
        poll_interval: float | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
    ) -> _RoutedCall:
        """One routed call, with everything checked that can be before any request (the output path too)."""
        refs = self.resolve(model, fallbacks)
        return _RoutedCall(
            self,
            request,
            refs=refs,
            policy=_check_fit(fit) if fit is not None else self.fit,
            budget=_money(max_cost) if max_cost is not None else self.max_cost,
            output=check_output(output) if output is not None else None,
            poll_interval=poll_interval,
            timeout=timeout if timeout is not None else self.settings.timeout,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint_request(request, [str(r) for r in refs]) if idempotency_key is not None else None,
        )

    def engine(
        self,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        listeners: Sequence[Listener] | None = None,
    ) -> JobEngine:
        s = self.settings
        return JobEngine(
            clock=self.clock,
            poll_interval=poll_interval if poll_interval is not None else s.poll_interval,
            max_poll_interval=s.max_poll_interval,
            poll_growth=s.poll_growth,
            # A caller's own poll_interval sets the cadence from the first poll on.
            first_poll=(s.first_poll or 2 * s.poll_interval) if poll_interval is None else None,
            timeout=timeout if timeout is not None else s.timeout,
            request_timeout=s.request_timeout,
            listeners=self.listeners if listeners is None else listeners,
            journal=self.journal,
            webhooks=self.webhooks,
            limits=self.limits,
            writer=self.journal_writer,
        )

    def webhook_app(self, **options: Any) -> Any:
        """An ASGI app receiving the provider's signed callbacks for this router's jobs: mount it in your
        Starlette/FastAPI app. A delivery records the job's end in the journal and wakes its waiting call.
        Options as `mediarouter.webhooks.create_receiver` (secret=, tolerance=, …); needs the `webhooks` extra.
        """
        from .webhooks import create_receiver

        return create_receiver(journal=self.journal, waiters=self.webhooks, listeners=self.listeners, **options)

    async def describe(
        self,
        video: VideoLike,
        prompt: str,
        *,
        model: str | Sequence[str] | None = None,
        fallbacks: Sequence[str] | None = None,
        max_cost: Money | None = None,
        use_cache: bool = True,
        **options: Any,
    ) -> DescribeResult:
        """Describe a video (a path, bytes, an https URL, a MediaFile or a VideoResult) with the first
        candidate that answers; failover, cooldowns and the cost guard as for `generate`. See
        docs/understanding.md for the options (shrink, max_tokens, processing, timeout, …)."""
        from .describing import describe as _describe

        return await _describe(
            self, video, prompt, model=model, fallbacks=fallbacks, max_cost=max_cost, use_cache=use_cache, **options
        )

    async def batch(
        self,
        lines: Iterable[str],
        *,
        output_dir: str | Path,
        concurrency: int = 4,
        max_total_cost: Money | None = None,
        per_provider: Mapping[str, int] | None = None,
        results_path: str | Path | None = None,
        listeners: Sequence[BatchListener] = (),
        poll_interval: float | None = None,
    ) -> BatchReport:
        """One request per JSONL line, all validated first, under one budget; a rerun submits nothing twice
        (done lines are skipped, accepted ones resumed). See docs/batch.md."""
        from .batch import run_batch

        return await run_batch(
            self,
            lines,
            output_dir=output_dir,
            concurrency=concurrency,
            max_total_cost=max_total_cost,
            per_provider=per_provider,
            results_path=results_path,
            listeners=listeners,
            poll_interval=poll_interval,
        )

    # -- the journal: resume, download, cancel ---------------------------------------------

    @property
    def journal(self) -> JobStore | None:
        """Where accepted jobs are recorded (SQLite in the user data dir by default; None when off)."""
        if not self._journal_open:
            self._journal_open = True
            spec = self._journal_spec if isinstance(self._journal_spec, str) else None
            self._journal = open_store(journal_location(spec if spec is not None else self.settings.journal))
            self._owns_journal = self._journal is not None
        return self._journal

    @property
    def journal_writer(self) -> JournalWriter | None:
        """The journal's writer thread, shared by every job of this router (None when the journal is off)."""
        journal = self.journal
        if journal is None:
            return None
        if self._writer is None or self._writer.store is not journal:
            self._writer = JournalWriter(journal)
        return self._writer

    def require_journal(self) -> JobStore:
        """The journal, or a ConfigurationError saying it is off."""
        journal = self.journal
        if journal is None:
            raise ConfigurationError(
                "the job journal is off", hint="set MEDIAROUTER_JOURNAL to a file (or leave it unset for the default)"
            )
        return journal

    async def resume(
        self,
        job_id: str,
        *,
        output: str | Path | None = None,
        poll_interval: float | None = None,
        timeout: float | None = None,
    ) -> VideoResult:
        """Finish a journaled job: keep polling and download. Never submits again."""
        return await resume_job(self, job_id, output=output, poll_interval=poll_interval, timeout=timeout)

    async def download(self, job_id: str, *, output: str | Path | None = None) -> VideoResult:
        """Download a completed journaled job's output again (e.g. after a failed download)."""
        return await resume_job(self, job_id, output=output, redownload=True)

    async def cancel(self, job_id: str) -> None:
        """Cancel a journaled job; raises CancelNotSupported when its provider cannot (OpenRouter)."""
        await cancel_job(self, job_id)

    async def submit(
        self,
        request: VideoRequest,
        *,
        idempotency_key: str,
        model: str | Sequence[str] | None = None,
        output: str | Path | None = None,
        fallbacks: Sequence[str] | None = None,
        fit: FitPolicy | None = None,
        max_cost: Money | None = None,
        timeout: float | None = None,
        after: str | None = None,
    ) -> JobRecord:
        """Plan, then submit with failover up to the first acceptance, without waiting: the accepted job's
        journal row (finish it with `resume`). A key whose job is journaled returns that row and sends
        nothing; one whose submit has no known outcome raises Conflict. For durable engines (docs/scale-out.md),
        whose steps may run twice: a repeated call never submits twice.

        `after`: the id of this key's job, which ended (`failed`): go on with the candidates after its model,
        as a local call fails over (the failover policy decides; the job's error is raised when it does not,
        or when the job was the last candidate). Its row hands the key to the next submit, so a repeated call
        returns the job that took over instead of submitting again."""
        call = self._call(
            request,
            model=model,
            output=output,
            fallbacks=fallbacks,
            fit=fit,
            max_cost=max_cost,
            timeout=timeout,
            idempotency_key=idempotency_key,
        )
        call.accept_only = True
        journal = self.require_journal()
        held = self._held(idempotency_key, call)
        if after is not None and (held is None or held.job_id == after):
            ended = held if held is not None else self._shadowing(journal, after, idempotency_key)
            failure = terminal_error(
                ended.state.value, ended.error, provider=ended.provider, model=ended.model, job_id=ended.job_id
            )
            if failure is None:
                raise InvalidRequest(
                    f"job {after} has not ended ({ended.state.value}): there is nothing to fail over from",
                    job_id=after,
                    hint=f"mediarouter jobs resume {after}",
                )
            if not call.continue_after(ended, failure):
                raise failure
            held = None
        if held is None:
            try:
                accepted = await call.run()
            except Conflict as exc:  # claimed by another process between the look-up and the submit
                if not exc.details.get("idempotency_claimed") or (held := self._held(idempotency_key, call)) is None:
                    raise
            else:
                held = journal.get(accepted.job_id)
        if held is None:
            raise ConfigurationError(f"the accepted job for {idempotency_key!r} is not in the journal")
        return held

    async def _idempotent(self, key: str, call: _RoutedCall) -> VideoResult | None:
        """The journaled result or job for `key`, instead of a second submit; None if no row holds the key."""
        existing = self._held(key, call)
        if existing is None or existing.job_id is None:
            return None
        # The call's own cadence and deadline, as if it had submitted the job itself.
        remaining = max(call.deadline - call.clock.monotonic(), 0.001)
        try:
            return await self.resume(
                existing.job_id, output=call.output, poll_interval=call.poll_interval, timeout=remaining
            )
        except JobFailed as exc:
            # The job ended without output: go on with the call's candidates after it, as the call that
            # submitted it would have (it stopped before: a timeout, a stop), handing the key over.
            if not call.continue_after(existing, exc):
                if not exc.hint:  # say that this is the journal's answer, not a new attempt that failed
                    exc.hint = (
                        f"idempotency key {key!r} already holds this failed job (journaled); nothing was sent: "
                        "give a new key to try again"
                    )
                raise
            return None

    @staticmethod
    def _shadowing(journal: JobStore, job_id: str, key: str) -> JobRecord:
        """The row of `job_id` that already let go of `key` for a failover whose submit did not follow (a
        process stopped in between): the failover starts again from it."""
        row = journal.get(job_id)
        if row is None or row.shadowed_key != key:
            raise InvalidRequest(
                f"job {job_id} is not a job of idempotency key {key!r}: there is nothing to fail over from",
                job_id=job_id,
            )
        return row

    def _held(self, key: str, call: _RoutedCall) -> JobRecord | None:
        """The row holding `key` with a job id (None when no row holds it); Conflict when its submit is in
        flight elsewhere or has no known outcome, InvalidRequest when the key was used for another request."""
        journal = self.journal
        if journal is None:
            raise ConfigurationError(
                "idempotency_key needs the job journal, which is off", hint="unset MEDIAROUTER_JOURNAL=off"
            )
        existing = journal.find_idempotent(key)
        if existing is None or not existing.state.holds_key:
            return None
        new = JobRecord(key="new", provider="", model="", request=call.request.redacted(), fingerprint=call.fingerprint)
        mismatch = idempotency_mismatch(key, existing, new)
        if mismatch is not None:
            raise mismatch
        if existing.state is RecordState.SUBMITTING and (holder := submitting_elsewhere(journal, existing.key)):
            where = "" if holder.host == socket.gethostname() else f" on {holder.host}"
            raise Conflict(
                f"idempotency key {key!r} is being submitted right now by another process (pid {holder.pid}{where}); "
                "nothing was sent",
                provider=existing.provider,
                model=existing.model,
                hint="wait for it, then run the same command again: it returns (or resumes) that job",
                details={"holder_pid": holder.pid},
            )
        if existing.state.ambiguous or existing.job_id is None:
            raise Conflict(
                f"an earlier submit with idempotency key {key!r} has no known outcome ({existing.state.value}): "
                "it may have created a job, so nothing was sent",
                provider=existing.provider,
                model=existing.model,
                hint=unknown_advice(existing, journal),
                details={"ambiguous_submit": True},  # the CLI exits 9, as for the submit itself
            )
        return existing

    # -- discovery ----------------------------------------------------------------------

    async def models(self, prefix: str | None = None) -> list[ModelInfo]:
        """Models of every installed provider (or those whose ref starts with `prefix`)."""
        names = self.provider_names()
        if prefix:
            names = [n for n in names if n.startswith(prefix.split("/", 1)[0]) or prefix.startswith(n)]
        infos: list[ModelInfo] = []
        for name in names:
            infos.extend(await self.provider(name).list_models())
        if prefix:
            infos = [i for i in infos if i.ref.startswith(prefix)]
        return sorted(infos, key=lambda i: i.ref)

    # -- lifecycle ----------------------------------------------------------------------

    async def aclose(self) -> None:
        for name in list(self._owned):
            await self._providers.pop(name).aclose()
            self._owned.discard(name)
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()  # the queued writes land before the store closes
        if self._owns_journal and self._journal is not None:
            self._journal.close()
            self._journal, self._journal_open, self._owns_journal = None, False, False

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# -- one routed call ------------------------------------------------------------------------


@dataclass
class _Candidate:
    """One candidate as planned before any request: what to send, what it should cost, or why not."""

    index: int
    ref: ModelRef
    provider: Provider | None = None
    capabilities: Capabilities | None = None
    request: VideoRequest | None = None
    adjustments: dict[str, dict[str, Any]] = field(default_factory=dict)
    estimate: Decimal | None = None
    cost: CostEstimate | None = None
    #: Why the candidate cannot be used; `refusal` says whether that is a local skip or a failure.
    error: MediaRouterError | None = None
    refusal: Literal["skipped", "failed"] | None = None

    def planned(self) -> PlannedCandidate:
        return PlannedCandidate(
            ref=str(self.ref),
            request=self.request,
            adjustments=dict(self.adjustments),
            estimated_cost=self.estimate,
            price=self.cost.describe() if self.cost is not None else None,
            usable=self.error is None,
            reason=self.error.message if self.error is not None else None,
            error_type=type(self.error).__name__ if self.error is not None else None,
            error=self.error,
        )


@dataclass(frozen=True)
class PlannedCandidate:
    """One candidate of `Router.plan()`: what would be sent, what it should cost, or why it would be skipped."""

    ref: str
    request: VideoRequest | None
    adjustments: dict[str, dict[str, Any]]
    estimated_cost: Decimal | None
    price: str | None
    usable: bool
    reason: str | None
    error_type: str | None
    #: Why the candidate would be skipped, as the error `generate` would record for it.
    error: MediaRouterError | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "usable": self.usable,
            "estimated_cost": str(self.estimated_cost) if self.estimated_cost is not None else None,
            "price": self.price,
            "adjustments": self.adjustments,
            "reason": self.reason,
            "error_type": self.error_type,
            "request": self.request.redacted() if self.request is not None else None,
        }


@dataclass
class _Block:
    """A provider-wide refusal earlier in the call (bad key, no credits for that price)."""

    error: MediaRouterError
    scope: Scope
    estimate: Decimal | None


class _RoutedCall:
    """The state of one `generate` call: its candidates, attempts, deadline and event context."""

    def __init__(
        self,
        router: Router,
        request: VideoRequest,
        *,
        refs: list[ModelRef],
        policy: FitPolicy,
        budget: Decimal | None,
        output: str | Path | None,
        poll_interval: float | None,
        timeout: float,
        idempotency_key: str | None = None,
        fingerprint: RequestFingerprint | None = None,
    ) -> None:
        if timeout <= 0:
            raise InvalidRequest("timeout must be > 0 seconds")
        self.router = router
        self.request = request
        self.refs = refs
        self.policy = policy
        self.budget = budget
        self.output = output
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.idempotency_key = idempotency_key
        self.fingerprint = fingerprint
        self.clock: Clock = router.clock or SystemClock()
        self.call_id = uuid.uuid4().hex[:16]
        self.started = self.clock.monotonic()
        self.deadline = self.started + timeout
        self.attempts: list[Attempt] = []
        self.errors: list[MediaRouterError] = []
        self.blocks: dict[str, _Block] = {}
        self.last_failed: str | None = None
        #: Journal rows of jobs that ended (failed) and were failed over from while holding the call's
        #: idempotency key: they let go of it when the next candidate submits (see `_release_key`).
        self.key_holders: list[str] = []
        #: Stop at the first accepted submit (`Router.submit`): the result has the job id and no files.
        self.accept_only = False
        #: Candidates before this index were tried by an earlier call under the same key (`continue_after`).
        self.first_index = 0

    # -- the call ---------------------------------------------------------------------------

    async def run(self) -> VideoResult:
        self._emit(None, RouterCallStartedEvent(candidates=[str(r) for r in self.refs], duration=self.request.duration))
        try:
            result = await self._run()
        except MediaRouterError as exc:
            exc.details["attempts"] = [a.model_dump(mode="json") for a in self.attempts]
            self._emit(
                None, RouterCallFinishedEvent(outcome="failed", ref=self._last_ref(), error_type=type(exc).__name__)
            )
            raise
        except BaseException as exc:
            outcome = "cancelled" if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt) else "failed"
            self._emit(
                None, RouterCallFinishedEvent(outcome=outcome, ref=self._last_ref(), error_type=type(exc).__name__)
            )
            raise
        self._emit(None, RouterCallFinishedEvent(outcome="succeeded", ref=result.ref, error_type=None))
        return result

    def check_request(self) -> None:
        """Request-level problems (no prompt) are the same for every candidate: raised as they are instead
        of as N skipped candidates. Values a model may or may not support (durations, enum values) are
        left to each candidate's fitting."""
        first = self.refs[0]
        try:
            validate_request(self.request, Capabilities(), model=first.model_id, provider=first.provider)
        except CapabilityMismatch as exc:
            if exc.field == "prompt":
                raise

    def continue_after(self, record: JobRecord, error: JobError) -> bool:
        """An earlier call's job under this call's key (`record`) ended failed when resumed: record it as
        this call's failed attempt and go on from the candidate after it, if the failover policy allows and
        there is one; the job's row lets go of the key when the next candidate submits. False (nothing
        changed) when the call should raise `error` instead: its ref is not among the call's candidates, it
        is the last one, or the policy does not fail over."""
        ref = f"{record.provider}/{record.model}"
        index = next((i for i, r in enumerate(self.refs) if str(r) == ref), None)
        if index is None or index + 1 >= len(self.refs):
            return False
        if not self.router.failover.decide(error, phase="job").failover:
            return False
        candidate = _Candidate(index=index, ref=self.refs[index])
        self._fail(candidate, error, phase="job", started=None, job_id=record.job_id)  # records, never raises here
        self.key_holders.append(record.key)
        self.first_index = index + 1
        return True

    async def _run(self) -> VideoResult:
        self.check_request()
        plan = await self.plan()
        for candidate in plan:
            result = await self._try(candidate)
            if result is not None:
                return result
        if len(plan) == 1 and len(self.errors) == 1:
            raise self.errors[-1]
        raise AllCandidatesFailed(self.attempts, self.errors)

    # -- planning: everything that can be known before any request ---------------------------

    async def plan(self) -> list[_Candidate]:
        refs = list(enumerate(self.refs))[self.first_index :]
        plan = [await self._plan_one(index, ref) for index, ref in refs]
        if self.budget is not None and all(isinstance(c.error, BudgetExceeded) for c in plan):
            estimates = {str(c.ref): c.estimate for c in plan}
            over = ", ".join(f"{ref} {_usd(e)}" for ref, e in estimates.items() if e is not None)
            unpriced = ", ".join(f"{ref} (no known price)" for ref, e in estimates.items() if e is None)
            if not unpriced:
                message = f"max_cost {_usd(self.budget)} is below the estimated cost of every candidate: {over}"
                hint = "raise --max-cost / max_cost, ask for a shorter video, or add a cheaper candidate"
            elif over:  # an unknown price is not over max_cost: it cannot be held to it, so it is not risked
                message = (
                    f"no candidate fits max_cost {_usd(self.budget)}: estimated over it: {over}; "
                    f"cost unknown, so it cannot be held to max_cost: {unpriced}"
                )
                hint = "raise --max-cost / max_cost, ask for a shorter video, or add a cheaper candidate with a price"
            else:
                message = (
                    f"no candidate's cost can be estimated, so none can be held to max_cost {_usd(self.budget)}: "
                    f"{unpriced}"
                )
                hint = "drop --max-cost / max_cost to allow a model without a known price, or add one with a price"
            raise BudgetExceeded(message, max_cost=self.budget, estimates=estimates, hint=hint)
        return plan

    async def _plan_one(self, index: int, ref: ModelRef) -> _Candidate:
        candidate = _Candidate(index=index, ref=ref)
        try:
            provider = self.router.provider(ref.provider)
            capabilities = await self._capabilities(provider, ref)
        except MediaRouterError as exc:
            candidate.error = exc.with_context(provider=ref.provider, model=ref.model_id)
            candidate.refusal = "failed"
            return candidate
        candidate.provider, candidate.capabilities = provider, capabilities
        checked, foreign = self._own_options(ref, capabilities)
        fit = fit_request(checked, capabilities, policy=self.policy, provider=ref.provider, model=ref.model_id)
        if fit.request is not None and foreign:  # checked without them, sent as given
            options = {**(fit.request.provider_options or {}), **foreign}
            fit = replace(fit, request=fit.request.model_copy(update={"provider_options": options}))
        if fit.request is None:
            mismatch = fit.mismatch or CapabilityMismatch(f"{ref} cannot serve this request")
            if self.policy == "strict":
                if mismatch.hint is None:
                    mismatch.hint = (
                        "fit='adjust' (--fit adjust) snaps duration, resolution and aspect ratio to supported "
                        "values; fit='skip' moves on to the next candidate"
                    )
                self._record(candidate, "failed", mismatch)
                raise mismatch
            candidate.error, candidate.refusal = mismatch, "skipped"
            return candidate
        candidate.request, candidate.adjustments = fit.request, fit.adjustments
        candidate.cost = capabilities.estimate(fit.request)
        candidate.estimate = candidate.cost.amount if candidate.cost is not None else None
        if self.budget is not None and candidate.estimate is not None and candidate.estimate > self.budget:
            self._snap_within_budget(candidate, capabilities)
        if self.budget is not None and (candidate.estimate is None or candidate.estimate > self.budget):
            if candidate.estimate is None:
                message = f"the cost of {ref} cannot be estimated (no known price), and max_cost is {_usd(self.budget)}"
            else:
                message = f"estimated {_usd(candidate.estimate)} for {ref} is over max_cost {_usd(self.budget)}"
            candidate.error = BudgetExceeded(
                message,
                max_cost=self.budget,
                estimates={str(ref): candidate.estimate},
                provider=ref.provider,
                model=ref.model_id,
            )
            candidate.refusal = "skipped"
        return candidate

    def _snap_within_budget(self, candidate: _Candidate, capabilities: Capabilities) -> None:
        """`fit='adjust'` snapped the duration to the larger of two supported values equally near the one asked
        (7 s between 6 and 8): when that one is over max_cost and the other fits, take the other one. Only a tie
        is decided by the budget; a nearer value is never traded for a cheaper one."""
        snapped = candidate.adjustments.get("duration")
        request = candidate.request
        if snapped is None or request is None or not isinstance(snapped.get("requested"), int):
            return
        asked, applied = snapped["requested"], snapped["applied"]
        allowed = capabilities.allowed_durations(request) or ()
        for other in allowed:
            if other == applied or abs(other - asked) != abs(applied - asked):
                continue
            cheaper = request.model_copy(update={"duration": other})
            cost = capabilities.estimate(cheaper)
            if cost is not None and self.budget is not None and cost.amount <= self.budget:
                candidate.request, candidate.cost, candidate.estimate = cheaper, cost, cost.amount
                candidate.adjustments = {**candidate.adjustments, "duration": {**snapped, "applied": other}}
                return

    def _own_options(self, ref: ModelRef, capabilities: Capabilities) -> tuple[VideoRequest, dict[str, Any]]:
        """The request to check against `ref`'s capabilities, and the provider_options left out of the check.

        A model that reads one slug (`passthrough_slug`) is checked on that one by validation itself. One that
        forwards every slug (OpenRouter: the gateway picks the upstream, and ignores the slugs it does not
        match) would be refused for the options a failover chain carries for another installed provider
        (`{"fal": …}` beside `{"google-vertex": …}`): those are not checked against its list, but still sent."""
        options = self.request.provider_options
        if not options or capabilities.passthrough_slug is not None:
            return self.request, {}
        others = set(self.router.provider_names()) - {ref.provider}
        foreign = {slug: value for slug, value in options.items() if slug in others}
        if not foreign:
            return self.request, {}
        own = {slug: value for slug, value in options.items() if slug not in foreign} or None
        return self.request.model_copy(update={"provider_options": own}), foreign

    async def _capabilities(self, provider: Provider, ref: ModelRef) -> Capabilities:
        remaining = self.deadline - self.clock.monotonic()
        if remaining <= 0:
            raise self._deadline_passed(ref, "before its capabilities could be looked up")
        limit = min(self.router.settings.request_timeout, remaining)
        try:
            async with asyncio.timeout(limit):
                return await provider.capabilities(ref.model_id)
        except TimeoutError:
            if self.deadline - self.clock.monotonic() <= 0 or limit >= remaining:
                raise self._deadline_passed(ref, "while looking up its capabilities") from None
            raise ProviderUnavailable(
                f"no capabilities for {ref} within {limit:g}s", provider=ref.provider, model=ref.model_id
            ) from None

    def _deadline_passed(self, ref: ModelRef, when: str) -> JobTimeout:
        return JobTimeout(
            f"the call's deadline ({self.timeout:g}s) passed {when} {ref}; nothing was submitted",
            provider=ref.provider,
            model=ref.model_id,
            hint="nothing was billed; try again with a longer --timeout",
        )

    # -- trying one candidate ------------------------------------------------------------------

    async def _try(self, candidate: _Candidate) -> VideoResult | None:
        """Run one candidate; None means "fail over to the next one". Raises when the call must stop."""
        ref = str(candidate.ref)
        if candidate.error is not None and candidate.refusal == "skipped":
            self._skip(candidate, "skipped", candidate.error)
            return None
        blocked = self._blocked(candidate)
        if blocked is not None:
            self._skip(candidate, "skipped", blocked)
            return None
        if candidate.error is not None:
            self._fail(candidate, candidate.error, phase="plan", started=None, job_id=None)
            return None
        cooling = self.router.cooldowns.active(ref)
        if cooling is not None:
            self._skip(candidate, "cooldown", cooling.skip_error(self.clock.monotonic()))
            return None
        if self.deadline - self.clock.monotonic() <= 0:
            error = self._deadline_passed(candidate.ref, "before it could try")
            self._record(candidate, "failed", error)
            raise error

        assert candidate.provider is not None and candidate.request is not None
        if self.last_failed is not None:
            self._emit(
                candidate,
                RouterFailoverEvent(
                    from_ref=self.last_failed,
                    to_ref=ref,
                    error_type=type(self.errors[-1]).__name__ if self.errors else None,
                ),
            )
        self._emit(
            candidate,
            RouterEstimateEvent(
                ref=ref,
                estimated_cost=candidate.estimate,
                price_rule=candidate.cost.describe() if candidate.cost is not None else None,
            ),
        )
        self._emit(
            candidate,
            RouterAttemptStartedEvent(
                ref=ref,
                index=candidate.index,
                estimated_cost=candidate.estimate,
                duration=candidate.request.duration,
                adjustments=dict(candidate.adjustments),
                server_address=candidate.provider.server_address,
            ),
        )
        listeners = with_context(self.router.listeners, call_id=self.call_id, attempt=candidate.index)
        engine = self.router.engine(poll_interval=self.poll_interval, listeners=listeners)
        await self._release_key()
        jobs = self.router.limits.jobs(candidate.ref.provider)
        queued = self.clock.monotonic()
        await jobs.acquire()  # max_concurrent_jobs: a queued job is not late, so the wait extends the deadline
        self.deadline += self.clock.monotonic() - queued
        run = engine.start(candidate.provider, candidate.ref.model_id, deadline=self.deadline, budget=self.timeout)
        started = self.clock.monotonic()
        try:
            if self.accept_only:
                job = await engine.submit(
                    candidate.provider,
                    candidate.ref.model_id,
                    candidate.request,
                    run=run,
                    idempotency_key=self.idempotency_key,
                    target=self.output,
                    fingerprint=self.fingerprint,
                )
                result = VideoResult(
                    files=[], provider=job.provider, model=job.model, job_id=job.id, estimated_cost=candidate.estimate
                )
            else:
                result = await engine.run(
                    candidate.provider,
                    candidate.ref.model_id,
                    candidate.request,
                    output=self.output,
                    validate=False,
                    capabilities=candidate.capabilities,
                    idempotency_key=self.idempotency_key,
                    run=run,
                    estimate=candidate.estimate,
                    fingerprint=self.fingerprint,
                )
        except MediaRouterError as exc:
            job_id = run.job.id if run.job is not None else None
            if isinstance(exc, NotFound) and job_id is None and (meant := await self._listed_instead(candidate)):
                exc.hint = meant
            self._fail(candidate, exc, phase="job" if job_id else "submit", started=started, job_id=job_id)
            if job_id and self.idempotency_key is not None:
                self.key_holders.append(run.record_key or job_id)
            return None
        except BaseException as exc:
            job_id = run.job.id if run.job is not None else None
            attempt = self._record(candidate, "failed", None, started=started, job_id=job_id)
            attempt.error_type, attempt.error = type(exc).__name__, str(exc) or type(exc).__name__
            self._attempt_finished(candidate, attempt)
            if job_id:
                exc.add_note(f"mediarouter: job {job_id} on {ref} was accepted and may still finish (and be billed)")
                logger.warning(
                    "call %s stopped by %s; job %s on %s may still run", self.call_id, type(exc).__name__, job_id, ref
                )
            raise
        finally:
            jobs.release()
        attempt = self._record(candidate, "succeeded", None, started=started, job_id=result.job_id)
        attempt.cost = result.cost
        self._attempt_finished(candidate, attempt)
        result.attempts = list(self.attempts)
        result.adjustments = dict(candidate.adjustments)
        return result

    async def _listed_instead(self, candidate: _Candidate) -> str | None:
        """For a submit refused as not found: a hint naming the listed model the caller most likely meant (the
        same id in another case, else the closest spelling), or None. Best effort: the listing is cached."""
        ref, provider = candidate.ref, candidate.provider
        if provider is None:
            return None
        try:
            async with asyncio.timeout(min(5.0, self.router.settings.request_timeout)):
                listed = [info.id for info in await provider.list_models()]
        except Exception:  # a hint must never replace the error it explains
            return None
        if not listed or ref.model_id in listed:
            return None
        meant = closest_name(ref.model_id, listed, cutoff=0.75)
        if meant is None:
            return None
        return f"{ref.model_id!r} is not in {ref.provider}'s model listing; did you mean {ref.provider}/{meant}?"

    async def _release_key(self) -> None:
        """Move the call's idempotency key off the ended jobs it failed over from (to `shadowed_key`), right
        before the next candidate submits under it: the key then always sits on the latest job, which a
        rerun resumes or returns. A failed job whose call tries nothing after it keeps the key, so a rerun
        gets its failure rather than a new submit. A write that fails leaves the key held: the submit is
        then refused (Conflict), never sent twice."""
        writer = self.router.journal_writer
        while self.key_holders and writer is not None:
            row = self.key_holders[0]
            try:
                await writer.update(row, idempotency_key=None, shadowed_key=self.idempotency_key)
            except Exception:
                logger.exception("could not release idempotency key %r from journal row %s", self.idempotency_key, row)
                return
            self.key_holders.pop(0)

    def _blocked(self, candidate: _Candidate) -> MediaRouterError | None:
        """Why an earlier provider-wide refusal rules this candidate out, or None."""
        block = self.blocks.get(candidate.ref.provider)
        if block is None:
            return None
        kind = type(block.error).__name__
        if block.scope == "cheaper":
            if block.estimate is not None and candidate.estimate is not None and candidate.estimate < block.estimate:
                return None
            reason = (
                f"{candidate.ref.provider} refused a {_usd(block.estimate)} request earlier in this call "
                f"({kind}) and this one is not known to be cheaper ({_usd(candidate.estimate)})"
            )
        else:
            reason = f"{candidate.ref.provider} refused earlier in this call ({kind}), which holds for all its models"
        error = _copy_error(block.error, reason)
        error.provider, error.model, error.job_id = candidate.ref.provider, candidate.ref.model_id, None
        return error

    def _block(self, candidate: _Candidate, error: MediaRouterError, scope: Scope) -> None:
        """Remember a provider-wide refusal; a key refusal outranks a price one, and the lowest refused price wins."""
        name = candidate.ref.provider
        current = self.blocks.get(name)
        if current is not None and current.scope == "other_provider":
            return
        if current is not None and scope == "cheaper":
            lowest = None
            if current.estimate is not None and candidate.estimate is not None:
                lowest = min(current.estimate, candidate.estimate)
            self.blocks[name] = _Block(error=error, scope="cheaper", estimate=lowest)
            return
        self.blocks[name] = _Block(error=error, scope=scope, estimate=candidate.estimate)

    # -- book-keeping ---------------------------------------------------------------------------

    def _skip(self, candidate: _Candidate, outcome: str, error: MediaRouterError) -> None:
        attempt = self._record(candidate, outcome, error)
        self._emit(candidate, RouterSkippedEvent(ref=str(candidate.ref), reason=error.message))
        logger.info("skipping %s: %s", candidate.ref, error.message)
        self._attempt_finished(candidate, attempt)

    def _fail(
        self,
        candidate: _Candidate,
        error: MediaRouterError,
        *,
        phase: Phase,
        started: float | None,
        job_id: str | None,
    ) -> None:
        """Record a failed candidate, start its cooldown, and raise unless the policy fails over."""
        ref = str(candidate.ref)
        verdict = self.router.failover.decide(error, phase=phase)
        attempt = self._record(candidate, "failed", error, started=started, job_id=job_id)
        self._attempt_finished(candidate, attempt)
        if verdict.cooldown:
            seconds = self.router.cooldowns.start(ref, error)
            if seconds > 0:
                self._emit(candidate, RouterCooldownEvent(ref=ref, seconds=seconds))
        if not verdict.failover:
            if phase == "job" and job_id:
                # Money is at stake: a job that may still run (and bill) is left to the caller, with its id.
                error.with_context(job_id=job_id)
            # The caller gets the error itself; a warning here would be a second line on every CLI failure.
            logger.info("%s failed (%s): %s", ref, type(error).__name__, verdict.reason)
            raise error
        logger.info("%s failed (%s); %s", ref, type(error).__name__, verdict.reason)
        self.last_failed = ref
        if verdict.scope != "any":
            self._block(candidate, error, verdict.scope)

    def _record(
        self,
        candidate: _Candidate,
        outcome: str,
        error: MediaRouterError | None,
        *,
        started: float | None = None,
        job_id: str | None = None,
    ) -> Attempt:
        attempt = Attempt(
            ref=str(candidate.ref),
            outcome=outcome,
            error_type=type(error).__name__ if error is not None else None,
            error=error.message if error is not None else None,
            status_code=error.status_code if error is not None else None,
            job_id=job_id or (error.job_id if error is not None else None),
            duration_s=self.clock.monotonic() - started if started is not None else None,
            estimated_cost=candidate.estimate,
            adjustments=dict(candidate.adjustments),
        )
        self.attempts.append(attempt)
        if error is not None:
            self.errors.append(error)
        return attempt

    def _attempt_finished(self, candidate: _Candidate, attempt: Attempt) -> None:
        self._emit(
            candidate,
            job_id=attempt.job_id,
            payload=RouterAttemptFinishedEvent(
                ref=attempt.ref,
                outcome=attempt.outcome,
                error_type=attempt.error_type,
                status_code=attempt.status_code,
                cost=attempt.cost,
            ),
        )

    def _last_ref(self) -> str | None:
        return self.attempts[-1].ref if self.attempts else None

    def _emit(self, candidate: _Candidate | None, payload: EventPayload, *, job_id: str | None = None) -> None:
        if not self.router.listeners:
            return
        ref = candidate.ref if candidate is not None else None
        emit(
            self.router.listeners,
            Event(
                payload=payload,
                provider=ref.provider if ref else None,
                model=ref.model_id if ref else None,
                job_id=job_id,
                elapsed=self.clock.monotonic() - self.started,
                call_id=self.call_id,
                attempt=candidate.index if candidate is not None else None,
            ),
        )


# -- helpers ----------------------------------------------------------------------------------


def _check_fit(policy: str) -> FitPolicy:
    if policy not in FIT_POLICIES:
        raise InvalidRequest(f"fit must be one of {', '.join(FIT_POLICIES)}, not {policy!r}")
    return policy


def _money(value: Money) -> Decimal:
    """USD as a Decimal (floats go through str, so 0.1 stays 0.1)."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidRequest(f"max_cost must be an amount in USD, e.g. 2.50 (got {value!r})") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidRequest(f"max_cost must be a non-negative amount in USD (got {value!r})")
    return amount


def _copy_error(error: MediaRouterError, message: str) -> MediaRouterError:
    """Same class (exit codes key off it), new message: for candidates skipped because of another's error."""
    clone = copy.copy(error)
    clone.message = message
    clone.details = dict(error.details)
    return clone


#: Keyword arguments of `generate()` that configure the Router rather than the call.
ROUTER_OPTIONS = frozenset(inspect.signature(Router.__init__).parameters) - {"self"}


async def generate(
    prompt: str | None = None, *, model: str | Sequence[str] | None = None, **kwargs: Any
) -> VideoResult:
    """One call: on the event loop's shared default Router (plugins loaded once, listings cached, one
    connection pool); given any Router option (settings=, journal=, …), on a Router built for this call."""
    router_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in ROUTER_OPTIONS}
    if not router_kwargs:
        return await (await default_router()).generate(prompt, model=model, **kwargs)
    async with Router(**router_kwargs) as router:
        return await router.generate(prompt, model=model, **kwargs)


@dataclass
class _Shared:
    router: Router
    #: Suspended async generator: the loop's shutdown_asyncgens() (asyncio.run does it) closes the router.
    closer: Any


_DEFAULT_ROUTERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Shared] = weakref.WeakKeyDictionary()
_DEFAULT_LOCK = threading.Lock()


async def _close_at_shutdown(router: Router) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await router.aclose()


async def default_router() -> Router:
    """The running loop's shared Router (settings from the environment and config file), made on first use.

    It is closed when the loop shuts down its async generators (`asyncio.run` does), else at exit
    (its journal writes land first). Build your own `Router` to choose options.
    """
    loop = asyncio.get_running_loop()
    shared = _DEFAULT_ROUTERS.get(loop)
    if shared is None:
        router = Router()
        closer = _close_at_shutdown(router)
        await closer.__anext__()
        shared = _Shared(router, closer)
        with _DEFAULT_LOCK:
            _DEFAULT_ROUTERS[loop] = shared
            if len(_DEFAULT_ROUTERS) == 1:
                _at_exit(_close_default_routers)
    return shared.router


def _at_exit(fn: Callable[[], None]) -> None:
    """Run `fn` at exit while thread pools still take work: the closing router's journal writes and
    `asyncio.to_thread` calls need them, and `concurrent.futures` refuses new work once its own exit hook
    has run, which is before `atexit`'s (so a plain `atexit.register` failed with "cannot schedule new
    futures after shutdown"). `threading._register_atexit` hooks run newest first, so this one runs first;
    where it is missing, `atexit` (the writer then settles inline: `JournalWriter.close`)."""
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(fn)
            return
    except RuntimeError:  # already shutting down
        pass
    atexit.register(fn)


def _close_default_routers() -> None:
    """At exit, for loops never shut down: finish queued journal writes and close the journals (no loop is
    left to close HTTP clients on; their sockets go with the process). `generate_sync()`'s loop is still
    running, so it is shut down properly first."""
    _close_sync_loop()
    with _DEFAULT_LOCK:
        shared = list(_DEFAULT_ROUTERS.values())
        _DEFAULT_ROUTERS.clear()
    for item in shared:
        router = item.router
        with contextlib.suppress(Exception):
            if router._writer is not None:
                router._writer.close()
            if router._owns_journal and router._journal is not None:
                router._journal.close()


def generate_sync(prompt: str | None = None, *, model: str | Sequence[str] | None = None, **kwargs: Any) -> VideoResult:
    """Blocking facade for scripts: `generate_sync("A cat", model="openrouter/alibaba/wan-2.6", output="cat.mp4")`.

    Every call runs on one event loop kept in a background thread, so like `generate()` it reuses that
    loop's default Router (plugins loaded once, listings cached, one connection pool, one journal) from
    one call to the next; listeners run on that thread. Ctrl-C cancels the call and waits for it to
    record the interruption, as `asyncio.run` does.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _sync_loop().run(generate(prompt, model=model, **kwargs))
    raise RuntimeError("generate_sync() cannot run inside an event loop; use `await mediarouter.generate(...)`")


_T = TypeVar("_T")


class _SyncLoop:
    """The event loop behind `generate_sync()`: one per process, run by a daemon thread.

    `asyncio.run` per call would build (and close) a default Router per call: a Router's HTTP clients
    belong to the loop they were opened on, so it cannot outlive that loop. This loop lives on instead
    (a forked child makes its own); it is shut down at exit like `asyncio.run` would (`_close_sync_loop`).
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="mediarouter-generate-sync", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def usable(self) -> bool:
        return self.pid == os.getpid() and self.thread.is_alive() and not self.loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run `coro` on the loop, in the caller's context variables, and block until it ends. Ctrl-C cancels
        it and waits for it to unwind before re-raising (a second Ctrl-C stops the wait)."""
        context = contextvars.copy_context()
        outcome: concurrent.futures.Future[_T] = concurrent.futures.Future()
        tasks: list[asyncio.Task[_T]] = []

        def settle(task: asyncio.Task[_T]) -> None:
            if task.cancelled():
                outcome.set_exception(asyncio.CancelledError())
            elif (error := task.exception()) is not None:
                outcome.set_exception(error)
            else:
                outcome.set_result(task.result())

        def start() -> None:
            task = self.loop.create_task(coro, context=context)
            task.add_done_callback(settle)
            tasks.append(task)

        self.loop.call_soon_threadsafe(start)
        try:
            return self._wait(outcome)
        except KeyboardInterrupt:
            self.loop.call_soon_threadsafe(lambda: tasks[0].cancel())  # start() ran first: the queue is FIFO
            with contextlib.suppress(BaseException):
                self._wait(outcome)
            raise

    @staticmethod
    def _wait(outcome: concurrent.futures.Future[_T]) -> _T:
        # In short waits: a blocking wait on a lock does not see Ctrl-C on every platform (Windows).
        while not outcome.done():
            concurrent.futures.wait([outcome], timeout=0.5)
        return outcome.result()

    def close(self, timeout: float = 30.0) -> None:
        """Cancel what still runs, close the async generators (the default Router with them: its journal
        writes land, its HTTP clients close), stop the loop and its thread."""
        if not self.usable:
            return

        async def shut_down() -> None:
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shut_down(), self.loop).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)
        if not self.thread.is_alive():
            self.loop.close()


_SYNC_LOOP: _SyncLoop | None = None
_SYNC_LOCK = threading.Lock()


def _sync_loop() -> _SyncLoop:
    """`generate_sync()`'s loop, started on first use (and again in a forked child)."""
    global _SYNC_LOOP
    with _SYNC_LOCK:
        if _SYNC_LOOP is None or not _SYNC_LOOP.usable:
            _SYNC_LOOP = _SyncLoop()
        return _SYNC_LOOP


def _close_sync_loop() -> None:
    """Shut `generate_sync()`'s loop down (at exit, or in tests); the next call starts a new one."""
    global _SYNC_LOOP
    with _SYNC_LOCK:
        sync, _SYNC_LOOP = _SYNC_LOOP, None
    if sync is not None:
        sync.close()
