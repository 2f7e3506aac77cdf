"""Two lines never share an output file, no line writes over the results file, and a video an emulator made
is never taken for a paid one (nor written over one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from mediarouter_contracts.clock import FakeClock

from mediarouter import InvalidRequest
from mediarouter.batch import run_batch
from mediarouter.cli import cli
from mediarouter.journal import MemoryJobStore

from ..core.router_fakes import Fleet


def _line(prompt: str, output: str | None = None, model: str = "p1/m1") -> dict[str, object]:
    line: dict[str, object] = {"prompt": prompt, "model": model, "duration": 4}
    if output is not None:
        line["output"] = output
    return line


@pytest.mark.parametrize(
    ("first", "second", "says"),
    [
        ("a.mp4", "./a.mp4", "also line 1's"),
        ("x/a.mp4", "x//a.mp4", "also line 1's"),
        ("Cat.mp4", "cat.mp4", "also line 1's"),  # one file on macOS and Windows
        ("a.mp4", "a-1.mp4", "further output"),  # where line 1's second output would go
        ("a-2.mp4", "a.mp4", "further output"),
    ],
)
async def test_two_spellings_of_one_file_are_refused_before_anything_is_paid(
    clock: FakeClock, tmp_path: Path, first: str, second: str, says: str
) -> None:
    fleet = Fleet(clock)
    lines = [json.dumps(_line("a cat", first)), json.dumps(_line("a dog", second))]
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(router, lines, output_dir=tmp_path / "out")
    assert [(b.number, b.error_type) for b in report.invalid] == [(2, "InvalidRequest")]
    assert says in report.invalid[0].message
    assert len(fleet.submits()) == 1
    [done] = [r for r in report.results if r.status == "done"]
    assert done.file is not None and Path(done.file).name.casefold() == Path(first).name.casefold()


async def test_a_line_whose_output_is_the_results_file_is_invalid(clock: FakeClock, tmp_path: Path) -> None:
    fleet = Fleet(clock)
    out = tmp_path / "out"
    lines = [json.dumps(_line("a cat", "results.jsonl")), json.dumps(_line("a dog", "dog.mp4"))]
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(router, lines, output_dir=out)
    assert [b.number for b in report.invalid] == [1] and "results file" in report.invalid[0].message
    records = [json.loads(t) for t in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["status"] for r in records) == ["done", "invalid"]  # the results file is still the results


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        ({"output": "birds/"}, "output", "names a directory"),
        ({"output": "birds/."}, "output", "names a directory"),
        ({"idempotency_key": ""}, "idempotency_key", "non-empty string"),
        ({"idempotency_key": "  "}, "idempotency_key", "non-empty string"),
        ({"idempotency_key": 7}, "idempotency_key", "non-empty string"),
    ],
)
async def test_a_directory_as_output_or_an_empty_key_is_an_invalid_line_naming_the_field(
    clock: FakeClock, tmp_path: Path, extra: dict[str, object], field: str, says: str
) -> None:
    fleet = Fleet(clock)
    lines = [json.dumps({**_line("a cat"), **extra}), json.dumps(_line("a dog"))]
    async with fleet.router(journal=MemoryJobStore()) as router:
        report = await run_batch(router, lines, output_dir=tmp_path / "out")
    [bad] = report.invalid
    assert bad.number == 1 and field in bad.message and says in bad.message
    assert len(fleet.submits()) == 1  # the good line only


def _batch(tmp_path: Path, *args: str) -> object:
    return CliRunner().invoke(cli, ["batch", str(tmp_path / "lines.jsonl"), "-o", str(tmp_path / "out"), *args])


def test_an_emulated_video_is_not_a_paid_one_and_an_emulated_run_does_not_write_over_a_paid_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    (tmp_path / "lines.jsonl").write_text(json.dumps(_line("a cat", "cat.mp4", "openrouter/google/veo-3.1")) + "\n")
    results = tmp_path / "out" / "results.jsonl"

    emulated = _batch(tmp_path, "--emulator")
    assert emulated.exit_code == 0, emulated.output
    [record] = [json.loads(t) for t in results.read_text().splitlines()]
    assert record["status"] == "done" and record["emulated"] is True

    real = _batch(tmp_path)  # no key: the line must run (and fail for want of it), not pass as done
    assert real.exit_code != 0
    assert "done in an earlier run" not in real.output and "no OpenRouter API key" in real.output
    assert "0 of 1 done" in real.output
    assert not any(
        json.loads(t).get("status") == "done" and not json.loads(t).get("emulated")
        for t in results.read_text().splitlines()
    )

    paid = {**record, "cost": "2.00"}
    del paid["emulated"]
    results.write_text(json.dumps(paid) + "\n")  # as a real run writes it
    video = (tmp_path / "out" / "cat.mp4").read_bytes()
    again = _batch(tmp_path, "--emulator")
    assert again.exit_code != 0 and "real (paid) run" in again.output
    assert (tmp_path / "out" / "cat.mp4").read_bytes() == video


async def test_a_per_provider_limit_for_no_installed_provider_is_refused_before_anything_runs(
    clock: FakeClock, tmp_path: Path
) -> None:
    fleet = Fleet(clock)
    async with fleet.router(journal=MemoryJobStore()) as router:
        with pytest.raises(InvalidRequest) as info:
            await run_batch(router, [json.dumps(_line("a cat"))], output_dir=tmp_path, per_provider={"pp1": 1})
    assert "'pp1'" in str(info.value) and "p1" in str(info.value).split("installed:")[1]
    assert fleet.submits() == []


def test_jobs_list_refuses_a_limit_below_one() -> None:
    refused = CliRunner().invoke(cli, ["jobs", "list", "--limit", "0"])
    assert refused.exit_code == 2 and "--limit" in refused.output and ">=1" in refused.output
