"""The `mediarouter` command: a thin layer over the Python API; plugins add their own commands."""

from __future__ import annotations

import click

from ..errors import MediaRouterError
from .errors import fail
from .lazy import LazyGroup
from .telemetry import LOG_FORMATS, LOG_LEVELS, setup_cli_observability, trace_tree_from_env

__all__ = ["cli", "main"]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mediarouter", prog_name="mediarouter")
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="auto",
    envvar="MEDIAROUTER_LOG_FORMAT",
    show_default=True,
    help="Log lines on stderr: console (pretty), json (one object per line), auto (console on a terminal, "
    "else json) [env: MEDIAROUTER_LOG_FORMAT].",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    envvar="MEDIAROUTER_LOG_LEVEL",
    help="Lowest level logged [env: MEDIAROUTER_LOG_LEVEL; default warning, info with --log-format json]. "
    "Traces and metrics: OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER = console | otlp.",
)
@click.option(
    "--trace-tree",
    is_flag=True,
    default=None,
    help="Print each finished trace as a readable span tree on stderr (needs mediarouter[otel]) "
    "[env: MEDIAROUTER_TRACE_TREE=1].",
)
@click.pass_context
def cli(ctx: click.Context, log_format: str, log_level: str | None, trace_tree: bool | None) -> None:
    """Route media generation requests to provider plugins.

    \b
    Examples:
      mediarouter generate "A golden retriever on a beach" \\
          --model openrouter/google/veo-3.1 --emulator -o retriever.mp4
      mediarouter generate "A cat" --model openrouter/google/veo-3.1 \\
          --fallback fal/fal-ai/veo3 --fallback gemini/veo-3.1-generate-preview \\
          --max-cost 3 -o cat.mp4
      mediarouter describe cat.mp4 "Is there a cat? Answer yes or no"
      mediarouter batch requests.jsonl -o videos/ --max-total-cost 20
      mediarouter models openrouter
      mediarouter aliases
      mediarouter plugins --json
    """
    try:
        tree = trace_tree_from_env() if trace_tree is None else trace_tree
        telemetry = setup_cli_observability(log_format, log_level, trace_tree=tree)
    except MediaRouterError as exc:
        fail(exc)
    if telemetry is not None:
        ctx.call_on_close(telemetry.shutdown)


#: The built-in commands: name -> (where the click object lives, the line `--help` shows). Each
#: module is imported only when its command runs, so `mediarouter --help` loads no router, settings,
#: journal or httpx (issue #15: start-up); tests/cli/test_lazy_commands.py keeps the lines in step
#: with the commands' own help.
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("generate:generate_command", "Generate a video from PROMPT and save it to --output."),
    "models": (
        "models:models_command",
        "List video models and their capabilities, optionally only refs starting with PREFIX.",
    ),
    "plugins": ("plugins:plugins_command", "List installed plugins, where they come from and what they provide."),
    "aliases": (
        "aliases:aliases_command",
        "List model aliases and failover chains from the config file and MEDIAROUTER_ALIASES.",
    ),
    "jobs": ("jobs:jobs_group", "Jobs in the journal: every accepted job is recorded before anything else happens."),
    "webhooks": (
        "webhooks:webhooks_group",
        'Receive provider webhooks: signed "job finished" callbacks (see docs/webhooks.md).',
    ),
    "keys": ("keys:keys_group", "Store provider keys in a user file (mode 0600); environment variables still win."),
    "install": (
        "install:install_command",
        "Install plugins (any requirement: a name, `name==1.2`, a path, a URL) next to this mediarouter.",
    ),
    "uninstall": ("install:uninstall_command", "Uninstall plugins from the environment this mediarouter runs in."),
    "describe": (
        "describe:describe_command",
        "Describe VIDEO (a file or an https:// URL) as PROMPT asks, with a model that watches video.",
    ),
    "batch": ("batch:batch_command", "Generate one video per line of REQUESTS (JSONL) into OUTDIR."),
    "worker": ("worker:worker_command", "Run durable request workflows until SIGTERM or Ctrl-C."),
}

assert isinstance(cli, LazyGroup)
for _name, (_path, _short_help) in BUILTIN_COMMANDS.items():
    cli.add_lazy_command(_name, f"{__name__}.{_path}", short_help=_short_help)

_plugin_commands_loaded = False


def load_plugin_commands() -> None:
    """Let every loaded plugin add its commands (once)."""
    global _plugin_commands_loaded
    if _plugin_commands_loaded:
        return
    _plugin_commands_loaded = True
    from ..plugins import load_plugins, pm

    load_plugins()
    pm.hook.register_commands(cli=cli)


def main() -> None:
    load_plugin_commands()
    cli(prog_name="mediarouter")
