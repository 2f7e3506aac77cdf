"""Webhook settings: the signing secret from `MEDIAROUTER_WEBHOOK_SECRET`.

Kept apart from `mediarouter.settings` (which holds no secrets) and read only when a receiver
is built, so nothing else in the library ever sees the secret.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["SECRET_ENV", "WebhookSettings"]

#: The environment variable holding the webhook signing secret of the OpenRouter workspace.
SECRET_ENV = "MEDIAROUTER_WEBHOOK_SECRET"


class WebhookSettings(BaseSettings):
    """`MEDIAROUTER_WEBHOOK_*`: what a receiver needs besides the journal."""

    model_config = SettingsConfigDict(env_prefix="MEDIAROUTER_WEBHOOK_", extra="ignore")

    secret: SecretStr | None = Field(
        default=None, description="the signing secret configured in the OpenRouter workspace settings"
    )
    tolerance: float = Field(default=300.0, gt=0, description="seconds a signature's timestamp may be off")
    max_body_bytes: int = Field(default=1 << 20, gt=0, description="larger deliveries are refused (413)")

    @field_validator("secret")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None
