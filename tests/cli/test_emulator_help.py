"""`mediarouter emulator --help` names every fault-injection phase and outcome the emulator accepts."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from mediarouter_openrouter.emulator.config import GRAMMAR, Injection

from mediarouter.cli import cli, load_plugin_commands


@pytest.fixture(scope="module")
def inject_help() -> str:
    """The --inject help as one line (the terminal width wraps it anywhere)."""
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["emulator", "--help"], prog_name="mediarouter")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    return text[text.index("--inject") : text.index("--polls-before-in-progress")]


def test_the_help_lists_every_phase_and_outcome_the_emulator_injects(inject_help: str) -> None:
    listed = re.search(r"PHASE is one of ([^;]+);", inject_help)
    assert listed is not None, inject_help
    assert [p.strip() for p in re.split(r"[,|]", listed.group(1))] == list(GRAMMAR.phase_names)
    for phase in GRAMMAR.phase_names:
        for outcome in GRAMMAR.outcomes_for(phase):
            assert outcome in inject_help, (phase, outcome)


def test_every_example_parses(inject_help: str) -> None:
    examples = re.search(r"Examples: (.+?)\.(?: |$)", inject_help)
    assert examples is not None, inject_help
    specs = [s.strip() for s in examples.group(1).split(",")]
    parsed = [Injection.parse(spec) for spec in specs]
    assert {i.phase for i in parsed} >= {"submit", "poll", "callback"}
