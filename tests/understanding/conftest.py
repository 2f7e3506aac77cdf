from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the developer's describe cache."""
    monkeypatch.setenv("MEDIAROUTER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def clip() -> bytes:
    """A real 2-second 256x144 MP4 with audio (rendered once)."""
    from mediarouter.emulation.mp4 import make_mp4

    return make_mp4(2, "16:9", None, with_audio=True, seed=7, label="understanding-tests")
