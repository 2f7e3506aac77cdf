"""Excerpts of provider bodies in error messages (and so in the journal and on a terminal): one printable line,
secrets blanked, never raw binary or control characters."""

from __future__ import annotations

from mediarouter.http.wire import snippet


def test_a_text_body_is_one_line_with_its_words() -> None:
    assert snippet(b'{"error":\n  "bad   prompt"}') == '{"error": "bad prompt"}'


def test_binary_bytes_are_described_not_printed() -> None:
    shown = snippet(bytes(range(256)) * 2)
    assert shown in ("binary data", "512 bytes of binary data")
    assert not any(not c.isprintable() for c in shown)


def test_a_few_control_characters_in_text_never_reach_the_terminal() -> None:
    shown = snippet(b'\xff\xfe{"id": \x00\x1b[31m<html>not json')
    assert "\x1b" not in shown and "\x00" not in shown and "not json" in shown
    assert all(c.isprintable() for c in shown)


def test_a_long_body_is_cut_with_an_ellipsis() -> None:
    shown = snippet(b"x" * 1000, limit=20)
    assert len(shown) == 20 and shown.endswith("…")
