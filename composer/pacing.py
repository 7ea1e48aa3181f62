"""What the composer feeds its encoder on the wall clock, and what it drops when it cannot keep up.

Audio goes in fixed chunks and video in frames, each stamped by count (the encoder's media time is
the number of samples or frames pushed), so the two stay in sync only if every drop removes the
same span from both. A drop is therefore made of whole *units*: the shortest span that is a whole
number of audio chunks and of video frames (20 ms chunks at 30 fps: 0.1 s). The remainder of the
due span, less than a unit, is sent as usual or waits for the next call.

Pure: elapsed time and the encoder's backlog are given, so overload is tested without a clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

# When the encoder is this far behind (media queued, not yet encoded), nothing more is queued: the
# due span is dropped in whole units until the backlog is under it again.
MAX_BACKLOG_S = 3.0
# A call that finds more than this due (the process was stopped or starved) drops the missed span
# instead of encoding it all at once.
MAX_CATCH_UP_S = 1.0


@dataclass(frozen=True)
class Step:
    kind: Literal["audio", "video", "skip"]
    seconds: float = 0.0  # for "skip": the span dropped from both streams


def common_unit(chunk: Fraction, frame: Fraction | None) -> Fraction:
    """The shortest span that is a whole number of `chunk`s and of `frame`s."""
    if frame is None:
        return chunk
    # lcm(a/b, c/d) = lcm(a, c) / gcd(b, d) for fractions in lowest terms.
    numerator = math.lcm(chunk.numerator, frame.numerator)
    return Fraction(numerator, math.gcd(chunk.denominator, frame.denominator))


class Schedule:
    """The audio chunks and video frames due so far, in time order, and the drops that keep them in step."""

    def __init__(
        self,
        chunk: Fraction,
        fps: int | None,
        *,
        max_catch_up_s: float = MAX_CATCH_UP_S,
        max_backlog_s: float = MAX_BACKLOG_S,
    ) -> None:
        if chunk <= 0 or (fps is not None and fps <= 0):
            raise ValueError("chunk and fps must be positive")
        self.chunk = chunk
        self.frame = Fraction(1, fps) if fps else None
        self.unit = common_unit(chunk, self.frame)
        self._unit_chunks = int(self.unit / chunk)
        self._unit_frames = int(self.unit / self.frame) if self.frame else 0
        self._max_catch_up_s = max_catch_up_s
        self._max_backlog_s = max_backlog_s
        # Positions on the wall timeline, counting what was dropped: the next chunk and frame.
        self.audio_at = 0
        self.video_at = 0
        self.dropped = Fraction(0)  # seconds dropped from both streams so far
        # While overloaded, nothing is due before the unsent span makes a whole unit (next_due).
        self._wait_until: Fraction | None = None

    def _due(self, elapsed: float) -> tuple[int, int]:
        # Chunk and frame k fall due at their end, (k+1) * their length: a frame is drawn from the
        # newest picture then, a frame after its stamp (composer.worker.lip_sync counts it).
        # A nanosecond's tolerance: 1.2 s in binary floating point is a hair under 60 chunks.
        at = Fraction(elapsed) + Fraction(1, 10**9)
        audio_due = int(at / self.chunk)
        video_due = int(at / self.frame) if self.frame else 0
        return audio_due, video_due

    def steps(self, elapsed: float, backlog_s: float) -> Iterator[Step]:
        """What to do now, `elapsed` seconds after the start, with `backlog_s` of media not yet encoded."""
        audio_due, video_due = self._due(elapsed)
        self._wait_until = None
        behind = float(max(0, audio_due - self.audio_at) * self.chunk)
        if self.frame is not None:
            behind = max(behind, float(max(0, video_due - self.video_at) * self.frame))
        overloaded = backlog_s > self._max_backlog_s
        if behind > self._max_catch_up_s or overloaded:
            units = (audio_due - self.audio_at) // self._unit_chunks
            if self.frame is not None:
                units = min(units, (video_due - self.video_at) // self._unit_frames)
            if units > 0:
                self.audio_at += units * self._unit_chunks
                self.video_at += units * self._unit_frames
                span = units * self.unit
                self.dropped += span
                yield Step("skip", float(span))
            if overloaded:
                # The rest waits: it is dropped too once it makes a unit, unless the backlog clears
                # first. Not before then: a caller that came back at once would spin.
                wait = (self.audio_at + self._unit_chunks) * self.chunk
                if self.frame is not None:
                    wait = max(wait, (self.video_at + self._unit_frames) * self.frame)
                self._wait_until = wait
                return
        while self.audio_at < audio_due or (self.frame is not None and self.video_at < video_due):
            audio_t = self.audio_at * self.chunk
            video_t = self.video_at * self.frame if self.frame is not None else None
            video_first = video_t is not None and video_t < audio_t and self.video_at < video_due
            if self.audio_at < audio_due and not video_first:
                self.audio_at += 1
                yield Step("audio")
            else:
                self.video_at += 1
                yield Step("video")

    def next_due(self) -> float:
        """Seconds after the start when the next chunk or frame falls due."""
        if self._wait_until is not None:
            return float(self._wait_until)
        at = (self.audio_at + 1) * self.chunk
        if self.frame is not None:
            at = min(at, (self.video_at + 1) * self.frame)
        return float(at)
