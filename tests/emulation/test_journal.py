"""The shared request journal counts requests per phase (so tests can assert "exactly one submit")
and never keeps a header that may carry a credential."""

from __future__ import annotations

import json

from mediarouter.emulation.journal import Journal, safe_headers


def test_counts_per_phase_and_by_field() -> None:
    journal = Journal()
    journal.record("POST", "/queue/fal-ai/veo3", 429, phase="submit", model="fal-ai/veo3")
    journal.record("POST", "/queue/fal-ai/veo3", 202, phase="submit", model="fal-ai/veo3")
    journal.record("GET", "/queue/requests/r1/status", 200, phase="poll")
    journal.record("GET", "/nowhere", 404)
    assert journal.count("submit") == 2
    assert journal.count("submit", status=202) == 1  # exactly one accepted submit
    assert journal.count() == len(journal) == 4
    assert journal.counts() == {"submit": 2, "poll": 1, None: 1}
    assert [e["status"] for e in journal.select(model="fal-ai/veo3")] == [429, 202]
    journal.clear()
    assert list(journal) == [] and journal.count("submit") == 0


def test_headers_are_kept_without_secrets() -> None:
    headers = {
        "Authorization": "Key fal-secret",
        "x-goog-api-key": "AIza-secret",
        "X-Api-Key": "sk-secret",
        "Cookie": "session=secret",
        "X-Upstream-Token": "tok-secret",
        "Content-Type": "application/json",
        "Range": "bytes=5-",
        "User-Agent": "mediarouter/0.1",
    }
    journal = Journal()
    entry = journal.record("GET", "/x", 200, phase="content", headers=headers)
    assert entry["headers"] == {
        "content-type": "application/json",
        "range": "bytes=5-",
        "user-agent": "mediarouter/0.1",
    }
    assert "secret" not in json.dumps(journal.entries)
    assert safe_headers({"Proxy-Authorization": "Basic x"}) == {}


def test_no_answer_is_journaled_as_a_null_status() -> None:
    journal = Journal()
    journal.record("POST", "/v", None, phase="submit")
    assert journal.count("submit", status=None) == 1
    assert json.loads(json.dumps(journal.entries))[0]["status"] is None
