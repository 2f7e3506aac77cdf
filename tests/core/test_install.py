"""`mediarouter install|uninstall`: the running environment's own installer, never another Python's."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner

from mediarouter.cli import cli
from mediarouter.cli import install as install_module


class Recorder:
    def __init__(self, code: int = 0) -> None:
        self.code = code
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.code)


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(install_module.subprocess, "run", recorder)
    return recorder


@pytest.fixture
def under_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV", "/opt/uv/bin/uv")


@pytest.fixture
def plain_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UV", raising=False)
    monkeypatch.setattr(install_module, "_made_by_uv", lambda prefix: False)
    monkeypatch.setattr(install_module, "_has_pip", lambda: True)


def test_under_uv_it_installs_with_uv_pip_into_this_interpreter(ran: Recorder, under_uv: None) -> None:
    result = CliRunner().invoke(cli, ["install", "mediarouter-openrouter", "-U", "-e", "./plugins/fal"])
    assert result.exit_code == 0, result.output
    assert ran.commands == [
        ["/opt/uv/bin/uv", "pip", "install", "--python", sys.executable, "--upgrade", "-e", "./plugins/fal",
         "mediarouter-openrouter"],
    ]  # fmt: skip


def test_elsewhere_it_uses_this_interpreters_pip(ran: Recorder, plain_pip: None) -> None:
    result = CliRunner().invoke(cli, ["install", "mediarouter-openrouter"])
    assert result.exit_code == 0, result.output
    assert ran.commands == [[sys.executable, "-m", "pip", "install", "mediarouter-openrouter"]]


def test_an_environment_uv_made_uses_uv_even_outside_uv_run(
    ran: Recorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("UV", raising=False)
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\nuv = 0.13.9\n")
    monkeypatch.setattr(install_module.sys, "prefix", str(tmp_path))
    monkeypatch.setattr(install_module.shutil, "which", lambda name: "/usr/local/bin/uv")
    assert install_module.installer()[:2] == ["/usr/local/bin/uv", "pip"]


def test_no_installer_at_all_is_a_one_line_error(ran: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UV", raising=False)
    monkeypatch.setattr(install_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(install_module, "_has_pip", lambda: False)
    result = CliRunner().invoke(cli, ["install", "x"])
    assert result.exit_code == 2
    assert "neither uv nor pip" in result.output and ran.commands == []


def test_the_installers_failure_is_the_exit_code(monkeypatch: pytest.MonkeyPatch, plain_pip: None) -> None:
    monkeypatch.setattr(install_module.subprocess, "run", Recorder(code=1))
    assert CliRunner().invoke(cli, ["install", "no-such-plugin"]).exit_code == 1


def test_uninstall_asks_first_and_does_nothing_on_no(ran: Recorder, plain_pip: None) -> None:
    result = CliRunner().invoke(cli, ["uninstall", "mediarouter-openrouter"], input="n\n")
    assert result.exit_code == 1 and ran.commands == []


def test_uninstall_yes_tells_pip_not_to_ask_again(ran: Recorder, plain_pip: None) -> None:
    result = CliRunner().invoke(cli, ["uninstall", "mediarouter-openrouter", "-y"])
    assert result.exit_code == 0, result.output
    assert ran.commands == [[sys.executable, "-m", "pip", "uninstall", "-y", "mediarouter-openrouter"]]


def test_uninstall_with_uv_after_confirming(ran: Recorder, under_uv: None) -> None:
    result = CliRunner().invoke(cli, ["uninstall", "mediarouter-fal"], input="y\n")
    assert result.exit_code == 0, result.output
    assert ran.commands == [["/opt/uv/bin/uv", "pip", "uninstall", "--python", sys.executable, "mediarouter-fal"]]


def test_uninstalling_mediarouter_itself_is_refused(ran: Recorder, under_uv: None) -> None:
    result = CliRunner().invoke(cli, ["uninstall", "mediarouter", "-y"])
    assert result.exit_code == 2 and "mediarouter itself" in result.output and ran.commands == []
