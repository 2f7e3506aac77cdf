"""The size guard runs before any upload; shrinking is opt-in, fits the limit, and says what it did."""

from __future__ import annotations

import pytest
from mediarouter_contracts import FakeClock

from mediarouter import CapabilityMismatch, PayloadTooLarge
from mediarouter.describing import describe
from mediarouter.router import Router
from mediarouter.understanding import DescribeModel, check_input, load_video, probe_video, shrink_video

from .fakes import FakeDescriber


def test_the_guard_names_the_size_the_limit_and_the_way_out(clip: bytes) -> None:
    model = DescribeModel(provider="a", id="m1", max_video_bytes=len(clip) - 1)
    with pytest.raises(PayloadTooLarge) as caught:
        check_input(model, load_video(clip))
    assert "over the" in caught.value.message and "nothing was uploaded" in caught.value.message
    assert caught.value.hint is not None and "--shrink" in caught.value.hint


def test_a_type_the_model_does_not_take_lists_the_allowed_values(clip: bytes) -> None:
    model = DescribeModel(provider="a", id="m1", video_mime_types=("video/webm",))
    with pytest.raises(CapabilityMismatch) as caught:
        check_input(model, load_video(clip))
    assert caught.value.field == "video" and caught.value.supported == ["video/webm"]


async def test_an_oversized_video_is_refused_before_any_request_without_shrink(clock: FakeClock, clip: bytes) -> None:
    a = FakeDescriber("a", models={"m1": {"max_video_bytes": len(clip) // 2}})
    async with Router(providers={"a": a}, clock=clock, journal="off") as router:
        with pytest.raises(PayloadTooLarge):
            await describe(router, clip, "What?", model="a/m1", use_cache=False)
    assert a.calls == []


async def test_with_shrink_the_model_gets_a_smaller_mp4_and_the_result_says_so(clock: FakeClock, clip: bytes) -> None:
    limit = len(clip) // 2
    a = FakeDescriber("a", models={"m1": {"max_video_bytes": limit}})
    async with Router(providers={"a": a}, clock=clock, journal="off") as router:
        result = await describe(router, clip, "What?", model="a/m1", use_cache=False, shrink=True)
    sent = a.calls[0][1].video
    assert sent.mime_type == "video/mp4" and sent.size is not None and sent.size <= limit
    assert sent.sha256 == load_video(clip).sha256, "the cache key is the original's content"
    shrunk = result.video["shrunk"]
    assert shrunk is not None and shrunk["original_size"] == len(clip) and shrunk["size"] == sent.size
    assert probe_video(sent.read_bytes()).duration is not None


def test_downscale_keeps_the_whole_video_and_cut_keeps_its_start(clip: bytes) -> None:
    video = load_video(clip)
    original = probe_video(clip)
    assert original.duration is not None
    small = shrink_video(video, len(clip) // 3, mode="downscale")
    assert small.shrunk is not None and small.shrunk.mode == "downscale"
    assert (small.size or 0) <= len(clip) // 3
    assert probe_video(small.read_bytes()).duration == pytest.approx(original.duration, abs=0.1)
    cut = shrink_video(video, len(clip) // 3, mode="cut")
    probed = probe_video(cut.read_bytes())
    assert cut.shrunk is not None and cut.shrunk.mode == "cut"
    assert probed.duration is not None and probed.duration < original.duration - 0.5
    assert f"cut to the first {cut.shrunk.duration:.1f}s" in cut.shrunk.describe()


def test_a_limit_nothing_useful_fits_under_is_refused(clip: bytes) -> None:
    with pytest.raises(PayloadTooLarge):
        shrink_video(load_video(clip), 2_000, mode="auto")
