"""Click parameter types shared by commands."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["JSON_OBJECT", "QUIET_HELP"]


class JSONObject(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    name = "JSON"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            self.fail(f"not valid JSON ({exc.msg} at position {exc.pos}): {value!r}", param, ctx)
        if not isinstance(data, dict):
            self.fail(f"expected a JSON object, got {type(data).__name__}: {value!r}", param, ctx)
        return data


JSON_OBJECT = JSONObject()

#: `-q` of the commands that print one result (`generate`, `jobs download`): quiet on success, loud in JSON.
QUIET_HELP = (
    "No progress lines on stderr and no result line on stdout (the exit code says how it went; "
    "--json still prints the result)."
)
