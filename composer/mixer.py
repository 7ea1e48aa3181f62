"""The broadcast's audio: every speaker's microphone mixed into one 48 kHz mono int16 stream.

Pure (no LiveKit import, no clock): decoded frames are `push`ed per track as they arrive, and the
composer's audio loop `pull`s one fixed chunk per tick. Each track has its own jitter buffer, so
frames that arrive in bursts (network jitter, a busy event loop) still play back evenly, and a
track with nothing buffered contributes silence instead of holding the mix back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

SAMPLE_RATE = 48000
CHUNK_MS = 20
# A track starts playing (again) once this much is buffered: two 20 ms frames of arrival jitter
# are absorbed, at 60 ms of added latency (small next to a 1 s HLS segment).
JITTER_MS = 60
# More than this buffered (a burst after a stall, or a sender clock running fast) is trimmed back
# to JITTER_MS by dropping the oldest audio, so a track's delay cannot grow without bound.
MAX_BUFFER_MS = 300
# Below that bound a track can still sit behind: after a stall of the event loop the pacer catches
# up first (the tracks underrun and restart at JITTER_MS), then the delayed frames arrive together
# and stay, since frames keep coming as fast as they are pulled. Each track then plays up to
# MAX_BUFFER_MS late, by its own amount, against the video. So the least a playing track held over
# the last STEER_WINDOW_MS is its standing excess: more than STEER_MARGIN_MS above JITTER_MS (two
# frames of jitter beyond the target) is dropped back to JITTER_MS, once per window. Jitter alone
# only lifts the peaks, never that minimum.
STEER_WINDOW_MS = 1000
# The mix of several loud speakers can pass full scale. Hard clipping there squares the peaks off
# (harsh, broadband distortion); instead, samples above this knee are bent smoothly (tanh) into the
# headroom left below the ceiling, so the mix never clips and everything below the knee (-4.5 dBFS)
# is untouched. The ceiling is -1.5 dBFS, not full scale: the AAC encoder's output overshoots its
# input's sample peaks, and streaming specifications (EBU R128 among them) ask for at most -1 dBTP;
# a review measured -0.2 dBTP with the ceiling at full scale.
LIMIT_KNEE = 19518  # -4.5 dBFS
CEILING = 27570  # -1.5 dBFS
STEER_MARGIN_MS = 40
# Every place where a track's waveform would jump is smoothed over this long instead: a start
# (first audio, or again after running dry) fades in, running dry and the end of a removed track
# fade out, and audio dropped from a playing buffer (MAX_BUFFER_MS, steering) is crossfaded with
# what follows it. A jump from mid-waveform to zero (or to an unrelated sample) is a click heard
# on every listener's broadcast; 4 ms is long enough to take it below the speech around it and
# short enough to cut nothing audible of a word.
FADE_MS = 4


@dataclass
class _Track:
    chunks: list[np.ndarray] = field(default_factory=list)
    buffered: int = 0  # samples in `chunks`
    offset: int = 0  # samples of chunks[0] already played
    playing: bool = False  # primed: buffered at least the jitter target since the last underrun
    low: int | None = None  # the least buffered after a pull in the current steering window
    pulls: int = 0  # pulls in the current steering window
    fade_in: bool = False  # the next sample played starts it (again): ramp up
    tail: np.ndarray | None = None  # the start of audio just dropped while playing: crossfaded out
    closing: bool = False  # removed: plays out what it holds, then goes


class Mixer:
    """Per-track jitter buffers summed into fixed chunks of int16 mono audio."""

    def __init__(
        self,
        *,
        sample_rate: int = SAMPLE_RATE,
        chunk_ms: int = CHUNK_MS,
        jitter_ms: int = JITTER_MS,
        max_buffer_ms: int = MAX_BUFFER_MS,
        steer_window_ms: int = STEER_WINDOW_MS,
        steer_margin_ms: int = STEER_MARGIN_MS,
        fade_ms: int = FADE_MS,
    ) -> None:
        if not 0 < chunk_ms <= max_buffer_ms or not 0 <= jitter_ms <= max_buffer_ms:
            raise ValueError("need 0 < chunk_ms <= max_buffer_ms and 0 <= jitter_ms <= max_buffer_ms")
        self.sample_rate = sample_rate
        self.chunk_samples = sample_rate * chunk_ms // 1000
        self._jitter = sample_rate * jitter_ms // 1000
        self._max = sample_rate * max_buffer_ms // 1000
        self._steer_pulls = max(1, steer_window_ms // chunk_ms)
        self._steer_margin = sample_rate * steer_margin_ms // 1000
        fade = max(0, min(sample_rate * fade_ms // 1000, self.chunk_samples))
        # (k + 1) / (fade + 1): never quite 0 or 1, and a ramp up plus the ramp down sums to 1.
        self._up = (np.arange(fade) + 1) / (fade + 1)
        self._tracks: dict[str, _Track] = {}
        self.underruns = 0  # chunks in which a playing track ran dry (for stats)
        self.dropped_samples = 0  # samples trimmed from over-full or lagging buffers (for stats)
        self.steered = 0  # standing excesses dropped (for stats)

    @property
    def hold(self) -> Fraction:
        """How much later than its arrival a sample is stamped, at the jitter target (seconds).

        A playing track holds `jitter_ms` when it is pulled, and the pull takes the oldest chunk:
        its first sample arrived `jitter_ms` before the pull (counting each sample as arriving at
        its place in the stream), and the pacer stamps the chunk one chunk before its pull
        (pacing.Schedule). Extra buffering (a burst; up to STEER_MARGIN_MS more stays) adds to it,
        and where a 20 ms frame lands between two pulls moves it by less than a chunk.
        """
        return Fraction(self._jitter - self.chunk_samples, self.sample_rate)

    @property
    def tracks(self) -> list[str]:
        return list(self._tracks)

    def buffered(self, track: str) -> int:
        """Samples waiting in `track`'s buffer (0 for an unknown track)."""
        state = self._tracks.get(track)
        return 0 if state is None else state.buffered

    def push(self, track: str, pcm: np.ndarray) -> None:
        """Append decoded mono int16 samples of `track` (a new key starts a new buffer)."""
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"need 1-D int16 samples, got {pcm.dtype} with shape {pcm.shape}")
        if len(pcm) == 0:
            return
        state = self._tracks.setdefault(track, _Track())
        state.closing = False  # subscribed again before it had played out: it goes on
        state.chunks.append(pcm)
        state.buffered += len(pcm)
        if state.buffered > self._max:
            self._drop(state, state.buffered - self._jitter)

    def remove(self, track: str) -> None:
        """The track is gone (unpublished, unsubscribed): what it holds still plays, then it fades
        out and is forgotten, instead of being cut off mid-word (at most MAX_BUFFER_MS)."""
        state = self._tracks.get(track)
        if state is not None:
            state.closing = True

    def pull(self) -> np.ndarray:
        """The next chunk of the mix: `chunk_samples` int16 samples, silence when nobody plays."""
        n = self.chunk_samples
        mix = np.zeros(n, dtype=np.int32)
        for key, state in list(self._tracks.items()):
            if not state.playing:
                # A removed track plays out whatever it holds; nothing more is coming to wait for.
                if state.buffered < (1 if state.closing else max(self._jitter, 1)):
                    if state.closing:
                        del self._tracks[key]
                    continue
                state.playing, state.fade_in, state.tail = True, True, None
            take = min(n, state.buffered)
            part = self._take(state, take)
            # A buffer emptied by a whole chunk ends there too (microphones come in 20 ms frames,
            # one chunk each): faded out, and audio arriving before the next pull ramps back in.
            emptied = take == n and state.buffered == 0
            self._smooth(state, part, dry=take < n or emptied)
            state.fade_in = emptied
            mix[:take] += part
            if emptied and state.closing:
                del self._tracks[key]
            elif take < n:
                # Ran dry: play what there was, then wait for the jitter target again.
                state.playing = False
                state.low, state.pulls = None, 0
                if state.closing:
                    del self._tracks[key]
                else:
                    self.underruns += 1
            else:
                self._steer(state)
        return soft_limit(mix)

    def _smooth(self, state: _Track, part: np.ndarray, *, dry: bool) -> None:
        """Ramp `part` (int32, in place) where the track's waveform would jump (FADE_MS)."""
        if state.fade_in:
            up = self._ramp(len(part))
            part[: len(up)] = np.rint(part[: len(up)] * up)
        elif state.tail is not None:
            # Less dropped (or less to play) than a whole fade: the crossfade spans what there is.
            up = self._ramp(min(len(state.tail), len(part)))
            k = len(up)
            part[:k] = np.rint(part[:k] * up + state.tail[:k] * up[::-1])
        state.fade_in, state.tail = False, None
        if dry:
            down = self._ramp(len(part))[::-1]
            if len(down):
                part[len(part) - len(down) :] = np.rint(part[len(part) - len(down) :] * down)

    def _ramp(self, available: int) -> np.ndarray:
        """A ramp up over FADE_MS, or over `available` samples when fewer: it always ends near 1."""
        if available >= len(self._up):
            return self._up
        return (np.arange(available) + 1) / (available + 1)

    def _steer(self, state: _Track) -> None:
        """Drop a playing track's standing excess over the jitter target (STEER_WINDOW_MS)."""
        state.low = state.buffered if state.low is None else min(state.low, state.buffered)
        state.pulls += 1
        if state.pulls < self._steer_pulls:
            return
        if state.low > self._jitter + self._steer_margin:
            self._drop(state, state.low - self._jitter)
            self.steered += 1
        state.low, state.pulls = None, 0

    def _take(self, state: _Track, count: int) -> np.ndarray:
        out = np.empty(count, dtype=np.int32)
        filled = 0
        while filled < count:
            head = state.chunks[0]
            part = head[state.offset : state.offset + count - filled]
            out[filled : filled + len(part)] = part
            filled += len(part)
            state.offset += len(part)
            if state.offset == len(head):
                state.chunks.pop(0)
                state.offset = 0
        state.buffered -= count
        return out

    def _drop(self, state: _Track, count: int) -> None:
        self.dropped_samples += count
        if state.playing and state.tail is None and len(self._up) and count:
            # What would have followed the last sample played (the first drop since it: a burst
            # can overflow several times before the next pull) fades out under the new head.
            state.tail = self._peek(state, min(len(self._up), count))
        while count > 0:
            head_left = len(state.chunks[0]) - state.offset
            if head_left <= count:
                state.chunks.pop(0)
                state.offset = 0
                state.buffered -= head_left
                count -= head_left
            else:
                state.offset += count
                state.buffered -= count
                count = 0

    @staticmethod
    def _peek(state: _Track, count: int) -> np.ndarray:
        """The next `count` samples of `state` (at most what it holds), without taking them."""
        out: list[np.ndarray] = []
        offset, left = state.offset, count
        for chunk in state.chunks:
            part = chunk[offset : offset + left]
            out.append(part)
            left -= len(part)
            offset = 0
            if left == 0:
                break
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def soft_limit(mix: np.ndarray) -> np.ndarray:
    """int32 sums to int16: unchanged up to LIMIT_KNEE, then a tanh curve that approaches CEILING
    without reaching it (continuous, with a continuous slope at the knee)."""
    magnitude = np.abs(mix)
    over = magnitude > LIMIT_KNEE
    if not over.any():
        return mix.astype(np.int16)
    headroom = CEILING - LIMIT_KNEE
    bent = LIMIT_KNEE + headroom * np.tanh((magnitude[over] - LIMIT_KNEE) / headroom)
    out = mix.astype(np.float64)
    out[over] = np.sign(mix[over]) * np.minimum(bent, CEILING)
    return np.rint(out).astype(np.int16)
