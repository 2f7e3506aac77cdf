"""A fork server for `mediarouter` CLI processes: imports once, then forks one real process per command.

Starting the CLI costs about a second of CPU in imports; a sweep of 50+ killed processes would spend
most of its time there, on nothing that touches money. This script imports the CLI and its plugins,
then for each JSON line on stdin:

- ``{"op": "spawn", "argv", "env", "out"}`` forks a child that sets that environment and runs
  ``mediarouter.cli:main`` with that argv, stdout/stderr to ``OUT.stdout`` / ``OUT.stderr``; answers
  ``{"pid"}`` at once and writes the exit status to ``OUT.exit`` when the child ends (-9: SIGKILL);
- ``{"op": "kill", "pid", "signal"?}`` sends SIGKILL (or that signal) to that child if it has not
  been reaped yet (so a pid is never signalled after it could have been reused); answers
  ``{"killed": bool}``.

Each child is an ordinary process: its own event loop, sockets and SQLite connection. The fork
happens before any thread, loop or connection exists in this process.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from mediarouter.cli import load_plugin_commands, main

_outputs: dict[int, Path] = {}


def _reap(signum: int, frame: Any) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        out = _outputs.pop(pid, None)
        if out is not None:
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            partial = out.with_suffix(".exit-partial")
            partial.write_text(str(code))
            partial.rename(out.with_suffix(".exit"))


def _child(argv: list[str], env: dict[str, str], out: Path) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd, name in ((1, ".stdout"), (2, ".stderr")):
        target = os.open(out.with_suffix(name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["mediarouter", *argv]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _preload() -> None:
    """What every child would import on its way to the submit, imported once here."""
    import sqlite3  # noqa: F401

    import httpx  # noqa: F401
    from mediarouter_openrouter import provider  # noqa: F401

    from mediarouter import journal, plugins, recovery  # noqa: F401

    plugins.provider_factories()


def serve() -> None:
    load_plugin_commands()
    _preload()
    signal.signal(signal.SIGCHLD, _reap)
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        # SIGCHLD is held while a child is recorded or signalled: a pid is never reaped in between.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        try:
            if command["op"] == "kill":
                alive = command["pid"] in _outputs
                if alive:
                    os.kill(command["pid"], command.get("signal", signal.SIGKILL))
                answer: dict[str, Any] = {"killed": alive}
            else:
                out = Path(command["out"])
                pid = os.fork()
                if pid == 0:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
                    _child(command["argv"], command["env"], out)
                _outputs[pid] = out
                answer = {"pid": pid}
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
