"""Shared MP4 writing: real files PyAV opens with the requested duration and size, rendered once per
shape (issue #15 item 6), while every job still gets its own bytes."""

from __future__ import annotations

import io
import threading

import av
import httpx
import pytest

from mediarouter.emulation.mp4 import LABEL_WIDTH, VideoCache, VideoSpec, frame_size, make_mp4, render


def probe(data: bytes) -> tuple[float, int, int, bool, str]:
    with av.open(io.BytesIO(data), mode="r") as container:
        video = container.streams.video[0]
        assert container.duration is not None
        comment = container.metadata.get("comment", "")
        return container.duration / 1_000_000, video.width, video.height, bool(container.streams.audio), comment


@pytest.mark.parametrize(
    ("duration", "aspect_ratio", "size", "audio", "fps", "shape"),
    [
        (3, "16:9", None, True, 12, (256, 144)),
        (2, "9:16", None, False, 12, (82, 144)),
        (1.5, None, "1080x1080", False, 24, (144, 144)),
    ],
)
def test_an_mp4_opens_with_the_requested_duration_and_size(
    duration: float, aspect_ratio: str | None, size: str | None, audio: bool, fps: int, shape: tuple[int, int]
) -> None:
    data = make_mp4(
        duration, aspect_ratio, size, with_audio=audio, seed=3, label="job-1#0", fps=fps, cache=VideoCache()
    )
    seconds, width, height, has_audio, comment = probe(data)
    assert seconds == pytest.approx(duration, abs=1 / fps + 0.05)
    assert (width, height) == shape == frame_size(aspect_ratio, size)
    assert has_audio is audio
    assert comment.strip() == "job-1#0"


def test_same_parameters_render_once_different_parameters_render_again() -> None:
    cache = VideoCache()
    first = make_mp4(2, "16:9", None, with_audio=False, seed=1, label="job-a#0", variant="#0", cache=cache)
    second = make_mp4(2, "16:9", None, with_audio=False, seed=1, label="job-b#0", variant="#0", cache=cache)
    assert cache.renders == 1
    assert first != second  # each job's bytes are its own (the stamped comment) ...
    assert len(first) == len(second) and probe(second)[4].strip() == "job-b#0"
    assert make_mp4(2, "16:9", None, with_audio=False, seed=1, label="job-a#0", variant="#0", cache=cache) == first
    make_mp4(2, "9:16", None, with_audio=False, seed=1, label="job-c#0", variant="#0", cache=cache)
    assert cache.renders == 2  # ... and another shape is another render
    for changed in ({"seed": 2}, {"variant": "#1"}, {"with_audio": True}, {"fps": 24}):
        args = {"with_audio": False, "seed": 1, "variant": "#0", **changed}
        make_mp4(2, "16:9", None, label="job-d", cache=cache, **args)  # type: ignore[arg-type]
    assert cache.renders == 6


def test_concurrent_requests_for_one_shape_render_once() -> None:
    cache = VideoCache()
    spec = VideoSpec.for_request(1, "1:1")
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(spec))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.renders == 1 and len(set(results)) == 1


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = VideoCache(max_entries=2)
    a, b, c = (VideoSpec.for_request(1, "1:1", variant=v) for v in "abc")
    cache.get(a)
    cache.get(b)
    cache.get(a)  # a is now the most recent
    cache.get(c)  # evicts b
    assert len(cache) == 2
    cache.get(a)
    assert cache.renders == 3
    cache.get(b)
    assert cache.renders == 4
    tiny = VideoCache(max_bytes=10)
    tiny.get(a)
    assert len(tiny) == 0 and tiny.size_bytes == 0  # too big to keep, still served


def test_a_long_label_is_stamped_at_the_fixed_width_and_stays_distinct() -> None:
    cache = VideoCache()
    long_a, long_b = "x" * 100 + "a", "x" * 100 + "b"
    one = cache.clip(VideoSpec.for_request(1), long_a)
    two = cache.clip(VideoSpec.for_request(1), long_b)
    assert one != two and len(one) == len(two)
    assert len(probe(one)[4].encode()) == LABEL_WIDTH


def test_uncached_rendering_and_spec_checks() -> None:
    data = make_mp4(1, None, None, with_audio=False, seed=None, label="plain", cache=None)
    assert probe(data)[4] == "plain"
    assert render(VideoSpec(1, 64, 36))[4:8] == b"ftyp"
    with pytest.raises(ValueError, match="duration must be positive"):
        VideoSpec(0, 64, 36)
    with pytest.raises(ValueError, match="width must be an even number"):
        VideoSpec(1, 63, 36)
    with pytest.raises(ValueError, match="expected WxH"):
        frame_size(None, "wide")


async def test_openrouter_jobs_of_one_shape_share_one_render() -> None:
    """The OpenRouter emulator uses the cache: many jobs with one shape cost one encode."""
    from mediarouter_openrouter.emulator import EMULATOR_BASE_URL, EmulatorConfig, emulator_transport

    transport = emulator_transport(EmulatorConfig(polls_before_in_progress=0, polls_before_completed=0))
    transport.emulator.videos = cache = VideoCache()
    body = {"model": "alibaba/wan-2.6", "prompt": "x", "duration": 5, "seed": 4}
    videos = []
    async with httpx.AsyncClient(
        transport=transport, base_url=EMULATOR_BASE_URL, headers={"Authorization": "Bearer t"}
    ) as client:
        for _ in range(3):
            job = (await client.post("/videos", json=body)).json()
            done = (await client.get(f"/videos/{job['id']}")).json()
            videos.append((await client.get(done["unsigned_urls"][0])).content)
        again = await client.get(done["unsigned_urls"][0], headers={"Range": "bytes=10-"})
    assert cache.renders == 1
    assert len(set(videos)) == 3  # still one file per job
    assert again.content == videos[-1][10:]  # stable bytes, so a Range resume fits
