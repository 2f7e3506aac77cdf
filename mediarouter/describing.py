"""The routed describe call: one video and a prompt to the first candidate model that can answer.

Candidates, failover by error class, cooldowns and the cost guard are the router's own
(candidates.py, failover.py, cooldown.py), so `describe` behaves like `generate`:

1. the video is read once (`understanding.load_video`: type sniffed from the bytes, content hashed);
2. per candidate, in order: a cached answer is returned (no request); the provider must be a
   `Describer` and the model must take video input; the size and type guard runs before any
   upload (`--shrink` makes a re-encoded copy fit instead, and says so); the estimate is held
   against `max_cost`; a candidate in cooldown is skipped;
3. the request is sent once. A definite refusal (a 4xx such as 400/401/402/404/413/429) or a
   request that provably never left fails over as the policy says. Anything else after sending
   (a 5xx, 408/499/524/529, a timeout, a dropped connection, an unreadable 2xx) is an *unknown*
   outcome (outcomes.py) and stops the call: the model may have run and billed, and a retry or
   a second candidate would be a second payment.

A describe call makes no job, so nothing is journaled; `result.attempts` says what happened to
every candidate, as for `generate`.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from .clock import Clock, SystemClock
from .describe_cache import DescribeCache, cache_key
from .errors import (
    AllCandidatesFailed,
    BudgetExceeded,
    CapabilityMismatch,
    ConfigurationError,
    InvalidRequest,
    JobTimeout,
    MediaRouterError,
    PayloadTooLarge,
    ProtocolError,
)
from .failover import Phase, Scope
from .http.sending import probe_sends
from .outcomes import SubmitOutcome, classify_submit_error
from .pricing import format_usd as _usd
from .refs import ModelRef
from .results import Attempt
from .understanding import (
    SHRINK_MODES,
    DescribeModel,
    Describer,
    DescribeRequest,
    DescribeResult,
    ShrinkMode,
    VideoInput,
    VideoLike,
    check_input,
    estimate_cost,
    load_video,
    probe_video,
    shrink_video,
)

if TYPE_CHECKING:
    from .router import Router

__all__ = ["DEFAULT_DESCRIBE_MODEL", "describe", "describe_sync", "describe_video", "describer_of"]

log = logging.getLogger("mediarouter.describe")

#: Used when no model is given (the router's default model generates video, it does not watch it).
DEFAULT_DESCRIBE_MODEL = "openrouter/google/gemini-2.5-flash"

Money = Decimal | float | int | str


def describer_of(provider: object, ref: ModelRef) -> Describer:
    """The provider as a Describer, or the CapabilityMismatch that says its plugin cannot describe."""
    if isinstance(provider, Describer):
        return provider
    raise CapabilityMismatch(
        f"the {ref.provider} plugin cannot describe videos (it has no video-to-text support)",
        field="model",
        value=str(ref),
        provider=ref.provider,
        model=ref.model_id,
        hint="pick a model that takes video input, e.g. openrouter/google/gemini-2.5-flash",
    )


async def describe(
    router: Router,
    video: VideoLike,
    prompt: str,
    *,
    model: str | Sequence[str] | None = None,
    fallbacks: Sequence[str] | None = None,
    max_cost: Money | None = None,
    use_cache: bool = True,
    shrink: bool | str = False,
    max_tokens: int | None = None,
    processing: str | None = None,
    temperature: float | None = None,
    timeout: float | None = None,
    cache: DescribeCache | None = None,
) -> DescribeResult:
    """Describe `video` with the first candidate that answers; see the module docstring for the rules.

    `video` is a local path, bytes, an https:// or data: URL, a `MediaFile` or a `VideoResult`.
    `shrink=True` (or "auto", "downscale", "cut") lets a video over a model's limit be re-encoded
    to fit; without it such a video is refused (PayloadTooLarge) before any upload.
    """
    mode = _shrink_mode(shrink)
    budget = _money(max_cost) if max_cost is not None else router.max_cost
    deadline_s = timeout if timeout is not None else router.settings.timeout
    if deadline_s <= 0:
        raise InvalidRequest("timeout: must be > 0 seconds")
    refs = router.resolve(model if model is not None else DEFAULT_DESCRIBE_MODEL, fallbacks)
    source = await asyncio.to_thread(load_video, video)
    options: dict[str, Any] = {"processing": processing, "temperature": temperature}
    if max_tokens is not None:
        options["max_tokens"] = max_tokens
    request = DescribeRequest(video=source, prompt=prompt, **options)
    call = _DescribeCall(
        router,
        request,
        refs=refs,
        budget=budget,
        shrink=mode,
        cache=(cache or DescribeCache()) if use_cache else None,
        timeout=deadline_s,
    )
    return await call.run()


@dataclass
class _Block:
    """A provider-wide refusal earlier in the call (a bad key, no credits for that price)."""

    error: MediaRouterError
    scope: Scope
    estimate: Decimal | None


class _DescribeCall:
    def __init__(
        self,
        router: Router,
        request: DescribeRequest,
        *,
        refs: list[ModelRef],
        budget: Decimal | None,
        shrink: ShrinkMode | None,
        cache: DescribeCache | None,
        timeout: float,
    ) -> None:
        self.router = router
        self.request = request
        self.refs = refs
        self.budget = budget
        self.shrink = shrink
        self.cache = cache
        self.timeout = timeout
        self.clock: Clock = router.clock or SystemClock()
        self.started = self.clock.monotonic()
        self.deadline = self.started + timeout
        self.attempts: list[Attempt] = []
        self.errors: list[MediaRouterError] = []
        self.blocks: dict[str, _Block] = {}
        self._shrunk: dict[int, VideoInput] = {}
        self._duration: float | None = None
        self._probed = False

    # -- the call -------------------------------------------------------------------------------

    async def run(self) -> DescribeResult:
        for ref in self.refs:
            result = await self._try(ref)
            if result is not None:
                return result
        if self.budget is not None and len(self.errors) > 1 and all(isinstance(e, BudgetExceeded) for e in self.errors):
            shown = ", ".join(
                f"{a.ref} {_usd(a.estimated_cost)}" if a.estimated_cost is not None else f"{a.ref} (no known price)"
                for a in self.attempts
            )
            raise BudgetExceeded(
                f"max_cost {_usd(self.budget)} is below the estimated cost of every candidate: {shown}",
                max_cost=self.budget,
                estimates={a.ref: a.estimated_cost for a in self.attempts},
                hint="raise --max-cost / max_cost, lower --max-tokens, or add a cheaper candidate",
                details={"attempts": [a.model_dump(mode="json") for a in self.attempts]},
            )
        if len(self.refs) == 1 and self.errors:
            error = self.errors[-1]
            error.details["attempts"] = [a.model_dump(mode="json") for a in self.attempts]
            raise error
        raise AllCandidatesFailed(self.attempts, self.errors)

    def _key(self, ref: ModelRef) -> str | None:
        """The cache key; None (no cache) for a URL input or a provider that cannot be set up."""
        video = self.request.video
        if self.cache is None or video.sha256 is None:
            return None
        try:
            # Another base URL (a loopback emulator, a proxy) is another source of answers.
            server = self.router.provider(ref.provider).server_address
        except MediaRouterError:
            return None  # planning raises the real error
        options = {
            **self.request.options(),
            "shrink": self.shrink,
            "emulator": bool(self.router.emulator),
            "server": server,
        }
        return cache_key(video.sha256, str(ref), self.request.prompt, options)

    async def _try(self, ref: ModelRef) -> DescribeResult | None:
        """One candidate; None means "next candidate". Raises when the call must stop."""
        key = self._key(ref)
        if key is not None and self.cache is not None:
            hit = await asyncio.to_thread(self.cache.get, key)
            if hit is not None:
                log.info("describe: %s answered from the cache", ref)
                self._record(ref, "cached", None, estimate=None, started=None)
                hit.attempts = list(self.attempts)
                hit.timings = {"total": self.clock.monotonic() - self.started}
                return hit
        blocked = self._blocked(ref, None)
        if blocked is not None:
            self._record(ref, "skipped", blocked, estimate=None, started=None)
            return None
        try:
            provider, info = await self._model(ref)
            video = await self._fit(info)
        except MediaRouterError as exc:
            exc.with_context(provider=ref.provider, model=ref.model_id)
            self._fail(ref, exc, phase="plan", estimate=None, started=None)
            return None
        request = DescribeRequest(
            video=video,
            prompt=self.request.prompt,
            max_tokens=self.request.max_tokens,
            processing=self.request.processing,
            temperature=self.request.temperature,
        )
        estimate, _ = estimate_cost(info, request, await self._video_seconds(video))
        if self.budget is not None and (estimate is None or estimate > self.budget):
            if estimate is None:
                message = f"the cost of {ref} cannot be estimated (no known price or duration), and max_cost is "
                message += _usd(self.budget)
            else:
                message = f"estimated {_usd(estimate)} for {ref} is over max_cost {_usd(self.budget)}"
            error = BudgetExceeded(
                message,
                max_cost=self.budget,
                estimates={str(ref): estimate},
                provider=ref.provider,
                model=ref.model_id,
            )
            self._record(ref, "skipped", error, estimate=estimate, started=None)
            return None
        blocked = self._blocked(ref, estimate)
        if blocked is not None:
            self._record(ref, "skipped", blocked, estimate=estimate, started=None)
            return None
        cooling = self.router.cooldowns.active(str(ref))
        if cooling is not None:
            self._record(ref, "cooldown", cooling.skip_error(self.clock.monotonic()), estimate=estimate, started=None)
            return None
        return await self._send(ref, provider, request, estimate, key)

    async def _send(
        self, ref: ModelRef, provider: Describer, request: DescribeRequest, estimate: Decimal | None, key: str | None
    ) -> DescribeResult | None:
        remaining = self.deadline - self.clock.monotonic()
        if remaining <= 0:
            error = JobTimeout(
                f"the call's deadline ({self.timeout:g}s) passed before {ref} could try; nothing was sent",
                provider=ref.provider,
                model=ref.model_id,
                hint="nothing was billed; try again with a longer --timeout",
            )
            self._record(ref, "failed", error, estimate=estimate, started=None)
            raise error
        started = self.clock.monotonic()
        with probe_sends() as probe:
            try:
                async with asyncio.timeout(remaining):
                    result = await provider.describe(ref.model_id, request)
            except TimeoutError:
                error = JobTimeout(
                    f"the call's deadline ({self.timeout:g}s) passed while {ref} was answering",
                    provider=ref.provider,
                    model=ref.model_id,
                    hint="the model may have run (and billed); nothing was retried. Try a longer --timeout",
                )
                self._record(ref, "failed", error, estimate=estimate, started=started)
                raise error from None
            except MediaRouterError as exc:
                exc.with_context(provider=ref.provider, model=ref.model_id)
                if classify_submit_error(exc, probe) is SubmitOutcome.UNKNOWN:
                    self._stop_unknown(ref, exc, estimate=estimate, started=started)
                    raise
                self._fail(ref, exc, phase="submit", estimate=estimate, started=started)
                return None
        elapsed = self.clock.monotonic() - started
        attempt = self._record(ref, "succeeded", None, estimate=estimate, started=started)
        attempt.cost = result.cost
        result = result.model_copy(
            update={
                "provider": ref.provider,
                "model": ref.model_id,
                "estimated_cost": estimate,
                "attempts": list(self.attempts),
                "timings": {"request": elapsed, "total": self.clock.monotonic() - self.started},
                "video": request.video.summary(),
                "cached": False,
            }
        )
        if not result.text.strip():
            log.warning("describe: %s answered no text (finish reason %s); not cached", ref, result.finish_reason)
        elif key is not None and self.cache is not None:
            try:
                await asyncio.to_thread(self.cache.put, key, result)
            except Exception as exc:  # a custom cache's bug must not lose an answer that was paid for
                log.warning("describe: the answer of %s was not cached (%s: %s)", ref, type(exc).__name__, exc)
        return result

    def _stop_unknown(
        self, ref: ModelRef, error: MediaRouterError, *, estimate: Decimal | None, started: float
    ) -> None:
        """The request was sent and no answer says it was not processed (a 5xx, a lost or unreadable answer).

        The model may have run and billed, so, as for a submit of unknown outcome, nothing is
        retried and no other candidate is tried; the candidate still cools down as the policy says.
        """
        what = f"answered HTTP {error.status_code}" if error.status_code is not None else "lost its answer"
        if isinstance(error, ProtocolError) and error.status_code is not None:
            what = f"sent an unusable answer (HTTP {error.status_code})"
        error.hint = (
            f"the request was sent and {ref} {what}: the model may have run and billed, so it was not retried "
            "and no other candidate was tried. Run it again to retry"
        )
        self._record(ref, "failed", error, estimate=estimate, started=started)
        if self.router.failover.decide(error, phase="submit").cooldown:
            self.router.cooldowns.start(str(ref), error)
        error.details["attempts"] = [a.model_dump(mode="json") for a in self.attempts]

    # -- planning --------------------------------------------------------------------------------

    async def _model(self, ref: ModelRef) -> tuple[Describer, DescribeModel]:
        provider = describer_of(self.router.provider(ref.provider), ref)
        remaining = self.deadline - self.clock.monotonic()
        limit = max(0.001, min(self.router.settings.request_timeout, remaining))
        try:
            async with asyncio.timeout(limit):
                models = await provider.describe_models()
        except TimeoutError:
            raise JobTimeout(
                f"no model listing for {ref} within {limit:g}s; nothing was sent",
                provider=ref.provider,
                model=ref.model_id,
            ) from None
        for info in models:
            if info.id == ref.model_id:
                return provider, info
        known = ", ".join(sorted(m.id for m in models)[:8]) or "none"
        raise CapabilityMismatch(
            f"{ref} does not take video input (models of {ref.provider} that do: {known})",
            field="model",
            value=str(ref),
            supported=sorted(m.ref for m in models),
            provider=ref.provider,
            model=ref.model_id,
            hint="`mediarouter describe --list-models` lists the models that take video",
        )

    async def _fit(self, info: DescribeModel) -> VideoInput:
        """The video as this model can take it: as given, or (with shrink) a re-encoded copy under its limit."""
        video = self.request.video
        try:
            check_input(info, video)
            return video
        except (PayloadTooLarge, CapabilityMismatch) as exc:
            if self.shrink is None or video.is_url:
                raise
            if isinstance(exc, CapabilityMismatch) and exc.field != "video":
                raise
        limit = info.size_limit
        shrunk = self._shrunk.get(limit)
        if shrunk is None:
            shrunk = await asyncio.to_thread(shrink_video, video, limit, mode=self.shrink)
            self._shrunk[limit] = shrunk
            if shrunk.shrunk is not None:
                log.warning("describe: %s for %s", shrunk.shrunk.describe(), info.ref)
        check_input(info, shrunk)
        return shrunk

    async def _video_seconds(self, video: VideoInput) -> float | None:
        """The video's duration (probed once with PyAV); None for a URL or without PyAV."""
        if video.shrunk is not None and video.shrunk.duration is not None:
            return video.shrunk.duration
        if video.is_url:
            return None
        if not self._probed:
            self._probed = True
            try:
                source = self.request.video
                data = source.data if source.data is not None else source.path
                assert data is not None
                self._duration = (await asyncio.to_thread(probe_video, data)).duration
            except (ConfigurationError, InvalidRequest) as exc:
                log.info("describe: the video's duration is unknown (%s); its cost cannot be estimated", exc)
        return self._duration

    # -- book-keeping ------------------------------------------------------------------------------

    def _blocked(self, ref: ModelRef, estimate: Decimal | None) -> MediaRouterError | None:
        block = self.blocks.get(ref.provider)
        if block is None:
            return None
        if block.scope == "cheaper":
            if estimate is None:
                return None  # not known yet: decided again once the estimate is known
            if block.estimate is not None and estimate < block.estimate:
                return None
        # Same class as the cause (exit codes key off it), new message.
        error = copy.copy(block.error)
        error.details = dict(block.error.details)
        error.message = f"{ref.provider} refused earlier in this call ({type(block.error).__name__})"
        error.provider, error.model = ref.provider, ref.model_id
        return error

    def _fail(
        self, ref: ModelRef, error: MediaRouterError, *, phase: Phase, estimate: Decimal | None, started: float | None
    ) -> None:
        """Record a failed candidate, start its cooldown, and raise unless the policy fails over."""
        verdict = self.router.failover.decide(error, phase=phase)
        self._record(ref, "failed", error, estimate=estimate, started=started)
        if verdict.cooldown:
            self.router.cooldowns.start(str(ref), error)
        if not verdict.failover:
            log.info("describe: %s failed (%s): %s", ref, type(error).__name__, verdict.reason)
            error.details["attempts"] = [a.model_dump(mode="json") for a in self.attempts]
            raise error
        log.info("describe: %s failed (%s); %s", ref, type(error).__name__, verdict.reason)
        if verdict.scope != "any" and (
            ref.provider not in self.blocks or self.blocks[ref.provider].scope != "other_provider"
        ):
            self.blocks[ref.provider] = _Block(error=error, scope=verdict.scope, estimate=estimate)

    def _record(
        self,
        ref: ModelRef,
        outcome: str,
        error: MediaRouterError | None,
        *,
        estimate: Decimal | None,
        started: float | None,
    ) -> Attempt:
        attempt = Attempt(
            ref=str(ref),
            outcome=outcome,
            error_type=type(error).__name__ if error is not None else None,
            error=error.message if error is not None else None,
            status_code=error.status_code if error is not None else None,
            duration_s=self.clock.monotonic() - started if started is not None else None,
            estimated_cost=estimate,
        )
        self.attempts.append(attempt)
        if error is not None:
            self.errors.append(error)
        return attempt


# -- one-shot facades --------------------------------------------------------------------------


async def describe_video(video: VideoLike, prompt: str, **kwargs: Any) -> DescribeResult:
    """One-shot: build a Router (any of its keyword options may be given here), describe, close it."""
    from .router import ROUTER_OPTIONS, Router

    router_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in ROUTER_OPTIONS}
    router_kwargs.setdefault("journal", "off")  # a describe makes no job
    async with Router(**router_kwargs) as router:
        return await describe(router, video, prompt, **kwargs)


def describe_sync(video: VideoLike, prompt: str, **kwargs: Any) -> DescribeResult:
    """Blocking facade: `describe_sync("clip.mp4", "Summarise it", model="openrouter/google/gemini-2.5-flash")`."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(describe_video(video, prompt, **kwargs))
    raise RuntimeError("describe_sync() cannot run inside an event loop; use `await router.describe(...)`")


# -- helpers ------------------------------------------------------------------------------------


def _shrink_mode(shrink: bool | str) -> ShrinkMode | None:
    if shrink is False or shrink is None:
        return None
    if shrink is True:
        return "auto"
    if shrink in SHRINK_MODES:
        mode: ShrinkMode = shrink  # type: ignore[assignment]
        return mode
    raise InvalidRequest(f"shrink: {shrink!r} is not allowed (allowed values: True, False, {', '.join(SHRINK_MODES)})")


def _money(value: Money) -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip().lstrip("$"))
    except (InvalidOperation, ValueError):
        raise InvalidRequest(f"max_cost: must be an amount in USD, e.g. 0.05 (got {value!r})") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidRequest(f"max_cost: must be a non-negative amount in USD (got {value!r})")
    return amount
