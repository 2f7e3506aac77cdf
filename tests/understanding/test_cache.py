"""The describe cache: keyed by content, model, prompt and options; emulated answers apart; clearable."""

from __future__ import annotations

from pathlib import Path

from mediarouter_contracts import FakeClock

from mediarouter.describe_cache import DescribeCache, cache_dir, cache_key
from mediarouter.describing import describe
from mediarouter.router import Router
from mediarouter.understanding import DescribeResult

from .fakes import FakeDescriber


def test_the_key_changes_with_content_model_prompt_and_options() -> None:
    base = cache_key("abc", "a/m1", "What?", {"max_tokens": 1024})
    assert base == cache_key("abc", "a/m1", "What?", {"max_tokens": 1024})
    others = [
        cache_key("abd", "a/m1", "What?", {"max_tokens": 1024}),
        cache_key("abc", "a/m2", "What?", {"max_tokens": 1024}),
        cache_key("abc", "a/m1", "What.", {"max_tokens": 1024}),
        cache_key("abc", "a/m1", "What?", {"max_tokens": 10}),
    ]
    assert base not in others and len(set(others)) == 4


def test_the_cache_lives_in_the_platform_cache_dir_unless_overridden(_isolated_cache: Path) -> None:
    assert cache_dir() == _isolated_cache / "describe"


async def test_a_second_identical_call_is_answered_from_disk_without_a_request(clock: FakeClock, clip: bytes) -> None:
    a = FakeDescriber("a", scripts={"m1": ["first answer", "second answer"]})
    async with Router(providers={"a": a}, clock=clock, journal="off") as router:
        first = await describe(router, clip, "What?", model="a/m1")
        again = await describe(router, clip, "What?", model="a/m1")
        other_prompt = await describe(router, clip, "Who?", model="a/m1")
    assert (first.text, first.cached) == ("first answer", False)
    assert (again.text, again.cached) == ("first answer", True)
    assert [t.outcome for t in again.attempts] == ["cached"]
    assert other_prompt.text == "second answer"
    assert len(a.calls) == 2


async def test_no_cache_asks_the_model_and_stores_nothing(clock: FakeClock, clip: bytes) -> None:
    a = FakeDescriber("a")
    async with Router(providers={"a": a}, clock=clock, journal="off") as router:
        await describe(router, clip, "What?", model="a/m1", use_cache=False)
        await describe(router, clip, "What?", model="a/m1", use_cache=False)
    assert len(a.calls) == 2 and DescribeCache().entries() == 0


async def test_an_emulated_answer_never_stands_in_for_a_real_one(clock: FakeClock, clip: bytes) -> None:
    a = FakeDescriber("a", scripts={"m1": ["emulated", "real"]})
    async with Router(providers={"a": a}, clock=clock, journal="off", emulator=True) as router:
        await describe(router, clip, "What?", model="a/m1")
    async with Router(providers={"a": a}, clock=clock, journal="off") as router:
        real = await describe(router, clip, "What?", model="a/m1")
    assert real.text == "real" and not real.cached


def test_an_unreadable_entry_is_a_miss_and_clear_removes_everything(tmp_path: Path) -> None:
    cache = DescribeCache(tmp_path / "c")
    cache.put("ab" * 32, DescribeResult(text="hi", provider="a", model="m1"))
    cache.put("cd" * 32, DescribeResult(text="ho", provider="a", model="m1"))
    got = cache.get("ab" * 32)
    assert got is not None and got.text == "hi" and got.cached
    (tmp_path / "c" / "cd" / f"{'cd' * 32}.json").write_text("{not json")
    assert cache.get("cd" * 32) is None
    assert cache.clear() == 1 and cache.entries() == 0 and cache.get("ab" * 32) is None


class _BrokenCache(DescribeCache):
    def put(self, key: str, result: DescribeResult) -> None:
        raise RuntimeError("disk on fire")


async def test_a_paid_answer_is_returned_when_the_cache_cannot_store_it(clock: FakeClock, clip: bytes) -> None:
    """The request was paid for: a failing cache write must never lose its text."""
    lone_surrogate = "scene one \ud800 scene two"  # a JSON answer may carry one; it cannot be encoded as UTF-8
    a = FakeDescriber("a", scripts={"m1": [lone_surrogate, "paid again"]})
    async with Router(providers={"a": a}, clock=clock, journal="off") as router:
        first = await describe(router, clip, "What?", model="a/m1")
        broken = await describe(router, clip, "Who?", model="a/m1", cache=_BrokenCache())
    assert first.text == lone_surrogate and not first.cached
    assert broken.text == "paid again"
    assert DescribeCache().entries() == 0 and len(a.calls) == 2


async def test_an_answer_from_another_server_of_the_same_provider_is_not_reused(clock: FakeClock, clip: bytes) -> None:
    """A base URL on a loopback emulator or a proxy answers apart from the real API: their answers are kept apart."""
    local = FakeDescriber("a", scripts={"m1": ["from the loopback emulator"]})
    local.server_address = "127.0.0.1:8765"
    real = FakeDescriber("a", scripts={"m1": ["from the real API"]})
    real.server_address = "openrouter.ai:443"
    async with Router(providers={"a": local}, clock=clock, journal="off") as router:
        await describe(router, clip, "What?", model="a/m1")
    async with Router(providers={"a": real}, clock=clock, journal="off") as router:
        answer = await describe(router, clip, "What?", model="a/m1")
    assert (answer.text, answer.cached) == ("from the real API", False)


async def test_an_empty_answer_is_returned_but_not_cached(clock: FakeClock, clip: bytes) -> None:
    """An empty text (a filtered or failed completion) must not stand in for an answer on every later call."""
    a = FakeDescriber("a", scripts={"m1": ["", "a real answer"]})
    async with Router(providers={"a": a}, clock=clock, journal="off") as router:
        empty = await describe(router, clip, "What?", model="a/m1")
        again = await describe(router, clip, "What?", model="a/m1")
    assert empty.text == "" and (again.text, again.cached) == ("a real answer", False)
    assert DescribeCache().entries() == 1
