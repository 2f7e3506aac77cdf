"""`JobStore.find_saved(path)`: the rows whose saved `files` include a path, on every bundled store
(PostgreSQL against a real server), exact whatever the path's characters, and without parsing the JSON
of the rows that cannot match."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mediarouter.journal import JobRecord, JobStore, MemoryJobStore, RecordState, SQLiteJobStore, find_saved

if TYPE_CHECKING:
    from mediarouter.journal_postgres import PostgresJobStore

    Store = MemoryJobStore | SQLiteJobStore | PostgresJobStore


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every test runs against each store; postgres against a real server (skipped without one)."""
    made: Store
    if request.param == "memory":
        made = MemoryJobStore()
    elif request.param == "sqlite":
        made = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    else:
        from mediarouter.journal_postgres import PostgresJobStore

        made = PostgresJobStore(request.getfixturevalue("postgres_url"))
    assert isinstance(made, JobStore)
    yield made
    made.close()


def row(job_id: str, *paths: str | Path, prompt: str = "a dog", **fields: Any) -> JobRecord:
    files = [{"path": str(p), "size": 10, "sha256": "0" * 64, "index": i} for i, p in enumerate(paths)]
    return JobRecord(
        key=job_id,
        job_id=job_id,
        provider="fake",
        model="video-1",
        state=RecordState.DOWNLOADED,
        request={"prompt": prompt},
        files=files,
        **fields,
    )


def keys(rows: list[JobRecord]) -> list[str]:
    return [r.key for r in rows]


def test_only_the_rows_saving_that_very_path_are_found(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "videos" / "x.mp4"
    store.add(row("job-1", target))
    store.add(row("job-2", tmp_path / "videos" / "x.mp4.bak"))  # the path is a prefix of this one
    store.add(row("job-3", tmp_path / "videos" / "ax.mp4"))  # … and a suffix of this one
    store.add(row("job-4", tmp_path / "other" / "x.mp4"))  # the same name elsewhere
    store.add(row("job-5", prompt=f"save it at {target}"))  # the path in a prompt is no saved file
    store.add(row("job-6", tmp_path / "a.mp4", target))  # a further output there
    store.add(JobRecord(key="local-7", provider="fake", model="video-1", target=str(target)))  # wanted, not saved
    assert keys(store.find_saved(target)) == ["job-1", "job-6"]
    assert keys(store.find_saved(str(target))) == ["job-1", "job-6"]
    assert store.find_saved(tmp_path / "videos" / "y.mp4") == []


@pytest.mark.parametrize(
    "name",
    [
        'with "quotes" and \\ back\\slash.mp4',
        "100% _under_score.mp4",  # LIKE's wildcards
        "vidéo 猫 ☃.mp4",
        "tab\tand\nnewline.mp4",
        "猫.mp4",
        "視頻",  # no plain character at all
    ],
)
def test_a_path_with_any_characters_is_found_exactly(store: Store, tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    store.add(row("job-1", target))
    store.add(row("job-2", tmp_path / ("x" + name)))
    store.add(row("job-3", tmp_path / "plain.mp4"))
    assert keys(store.find_saved(target)) == ["job-1"]


def test_a_row_rekeyed_by_its_job_id_and_updated_files_are_found(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "x.mp4"
    store.add(JobRecord(key="local-1", provider="fake", model="video-1"))
    store.update("local-1", job_id="job-1", state=RecordState.PENDING)
    assert store.find_saved(target) == []
    store.update("job-1", state=RecordState.DOWNLOADED, files=[{"path": str(target), "size": 1, "sha256": "a"}])
    [found] = store.find_saved(target)
    assert found.key == "job-1" and found.files[0]["path"] == str(target)
    store.update("job-1", files=[{"path": str(tmp_path / "moved.mp4"), "size": 1, "sha256": "a"}])
    assert store.find_saved(target) == []


def test_a_relative_path_an_older_version_journaled_is_taken_from_the_current_directory(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store.add(row("job-1", os.path.join("videos", "x.mp4")))
    assert keys(store.find_saved(tmp_path / "videos" / "x.mp4")) == ["job-1"]
    assert keys(store.find_saved(Path("videos") / "." / "x.mp4")) == ["job-1"]


def test_rows_that_cannot_match_are_not_parsed(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store finds the candidates itself (in SQL for SQLite and PostgreSQL): a lookup on a large
    journal parses only the rows that mention the file's name, not every row's JSON."""
    for n in range(200):
        store.add(row(f"job-{n}", tmp_path / f"{n:04d}-other.mp4"))
    target = tmp_path / "0042-wanted.mp4"
    store.add(row("job-wanted", target))
    parsed: list[str] = []
    original = JobRecord.model_validate_json.__func__  # type: ignore[attr-defined]

    def counting(cls: type[JobRecord], data: Any, /, **kw: Any) -> JobRecord:
        parsed.append("row")
        result: JobRecord = original(cls, data, **kw)
        return result

    monkeypatch.setattr(JobRecord, "model_validate_json", classmethod(counting))
    assert keys(store.find_saved(target)) == ["job-wanted"]
    assert len(parsed) <= 1


class Plain:
    """A host's store without `find_saved`: only what `list` gives."""

    def __init__(self, rows: list[JobRecord]) -> None:
        self.rows = rows

    def list(self, *, states: list[RecordState] | None = None, limit: int | None = None) -> list[JobRecord]:
        return list(self.rows)


def test_a_store_without_the_method_is_searched_row_by_row(tmp_path: Path) -> None:
    target = tmp_path / "x.mp4"
    rows = [row("job-1", tmp_path / "y.mp4"), row("job-2", target)]
    assert keys(find_saved(Plain(rows), target)) == ["job-2"]  # type: ignore[arg-type]
    store = MemoryJobStore()
    for r in rows:
        store.add(r)
    assert keys(find_saved(store, target)) == ["job-2"]
