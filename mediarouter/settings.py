"""Core settings: `MEDIAROUTER_*` environment variables over the optional TOML config file.

Providers read their own settings (e.g. OPENROUTER_API_KEY); secrets never live here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from .config import ALIASES_TABLE, CONFIG_ENV, ROUTER_TABLE, ConfigFileSource, ConfigLocation, config_location
from .errors import ConfigurationError
from .limits import KINDS
from .request import DEFAULT_MAX_BODY_BYTES

__all__ = [
    "FitPolicy",
    "FIT_POLICIES",
    "MediaRouterSettings",
    "ProviderConcurrency",
    "load_settings",
    "settings_error",
]

ENV_PREFIX = "MEDIAROUTER_"
ALIASES_FIELD = ALIASES_TABLE
PROVIDER_CONCURRENCY_FIELD = "provider_concurrency"

#: How a candidate whose capabilities do not fit the request is treated (see mediarouter/fitting.py).
FitPolicy = Literal["strict", "adjust", "skip"]
FIT_POLICIES: tuple[FitPolicy, ...] = ("strict", "adjust", "skip")


class ProviderConcurrency(BaseModel):
    """One provider's own queue limits (`[router.provider_concurrency.NAME]`); a field left out keeps the
    router-wide default (`max_concurrent_requests` / `_jobs` / `_downloads`)."""

    model_config = ConfigDict(extra="forbid")

    requests: int | None = Field(default=None, gt=0, description="HTTP exchanges (submit, poll) in flight")
    jobs: int | None = Field(default=None, gt=0, description="jobs from submit to download")
    downloads: int | None = Field(default=None, gt=0, description="downloads in flight")

    @field_validator("requests", "jobs", "downloads", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # `jobs = true` would otherwise pass as 1
            raise ValueError("must be a whole number greater than 0, not true/false")
        return value


#: The poll interval of emulated runs (`--emulator`, `Router(emulator=True)`) when none is configured: an
#: emulated job ends after a few polls, and polling it every 10 s would only make people wait.
EMULATOR_POLL_INTERVAL = 0.2


class MediaRouterSettings(BaseSettings):
    """Every core setting. Precedence: keyword arguments, then `MEDIAROUTER_*`, then the config file."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    config_file: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("config_file", CONFIG_ENV.lower()),
        description="the TOML config file (MEDIAROUTER_CONFIG; default: the platform's user config dir)",
    )
    default_model: str = Field(
        default="openrouter/google/veo-3.1", description="ref or alias used when no model is given"
    )
    # First poll at 20 s (2 x poll_interval: no video job is done sooner), then every 10 s: completion is
    # seen 6.7 % of job time late on average with 11.7 polls for 20 s-10 min jobs (was 10 s x1.25 to 15 s:
    # 10.3 %, 9.1 polls), never more often than OpenRouter's documented 10-30 s. 5 s x1.04 to 20 s reaches
    # 4.8 % with 14.4 polls. benchmarks/poll_schedule.py, docs/jobs.md "Polling schedule".
    first_poll: float | None = Field(
        default=None, gt=0, description="seconds before the first poll after a submit (default: 2 x poll_interval)"
    )
    poll_interval: float = Field(default=10.0, gt=0, description="seconds between the first polls")
    poll_growth: float = Field(default=1.25, ge=1.0, description="each later wait is the previous one times this")
    max_poll_interval: float = Field(default=10.0, gt=0, description="polling slows down to at most this")
    timeout: float = Field(default=600.0, gt=0, description="overall deadline of a call: every candidate's jobs")
    request_timeout: float = Field(default=120.0, gt=0, description="one HTTP exchange")
    aliases: dict[str, str | list[str]] = Field(
        default_factory=dict, description="name → ref, or an ordered list of refs/aliases (a failover chain)"
    )
    fit: FitPolicy = Field(default="skip", description="strict | adjust | skip: candidates that do not fit")
    cooldown: float = Field(
        default=60.0, ge=0, description="seconds a candidate that failed with 429/5xx/402 is skipped (0: off)"
    )
    max_cost: Decimal | None = Field(default=None, ge=0, description="USD; refuse candidates estimated above it")
    max_request_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        gt=0,
        description="bytes; a request body over it (data: URLs, local files) is refused before the submit",
    )
    # At volume: 1,000 calls at once must queue, not fail (benchmarks/volume.py, docs/jobs.md "Volume").
    max_concurrent_requests: int = Field(
        default=64,
        gt=0,
        description="HTTP exchanges (submit, poll) in flight per provider; more wait their turn, "
        "and the wait is not part of request_timeout",
    )
    # Downloads queue apart from requests, so a minutes-long transfer never holds a slot a poll waits for.
    # 8 streams fill a link (more share the same bandwidth, each finishing later); 64 + 8 stays below the
    # provider client's 100 pooled connections. docs/jobs.md "Volume".
    max_concurrent_downloads: int = Field(
        default=8,
        gt=0,
        description="downloads in flight per provider; more wait their turn, and the wait is not part of "
        "request_timeout",
    )
    max_concurrent_jobs: int | None = Field(
        default=None,
        gt=0,
        description="jobs per provider from submit to download (unset: no limit); more wait before their "
        "submit, and the wait is not part of timeout",
    )
    provider_concurrency: dict[str, ProviderConcurrency] = Field(
        default_factory=dict,
        description='one provider\'s own limits, e.g. {"fal": {"requests": 8, "jobs": 2}} '
        "(fields: requests, jobs, downloads; unset: the max_concurrent_* default)",
    )
    journal: str | None = Field(
        default=None,
        description="job journal: a SQLite file, a postgresql:// URL, ':memory:' or 'off' "
        "(MEDIAROUTER_JOURNAL; default: user data dir)",
    )

    @field_validator("config_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("aliases")
    @classmethod
    def _check_aliases(cls, aliases: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for name, target in aliases.items():
            if not name or "/" in name or name != name.strip():
                raise ValueError(f"alias name {name!r} must be non-empty, without '/' or surrounding spaces")
            targets = [target] if isinstance(target, str) else target
            if not targets or any(not t.strip() for t in targets):
                raise ValueError(f"alias {name!r} must name at least one ref, and no empty ones")
        return aliases

    @field_validator(PROVIDER_CONCURRENCY_FIELD)
    @classmethod
    def _check_provider_names(cls, limits: dict[str, ProviderConcurrency]) -> dict[str, ProviderConcurrency]:
        for name in limits:
            if not name or "/" in name or name != name.strip():
                raise ValueError(f"provider name {name!r} must be non-empty, without '/' or surrounding spaces")
        return limits

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        given = getattr(init_settings, "init_kwargs", {}).get("config_file")
        location = config_location(given)
        return init_settings, env_settings, ConfigFileSource(settings_cls, location)

    @property
    def config_location(self) -> ConfigLocation:
        """The config file these settings were read from (or would be)."""
        from_env = config_location()
        if from_env.explicit and (from_env.path is None or from_env.path == self.config_file):
            return from_env
        return config_location(self.config_file) if self.config_file is not None else from_env


def load_settings(**overrides: Any) -> MediaRouterSettings:
    """Settings with every problem as a one-line ConfigurationError naming the variable or file it came from."""
    try:
        return MediaRouterSettings(**overrides)
    except (ValidationError, SettingsError) as exc:
        location = config_location(overrides.get("config_file"))
        raise settings_error(exc, env_prefix=ENV_PREFIX, given=overrides, file=location.path) from None


def settings_error(
    exc: ValidationError | SettingsError,
    *,
    env_prefix: str,
    given: Mapping[str, Any] | None = None,
    file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ConfigurationError:
    """A pydantic-settings failure as a ConfigurationError that says where each bad value came from.

    Reusable by plugins for their own settings classes (pass their `env_prefix`).
    """
    env = os.environ if environ is None else environ
    if isinstance(exc, SettingsError):
        match = re.search(r'field "([^"]+)"', str(exc))
        name = f"{env_prefix}{match.group(1)}".upper() if match else f"a {env_prefix}* variable"
        cause = exc.__cause__
        if isinstance(cause, json.JSONDecodeError):
            return ConfigurationError(
                f"{name} is not valid JSON: {cause.msg} (line {cause.lineno}, column {cause.colno})",
                hint=f'e.g. {name}=\'{{"cheap": "openrouter/alibaba/wan-2.6"}}\''
                if name.endswith("ALIASES")
                else "give a JSON value",
            )
        return ConfigurationError(f"cannot read {name}: {cause or exc}")
    problems: dict[str, str] = {}
    for error in exc.errors():
        loc = error["loc"]
        field = str(loc[0]) if loc else "settings"
        if field == ALIASES_FIELD and len(loc) >= 3:  # a union's member tags: say it once, plainly
            key = f"{field}.{loc[1]}"
            message = "must be a ref or a list of refs"
        elif field == PROVIDER_CONCURRENCY_FIELD and len(loc) >= 2:
            key = ".".join(str(p) for p in loc)
            message = _concurrency_message(loc, error["type"], error.get("input"))
        else:
            key = ".".join(str(p) for p in loc) or field
            message = str(error["msg"]).removeprefix("Value error, ")
        where = _source(field, loc, env_prefix, given or {}, file, env)
        problems.setdefault(key, f"{where}: {message}")
    return ConfigurationError(f"invalid setting: {'; '.join(problems.values())}")


def _concurrency_message(loc: tuple[int | str, ...], kind: str, value: Any) -> str:
    """`fal.request: unknown field (allowed: requests, jobs, downloads)`: the provider, the field and the fix."""
    allowed = ", ".join(KINDS)  # the queues ProviderLimits has: ProviderConcurrency's fields
    path = ".".join(str(p) for p in loc[1:])
    if len(loc) == 2:
        return f"{path} must be a table of {allowed}"
    if kind == "extra_forbidden":
        return f"{path}: unknown field (allowed: {allowed})"
    return f"{path} must be a whole number >= 1, or left out for the default (got {value!r})"


def _source(
    field: str,
    loc: tuple[int | str, ...],
    env_prefix: str,
    given: Mapping[str, Any],
    file: Path | None,
    env: Mapping[str, str],
) -> str:
    """`MEDIAROUTER_TIMEOUT='abc'`, `timeout=` or `timeout in [router] of FILE`: where a bad value came from."""
    if field in given:
        return f"{field}="
    names = {f"{env_prefix}{field}".upper(), CONFIG_ENV} if field == "config_file" else {f"{env_prefix}{field}".upper()}
    for key, value in env.items():
        if key.upper() in names:
            shown = value if len(value) <= 60 else value[:57] + "..."
            return f"{key.upper()}={shown!r}"
    if file is not None:
        if field == ALIASES_FIELD:
            name = f" {loc[1]}" if len(loc) > 1 else ""
            return f"[{ALIASES_FIELD}]{name} in {file}"
        return f"{field} in [{ROUTER_TABLE}] of {file}"
    return field
