"""HLS viewers in the listener count: presence heartbeats, each viewer counted in one window of
every two. Pure, no I/O.

HLS viewers never join the room, so no webhook counts them. Instead every viewer's page sends one
heartbeat per interval of HEARTBEAT_WINDOWS windows while the player plays, the first at a random
moment of the first interval, so a viewer's heartbeats fall at a phase of their own. The store
counts each (user, slot of HEARTBEAT_WINDOWS windows) once, into the window the heartbeat arrived
in; the reconciler turns the last complete window's count into an estimate (count x
HEARTBEAT_WINDOWS) that it adds to the exact WebRTC count. With phases spread uniformly, each
viewer falls into a given window with probability 1/HEARTBEAT_WINDOWS, independently of the
others: the count is binomial, as a fixed half-sample's would be, but every viewer calls, so the
heartbeat also keeps their entry in the host's listener list alive (domain/audience.py).
docs/control-plane.md ("Listener count") gives the limits, their reasons and the estimate's error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

# One heartbeat per HEARTBEAT_WINDOWS windows: with 300 s windows, one call per 600 s (0.1 calls/min,
# the idle goal of issue 9). More windows per heartbeat would need shorter windows (more counter
# writes) for the same staleness; fewer, more calls.
HEARTBEAT_WINDOWS: Final = 2
# Seconds per counting window (the default of Settings.presence_window_seconds; tests shorten it).
WINDOW_SECONDS: Final = 300


@dataclass(frozen=True)
class HlsEstimate:
    """How many HLS viewers the window `window` stands for (its count, already scaled by estimate())."""

    window: int
    viewers: int


def rate() -> float:
    """The chance that a given viewer is counted in a given window."""
    return 1 / HEARTBEAT_WINDOWS


def interval(window_seconds: int) -> int:
    """Seconds between two heartbeats of one viewer (what the HLS join answer tells the page)."""
    return window_seconds * HEARTBEAT_WINDOWS


def slot_of(window: int) -> int:
    """The slot a window belongs to: a viewer counts once per slot (a retry, a page that calls too
    often, counts nowhere twice), in the window their heartbeat arrived in."""
    return window // HEARTBEAT_WINDOWS


def window_of(timestamp: float, window_seconds: int) -> int:
    """The window a heartbeat received at `timestamp` (Unix seconds) counts into."""
    return int(timestamp // window_seconds)


def last_complete(timestamp: float, window_seconds: int) -> int:
    """The newest window no heartbeat can be added to any more."""
    return window_of(timestamp, window_seconds) - 1


def estimate(window_count: int) -> int:
    """Viewers estimated from the viewers counted in one window."""
    return round(max(window_count, 0) * HEARTBEAT_WINDOWS)


def due(current: HlsEstimate | None, timestamp: float, window_seconds: int) -> int | None:
    """The window to estimate now, or None when `current` already is the last complete one."""
    window = last_complete(timestamp, window_seconds)
    if current is not None and current.window >= window:
        return None
    return window


def standard_error(viewers: int) -> float:
    """One standard deviation of the estimate for `viewers` HLS viewers: each falls into the window
    with probability p independently of the others (their phases are drawn by their own pages), so
    the count is binomial and the estimate's deviation is sqrt(n (1 - p) / p)."""
    p = rate()
    return math.sqrt(max(viewers, 0) * (1 - p) / p)
