"""HLS viewers in the listener count: sampled presence heartbeats. Pure, no I/O.

HLS viewers never join the room, so no webhook counts them. Instead a deterministic half of them
(by a hash of the user id) sends one heartbeat per window while the player plays; the store counts
each (user, window) once, and the reconciler turns the last complete window's count into an
estimate (count / sampling rate) that it adds to the exact WebRTC count. docs/control-plane.md
("Listener count") gives the limits, their reasons and the estimate's error.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Final

from .reactions import RateLimit

# The sampling rate is SAMPLED_BUCKETS / SAMPLE_BUCKETS = 1/2. A sampled viewer sends one call per
# window (300 s: 0.2 calls/min), so the average over all viewers is 0.1 calls/min, the idle goal of
# issue 9. A higher rate would need a longer window (a staler count); a lower one a larger error.
SAMPLE_BUCKETS: Final = 1000
SAMPLED_BUCKETS: Final = 500
# Seconds per counting window, and between two heartbeats of one sampled viewer (the default of
# Settings.presence_window_seconds; tests shorten it).
WINDOW_SECONDS: Final = 300
# Salt for the sampling hash, so the sample is independent of the stores' crc32(user) shard choice.
_SALT: Final = b"presence\x00"


@dataclass(frozen=True)
class HlsEstimate:
    """How many HLS viewers the window `window` counted (already divided by the sampling rate)."""

    window: int
    viewers: int


# Heartbeats per user and Space in each window of the clock, kept in each process's memory
# (store/process_limits.py): a page sends one per window, and a retry or a second tab a few more.
HEARTBEATS_PER_WINDOW: Final = 3


def heartbeat_limit(window_seconds: int) -> RateLimit:
    """The heartbeats' limit for windows of `window_seconds` (the deployment's; tests shorten it)."""
    return RateLimit(
        name="presence", min_interval=0.0, burst=HEARTBEATS_PER_WINDOW, burst_seconds=window_seconds
    )


def rate() -> float:
    return SAMPLED_BUCKETS / SAMPLE_BUCKETS


def sampled(user: str) -> bool:
    """Whether this user's page sends heartbeats: the same answer every time, in every process."""
    return zlib.crc32(_SALT + user.encode()) % SAMPLE_BUCKETS < SAMPLED_BUCKETS


def window_of(timestamp: float, window_seconds: int) -> int:
    """The window a heartbeat received at `timestamp` (Unix seconds) counts into."""
    return int(timestamp // window_seconds)


def last_complete(timestamp: float, window_seconds: int) -> int:
    """The newest window no heartbeat can be added to any more."""
    return window_of(timestamp, window_seconds) - 1


def estimate(sampled_count: int) -> int:
    """Viewers estimated from the sampled viewers counted in one window."""
    return round(max(sampled_count, 0) * SAMPLE_BUCKETS / SAMPLED_BUCKETS)


def due(current: HlsEstimate | None, timestamp: float, window_seconds: int) -> int | None:
    """The window to estimate now, or None when `current` already is the last complete one."""
    window = last_complete(timestamp, window_seconds)
    if current is not None and current.window >= window:
        return None
    return window


def standard_error(viewers: int) -> float:
    """One standard deviation of the estimate for `viewers` HLS viewers: each is sampled with
    probability p independently of the others (a hash of distinct ids), so the sampled count is
    binomial and the estimate's deviation is sqrt(n (1 - p) / p)."""
    p = rate()
    return math.sqrt(max(viewers, 0) * (1 - p) / p)
