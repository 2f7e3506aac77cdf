"""A resumed download never splices two versions of an output: a part file keeps the validators (strong
ETag, Last-Modified, total size) of the response it was started from, and a `206` that disagrees starts the
output over from zero, once; an origin that keeps changing ends in a ProtocolError naming the job.

Every test runs through the real `ProviderClient` (an `httpx.MockTransport` origin that honours `Range`) and
the real engine, on the loop and in threads (`write_stream` / `_write_blocking`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from mediarouter_contracts.clock import FakeClock

from mediarouter import Job, JobOutput, JobStatus, Router, VideoRequest, downloads
from mediarouter.downloads import PartFile, Validators
from mediarouter.engine import JobEngine
from mediarouter.errors import ProtocolError, ProviderUnavailable
from mediarouter.http import ProviderClient
from mediarouter.http.statuses import StatusRules
from mediarouter.journal import MemoryJobStore, RecordState
from mediarouter.provider import Download

from .fakes import ScriptedProvider

URL = "https://cdn.origin.test/outputs/job-1/0.mp4"
CUT = 3000  # bytes a cut response delivers (it declares the whole length, so the engine retries)


def video(seed: str, size: int = 20_000) -> bytes:
    """An MP4-looking body, different for each seed."""
    head = b"\x00\x00\x00\x18ftypmp42"
    return (head + hashlib.sha256(seed.encode()).digest() * (size // 32 + 1))[:size]


@dataclass(frozen=True)
class Version:
    """One version of the output the URL serves: its bytes and validators."""

    body: bytes
    etag: str | None = None
    last_modified: str | None = None


V1 = Version(video("v1"), etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
V2 = Version(video("v2"), etag='"v2"', last_modified="Tue, 02 Jan 2024 00:00:00 GMT")


class Origin:
    """Serves `script` one step per request, the last step for any further ones: (version, cut), where a
    cut sends only the first CUT bytes of the body. `Range: bytes=N-` gets a 206 with Content-Range."""

    def __init__(self, *script: tuple[Version, bool]) -> None:
        self.script = list(script)
        self.ranges: list[str | None] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        step = self.script[min(len(self.ranges), len(self.script) - 1)]
        self.ranges.append(request.headers.get("range"))
        version, cut = step
        headers = {"content-type": "video/mp4", "accept-ranges": "bytes"}
        if version.etag is not None:
            headers["etag"] = version.etag
        if version.last_modified is not None:
            headers["last-modified"] = version.last_modified
        start = int(request.headers["range"][6:].rstrip("-")) if "range" in request.headers else 0
        size = len(version.body)
        if start >= size:
            return httpx.Response(416, headers={"content-range": f"bytes */{size}"})
        body = version.body[start:]
        headers["content-length"] = str(len(body))
        if start:
            headers["content-range"] = f"bytes {start}-{size - 1}/{size}"
        return httpx.Response(206 if start else 200, headers=headers, content=body[:CUT] if cut else body)


class OriginProvider(ScriptedProvider):
    """Downloads its one output from the origin through the core's `ProviderClient` (Range, the checks)."""

    def __init__(self, origin: Origin, *, threaded: bool) -> None:
        super().__init__(polls=["completed"] * 5)
        self.client = ProviderClient(
            provider=self.name,
            rules=StatusRules(label="Fake"),
            base_url="https://api.fake.test",
            transport=httpx.MockTransport(origin.handle),
            threaded_downloads=threaded,
        )

    def open_download(self, job: Job, status: JobStatus, output: JobOutput, *, offset: int = 0) -> Any:
        self.calls.append(f"download:{output.index}:{offset}")
        return self.client.open_download(httpx.URL(URL), model=job.model, job_id=job.id, offset=offset, auth=False)

    async def aclose(self) -> None:
        await self.client.aclose()
        await super().aclose()


@pytest.fixture(params=["on-loop", "threaded"])
def threaded(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both write paths: async chunks on the loop, and a blocking body in reader and writer threads."""
    if request.param == "threaded":
        monkeypatch.setattr(downloads, "THREADED_MIN", 0)  # even these small bodies get their own threads
        return True
    return False


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[None]:
    """Skips a test that needs the record to outlive the process where the file system cannot keep one."""
    probe = tmp_path / "probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.mediarouter.probe", b"1")
    except (AttributeError, OSError):
        pytest.skip("no user extended attributes here: a part file's record does not outlive its process")
    probe.unlink()
    yield


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


async def generate(provider: OriginProvider, target: Path, journal: MemoryJobStore) -> Any:
    async with Router(providers={"fake": provider}, journal=journal, clock=FakeClock()) as router:
        return await router.generate("a dog", model="fake/video-1", output=target)


async def test_a_resume_whose_etag_matches_is_appended(tmp_path: Path, threaded: bool) -> None:
    origin = Origin((V1, True), (V1, False))
    journal = MemoryJobStore()
    result = await generate(OriginProvider(origin, threaded=threaded), tmp_path / "out.mp4", journal)
    assert origin.ranges == [None, f"bytes={CUT}-"]  # one Range request, continued
    assert (tmp_path / "out.mp4").read_bytes() == V1.body
    assert result.files[0].sha256 == sha(V1.body)
    assert journal.get(result.job_id).files[0]["sha256"] == sha(V1.body)  # type: ignore[union-attr]
    assert leftovers(tmp_path) == []


async def test_a_resume_whose_etag_changed_starts_over_and_saves_the_new_version(
    tmp_path: Path, threaded: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Same length, other bytes, other strong ETag: the 206 is not appended to the old version's bytes."""
    origin = Origin((V1, True), (V2, False))
    journal = MemoryJobStore()
    caplog.set_level("WARNING", logger="mediarouter")
    result = await generate(OriginProvider(origin, threaded=threaded), tmp_path / "out.mp4", journal)
    assert origin.ranges == [None, f"bytes={CUT}-", None]  # the 206 refused, then everything again
    assert (tmp_path / "out.mp4").read_bytes() == V2.body
    assert result.files[0].sha256 == sha(V2.body)
    assert journal.get(result.job_id).files[0]["sha256"] == sha(V2.body)  # type: ignore[union-attr]
    assert leftovers(tmp_path) == []
    [line] = [r.getMessage() for r in caplog.records if "changed on the server" in r.getMessage()]
    assert "job-1" in line and '"v1"' in line and '"v2"' in line and f"{CUT} bytes" in line


async def test_without_strong_etags_a_changed_last_modified_starts_over(tmp_path: Path, threaded: bool) -> None:
    """A weak ETag promises no equal bytes: it is ignored, and Last-Modified decides."""
    old = Version(video("lm-old"), etag='W/"same"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    new = Version(video("lm-new"), etag='W/"same"', last_modified="Wed, 03 Jan 2024 00:00:00 GMT")
    origin = Origin((old, True), (new, False))
    result = await generate(OriginProvider(origin, threaded=threaded), tmp_path / "out.mp4", MemoryJobStore())
    assert origin.ranges == [None, f"bytes={CUT}-", None]
    assert (tmp_path / "out.mp4").read_bytes() == new.body
    assert result.files[0].sha256 == sha(new.body)


async def test_a_changed_content_range_total_starts_over(tmp_path: Path, threaded: bool) -> None:
    """No ETag, no Last-Modified: the whole size named by the 206 differs from the first response's."""
    old, new = Version(video("short", 20_000)), Version(video("long", 26_000))
    origin = Origin((old, True), (new, False))
    result = await generate(OriginProvider(origin, threaded=threaded), tmp_path / "out.mp4", MemoryJobStore())
    assert origin.ranges == [None, f"bytes={CUT}-", None]
    assert (tmp_path / "out.mp4").read_bytes() == new.body
    assert result.files[0].sha256 == sha(new.body)


async def test_a_part_file_without_a_record_is_continued_as_before_then_checked(tmp_path: Path, threaded: bool) -> None:
    """A part file an older version left has no record: its resume is appended as it always was (nothing
    says which version its bytes are), and from then on the 206's validators are what is checked."""
    target = tmp_path / "out.mp4"
    (tmp_path / ".out.mp4.job-1-0.part").write_bytes(V1.body[:CUT])  # no record beside it
    origin = Origin((V1, True), (V1, False))
    result = await generate(OriginProvider(origin, threaded=threaded), target, MemoryJobStore())
    assert origin.ranges == [f"bytes={CUT}-", f"bytes={2 * CUT}-"]
    assert target.read_bytes() == V1.body and result.files[0].sha256 == sha(V1.body)

    # Once continued, the part file carries that 206's validators: a later change is caught.
    target.unlink()
    (tmp_path / ".out.mp4.job-1-0.part").write_bytes(V1.body[:CUT])
    origin = Origin((V1, True), (V2, False))
    result = await generate(OriginProvider(origin, threaded=threaded), target, MemoryJobStore())
    assert origin.ranges == [f"bytes={CUT}-", f"bytes={2 * CUT}-", None]
    assert target.read_bytes() == V2.body and result.files[0].sha256 == sha(V2.body)


async def test_a_part_file_left_by_another_process_is_checked_against_its_record(
    tmp_path: Path, threaded: bool, recorded: None, clock: FakeClock
) -> None:
    """The record outlives the process: a new engine (as `jobs resume` after a crash) finds it on the part file."""
    target = tmp_path / "out.mp4"
    first = Origin((V1, True))
    with pytest.raises(ProviderUnavailable, match="truncated"):
        await JobEngine(clock=clock, download_retries=0).run(
            OriginProvider(first, threaded=threaded), "video-1", VideoRequest(prompt="a dog"), output=target
        )
    [part] = tmp_path.glob(".out.mp4.*.part")
    assert part.read_bytes() == V1.body[:CUT]
    assert PartFile.create(target, tag="job-1-0").validators == Validators(
        etag='"v1"', last_modified=V1.last_modified, total=len(V1.body)
    )

    later = Origin((V2, False))
    result = await JobEngine(clock=clock).complete(
        OriginProvider(later, threaded=threaded), Job(id="job-1", provider="fake", model="video-1"), output=target
    )
    assert later.ranges == [f"bytes={CUT}-", None]
    assert target.read_bytes() == V2.body and result.files[0].sha256 == sha(V2.body)
    assert leftovers(tmp_path) == []
    assert "user.mediarouter.validators" not in os.listxattr(target)


async def test_an_origin_that_changes_every_time_ends_in_a_protocol_error(tmp_path: Path, threaded: bool) -> None:
    """Every response is another version: one restart from zero, then a clear error, not a loop; nothing
    corrupt is saved and the job stays resumable."""
    versions = [Version(video(f"v{n}"), etag=f'"v{n}"') for n in range(10)]
    origin = Origin(*((v, True) for v in versions))  # each cut, so each retry is a resume of another version
    journal = MemoryJobStore()
    target = tmp_path / "out.mp4"
    with pytest.raises(ProtocolError, match="changed on the server") as caught:
        await generate(OriginProvider(origin, threaded=threaded), target, journal)
    error = caught.value
    assert type(error) is ProtocolError and error.job_id == "job-1"
    assert "job job-1" in str(error) and '"v3"' in str(error)  # the job, and the reason
    assert origin.ranges == [None, f"bytes={CUT}-", None, f"bytes={CUT}-"]
    assert not target.exists()
    assert leftovers(tmp_path) == []  # the old versions' bytes are not kept to be continued
    assert journal.get("job-1").state is RecordState.INTERRUPTED  # type: ignore[union-attr]


# -- the rules, on one part file ------------------------------------------------------------------------


def response(body: bytes, *, offset: int, total: int | None, **headers: str) -> Download:
    """A 200 (`offset` 0: `total` is its Content-Length, the body may be cut short) or a 206 from `offset`."""

    async def chunks() -> Any:
        yield body

    fields = {k.replace("_", "-"): v for k, v in headers.items()}
    if offset and total is not None:
        fields["content-range"] = f"bytes {offset}-{offset + len(body) - 1}/{total}"
    length = total if not offset and total is not None else len(body)
    return Download(chunks=chunks(), content_length=length, resumed_from=offset, headers=fields)


async def test_a_matching_strong_etag_decides_even_when_last_modified_differs(tmp_path: Path) -> None:
    data = video("same")
    part = PartFile.create(tmp_path / "o.mp4", tag="t")
    await part.write_stream(response(data[:CUT], offset=0, total=len(data), etag='"e"', last_modified="Mon"))
    await part.write_stream(response(data[CUT:], offset=CUT, total=len(data), etag='"e"', last_modified="Tue"))
    assert part.path.read_bytes() == data and part.sha256() == sha(data)


async def test_a_206_past_the_whole_size_is_not_appended_even_without_a_record(tmp_path: Path) -> None:
    """Nothing recorded, yet the 206 says the whole output is smaller than what the part file holds."""
    (tmp_path / ".o.mp4.t.part").write_bytes(video("old")[:CUT])
    part = PartFile.create(tmp_path / "o.mp4", tag="t")
    assert part.validators is None and part.size == CUT
    with pytest.raises(downloads.PartChanged, match=f"{CUT - 1000} bytes"):
        await part.write_stream(response(b"\x00" * 10, offset=CUT, total=CUT - 1000))
    assert part.size == 0 and part.path.read_bytes() == b"" and part.validators is None


async def test_a_download_that_starts_at_another_byte_than_asked_is_never_written_at_the_start(tmp_path: Path) -> None:
    """A provider's own `Download` claiming a 206 from byte 1000 for a part file of CUT bytes: its body is
    not written over byte 0 (which would corrupt the file); the part file starts over instead."""
    data = video("same")
    part = PartFile.create(tmp_path / "o.mp4", tag="t")
    await part.write_stream(response(data[:CUT], offset=0, total=len(data), etag='"e"'))
    with pytest.raises(downloads.PartChanged, match=f"starts at byte 1000, not at byte {CUT}"):
        await part.write_stream(response(data[1000:], offset=1000, total=len(data), etag='"e"'))
    assert part.size == 0 and part.path.read_bytes() == b""
    await part.write_stream(response(data, offset=0, total=len(data), etag='"e"'))
    assert part.path.read_bytes() == data and part.sha256() == sha(data)
