"""Entry-point module (`[project.entry-points.mediarouter] acme = "mediarouter_example.plugin"`)."""

from __future__ import annotations

from typing import Any

from mediarouter import hookimpl


@hookimpl
def register_providers(register: Any) -> None:
    from .provider import AcmeVideoProvider

    register(AcmeVideoProvider)  # named by its `name` attribute: "acme"
