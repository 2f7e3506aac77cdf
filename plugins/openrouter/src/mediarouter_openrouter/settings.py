"""OpenRouter settings, read from the environment.

Every field names its environment variable explicitly (no prefix rules to guess), and no
`.env` file is read: a key only comes from the process environment or from code.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_BASE_URL", "OpenRouterSettings", "header_value", "normalize_base_url"]

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"


class OpenRouterSettings(BaseSettings):
    """How to reach OpenRouter. Explicit constructor arguments (by field name) win over the environment."""

    # No populate_by_name: with it, pydantic-settings would also read unprefixed variables such as
    # API_KEY from the environment. Field names still work as arguments through __init__ below.
    model_config = SettingsConfigDict(
        env_file=None,
        env_ignore_empty=True,  # OPENROUTER_API_KEY="" means "no key", not an empty bearer token
        extra="forbid",  # a misspelt argument is an error, not silently ignored
    )

    api_key: SecretStr | None = Field(default=None, validation_alias="OPENROUTER_API_KEY")
    base_url: str = Field(default=DEFAULT_BASE_URL, validation_alias="OPENROUTER_BASE_URL")
    http_referer: str | None = Field(
        default=None, validation_alias="OPENROUTER_HTTP_REFERER", description="your app's URL (attribution)"
    )
    app_title: str | None = Field(
        default=None, validation_alias="OPENROUTER_APP_TITLE", description="your app's name (attribution)"
    )
    app_categories: str | None = Field(
        default=None, validation_alias="OPENROUTER_APP_CATEGORIES", description="comma-separated, e.g. cli-agent"
    )
    connect_timeout: float = Field(default=10.0, gt=0, validation_alias="OPENROUTER_CONNECT_TIMEOUT")
    read_timeout: float = Field(default=60.0, gt=0, validation_alias="OPENROUTER_READ_TIMEOUT")
    models_cache_ttl: float = Field(default=3600.0, ge=0, validation_alias="OPENROUTER_MODELS_CACHE_TTL")

    def __init__(self, **values: Any) -> None:
        """Accept field names (`api_key=...`) as well as the environment names (`OPENROUTER_API_KEY=...`)."""
        aliases = {name: f.validation_alias for name, f in type(self).model_fields.items()}
        renamed = {}
        for key, value in values.items():
            alias = aliases.get(key)
            renamed[alias if isinstance(alias, str) else key] = value
        super().__init__(**renamed)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return normalize_base_url(value)

    @field_validator("http_referer", "app_title", "app_categories")
    @classmethod
    def _header_safe(cls, value: str | None) -> str | None:
        return header_value(value)


def normalize_base_url(value: str) -> str:
    """Reject what httpx could not send to, and drop the trailing slash so paths join predictably."""
    text = value.strip().rstrip("/")
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        raise ValueError(f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL} (got {value!r})")
    if "?" in rest or "#" in rest or "@" in rest.split("/", 1)[0]:
        raise ValueError("base_url must not carry a query, a fragment or credentials")
    return text


def header_value(value: str | None) -> str | None:
    """Attribution values become HTTP header values: a line break would be a header injection."""
    if value is None:
        return None
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("attribution headers must not contain line breaks")
    return value.strip() or None
