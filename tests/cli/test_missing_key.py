"""No API key: `generate` fails at once, exit 3, with how to set one; nothing is retried or sent.

Rule: a missing key is a local refusal that is the same on every attempt, so the submit is not retried
(it used to say `submit refused (AuthenticationFailed), retrying in 1.0s` twice first).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediarouter import AuthenticationFailed, ProviderUnavailable

from ..e2e.conftest import FAST, WAN, Emulator, emulator
from .fake_provider import ScriptedProvider, instant_retries, invoke, use_provider

__all__ = ["emulator", "instant_retries", "use_provider"]  # fixtures, imported for their side effect

QUICK = ("--poll-interval", "0.01")


@pytest.mark.slow
def test_generate_without_a_key_exits_3_at_once_with_the_hint_and_sends_no_job_request(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    served = emulator()
    env = {k: v for k, v in served.env.items() if k != "OPENROUTER_API_KEY"}
    keyless = Emulator(served.base_url, env)
    proc = keyless.run("generate", "A fox", "--model", WAN, *FAST, "-o", str(tmp_path / "fox.mp4"))
    assert proc.returncode == 3, proc.stderr
    assert "retrying" not in proc.stderr and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "no OpenRouter API key" in last
    assert "OPENROUTER_API_KEY" in last and "mediarouter keys set openrouter" in last
    # Only the public model listing (sent without a key, as OpenRouter serves it); no submit, no poll.
    assert [r["phase"] for r in served.journal()] in ([], ["models"])
    assert not (tmp_path / "fox.mp4").exists()


def test_a_local_key_refusal_is_submitted_once_and_a_connect_failure_is_still_retried(
    use_provider: Any, instant_retries: None, tmp_path: Path
) -> None:
    made: list[ScriptedProvider] = []
    scripts = [[missing_key(), missing_key()], [unreachable()]]

    def factory(**kw: Any) -> ScriptedProvider:
        made.append(ScriptedProvider(submit=scripts.pop(0)))
        return made[-1]

    use_provider(factory)
    result = invoke("generate", "a dog", "--model", "fake/video-1", "-o", str(tmp_path / "o.mp4"), *QUICK)
    assert result.exit_code == 3, result.output
    assert "retrying" not in result.stderr
    assert made[-1].calls == ["submit"]

    again = invoke("generate", "a dog", "--model", "fake/video-1", "-o", str(tmp_path / "p.mp4"), *QUICK)
    assert again.exit_code == 0, again.output  # not sent, and it may pass next time: retried, as before
    assert made[-1].calls.count("submit") == 2


def missing_key() -> AuthenticationFailed:
    """What the shared HTTP client raises when no key is configured (before any request)."""
    return AuthenticationFailed("no Fake API key: cannot submit", hint="set FAKE_API_KEY", details={"phase": "submit"})


def unreachable() -> ProviderUnavailable:
    return ProviderUnavailable("could not connect", sent=False)
