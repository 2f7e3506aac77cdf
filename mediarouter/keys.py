"""Provider keys stored in a user file, like llm's: `mediarouter keys set openrouter`.

The file is `keys.json` in the platform's user config directory (`MEDIAROUTER_KEYS` names another
one; empty or `off`: no file), a JSON object of key name → value, readable by its owner only
(0600) and replaced atomically on every write, so a crash never leaves half a file.

Environment variables win: a provider reads its own variable (`OPENROUTER_API_KEY`) first and
calls `get_key(name)` only when that is unset. Values are returned as `SecretStr` and never
logged, printed or put in an error message.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

from pydantic import SecretStr

from .errors import ConfigurationError

__all__ = ["KEYS_ENV", "NAME_PATTERN", "get_key", "key_names", "keys_path", "load_keys", "set_key"]

#: Environment variable naming the keys file (empty or `off`: none).
KEYS_ENV = "MEDIAROUTER_KEYS"
#: Key names: a provider name, e.g. `openrouter`, `fal`, `gemini`.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def keys_path() -> Path | None:
    """Where keys are stored; None when `MEDIAROUTER_KEYS` switches the file off."""
    value = os.environ.get(KEYS_ENV)
    if value is not None:
        value = value.strip()
        return None if value.lower() in ("", "off") else Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("mediarouter", appauthor=False)) / "keys.json"


def _check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigurationError(
            f"key name {name!r} is not valid: use lower-case letters, digits, '.', '_' or '-' "
            "(a provider name, e.g. openrouter)"
        )
    return name


def load_keys(path: Path | None = None) -> dict[str, SecretStr]:
    """Every stored key; {} when there is no file. A broken file is a ConfigurationError naming it."""
    path = path if path is not None else keys_path()
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the keys file {path}: {type(exc).__name__}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:  # the message names a position, never the content
        raise ConfigurationError(
            f"the keys file {path} is not valid JSON (line {exc.lineno}, column {exc.colno})",
            hint="fix it, or delete it and run `mediarouter keys set NAME` again",
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConfigurationError(
            f"the keys file {path} must be a JSON object of name to string",
            hint="fix it, or delete it and run `mediarouter keys set NAME` again",
        )
    return {str(k): SecretStr(v) for k, v in data.items()}


def get_key(name: str) -> SecretStr | None:
    """The stored key `name` (e.g. "openrouter"), or None. Providers call it after their env variable."""
    value = load_keys().get(name)
    if value is None or not value.get_secret_value().strip():
        return None
    return SecretStr(value.get_secret_value().strip())


def key_names() -> list[str]:
    """The names of the stored keys, sorted (never their values)."""
    return sorted(load_keys())


def set_key(name: str, value: str | SecretStr, path: Path | None = None) -> Path:
    """Store `value` as key `name` and return the file; written atomically with mode 0600."""
    _check_name(name)
    text = (value.get_secret_value() if isinstance(value, SecretStr) else value).strip()
    if not text:
        raise ConfigurationError(f"the value for key {name!r} is empty; nothing was saved")
    path = path if path is not None else keys_path()
    if path is None:
        raise ConfigurationError(f"{KEYS_ENV} switches the keys file off; nothing was saved")
    keys = {k: v.get_secret_value() for k, v in load_keys(path).items()}
    keys[name] = text
    _write_private(path, json.dumps(keys, indent=2, sort_keys=True) + "\n")
    return path


def _write_private(path: Path, text: str) -> None:
    """Write to a 0600 temporary file next to `path`, fsync it, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".keys-", suffix=".tmp", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
