"""Prices that depend on the request: a model billed per second at different rates by resolution and audio.

A cost guard that assumes the dearest rate refuses cheap requests; one that assumes the cheapest
lets dear ones through. So each rate is a `PriceRule` with the conditions under which it
applies, and `estimate` picks the rule for the request's resolution, audio and size. When the
request leaves a price-relevant field unset and the provider's default is unknown, every value
the field could take is priced and the dearest wins, and the estimate says which fields it assumed.

Providers publish rates as SKU names; `rules_from_skus` reads the grammar OpenRouter's
`pricing_skus` use (`duration_seconds`, `duration_seconds_with_audio_1080p`,
`text_to_video_duration_seconds_720p`, `cents_per_second_output`, this project's catalog's
`per_second` / `per_second_with_audio`, …). SKUs that are not per second of output (tokens,
per image, per video) are left out: they cannot be priced from a duration.

The duration is the request's; when it gives none, `Capabilities.estimate` decides which to price: the
provider's declared `default_duration`, else the longest the request could get (listed as "duration" in
`CostEstimate.assumed`), and in both cases one its resolution allows (`durations_by_resolution`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CostEstimate",
    "InputMode",
    "PriceRule",
    "estimate",
    "format_usd",
    "normalize_resolution",
    "resolution_height",
    "rules_from_skus",
]

InputMode = Literal["text-to-video", "image-to-video"]


def format_usd(amount: Decimal | None) -> str:
    """``$4.20``, ``$0.0005``: money as a plain decimal with at least cents (never ``$1E-7`` nor ``$4.2``);
    ``unknown`` when there is no amount. Every message and summary that shows money uses it."""
    if amount is None:
        return "unknown"
    whole, _, cents = f"{amount:f}".partition(".")
    return f"${whole}.{cents.rstrip('0').ljust(2, '0')}"


_RESOLUTION = re.compile(r"^(\d{3,4})p$|^(\d)k$")
_SIZE = re.compile(r"^(\d+)x(\d+)$")
#: Pixel heights of the `K` resolution names.
_K_HEIGHTS = {"1K": 1080, "2K": 1440, "4K": 2160, "8K": 4320}
#: Any value of a field that no rule names (a rule conditioned on the field then does not apply).
_OTHER = "\0other"


def normalize_resolution(value: str) -> str | None:
    """`720p`, `720P` → `720p`; `4k`, `4K` → `4K`; None for anything else."""
    match = _RESOLUTION.match(value.strip().lower())
    if not match:
        return None
    return f"{match.group(1)}p" if match.group(1) else f"{match.group(2)}K"


def resolution_height(value: str) -> float | None:
    """The pixel height a resolution names: `720p` → 720, `4K` → 2160; None for anything else."""
    text = str(value).strip()
    if text[-1:] in ("p", "P") and text[:-1].isdigit():
        return float(text[:-1])
    height = _K_HEIGHTS.get(text.upper())
    return float(height) if height is not None else None


class PriceRule(BaseModel):
    """USD per second of output, and when it applies (a condition left None applies to any value)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    price_per_second: Decimal = Field(ge=0)
    resolution: str | None = Field(default=None, description="e.g. 720p, 4K")
    audio: bool | None = Field(default=None, description="with (True) or without (False) generated audio")
    size: str | None = Field(default=None, description="WIDTHxHEIGHT")
    mode: InputMode | None = Field(default=None, description="text-to-video, or image-to-video (frame images)")
    sku: str | None = Field(default=None, description="the provider's SKU name this rule was read from")

    @property
    def specificity(self) -> int:
        return sum(c is not None for c in (self.resolution, self.audio, self.size, self.mode))

    def applies(self, resolution: str, audio: bool | str, size: str, mode: str) -> bool:
        resolution_ok = self.resolution is None or normalize_resolution(self.resolution) == resolution
        return (
            resolution_ok
            and (self.audio is None or self.audio == audio)
            and (self.size is None or self.size == size)
            and (self.mode is None or self.mode == mode)
        )

    def applies_loosely(self, resolution: str, audio: bool | str, size: str, mode: str) -> bool:
        """`applies`, with a value no rule names (`_OTHER`) matching any condition on that field."""
        return self.applies(
            (normalize_resolution(self.resolution) or self.resolution)
            if resolution == _OTHER and self.resolution
            else resolution,
            self.audio if audio == _OTHER and self.audio is not None else audio,
            self.size if size == _OTHER and self.size else size,
            self.mode if mode == _OTHER and self.mode else mode,
        )


class CostEstimate(BaseModel):
    """What a request is expected to cost, the rule used, and what had to be assumed."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    amount: Decimal
    price_per_second: Decimal
    duration: int
    sku: str | None = None
    assumed: tuple[str, ...] = Field(
        default=(),
        description=(
            "price-relevant fields left unset and priced at their dearest value ('duration': the longest the "
            "request could get, when the provider declares no default)"
        ),
    )

    @property
    def exact(self) -> bool:
        return not self.assumed

    def describe(self) -> str:
        """One line, e.g. `$1.60 (4 s × $0.40/s)`, `$2.00 (4 s × $0.50/s; dearest rate assumed: generate_audio
        unset)` or `$3.20 (8 s × $0.40/s; longest duration assumed: duration unset)`."""
        text = f"{format_usd(self.amount)} ({self.duration} s × {format_usd(self.price_per_second)}/s"
        rates = [field for field in self.assumed if field != "duration"]
        if rates:
            text += f"; dearest rate assumed: {', '.join(rates)} unset"
        if "duration" in self.assumed:
            text += "; longest duration assumed: duration unset"
        return text + ")"


def rules_from_skus(skus: Mapping[str, object] | None) -> tuple[PriceRule, ...]:
    """Per-second price rules from provider SKUs such as `{"duration_seconds_without_audio_720p": "0.10"}`.

    Unparsable, negative and non-per-second SKUs are skipped. A qualifier this parser does not know
    (e.g. `_with_video_input`) is not dropped silently: the rule is kept without it, so it competes
    with the plain rule and the dearer one is used (an over-estimate, never an under-estimate).
    """
    rules: list[PriceRule] = []
    for name, raw in (skus or {}).items():
        rule = _rule_from_sku(str(name), raw)
        if rule is not None:
            rules.append(rule)
    return tuple(rules)


def _rule_from_sku(name: str, raw: object) -> PriceRule | None:
    words = [w for w in re.split(r"[_\-\s]+", name.strip().lower()) if w]
    if "second" not in words and "seconds" not in words:
        return None
    if "token" in words or "tokens" in words:
        return None  # billed per token: not a price per second of output
    try:
        price = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    if not price.is_finite() or price < 0:
        return None
    if "cents" in words:
        price = price / 100
    resolution: str | None = None
    size: str | None = None
    audio: bool | None = None
    mode: InputMode | None = None
    for a, b, c in zip(words, words[1:], words[2:], strict=False):
        if (a, b, c) == ("text", "to", "video"):
            mode = "text-to-video"
        elif (a, b, c) == ("image", "to", "video"):
            mode = "image-to-video"
    for i, word in enumerate(words):
        previous = words[i - 1] if i else ""
        if word == "audio":
            if previous in ("with",):
                audio = True
            elif previous in ("without", "no"):
                audio = False
        elif word == "silent":
            audio = False
        elif normalize_resolution(word) is not None:
            resolution = normalize_resolution(word)
        elif _SIZE.match(word):
            size = word
    return PriceRule(price_per_second=price, resolution=resolution, audio=audio, size=size, mode=mode, sku=name)


def estimate(
    rules: Iterable[PriceRule],
    duration: int | None,
    *,
    resolution: str | None = None,
    audio: bool | None = None,
    size: str | None = None,
    mode: InputMode | None = None,
    resolutions: Iterable[str] | None = None,
    sizes: Iterable[str] | None = None,
    audio_possible: bool | None = None,
) -> CostEstimate | None:
    """The cost of `duration` seconds under the rule that applies; None when there is no price or duration.

    `resolution`, `audio`, `size` and `mode` are what the request (or the provider's known default)
    fixes; None means unknown. `resolutions` / `sizes` are the values the model supports (the
    unknown field can only take those); `audio_possible=False` says the model makes no audio.
    In each combination of the values the unknown fields could take, the most specific rule that
    applies is used (a tie goes to the dearer); the estimate is the dearest combination.
    """
    rules = tuple(rules)
    if not rules or duration is None:
        return None
    if size is not None and resolution is None:
        resolution = _resolution_of_size(size, rules, resolutions)
    named_resolutions = {r for rule in rules if rule.resolution and (r := normalize_resolution(rule.resolution))}
    named_sizes = {rule.size for rule in rules if rule.size}
    assumed: list[str] = []

    def choices(value: str | None, supported: Iterable[str] | None, named: set[str], field: str) -> list[str]:
        if value is not None:
            return [value]
        if not named:
            return [_OTHER]
        assumed.append(field)
        return sorted(set(supported)) if supported is not None else [*sorted(named), _OTHER]

    resolution_key = (normalize_resolution(resolution) or resolution) if resolution is not None else None
    supported_res = None if resolutions is None else [normalize_resolution(r) or r for r in resolutions]
    res_values = choices(resolution_key, supported_res, named_resolutions, "resolution")
    size_values = choices(size, sizes, named_sizes, "size")
    if audio is None and audio_possible is False:
        audio = False
    audio_values: list[bool | str]
    if audio is not None:
        audio_values = [audio]
    elif any(rule.audio is not None for rule in rules):
        audio_values = [True, False]
        assumed.append("generate_audio")
    else:
        audio_values = [_OTHER]
    mode_values: list[str] = [mode] if mode is not None else ["text-to-video", "image-to-video"]
    if mode is None and any(rule.mode is not None for rule in rules):
        assumed.append("input mode")

    best: PriceRule | None = None
    dearest = max(rules, key=lambda r: r.price_per_second)
    outcomes: set[Decimal] = set()
    for res, aud, siz, mod in itertools.product(res_values, audio_values, size_values, mode_values):
        matching = [rule for rule in rules if rule.applies(res, aud, siz, mod)]
        if matching:
            chosen = max(matching, key=lambda r: (r.specificity, r.price_per_second))
        else:  # no rule names this value: the dearest rate that does not contradict what is known
            loose = [r for r in rules if r.applies_loosely(res, aud, siz, mod)]
            chosen = max(loose, key=lambda r: r.price_per_second) if loose else dearest
        outcomes.add(chosen.price_per_second)
        if best is None or chosen.price_per_second > best.price_per_second:
            best = chosen
    assert best is not None
    # An unknown field that does not change the price was not an assumption after all.
    shown = tuple(assumed) if len(outcomes) > 1 else ()
    return CostEstimate(
        amount=best.price_per_second * duration,
        price_per_second=best.price_per_second,
        duration=duration,
        sku=best.sku,
        assumed=shown,
    )


def _resolution_of_size(size: str, rules: tuple[PriceRule, ...], resolutions: Iterable[str] | None) -> str | None:
    """1280x720 → 720p, when some rule or the model names that resolution (else it stays unknown)."""
    match = _SIZE.match(size.strip().lower())
    if not match:
        return None
    candidate = f"{min(int(match.group(1)), int(match.group(2)))}p"
    known = {normalize_resolution(r.resolution) for r in rules if r.resolution}
    known |= {normalize_resolution(r) for r in resolutions or ()}
    return candidate if candidate in known else None
