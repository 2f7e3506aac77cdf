"""A provider's API key as it arrives (an argument, an env var, the key store): normalised once, never shown."""

from __future__ import annotations

from pydantic import SecretStr

from ..errors import ConfigurationError

__all__ = ["normalize_key"]


def normalize_key(
    key: str | SecretStr | None, *, provider: str, label: str, hint: str | None = None
) -> SecretStr | None:
    """The key as a SecretStr (surrounding blanks dropped; empty means none), or a ConfigurationError when it
    could not be sent in an HTTP header (a pasted line break or a non-ASCII character would be an injection or a
    crash later, after nothing useful)."""
    if key is None:
        return None
    text = (key.get_secret_value() if isinstance(key, SecretStr) else str(key)).strip()
    if not text:
        return None
    if not text.isascii() or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise ConfigurationError(
            f"the {label} API key contains characters that cannot be sent in a header",
            provider=provider,
            hint=hint,
        )
    return SecretStr(text)
