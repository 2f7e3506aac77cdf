"""The durable CLI options: what is refused before anything runs, and how limits are read."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mediarouter.cli import cli
from mediarouter.cli.worker import ProviderRate


@pytest.fixture
def requests(tmp_path: Path) -> Path:
    path = tmp_path / "r.jsonl"
    path.write_text('{"prompt": "a cat", "model": "openrouter/alibaba/wan-2.6"}\n')
    return path


@pytest.mark.parametrize("flag", ["--no-wait", "--collect-only"])
def test_dbos_only_batch_flags_need_the_dbos_engine(requests: Path, tmp_path: Path, flag: str) -> None:
    result = CliRunner().invoke(cli, ["batch", str(requests), "-o", str(tmp_path / "o"), flag])
    assert result.exit_code == 2 and "need --engine dbos" in result.output


def test_the_in_process_emulator_is_refused_with_dbos(requests: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["batch", str(requests), "-o", str(tmp_path / "o"), "--engine", "dbos", "--emulator"]
    )
    assert result.exit_code == 2 and "mediarouter emulator" in result.output


def test_provider_rates_read_name_count_and_period() -> None:
    assert ProviderRate().convert("openrouter=10/60", None, None) == ("openrouter", 10, 60.0)
    for bad in ("openrouter=10", "=1/2", "fal=0/5", "fal=2/0", "fal=x/y"):
        with pytest.raises(click.BadParameter, match="NAME=N/SECONDS"):
            ProviderRate().convert(bad, None, None)


def test_a_worker_with_a_bad_database_url_exits_2_naming_the_setting(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["worker", "--database", "mysql://h/db"])
    assert result.exit_code == 2 and "MEDIAROUTER_DBOS_DATABASE must be sqlite" in result.output
