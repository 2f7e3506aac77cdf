"""The optional TOML config file: where it lives and how it feeds `MediaRouterSettings`.

```toml
[aliases]
video-default = ["openrouter/google/veo-3.1", "openrouter/bytedance/seedance-2.0", "openrouter/alibaba/wan-2.6"]
cheap = "openrouter/alibaba/wan-2.6"

[router]            # any MediaRouterSettings field, named like MEDIAROUTER_* without the prefix
fit = "adjust"
cooldown = 120
```

The file sits where the platform keeps user configuration (`platformdirs`), or wherever
`MEDIAROUTER_CONFIG` points. Environment variables win over the file. Other top-level tables
are left alone, so plugins can keep their own sections in the same file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from pydantic_settings import BaseSettings, TomlConfigSettingsSource

from .errors import ConfigurationError

__all__ = ["CONFIG_ENV", "ConfigLocation", "ConfigFileSource", "config_location", "default_config_file"]

#: Points at another config file (or, when set to an empty string, disables the file).
CONFIG_ENV = "MEDIAROUTER_CONFIG"
#: The tables this module reads; everything else in the file belongs to someone else.
ALIASES_TABLE = "aliases"
ROUTER_TABLE = "router"


def default_config_file() -> Path:
    """`~/.config/mediarouter/config.toml` on Linux, the platform's equivalent elsewhere."""
    return Path(platformdirs.user_config_dir("mediarouter", appauthor=False)) / "config.toml"


@dataclass(frozen=True)
class ConfigLocation:
    """Which file is read, and whether someone asked for it (then it must exist)."""

    path: Path | None
    explicit: bool
    source: str

    @property
    def exists(self) -> bool:
        return self.path is not None and self.path.is_file()

    def describe(self) -> str:
        if self.path is None:
            return f"no config file ({self.source})"
        return f"{self.path} ({self.source}{'' if self.exists else ', not found'})"


def config_location(
    given: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> ConfigLocation:
    """The config file to read: an explicit path, else `MEDIAROUTER_CONFIG`, else the platform default."""
    env = os.environ if environ is None else environ
    if given is not None:
        text = os.fspath(given)
        return ConfigLocation(Path(text).expanduser() if text else None, True, "config_file=")
    value = next((v for k, v in env.items() if k.upper() == CONFIG_ENV), None)
    if value is not None:
        return ConfigLocation(Path(value).expanduser() if value.strip() else None, True, CONFIG_ENV)
    return ConfigLocation(default_config_file(), False, "default location")


class ConfigFileSource(TomlConfigSettingsSource):
    """pydantic-settings source for the config file: `[router]` keys and the `[aliases]` table.

    A missing default file is fine; a missing explicit file, bad TOML or an unknown
    `[router]` key is a ConfigurationError naming the file, so a typo never goes unnoticed.
    """

    def __init__(self, settings_cls: type[BaseSettings], location: ConfigLocation) -> None:
        self.location = location
        self._known = {name for name in settings_cls.model_fields if name not in ("config_file", ALIASES_TABLE)}
        if location.path is not None and location.path.is_dir():
            raise ConfigurationError(
                f"config file {location.path} (from {location.source}) is a directory, not a file",
                hint=f"point {CONFIG_ENV} at a .toml file",
            )
        if location.path is not None and location.explicit and not location.exists:
            raise ConfigurationError(
                f"config file {location.path} (from {location.source}) does not exist",
                hint=f"create it, or unset {CONFIG_ENV} to use {default_config_file()}",
            )
        super().__init__(settings_cls, toml_file=location.path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            with file_path.open(mode="rb") as handle:
                data = tomllib.load(handle)
        except UnicodeDecodeError:
            raise ConfigurationError(
                f"config file {file_path} is not valid TOML: it is not UTF-8 text", hint="save it as UTF-8"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(
                f"config file {file_path} is not valid TOML: {exc}", hint="see docs/failover.md for the format"
            ) from None
        except OSError as exc:
            raise ConfigurationError(f"cannot read config file {file_path}: {exc.strerror or exc}") from None
        return self._settings_from(data, file_path)

    def _settings_from(self, data: dict[str, Any], file_path: Any) -> dict[str, Any]:
        router = data.get(ROUTER_TABLE, {})
        aliases = data.get(ALIASES_TABLE)
        if not isinstance(router, dict):
            raise ConfigurationError(f"config file {file_path}: [{ROUTER_TABLE}] must be a table")
        if aliases is not None and not isinstance(aliases, dict):
            raise ConfigurationError(f"config file {file_path}: [{ALIASES_TABLE}] must be a table")
        unknown = sorted(set(router) - self._known)
        if unknown:
            raise ConfigurationError(
                f"config file {file_path}: unknown setting(s) in [{ROUTER_TABLE}]: {', '.join(unknown)}",
                hint=f"known settings: {', '.join(sorted(self._known))}",
            )
        values: dict[str, Any] = dict(router)
        if aliases is not None:
            values[ALIASES_TABLE] = aliases
        return values
