"""The emulator's MP4s: the shared renderer (:mod:`mediarouter.emulation.mp4`), re-exported.

OpenRouter's clips are 144 px high at 12 fps; the picture follows the request's seed and the
output index, so jobs of one shape share one render and each job's bytes still differ (its id is
stamped into the container's comment).
"""

from __future__ import annotations

from mediarouter.emulation.mp4 import (
    DEFAULT_CACHE,
    FPS,
    HEIGHT,
    SAMPLE_RATE,
    VideoCache,
    VideoSpec,
    frame_size,
    make_mp4,
)

__all__ = ["DEFAULT_CACHE", "FPS", "HEIGHT", "SAMPLE_RATE", "VideoCache", "VideoSpec", "frame_size", "make_mp4"]
