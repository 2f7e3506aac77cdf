"""A hostile server at submit time: every answer that leaves the outcome open must cost at most one job.

Rule (issue 10, docs/jobs.md "The three submit outcomes"): a submit is *not sent* (safe to retry or
fail over), *refused* (a readable 4xx: no job) or *unknown* (anything else once the request may have
reached the server). An unknown submit is journaled `unknown`, never retried, never failed over, and
holds its idempotency key. The server below creates the job before it misbehaves, and the tests count
the jobs it created, not what the client believed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from mediarouter_contracts.clock import FakeClock

import mediarouter.router
from mediarouter import (
    Conflict,
    InvalidRequest,
    MediaRouterError,
    OutputNotSaved,
    ProviderUnavailable,
    RateLimited,
    Router,
    SubmitUnknown,
    VideoRequest,
)
from mediarouter.cli import cli, load_plugin_commands
from mediarouter.events import Event
from mediarouter.journal import JobRecord, RecordState, SQLiteJobStore

from .hostile import (
    Behaviour,
    HostileServer,
    accept_then_body,
    accept_then_cancel,
    accept_then_hang,
    accept_then_interrupt,
    accept_then_raise,
    accept_then_status,
    refuse,
    unreachable,
)

VEO = "openrouter/google/veo-3.1"
WAN = "openrouter/alibaba/wan-2.6"
PROMPT = "A golden retriever on a beach"
KEY = "order-42"
#: Seconds of real time a hung submit is given (the engine's per-request timeout).
REQUEST_TIMEOUT = 0.3

#: Answers after which the job exists upstream but the client cannot know it.
AMBIGUOUS: dict[str, Behaviour] = {
    "500 after accepting": accept_then_status(500),
    "502 after accepting": accept_then_status(502),
    "524 (Cloudflare page) after accepting": accept_then_status(
        524, b"<html><head><title>524: A timeout occurred</title></head></html>"
    ),
    "202 with an empty body": accept_then_body(202, b""),
    "202 with garbage": accept_then_body(202, b"\x00\xffnot json at all"),
    "202 with truncated JSON": accept_then_body(
        202,
        b'{"id": "gen-vid-17',
    ),
    "202 with a JSON object but no id": accept_then_body(202, b'{"status": "pending"}'),
    "200 with an HTML page": accept_then_body(200, b"<html><body>Welcome</body></html>", "text/html"),
    "connection dropped (RemoteProtocolError)": accept_then_raise(httpx.RemoteProtocolError),
    "connection reset (ReadError)": accept_then_raise(httpx.ReadError),
    "no answer (hangs past the timeout)": accept_then_hang(),
}


@dataclass
class World:
    server: HostileServer
    journal: SQLiteJobStore
    router: Router
    tmp: Path
    events: list[Event]

    def row(self, key: str = KEY) -> JobRecord:
        record = self.journal.find_idempotent(key)
        assert record is not None, f"no journal row for idempotency key {key!r}"
        return record

    def rows(self) -> list[JobRecord]:
        return self.journal.list()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    server = HostileServer()
    journal = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    events: list[Event] = []
    router = Router(
        providers={"openrouter": server.provider()},
        journal=journal,
        clock=FakeClock(),
        cooldown=0,
        listeners=[events.append],
    )
    router.settings.poll_interval = 0.01
    router.settings.request_timeout = REQUEST_TIMEOUT
    yield World(server, journal, router, tmp_path, events)
    await router.aclose()
    journal.close()


async def generate(world: World, prompt: str = PROMPT, **kwargs: Any) -> Any:
    kwargs.setdefault("model", VEO)
    kwargs.setdefault("output", world.tmp / "out.mp4")
    return await world.router.generate(prompt, **kwargs)


# -- unknown outcomes ------------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", list(AMBIGUOUS.values()), ids=list(AMBIGUOUS))
async def test_an_ambiguous_submit_is_journaled_unknown_and_never_sent_again(
    world: World, behaviour: Behaviour
) -> None:
    """Rule: an unknown outcome (the server may have made the job) is journaled `unknown`, not `refused`,
    and is never retried: one POST, one job upstream, and the error says the job may exist."""
    world.server.submit_plan = [behaviour]
    with pytest.raises(SubmitUnknown) as caught:
        await generate(world, idempotency_key=KEY)
    assert world.server.submits == 1
    assert len(world.server.created) == 1
    row = world.row()
    assert row.state.value == "unknown", f"journaled {row.state.value}: a paid job would be forgotten"
    assert row.job_id is None and row.error
    assert "may have been accepted" in str(caught.value)
    assert "adopt" in (caught.value.hint or "") and "forget" in (caught.value.hint or "")


@pytest.mark.parametrize(
    "behaviour",
    [
        AMBIGUOUS[name]
        for name in (
            "500 after accepting",
            "524 (Cloudflare page) after accepting",
            "202 with garbage",
            "connection dropped (RemoteProtocolError)",
            "no answer (hangs past the timeout)",
        )
    ],
    ids=["500", "524", "202 garbage", "drop", "hang"],
)
async def test_an_unknown_submit_is_never_failed_over(world: World, behaviour: Behaviour) -> None:
    """Rule: failover after an unknown submit would be a second paid job while the first may exist,
    so a two-candidate chain submits exactly once and stops with SubmitUnknown."""
    world.server.submit_plan = [behaviour]
    with pytest.raises(SubmitUnknown) as caught:
        await generate(world, model=[VEO, WAN])
    assert world.server.submits == 1
    assert len(world.server.created) == 1
    attempts = caught.value.details.get("attempts", [])
    assert [a["ref"] for a in attempts] == [VEO], "the second candidate must not be tried"


async def test_reusing_the_key_after_an_unknown_outcome_submits_nothing_and_says_what_to_do(world: World) -> None:
    """Rule: an unknown submit holds its idempotency key; calling again with it sends nothing and the error
    names the ways out (check the dashboard, adopt the job id, or forget the submit)."""
    world.server.submit_plan = [accept_then_status(502)]
    with pytest.raises(SubmitUnknown):
        await generate(world, idempotency_key=KEY)
    before = list(world.server.requests)
    for _ in range(3):
        with pytest.raises(Conflict) as caught:
            await generate(world, idempotency_key=KEY)
        text = f"{caught.value} {caught.value.hint}"
        assert KEY in text and "adopt" in text and "forget" in text and "dashboard" in text
    assert world.server.submits == 1 and len(world.server.created) == 1
    assert [r for r in world.server.requests[len(before) :] if r[0] == "POST"] == []


async def test_a_202_with_an_unreadable_body_is_never_journaled_refused(world: World) -> None:
    """Rule: a 2xx means the server accepted something; whatever its body, the outcome is not "refused"
    (the reproduction journaled 16 of 34 such answers as refused, freeing the key for a second job)."""
    bodies = [b"", b"null", b"[]", b"{", b'{"id": ', b'{"id": 42}', b"\xef\xbb\xbf{}", b'{"error": "ok"}']
    for index, body in enumerate(bodies):
        world.server.submit_plan = [accept_then_body(202, body)]
        with pytest.raises(MediaRouterError):
            await generate(world, f"{PROMPT} {index}", idempotency_key=f"k{index}")
        state = world.row(f"k{index}").state.value
        assert state == "unknown", f"202 with body {body!r} journaled {state}"
        with pytest.raises(Conflict):  # and the key stays held
            await generate(world, f"{PROMPT} {index}", idempotency_key=f"k{index}")
    assert world.server.submits == len(bodies) == len(world.server.created)


async def test_a_cancelled_call_mid_submit_is_journaled_unknown(world: World) -> None:
    """Rule: cancelling the task (a host's Ctrl-C) after the request went out leaves an `unknown` row,
    so the paid job is listed with what to do, never recorded as "nothing was sent"."""
    world.server.submit_plan = [accept_then_cancel()]
    with pytest.raises(asyncio.CancelledError):
        await generate(world, idempotency_key=KEY)
    assert len(world.server.created) == 1
    assert world.row().state.value == "unknown"


# -- definite outcomes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"), [(400, InvalidRequest), (402, MediaRouterError), (429, RateLimited)], ids=str
)
async def test_a_readable_refusal_is_journaled_refused_and_frees_the_key(
    world: World, status: int, error: type[MediaRouterError]
) -> None:
    """Rule: a 4xx with a readable error body is a definite "no job": journaled `refused`, and the key may
    be used again (the second call submits and pays once)."""
    world.server.submit_plan = [refuse(status)] * 3  # a 429 is retried: 3 refusals use up the retries
    with pytest.raises(error):
        await generate(world, idempotency_key=KEY)
    assert world.server.created == {}
    assert world.row().state.value == "refused"
    world.server.submit_plan = []
    result = await generate(world, idempotency_key=KEY)
    assert list(world.server.created) == [result.job_id]


async def test_a_refusal_fails_over_to_the_next_candidate_and_pays_once(world: World) -> None:
    """Rule: a refusal is safe to fail over: the chain goes on and exactly one job is made, on the second."""
    world.server.submit_plan = [refuse(400)]
    result = await generate(world, model=[VEO, WAN], idempotency_key=KEY)
    assert world.server.submits == 2
    assert list(world.server.created) == [result.job_id]
    assert result.ref == WAN


async def test_a_connection_refused_submit_is_not_sent_and_is_retried(world: World) -> None:
    """Rule: a connect failure provably sent nothing: journaled `not_sent`, retried, then failed over."""
    world.server.submit_plan = [unreachable(), unreachable(), unreachable()]
    with pytest.raises(ProviderUnavailable) as caught:
        await generate(world, idempotency_key=KEY)
    assert not isinstance(caught.value, SubmitUnknown)
    assert world.server.created == {}
    assert world.row().state.value == "not_sent"

    world.server.submit_plan = [unreachable(), unreachable(), unreachable()]
    result = await generate(world, "another dog", model=[VEO, WAN], idempotency_key="k2")
    assert result.ref == WAN and list(world.server.created) == [result.job_id]


# -- idempotency keys ------------------------------------------------------------------------------


async def test_a_key_reused_for_a_different_request_is_an_error_naming_the_difference(world: World) -> None:
    """Rule: a reused key with another prompt or model must not silently return the old video: the error
    names the key and what differs, and nothing is sent."""
    first = await generate(world, idempotency_key=KEY)
    again = await generate(world, idempotency_key=KEY, output=world.tmp / "copy.mp4")
    assert again.job_id == first.job_id
    changes: list[tuple[dict[str, Any], str]] = [
        ({"prompt": "A cat on a sofa"}, "prompt differs"),
        ({"model": WAN}, "model differs"),
        ({"duration": 8}, "duration differs"),
    ]
    for change, differs in changes:
        kwargs: dict[str, Any] = {"prompt": PROMPT, "idempotency_key": KEY, **change}
        with pytest.raises(InvalidRequest) as caught:
            await generate(world, **kwargs)
        assert KEY in str(caught.value) and differs in str(caught.value)
    assert world.server.submits == 1


async def test_a_call_repeated_with_the_key_while_the_first_downloads_does_not_download_it_too(world: World) -> None:
    """Rule: one poller/downloader per job. A second call with the same key while the first is still
    waiting for the job must not poll and download the same job into the same part file (that wrote
    corrupt videos, or crashed the first call when its part file vanished): it stops, sending nothing."""
    gate = asyncio.Event()
    world.server.poll_gate = gate
    first = asyncio.create_task(generate(world, idempotency_key=KEY))
    for _ in range(500):
        row = world.journal.find_idempotent(KEY)
        # The first call holds the job and its poll waits at the gate (journal writes run on a thread,
        # so the poll may reach the server a moment after the job id reaches the journal).
        if row is not None and row.job_id and any(row.job_id in path for _, path in world.server.requests):
            break
        await asyncio.sleep(0.01)
    [job_id] = world.server.created
    sent = len(world.server.requests)
    with pytest.raises(Conflict) as caught:
        await asyncio.wait_for(generate(world, idempotency_key=KEY), 5)
    assert job_id in str(caught.value) and "nothing was sent" in str(caught.value)
    assert len(world.server.requests) == sent
    gate.set()
    result = await first
    assert result.job_id == job_id and world.server.submits == 1
    assert (world.tmp / "out.mp4").read_bytes() == world.server.video(job_id)


# -- output paths ------------------------------------------------------------------------------------


def _bad_outputs(tmp: Path) -> dict[str, Path]:
    blocker = tmp / "a-file"
    blocker.write_text("not a directory")
    (tmp / "a-dir").mkdir()
    return {"a directory": tmp / "a-dir", "a path under a regular file": blocker / "out.mp4"}


async def test_a_bad_output_path_fails_before_any_request(world: World) -> None:
    """Rule: an output that cannot be written is found before anything is paid for (no request at all)."""
    for why, output in _bad_outputs(world.tmp).items():
        with pytest.raises(InvalidRequest) as caught:
            await generate(world, output=output, idempotency_key=KEY)
        assert "nothing was sent" in str(caught.value), why
    assert world.server.requests == []
    assert world.rows() == []


def _sabotage_target(kind: str, target: Path) -> Callable[[Event], None]:
    """Once the job is accepted (paid), make its target unusable."""

    def listener(event: Event) -> None:
        if event.name == "job.submitted":
            if kind == "directory":
                target.mkdir()
            else:
                target.parent.rename(target.parent.with_name("moved-away"))
                target.parent.write_text("now a regular file")

    return listener


@pytest.mark.parametrize("kind", ["directory", "parent is a file"])
async def test_a_target_that_fails_after_payment_keeps_the_video_and_says_where(tmp_path: Path, kind: str) -> None:
    """Rule: a paid video is never deleted for want of a target: it is kept in the journal's outputs/
    directory, journaled there, and the error names the place."""
    server = HostileServer()
    journal = SQLiteJobStore(tmp_path / "journal" / "jobs.sqlite3")
    target = tmp_path / "videos" / "dog.mp4"
    async with Router(
        providers={"openrouter": server.provider()},
        journal=journal,
        clock=FakeClock(),
        listeners=[_sabotage_target(kind, target)],
    ) as router:
        router.settings.poll_interval = 0.01
        with pytest.raises(OutputNotSaved) as caught:
            await router.generate(PROMPT, model=VEO, output=target)
    [job_id] = server.created
    kept = tmp_path / "journal" / "outputs"
    saved = [Path(p) for p in caught.value.details["saved_to"]]
    assert saved and saved[0].parent == kept
    assert str(saved[0]) in str(caught.value)
    assert saved[0].read_bytes() == server.video(job_id)
    row = journal.get(job_id)
    assert row is not None and row.state.value == "downloaded" and row.files[0]["path"] == str(saved[0])
    journal.close()


# -- inputs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": " \n\t "},
        {"image_url": "javascript:alert(document.cookie)"},
        {"image_url": "/no/such/dir/first-frame.png"},
        {"image_url": "file:///etc/passwd"},
        {"image_url": "http://example.com/cat.png"},
        {"image_url": "data:image/png;base64," + "A" * (52 * 1024 * 1024)},
    ],
    ids=["whitespace prompt", "javascript: URL", "missing local path", "file: URL", "http: URL", "52 MiB data: URL"],
)
async def test_bad_inputs_are_refused_before_any_request(world: World, fields: dict[str, Any]) -> None:
    """Rule: prompts and media URLs are checked locally (https:// or data: only, a body under 50 MiB,
    something besides whitespace), so a bad one never reaches the provider (or its 413)."""
    fields = {"prompt": PROMPT, **fields}
    with pytest.raises(InvalidRequest) as caught:
        await world.router.generate(model=VEO, output=world.tmp / "o.mp4", **fields)
    assert "A" * 100 not in str(caught.value)  # a data: URL is never echoed whole
    assert world.server.requests == []


# -- the CLI over the same hostile server -----------------------------------------------------------------


@pytest.fixture
def cli_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HostileServer]:
    """The CLI's routers get the hostile server as their OpenRouter provider; a journal file in tmp_path."""
    server = HostileServer()
    monkeypatch.setenv("MEDIAROUTER_JOURNAL", str(tmp_path / "cli-jobs.sqlite3"))
    monkeypatch.setenv("MEDIAROUTER_CONFIG", "")

    def create_provider(name: str, **kwargs: Any) -> Any:
        assert name == "openrouter"
        return server.provider()

    monkeypatch.setattr(mediarouter.router, "create_provider", create_provider)
    yield server


def mediarouter_cli(*args: str) -> Result:
    load_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def cli_generate(tmp: Path, *extra: str) -> Result:
    return mediarouter_cli(
        "generate", PROMPT, "--model", VEO, "-o", str(tmp / "dog.mp4"), "--poll-interval", "0.01", "-q", *extra
    )


def test_cli_unknown_submit_then_list_resume_adopt(cli_server: HostileServer, tmp_path: Path) -> None:
    """Rule: at the CLI an unknown submit says the job may exist and what to do; a rerun with the key
    sends nothing; `jobs list` and `resume --all` show it as maybe billed; `jobs adopt` recovers the paid
    job, and the key then returns that video without a second submit."""
    cli_server.submit_plan = [accept_then_status(500)]
    first = cli_generate(tmp_path, "--idempotency-key", KEY)
    assert first.exit_code == 9, first.output
    assert "may have been accepted" in first.stderr

    again = cli_generate(tmp_path, "--idempotency-key", KEY)
    assert again.exit_code != 0 and cli_server.submits == 1
    assert "jobs adopt" in again.stderr and "jobs forget" in again.stderr

    listing = mediarouter_cli("jobs", "list")
    assert "MAY BE BILLED" in listing.stdout and KEY in listing.stdout
    resumed = mediarouter_cli("jobs", "resume", "--all")
    assert "unknown" in resumed.stdout and "jobs adopt" in resumed.stdout
    assert "Nothing to resume" not in resumed.stdout

    [job_id] = cli_server.created
    adopted = mediarouter_cli("jobs", "adopt", KEY, job_id)
    assert adopted.exit_code == 0, adopted.output
    final = cli_generate(tmp_path, "--idempotency-key", KEY)
    assert final.exit_code == 0, final.output
    assert (tmp_path / "dog.mp4").read_bytes() == cli_server.video(job_id)
    assert cli_server.submits == 1


def test_cli_a_path_under_a_regular_file_is_refused_before_any_request(
    cli_server: HostileServer, tmp_path: Path
) -> None:
    """Rule: a bad -o is one line, exit 2, before any request (it used to be a traceback after payment)."""
    (tmp_path / "a-file").write_text("x")
    result = mediarouter_cli("generate", PROMPT, "--model", VEO, "-o", str(tmp_path / "a-file" / "dog.mp4"))
    assert result.exit_code == 2
    assert result.stderr.startswith("mediarouter: error: output") and "Traceback" not in result.output
    assert cli_server.requests == []


def test_cli_resume_all_goes_past_a_404_and_a_410_row_and_marks_the_410_gone(
    cli_server: HostileServer, tmp_path: Path
) -> None:
    """Rule: `jobs resume --all` finishes every row it can: a 404 row and a 410 row (older) do not block a
    good one, the 410 row becomes `gone`, and the exit code says something failed."""

    async def submit(prompt: str) -> Any:
        provider = cli_server.provider()
        try:
            return await provider.submit("google/veo-3.1", VideoRequest.build(prompt=prompt))
        finally:
            await provider.aclose()

    gone, good = asyncio.run(submit("gone")), asyncio.run(submit("good"))
    cli_server.content_status[gone.id] = 410
    journal = SQLiteJobStore(tmp_path / "cli-jobs.sqlite3")
    start = datetime.now(UTC) - timedelta(hours=1)
    rows = [("gen-vid-0-unknown-to-the-server", None), (gone.id, gone.polling_url), (good.id, good.polling_url)]
    for minutes, (job_id, polling_url) in enumerate(rows):
        journal.add(
            JobRecord(
                key=job_id,
                job_id=job_id,
                provider="openrouter",
                model="google/veo-3.1",
                polling_url=polling_url,
                state=RecordState.PENDING,
                target=str(tmp_path / f"{job_id}.mp4"),
                created_at=start + timedelta(minutes=minutes),
            )
        )
    journal.close()

    result = mediarouter_cli("jobs", "resume", "--all", "--poll-interval", "0.01", "--json", "-q")
    assert result.exit_code == 1, result.output
    reports = {r["job_id"]: r for r in json.loads(result.stdout)}
    assert reports["gen-vid-0-unknown-to-the-server"]["outcome"] == "failed"
    assert reports[gone.id]["outcome"] == "gone"
    assert reports[good.id]["outcome"] == "downloaded"
    assert (tmp_path / f"{good.id}.mp4").read_bytes() == cli_server.video(good.id)
    journal = SQLiteJobStore(tmp_path / "cli-jobs.sqlite3")
    assert journal.get(gone.id).state.value == "gone"  # type: ignore[union-attr]
    journal.close()


def test_cli_ctrl_c_after_the_server_accepted_does_not_say_no_job_was_accepted(
    cli_server: HostileServer, tmp_path: Path
) -> None:
    """Rule: Ctrl-C while the submit's answer is on its way must not claim nothing was accepted."""
    cli_server.submit_plan = [accept_then_interrupt()]
    result = cli_generate(tmp_path, "--idempotency-key", KEY)
    assert result.exit_code == 130
    assert len(cli_server.created) == 1
    journal = SQLiteJobStore(tmp_path / "cli-jobs.sqlite3")
    row = journal.find_idempotent(KEY)
    journal.close()
    assert row is not None and row.state.value == "unknown"
    assert "no job was accepted" not in result.stderr
    assert "may" in result.stderr and "jobs list" in result.stderr
