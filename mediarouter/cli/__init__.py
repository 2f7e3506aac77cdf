"""The `mediarouter` command: a thin layer over the Python API; plugins add their own commands."""

from __future__ import annotations

import click

from ..errors import MediaRouterError
from ..plugins import load_plugins, pm
from .aliases import aliases_command
from .batch import batch_command
from .describe import describe_command
from .errors import fail
from .generate import generate_command
from .install import install_command, uninstall_command
from .jobs import jobs_group
from .keys import keys_group
from .models import models_command
from .plugins import plugins_command
from .telemetry import LOG_FORMATS, LOG_LEVELS, setup_cli_observability, trace_tree_from_env
from .webhooks import webhooks_group
from .worker import worker_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


cli.add_command(generate_command, name="generate")
cli.add_command(models_command, name="models")
cli.add_command(plugins_command, name="plugins")
cli.add_command(aliases_command, name="aliases")
cli.add_command(jobs_group, name="jobs")
cli.add_command(webhooks_group, name="webhooks")
cli.add_command(keys_group, name="keys")
cli.add_command(install_command, name="install")
cli.add_command(uninstall_command, name="uninstall")
cli.add_command(describe_command, name="describe")
cli.add_command(batch_command, name="batch")
cli.add_command(worker_command, name="worker")

_plugin_commands_loaded = False


def load_plugin_commands() -> None:
    """Let every loaded plugin add its commands (once)."""
    global _plugin_commands_loaded
    if _plugin_commands_loaded:
        return
    _plugin_commands_loaded = True
    load_plugins()
    pm.hook.register_commands(cli=cli)


def main() -> None:
    load_plugin_commands()
    cli(prog_name="mediarouter")
