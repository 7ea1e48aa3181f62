"""When a composer that is still in its room must end its job (docs/broadcast.md, "Watchdog").

The reconciler only sees whether a composer is in the room; these two rules catch the cases where
it is there but its broadcast is not what viewers get, so that ending the job lets the reconciler
dispatch a replacement, which continues the playlist after a discontinuity:

- stalled: no live playlist naming a new segment written for `stall_limit(segment_seconds)` (a
  hung encoder, feeder or upload thread, a sink that refuses every write, or one so slow that the
  playlists wait behind a queue of segments): what viewers reload is what counts;
- fenced: the room connection has been reconnecting for RECONNECT_FENCE_S. The SFU removes a
  participant it has not heard from for about 20 s and the reconciler then dispatches a
  replacement; this composer holds its playlist writes while reconnecting and ends before that, so
  two composers never write one playlist;
- superseded: the sink's fence (a conditional playlist write) showed a newer composer writing the
  playlist; this one no longer writes it and ends at once.

Pure: times are given (the composer's monotonic clock), so the rules are tested without a room.
"""

from __future__ import annotations

from dataclasses import dataclass

# A live viewer sits ~1.5 s behind the live edge and its window (live.m3u8) holds 12 segments: a
# composer that has published nothing for 3 segments has frozen every viewer's picture. Never less
# than 10 s, so that a sink's hiccup the publisher's retries ride out (backoff up to 2 s between
# attempts, composer/hls/config.py) or a slow start is not a stall. A sink that refuses every write
# for that long ends the job too: a replacement (fresh process and connections, maybe another
# host) is the better bet. A job that gives up writes no playlist after that (the replacement
# continues them), so what it had not listed yet is not in the recording.
STALL_SEGMENTS = 3
MIN_STALL_S = 10.0
# Reconnecting for this long ends the job. The SFU removes a participant it has not heard from for
# ~20 s, and only then does the reconciler dispatch a replacement: a composer that reconnected
# after that would write the playlist beside it. Half of it leaves room for the seconds the SDK
# takes to notice the loss (its own pings) after the SFU's count began. Playlists are held from
# the `reconnecting` event on, so what ending at the fence prevents is a late `reconnected`.
RECONNECT_FENCE_S = 10.0
# How often the composer checks the rules: the limits above are known to within this.
CHECK_EVERY_S = 1.0


def stall_limit(segment_seconds: float) -> float:
    """Seconds without a new segment in the live playlist after which the composer is stuck."""
    return max(MIN_STALL_S, STALL_SEGMENTS * segment_seconds)


@dataclass
class Watchdog:
    """What the composer has seen of its progress and its connection, and whether to give up."""

    stall_s: float
    progress_at: float  # when the live playlist last grew (or the composer started)
    fence_s: float = RECONNECT_FENCE_S
    published_count: int = 0  # live playlist writes so far, as last seen
    lost_at: float | None = None  # when the room started reconnecting; None: connected
    superseded: bool = False  # a newer composer writes the playlist (Broadcast.superseded)

    def published(self, count: int, now: float) -> None:
        """The broadcast's count of live playlist writes (each names a new segment), read at `now`."""
        if count != self.published_count:
            self.published_count = count
            self.progress_at = now

    def connection_lost(self, now: float) -> None:
        if self.lost_at is None:
            self.lost_at = now

    def connection_restored(self, now: float) -> None:
        """Back after a reconnection: the held playlists are written now, so the stall is counted
        from here (while reconnecting the playlists are held on purpose, and the fence decides)."""
        self.lost_at = None
        self.progress_at = max(self.progress_at, now)

    def fenced(self, now: float) -> bool:
        """Another composer writes, or may write, the playlist: this job must not write it again,
        even its closing ENDLIST."""
        return self.superseded or (self.lost_at is not None and now - self.lost_at >= self.fence_s)

    def verdict(self, now: float) -> str | None:
        """Why the job must end now, or None while the composer is doing its work."""
        if self.superseded:
            return "a newer composer writes the playlist (its version is in the sink)"
        if self.lost_at is not None and self.fenced(now):
            return (
                f"reconnecting for {now - self.lost_at:.1f} s (fence {self.fence_s:g} s): "
                "the SFU will drop this composer and a replacement will write the playlist"
            )
        if self.lost_at is None and now - self.progress_at >= self.stall_s:
            return (
                f"no new segment in the live playlist for {now - self.progress_at:.1f} s "
                f"(limit {self.stall_s:g} s)"
            )
        return None
