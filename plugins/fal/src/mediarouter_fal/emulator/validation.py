"""Input checks per catalog model, answered the way fal's model servers answer: 422 with a `detail` list.

Each entry names the input (`loc: ["body", field]`), says what was wrong (`msg`), gives a machine
type and, for choices, the allowed values in `ctx.expected`. Stricter than fal may be in one way:
an input the model does not take is refused (`extra_forbidden`), so a mapping mistake shows up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..catalog import DurationStyle, FalModel

__all__ = ["Submission", "check_input"]


@dataclass(frozen=True)
class Submission:
    """What the emulator needs from a valid input to render the video."""

    duration_s: float
    aspect_ratio: str | None
    with_audio: bool
    seed: int | None


def _problem(field: str, msg: str, kind: str, value: Any = None, **ctx: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"loc": ["body", field], "msg": msg, "type": kind}
    if value is not None:
        entry["input"] = value
    if ctx:
        entry["ctx"] = ctx
    return entry


def _choice(field: str, value: Any, allowed: list[Any]) -> dict[str, Any] | None:
    if value in allowed:
        return None
    listed = ", ".join(repr(v) for v in allowed)
    return _problem(field, f"Input should be {listed}", "literal_error", value, expected=listed)


def _known_fields(model: FalModel) -> set[str]:
    m = model.inputs
    fields = {"prompt", *(model.capabilities.passthrough_parameters or ())}
    if m.duration is not None:
        fields.add(m.duration_field)
    if m.duration is DurationStyle.FRAMES:
        fields.add("frames_per_second")
    for name in (
        m.resolution_field,
        m.aspect_ratio_field,
        m.generate_audio_field,
        m.seed_field,
        m.first_frame_field,
        m.last_frame_field,
    ):
        if name is not None:
            fields.add(name)
    return fields


def _duration(model: FalModel, body: dict[str, Any], problems: list[dict[str, Any]]) -> float:
    m, caps = model.inputs, model.capabilities
    default = float(m.default_duration or (caps.durations or (5,))[0])
    if m.duration is None or m.duration_field not in body:
        return default
    value = body[m.duration_field]
    seconds = list(caps.durations or ())
    if m.duration is DurationStyle.FRAMES:
        fps = body.get("frames_per_second", m.frames_per_second)
        low, high = m.frames_range or (min(seconds) * fps + 1, max(seconds) * fps + 1)  # fal's own range
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(
                _problem(
                    m.duration_field,
                    f"Input should be an integer from {low} to {high}",
                    "int_range",
                    value,
                    ge=low,
                    le=high,
                )
            )
            return default
        return float((value - 1) / fps)
    if m.duration is DurationStyle.SECONDS_SUFFIX:
        allowed: list[Any] = [f"{s}s" for s in seconds]
    elif m.duration is DurationStyle.STRING:
        allowed = [str(s) for s in seconds]
    else:
        allowed = list(seconds)
    problem = _choice(m.duration_field, value, allowed)
    if problem is not None:
        problems.append(problem)
        return default
    return float(str(value).rstrip("s"))


def check_input(model: FalModel, body: Any) -> tuple[Submission | None, list[dict[str, Any]]]:
    """The submission, or the 422 `detail` entries saying what is wrong with the input."""
    if not isinstance(body, dict):
        return None, [_problem("", "Input should be a valid dictionary", "dict_type")]
    m, caps = model.inputs, model.capabilities
    problems: list[dict[str, Any]] = []
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        words = "Field required" if prompt is None else "Input should be a non-empty string"
        problems.append(_problem("prompt", words, "missing" if prompt is None else "string_type"))
    for name in sorted(set(body) - _known_fields(model)):
        problems.append(_problem(name, "Extra inputs are not permitted", "extra_forbidden", body[name]))
    duration_s = _duration(model, body, problems)
    if m.resolution_field is not None and m.resolution_field in body:
        wire = [m.resolution_values.get(r, r) for r in caps.resolutions or ()]
        problem = _choice(m.resolution_field, body[m.resolution_field], wire)
        if problem is not None:
            problems.append(problem)
    ratio = None
    if m.aspect_ratio_field is not None and m.aspect_ratio_field in body:
        ratio = body[m.aspect_ratio_field]
        problem = _choice(m.aspect_ratio_field, ratio, list(caps.aspect_ratios or ()))
        if problem is not None:
            problems.append(problem)
    audio = bool(caps.audio)
    if m.generate_audio_field is not None and m.generate_audio_field in body:
        value = body[m.generate_audio_field]
        if not isinstance(value, bool):
            problems.append(_problem(m.generate_audio_field, "Input should be a valid boolean", "bool_type", value))
        else:
            audio = value
    seed = body.get(m.seed_field) if m.seed_field else None
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        problems.append(_problem(str(m.seed_field), "Input should be a valid integer", "int_type", seed))
        seed = None
    for name in (m.first_frame_field, m.last_frame_field):
        if name is not None and name in body and not _is_url(body[name]):
            problems.append(_problem(name, "Input should be a valid URL", "url_parsing", body[name]))
    if m.requires_first_frame and m.first_frame_field not in body:
        problems.append(_problem(str(m.first_frame_field), "Field required", "missing"))
    if problems:
        return None, problems
    return Submission(duration_s=duration_s, aspect_ratio=ratio, with_audio=audio, seed=seed), []


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://", "data:"))
