"""Core settings: `MEDIAROUTER_*` environment variables (providers read their own, e.g. OPENROUTER_API_KEY)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MediaRouterSettings"]


class MediaRouterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDIAROUTER_", extra="ignore")

    default_model: str = Field(default="openrouter/google/veo-3.1", description="used when no model is given")
    poll_interval: float = Field(default=10.0, gt=0, description="seconds between the first polls")
    max_poll_interval: float = Field(default=60.0, gt=0, description="polling slows down to at most this")
    timeout: float = Field(default=600.0, gt=0, description="overall deadline: submit + polling + download")
    request_timeout: float = Field(default=120.0, gt=0, description="one HTTP exchange")
