"""Hypothesis strategies: requests within (and just outside) a model's capabilities, and backend behaviours.

- `requests_for(capabilities)`: valid `VideoRequest`s the model accepts.
- `invalid_cases_for(capabilities)` / `invalid_requests_for(capabilities)`: requests that break exactly one
  rule of `mediarouter.validate_request` (the case says which, and what error it must give).
- `scenarios()`: any backend behaviour; `successful_scenarios()`: behaviours that still end in a video
  within the engine's retry budgets; plus the building blocks (`scripts`, `http_errors`, `status_paths`, …).

Every strategy shrinks towards the plainest case (a short prompt, an `Ok` answer, one output), so a
counterexample names only what matters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from mediarouter import (
    Capabilities,
    CapabilityMismatch,
    FrameImage,
    InputReference,
    InvalidRequest,
    Modality,
    VideoRequest,
)
from mediarouter.capabilities import ASPECT_RATIOS, FRAME_TYPES, REFERENCE_TYPES, RESOLUTIONS
from mediarouter.request import URLRef

from .runner import EngineOptions
from .scenarios import (
    DEFAULT_VIDEO,
    DOWNLOAD_MALFORMED,
    FAILURE_STATUSES,
    JSON_MALFORMED,
    OK,
    RUNNING_STATUSES,
    TERMINAL_STATUSES,
    ConnectError,
    Delay,
    HttpError,
    Malformed,
    Mutated,
    Outcome,
    Phase,
    Pretty,
    Scenario,
    Script,
    StatusName,
    Truncated,
)

__all__ = [
    "ERROR_STATUSES",
    "SERVER_MESSAGES",
    "JOB_ERRORS",
    "InvalidCase",
    "requests_for",
    "invalid_cases_for",
    "invalid_requests_for",
    "job_ids",
    "http_errors",
    "malformed",
    "outcomes",
    "transient_outcomes",
    "scripts",
    "status_paths",
    "videos",
    "costs",
    "scenarios",
    "successful_scenarios",
]

T = TypeVar("T")

#: The HTTP errors every phase may answer.
ERROR_STATUSES: tuple[int, ...] = (400, 401, 402, 403, 404, 409, 410, 413, 429, 500, 502, 503)
#: Statuses on which a server may send Retry-After (HTTP semantics; OpenRouter documents both).
RETRY_AFTER_STATUSES: tuple[int, ...] = (429, 503)
RETRY_AFTERS: tuple[int, ...] = (0, 1, 2, 5, 7, 30, 90)
#: Server messages: short, single-line, no URLs or secrets (providers may redact those), some non-ASCII.
SERVER_MESSAGES: tuple[str, ...] = (
    "Insufficient credits",
    "Invalid duration: 7 is not one of 4, 6, 8",
    "Rate limit exceeded: 20 requests per minute",
    "Upstream provider overloaded",
    "No such job",
    "Output no longer available",
    "Request body too large (max 50 MiB)",
    "Key disabled by its owner",
    "Blocked by moderation: violence",
    "Output not ready yet",
    "Internal error, trace ab12cd",
    "Échec en amont — réessayez (日本語)",
)
#: What a backend says when a job fails, is cancelled or expires.
JOB_ERRORS: tuple[str, ...] = (
    "Content policy violation",
    "Upstream provider error: out of GPU memory",
    "Cancelled upstream by an operator",
    "The output expired before it was downloaded",
    "Génération impossible : délai dépassé",
)
PROMPTS: tuple[str, ...] = (
    "a dog on a beach",
    "A cat playing with yarn, slow motion",
    "café ☕ at dawn — 日本語 and an emoji 🎬",
    'quotes " and \\ backslashes',
)
IMAGE_URLS: tuple[str, ...] = ("https://images.example.test/first.png", "data:image/png;base64,iVBORw0KGgo=")
REFERENCE_URLS: dict[str, str] = {
    "image_url": "https://assets.example.test/ref.png",
    "audio_url": "https://assets.example.test/voice.mp3",
    "video_url": "https://assets.example.test/motion.mp4",
}
SIZES: tuple[str, ...] = ("1280x720", "720x1280", "1920x1080", "640x640")
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42"
#: The provider_options key of a model that does not name its own (`Capabilities.passthrough_slug` None).
PASSTHROUGH_SLUG = "google-vertex"
#: Another backend's key, as a failover chain's request carries it: a model with its own slug must ignore it.
FOREIGN_SLUG = "another-backend"
#: A parameter no model allows.
NOT_ALLOWED = "definitelyNotAllowed"


def _slug(caps: Capabilities) -> str:
    return caps.passthrough_slug or PASSTHROUGH_SLUG


def _maybe(strategy: SearchStrategy[T]) -> SearchStrategy[T | None]:
    """None first, so examples shrink to "field not set"."""
    return st.none() | strategy


def _choice(supported: Sequence[T] | None, known: Sequence[T] | None) -> SearchStrategy[T] | None:
    """Values the model accepts: its advertised list, or every known value when it advertises none."""
    values = supported if supported is not None else known
    if values is None or not values:
        return None
    return st.sampled_from(tuple(values))


def _allows(caps: Capabilities, modality: Modality) -> bool:
    return caps.modalities is None or modality in caps.modalities


def reference(type: str, url: str) -> InputReference:
    """An input reference of `type` (image_url, audio_url or video_url) pointing at `url`."""
    return InputReference.model_validate({"type": type, type: {"url": url}})


def _frames(caps: Capabilities) -> SearchStrategy[list[FrameImage]] | None:
    kinds = caps.frame_images if caps.frame_images is not None else FRAME_TYPES
    if not _allows(caps, Modality.IMAGE_TO_VIDEO) or not kinds:
        return None
    frame = st.builds(
        FrameImage,
        image_url=st.builds(URLRef, url=st.sampled_from(IMAGE_URLS)),
        frame_type=st.sampled_from(tuple(kinds)),
    )
    return st.lists(frame, min_size=1, max_size=len(kinds), unique_by=lambda f: f.frame_type)


def _references(caps: Capabilities) -> SearchStrategy[list[InputReference]] | None:
    kinds = caps.reference_types if caps.reference_types is not None else REFERENCE_TYPES
    if not _allows(caps, Modality.REFERENCE_TO_VIDEO) or not kinds:
        return None
    ref = st.builds(reference, type=st.sampled_from(tuple(kinds)), url=st.sampled_from(IMAGE_URLS[:1]))
    return st.lists(ref, min_size=1, max_size=2)


def _common_fields(caps: Capabilities) -> dict[str, SearchStrategy[Any]]:
    fields: dict[str, SearchStrategy[Any]] = {}
    durations = caps.durations
    fields["duration"] = _maybe(
        st.integers(1, 20) if durations is None else st.sampled_from(durations) if durations else st.nothing()
    )
    audio = st.just(False) | st.just(True) if caps.audio is not False else st.just(False)
    fields["generate_audio"] = _maybe(audio)
    fields["seed"] = _maybe(st.integers(0, 2**31 - 1)) if caps.seed is not False else st.none()
    if caps.passthrough_parameters:
        slug = _slug(caps)
        own: SearchStrategy[dict[str, Any]] = st.sampled_from(caps.passthrough_parameters).map(
            lambda key: {slug: {"parameters": {key: "blurry, low quality"}}}
        )
        if caps.passthrough_slug is not None:
            foreign: dict[str, Any] = {FOREIGN_SLUG: {"parameters": {NOT_ALLOWED: 1}}}
            own = own | st.just(foreign) | own.map(lambda options: {**options, **foreign})
        fields["provider_options"] = _maybe(own)
    fields["callback_url"] = _maybe(st.just("https://hooks.example.test/video-done"))
    return fields


def _shape_fields(caps: Capabilities) -> dict[str, SearchStrategy[Any]]:
    """resolution/aspect_ratio or an exact size (never both: `_consistent` filters that out)."""
    resolutions = _choice(caps.resolutions, RESOLUTIONS)
    ratios = _choice(caps.aspect_ratios, ASPECT_RATIOS)
    sizes = _choice(caps.sizes, SIZES)
    return {
        "resolution": _maybe(resolutions) if resolutions is not None else st.none(),
        "aspect_ratio": _maybe(ratios) if ratios is not None else st.none(),
        "size": _maybe(sizes) if sizes is not None else st.none(),
    }


def _consistent(request: VideoRequest) -> bool:
    """`size` excludes resolution/aspect_ratio; `image_url` (a first-frame shortcut) excludes a first frame."""
    if request.size and (request.resolution or request.aspect_ratio):
        return False
    return not (request.image_url and any(f.frame_type == "first_frame" for f in request.frame_images or []))


def _tied_duration(caps: Capabilities) -> Callable[[VideoRequest], VideoRequest]:
    """A drawn duration the request's resolution or references do not allow (`durations_by_resolution`,
    `reference_durations`) becomes the shortest they allow."""

    def fix(request: VideoRequest) -> VideoRequest:
        if request.duration is None:
            return request
        allowed = caps.allowed_durations(request)
        if allowed is None or request.duration in allowed:
            return request
        return request.model_copy(update={"duration": min(allowed) if allowed else None})

    return fix


def requests_for(capabilities: Capabilities) -> SearchStrategy[VideoRequest]:
    """Valid requests for a model with `capabilities`: `validate_request` accepts every one of them."""
    caps = capabilities
    frames = _frames(caps)
    refs = _references(caps)
    first_frame_ok = frames is not None and (caps.frame_images is None or "first_frame" in caps.frame_images)
    text = dict(_common_fields(caps), **_shape_fields(caps), prompt=st.sampled_from(PROMPTS))
    if frames is not None:
        text["frame_images"] = _maybe(frames)
    if first_frame_ok:
        text["image_url"] = _maybe(st.sampled_from(IMAGE_URLS))
    if refs is not None:
        text["input_references"] = _maybe(refs)
    options = [st.builds(VideoRequest, **text).filter(_consistent)]
    if frames is not None and not caps.prompt_required:
        image_only = dict(_common_fields(caps), **_shape_fields(caps), frame_images=frames)
        options.append(st.builds(VideoRequest, **image_only).filter(_consistent))
    if caps.durations_by_resolution or caps.reference_durations is not None:
        options = [option.map(_tied_duration(caps)) for option in options]
    return st.one_of(options)


@dataclass(frozen=True)
class InvalidCase(Pretty):
    """A request that breaks exactly one rule: `base` is valid, `request` is `base` with that rule broken."""

    base: VideoRequest
    request: VideoRequest
    #: What is wrong, in words.
    rule: str
    #: The field `validate_request` names (`CapabilityMismatch.field`, or the offending field).
    field: str
    #: The error `validate_request` must raise (exactly this class).
    error: type[InvalidRequest]

    def __repr__(self) -> str:
        return f"InvalidCase({self.rule}; request={self.request.redacted()})"


_Breaker = Callable[[Capabilities], SearchStrategy[InvalidCase] | None]


def _case(
    base_strategy: SearchStrategy[VideoRequest],
    update: SearchStrategy[dict[str, Any]],
    describe: Callable[[dict[str, Any]], str],
    field: str,
    error: type[InvalidRequest] = CapabilityMismatch,
) -> SearchStrategy[InvalidCase]:
    def build(base: VideoRequest, changes: dict[str, Any]) -> InvalidCase:
        return InvalidCase(
            base=base,
            request=base.model_copy(update=changes),
            rule=describe(changes),
            field=field,
            error=error,
        )

    return st.builds(build, base_strategy, update)


def _not_in(values: Sequence[T] | None, candidates: SearchStrategy[T]) -> SearchStrategy[T]:
    return candidates.filter(lambda v: values is None or v not in values)


def _break_duration(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    if caps.durations is None:
        return None
    bad = _not_in(caps.durations, st.integers(1, 60))
    return _case(
        requests_for(caps),
        bad.map(lambda d: {"duration": d}),
        lambda c: f"duration={c['duration']} is not one of {caps.durations}",
        "duration",
    )


def _break_duration_at_resolution(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    tied = [
        (resolution, allowed)
        for resolution, allowed in (caps.durations_by_resolution or {}).items()
        if caps.resolutions is None or resolution in caps.resolutions
    ]
    pairs = [
        (resolution, seconds)
        for resolution, allowed in tied
        for seconds in (caps.durations if caps.durations is not None else range(1, 21))
        if seconds not in allowed
    ]
    if not pairs:
        return None
    return _case(
        requests_for(caps),
        st.sampled_from(pairs).map(lambda pair: {"resolution": pair[0], "size": None, "duration": pair[1]}),
        lambda c: f"duration={c['duration']} is not allowed at resolution={c['resolution']}",
        "duration",
    )


def _break_duration_with_references(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    allowed = caps.reference_durations
    kinds = caps.reference_types if caps.reference_types is not None else REFERENCE_TYPES
    if allowed is None or not _allows(caps, Modality.REFERENCE_TO_VIDEO) or not kinds:
        return None
    seconds = [d for d in (caps.durations if caps.durations is not None else range(1, 21)) if d not in allowed]
    if not seconds:
        return None
    update = st.builds(
        lambda kind, d: {"input_references": [reference(kind, REFERENCE_URLS[kind])], "duration": d},
        st.sampled_from(tuple(kinds)),
        st.sampled_from(seconds),
    )
    return _case(
        requests_for(caps),
        update,
        lambda c: f"duration={c['duration']} is not allowed with input_references (only {allowed})",
        "duration",
    )


def _break_choice(
    caps: Capabilities, name: str, supported: Sequence[str] | None, known: Sequence[str], odd: Sequence[str]
) -> SearchStrategy[InvalidCase]:
    pool = [v for v in (*known, *odd) if supported is not None and v not in supported] if supported else list(odd)
    if supported is None:
        pool = [v for v in odd if v not in known]
    return _case(
        requests_for(caps),
        st.sampled_from(pool).map(lambda v: {name: v, "size": None}),
        lambda c: f"{name}={c[name]!r} is not supported ({'one of ' + str(supported) if supported else 'unknown'})",
        name,
    )


def _break_resolution(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    return _break_choice(caps, "resolution", caps.resolutions, RESOLUTIONS, ("1080P", "8K", "720"))


def _break_aspect_ratio(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    return _break_choice(caps, "aspect_ratio", caps.aspect_ratios, ASPECT_RATIOS, ("16:10", "4:5", "16x9"))


def _break_size(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    if caps.sizes is None:
        return None
    bad = _not_in(caps.sizes, st.sampled_from((*SIZES, "1024x1024", "333x777")))
    return _case(
        requests_for(caps),
        bad.map(lambda s: {"size": s, "resolution": None, "aspect_ratio": None}),
        lambda c: f"size={c['size']!r} is not one of {caps.sizes}",
        "size",
    )


def _break_size_format(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    bad = st.sampled_from(("1280×720", "big", "1280x", "0x720", "1280 x 720"))
    return _case(
        requests_for(caps),
        bad.map(lambda s: {"size": s, "resolution": None, "aspect_ratio": None}),
        lambda c: f"size={c['size']!r} is not WIDTHxHEIGHT",
        "size",
        InvalidRequest,
    )


def _break_size_and_resolution(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    sizes = _choice(caps.sizes, SIZES)
    resolutions = _choice(caps.resolutions, RESOLUTIONS)
    if sizes is None or resolutions is None:
        return None
    update = st.builds(lambda s, r: {"size": s, "resolution": r, "aspect_ratio": None}, sizes, resolutions)
    return _case(
        requests_for(caps),
        update,
        lambda c: f"both size={c['size']!r} and resolution={c['resolution']!r}",
        "size",
        InvalidRequest,
    )


def _break_audio(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    if caps.audio is not False:
        return None
    update = st.just({"generate_audio": True})
    return _case(requests_for(caps), update, lambda c: "generate_audio=True on a silent model", "generate_audio")


def _break_seed(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    if caps.seed is not False:
        return None
    return _case(
        requests_for(caps),
        st.integers(0, 2**31 - 1).map(lambda s: {"seed": s}),
        lambda c: f"seed={c['seed']} on a model without seed",
        "seed",
    )


def _break_frames_modality(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    if _allows(caps, Modality.IMAGE_TO_VIDEO):
        return None
    frame = FrameImage(image_url=URLRef(url=IMAGE_URLS[0]), frame_type="first_frame")
    changes: tuple[dict[str, Any], ...] = ({"frame_images": [frame]}, {"image_url": IMAGE_URLS[0]})
    update = st.sampled_from(changes)
    return _case(requests_for(caps), update, lambda c: "a frame image on a text-only model", "frame_images")


def _break_frame_type(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    if not _allows(caps, Modality.IMAGE_TO_VIDEO) or caps.frame_images == ():
        return None
    supported = caps.frame_images
    pool = [k for k in (*FRAME_TYPES, "middle_frame") if supported is not None and k not in supported]
    if supported is None:
        pool = ["middle_frame"]
    update = st.sampled_from(pool).map(
        lambda kind: {"frame_images": [FrameImage(image_url=URLRef(url=IMAGE_URLS[0]), frame_type=kind)]}
    )
    return _case(
        requests_for(caps),
        update,
        lambda c: f"frame_type={c['frame_images'][0].frame_type!r} is not supported",
        "frame_images.frame_type",
    )


def _break_references_modality(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    if _allows(caps, Modality.REFERENCE_TO_VIDEO):
        return None
    update = st.just({"input_references": [reference("image_url", REFERENCE_URLS["image_url"])]})
    return _case(requests_for(caps), update, lambda c: "a reference on a model without references", "input_references")


def _break_reference_type(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    supported = caps.reference_types
    if not _allows(caps, Modality.REFERENCE_TO_VIDEO) or supported is None:
        return None
    pool = [k for k in REFERENCE_TYPES if k not in supported]
    if not pool:
        return None
    update = st.sampled_from(pool).map(lambda kind: {"input_references": [reference(kind, REFERENCE_URLS[kind])]})
    return _case(
        requests_for(caps),
        update,
        lambda c: f"reference type {c['input_references'][0].type!r} is not supported",
        "input_references.type",
    )


def _break_callback(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    update = st.sampled_from(("http://hooks.example.test/done", "hooks.example.test/done")).map(
        lambda url: {"callback_url": url}
    )
    return _case(
        requests_for(caps),
        update,
        lambda c: f"callback_url={c['callback_url']!r} is not https",
        "callback_url",
        InvalidRequest,
    )


def _break_passthrough(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    if not caps.passthrough_parameters:
        return None
    slug = _slug(caps)
    update = st.just({"provider_options": {slug: {"parameters": {NOT_ALLOWED: 1}}}})
    return _case(
        requests_for(caps),
        update,
        lambda c: f"passthrough parameter {NOT_ALLOWED!r} under {slug!r} is not one of {caps.passthrough_parameters}",
        f"provider_options.{slug}.parameters",
    )


def _break_prompt(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    update = st.just({"prompt": None, "image_url": None, "frame_images": None, "input_references": None})
    return _case(requests_for(caps), update, lambda c: "no prompt, no frame image, no reference", "prompt")


def _break_prompt_required(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    frames = _frames(caps)
    if not caps.prompt_required or frames is None:
        return None
    update = frames.map(lambda f: {"prompt": None, "frame_images": f, "image_url": None})
    return _case(requests_for(caps), update, lambda c: "no prompt on a model that requires one", "prompt")


def _break_first_frame_twice(caps: Capabilities) -> SearchStrategy[InvalidCase] | None:
    if not _allows(caps, Modality.IMAGE_TO_VIDEO) or (
        caps.frame_images is not None and "first_frame" not in caps.frame_images
    ):
        return None
    frame = FrameImage(image_url=URLRef(url=IMAGE_URLS[0]), frame_type="first_frame")
    update = st.just({"image_url": IMAGE_URLS[1], "frame_images": [frame]})
    return _case(
        requests_for(caps),
        update,
        lambda c: "image_url and a first_frame frame image both set the first frame",
        "image_url",
        InvalidRequest,
    )


_BREAKERS: tuple[_Breaker, ...] = (
    _break_prompt,
    _break_duration,
    _break_duration_at_resolution,
    _break_duration_with_references,
    _break_resolution,
    _break_aspect_ratio,
    _break_size,
    _break_size_format,
    _break_size_and_resolution,
    _break_audio,
    _break_seed,
    _break_frames_modality,
    _break_frame_type,
    _break_references_modality,
    _break_reference_type,
    _break_callback,
    _break_passthrough,
    _break_prompt_required,
    _break_first_frame_twice,
)


def invalid_cases_for(capabilities: Capabilities) -> SearchStrategy[InvalidCase]:
    """Requests breaking exactly one rule that applies to `capabilities`, with the rule and the expected error."""
    options = [s for s in (breaker(capabilities) for breaker in _BREAKERS) if s is not None]
    return st.one_of(options)


def invalid_requests_for(capabilities: Capabilities) -> SearchStrategy[VideoRequest]:
    """Requests that `validate_request` refuses, each breaking exactly one rule."""
    return invalid_cases_for(capabilities).map(lambda case: case.request)


# -- backend behaviours -----------------------------------------------------------------------


def job_ids() -> SearchStrategy[str]:
    """Job ids: the plain `job-1`, OpenRouter's shape, and odd but URL-safe ones."""
    return st.sampled_from(("job-1", "gen-vid-1767225600-AbCdEfGhIjKlMnOpQrSt")) | st.from_regex(
        r"[A-Za-z0-9][A-Za-z0-9._~-]{0,40}", fullmatch=True
    )


@st.composite
def _http_error(draw: st.DrawFn, statuses: Sequence[int], retry_after_on: Sequence[int]) -> HttpError:
    status = draw(st.sampled_from(tuple(statuses)))
    message = draw(st.sampled_from(SERVER_MESSAGES))
    retry_after = draw(_maybe(st.sampled_from(RETRY_AFTERS))) if status in retry_after_on else None
    return HttpError(status, message, retry_after)


def http_errors(
    statuses: Sequence[int] = ERROR_STATUSES, *, retry_after_on: Sequence[int] = RETRY_AFTER_STATUSES
) -> SearchStrategy[HttpError]:
    """HTTP errors with a server message, and sometimes a Retry-After on the statuses that may carry one."""
    return _http_error(statuses, retry_after_on)


def malformed(phase: Phase) -> SearchStrategy[Malformed | Truncated]:
    """Bodies that are certainly broken for `phase`, and truncation."""
    kinds = DOWNLOAD_MALFORMED if phase == "download" else JSON_MALFORMED
    return st.sampled_from(kinds).map(Malformed) | st.just(Truncated())


def _delays(max_seconds: int = 30) -> SearchStrategy[Delay]:
    return st.integers(1, max_seconds).map(lambda s: Delay(float(s)))


def outcomes(phase: Phase) -> SearchStrategy[Outcome]:
    """Anything `phase` may answer, `Ok` first."""
    options: list[SearchStrategy[Outcome]] = [
        st.just(OK),
        http_errors(),
        st.just(ConnectError()),
        _delays(),
        malformed(phase),
    ]
    if phase != "download":
        options.append(st.builds(Mutated, how=st.sampled_from(("drop", "null", "retype")), pick=st.integers(0, 40)))
    return st.one_of(options)


def transient_outcomes(phase: Phase) -> SearchStrategy[Outcome]:
    """Failures the engine retries at `phase` (so a job still ends in a video), and slow answers.

    submit: 429 and connection errors only (nothing else proves the job was not created);
    poll: 429, 5xx, connection errors, unreadable bodies; download: 429, 409, 5xx, connection errors,
    truncation.
    """
    if phase == "submit":
        return http_errors((429,)) | st.just(ConnectError())
    if phase == "poll":
        return st.one_of(http_errors((429, 500, 502, 503)), st.just(ConnectError()), malformed("poll"), _delays())
    if phase == "download":
        errors = http_errors((429, 409, 500, 502, 503))
        return st.one_of(errors, st.just(ConnectError()), st.just(Truncated()), _delays())
    return st.just(OK)


def scripts(
    outcome: SearchStrategy[Outcome], *, max_first: int = 3, then: SearchStrategy[Outcome] | None = None
) -> SearchStrategy[Script]:
    """`max_first` outcomes drawn from `outcome`, then `then` (default: `Ok`) for every later request."""
    return st.builds(
        Script,
        first=st.lists(outcome, max_size=max_first).map(tuple),
        then=then if then is not None else st.just(OK),
    )


def status_paths(
    final: Sequence[StatusName] = TERMINAL_STATUSES, *, max_running: int = 4
) -> SearchStrategy[tuple[StatusName, ...]]:
    """Up to `max_running` pending/in_progress states, then one of `final` (which repeats)."""
    return st.builds(
        lambda running, last: (*running, last),
        st.lists(st.sampled_from(RUNNING_STATUSES), max_size=max_running),
        st.sampled_from(tuple(final)),
    )


def videos(max_size: int = 3000) -> SearchStrategy[bytes]:
    """Output bytes: an MP4-looking header, then anything."""
    return st.binary(max_size=max_size).map(lambda tail: MP4_HEAD + tail)


def costs() -> SearchStrategy[Decimal | None]:
    return st.sampled_from((Decimal("0.40"), None, Decimal("0"), Decimal("3.20"), Decimal("0.0125"))) | st.decimals(
        min_value=0, max_value=500, places=4, allow_nan=False, allow_infinity=False
    )


@st.composite
def _scenario(
    draw: st.DrawFn,
    submit: SearchStrategy[Script],
    polls: SearchStrategy[Script],
    download: SearchStrategy[Script],
    models: SearchStrategy[Script],
    statuses: SearchStrategy[tuple[StatusName, ...]],
    outputs: SearchStrategy[tuple[bytes, ...]],
    download_origins: SearchStrategy[str],
    signed_urls: SearchStrategy[bool],
    redirect_download: SearchStrategy[bool],
    extra_fields: SearchStrategy[bool],
) -> Scenario:
    path = draw(statuses)
    failing = path[-1] in FAILURE_STATUSES
    return Scenario(
        job_id=draw(job_ids()),
        submit=draw(submit),
        polls=draw(polls),
        statuses=path,
        download=draw(download),
        models=draw(models),
        outputs=draw(outputs),
        cost=draw(costs()),
        job_error=draw(_maybe(st.sampled_from(JOB_ERRORS))) if failing else None,
        download_origin="foreign" if draw(download_origins) == "foreign" else "provider",
        signed_urls=draw(signed_urls),
        redirect_download=draw(redirect_download),
        extra_fields=draw(extra_fields),
    )


def _outputs() -> SearchStrategy[tuple[bytes, ...]]:
    return st.just((DEFAULT_VIDEO,)) | st.lists(videos(), min_size=1, max_size=2).map(tuple)


def scenarios(
    *,
    submit: SearchStrategy[Script] | None = None,
    polls: SearchStrategy[Script] | None = None,
    download: SearchStrategy[Script] | None = None,
    models: SearchStrategy[Script] | None = None,
    statuses: SearchStrategy[tuple[StatusName, ...]] | None = None,
    outputs: SearchStrategy[tuple[bytes, ...]] | None = None,
    download_origins: SearchStrategy[str] | None = None,
    signed_urls: SearchStrategy[bool] | None = None,
    redirect_download: SearchStrategy[bool] | None = None,
    extra_fields: SearchStrategy[bool] | None = None,
) -> SearchStrategy[Scenario]:
    """Backend behaviours over one job. Every argument left out means "anything": any outcome at
    any phase (persistent ones included), any status path (also one that never ends), outputs, cost,
    download URLs on either origin, signed or not, redirects, unknown fields.
    """

    def anything(phase: Phase) -> SearchStrategy[Script]:
        return scripts(outcomes(phase), max_first=3, then=st.just(OK) | outcomes(phase))

    return _scenario(
        submit=submit if submit is not None else anything("submit"),
        polls=polls if polls is not None else anything("poll"),
        download=download if download is not None else anything("download"),
        models=models if models is not None else anything("models"),
        statuses=statuses if statuses is not None else status_paths() | status_paths(RUNNING_STATUSES, max_running=2),
        outputs=outputs if outputs is not None else _outputs(),
        download_origins=download_origins if download_origins is not None else st.sampled_from(("provider", "foreign")),
        signed_urls=signed_urls if signed_urls is not None else st.booleans(),
        redirect_download=redirect_download if redirect_download is not None else st.booleans(),
        extra_fields=extra_fields if extra_fields is not None else st.booleans(),
    )


def successful_scenarios(
    options: EngineOptions | None = None, *, final: Sequence[StatusName] = ("completed",)
) -> SearchStrategy[Scenario]:
    """Behaviours that still end in `final` (a video, by default): only failures the engine retries,
    within its retry budgets, a few slow answers, download URLs on either origin, unknown fields.
    """
    budgets = options or EngineOptions()
    return scenarios(
        submit=scripts(transient_outcomes("submit"), max_first=budgets.submit_retries),
        polls=scripts(transient_outcomes("poll"), max_first=min(3, budgets.poll_retries)),
        download=scripts(transient_outcomes("download"), max_first=budgets.download_retries),
        models=st.just(Script()),
        statuses=status_paths(final),
        redirect_download=st.just(False),
    )
