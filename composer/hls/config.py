"""What a broadcast encodes and how its uploads are retried (limits explained in docs/broadcast.md)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

# More doublings than any cap needs (0.1 s · 2^30 is ~3.4 years).
_MAX_DOUBLINGS = 30


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff for one sink write: attempts in all, delays between them."""

    attempts: int = 8
    initial_delay_s: float = 0.1
    max_delay_s: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")
        if self.initial_delay_s < 0 or self.max_delay_s < self.initial_delay_s:
            raise ValueError("RetryPolicy needs 0 <= initial_delay_s <= max_delay_s")

    def delay(self, failed_attempts: int) -> float:
        """Base delay before the next attempt after `failed_attempts` failures (>= 1)."""
        # The exponent stops growing once the cap is reached: a writer that retries until it succeeds
        # (state.json, composer/worker.py) counts failures without bound, and 2.0 ** 1024 overflows.
        doublings = min(failed_attempts - 1, _MAX_DOUBLINGS)
        return float(min(self.max_delay_s, self.initial_delay_s * 2**doublings))


@dataclass(frozen=True)
class LowRendition:
    """A video broadcast's second, smaller rendition: the same pictures scaled down, the same audio
    (docs/broadcast.md, "Renditions"). By default half the size at 24 % of the bitrate: 640x360 at
    600 kb/s for the 1280x720 default, ~0.7 Mb/s of segments with the audio, which a viewer on a
    link of ~1 Mb/s follows where the 720p stream (~2.7 Mb/s) stalls."""

    scale: float = 0.5  # of the broadcast's width and height (rounded down to even numbers)
    bitrate_share: float = 0.24  # of the broadcast's video bitrate


@dataclass(frozen=True)
class Size:
    width: int
    height: int
    video_bitrate: int


@dataclass(frozen=True)
class BroadcastConfig:
    width: int = 1280
    height: int = 720
    fps: int = 30
    video: bool = True
    segment_seconds: float = 1.0
    sample_rate: int = 48000
    video_bitrate: int = 2_500_000
    audio_bitrate: int = 64_000
    x264_preset: str = "veryfast"
    # One encoder thread per Space: Spaces run in parallel on a host, and one thread keeps the
    # per-stage CPU counters exact (libx264 worker threads would not show in thread_time).
    encoder_threads: int = 1
    # Segments waiting for the sink before the oldest is dropped (encoding never waits on I/O).
    max_pending_segments: int = 30
    retry: RetryPolicy = RetryPolicy()
    # How much later the pushed audio is than the pictures pushed with it (seconds): that much of
    # the audio's start is not encoded, so what was heard with a picture is stamped with it. The
    # composer's mixer holds sound back longer than it holds pictures (composer.worker.lip_sync).
    audio_lag: Fraction = Fraction(0)
    # The smaller rendition a video broadcast also encodes (None: one rendition only). Ignored for
    # an audio-only broadcast, whose one stream is already ~83 kb/s.
    low_rendition: LowRendition | None = LowRendition()
    # A video broadcast with the low rendition also writes each segment's sound alone (the audio
    # rendition, ~83 kb/s): what a player that is only heard needs (docs/broadcast.md, "Renditions").
    audio_rendition: bool = True

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(f"width and height must be positive and even, got {self.width}x{self.height}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.segment_seconds <= 0:
            raise ValueError(f"segment_seconds must be positive, got {self.segment_seconds}")
        seconds = Fraction(self.segment_seconds).limit_denominator(1000)
        if (seconds * self.fps).denominator != 1 or (seconds * self.sample_rate).denominator != 1:
            raise ValueError(
                f"segment_seconds={self.segment_seconds} must hold a whole number of frames at "
                f"{self.fps} fps and of samples at {self.sample_rate} Hz"
            )
        if self.sample_rate not in (44100, 48000):
            raise ValueError(f"sample_rate must be 44100 or 48000, got {self.sample_rate}")
        if not 0 <= self.audio_lag < seconds:
            raise ValueError(f"audio_lag must be >= 0 and under a segment, got {self.audio_lag}")
        low = self.low_rendition
        if low is not None:
            if not 0 < low.scale < 1 or not 0 < low.bitrate_share < 1:
                raise ValueError(
                    f"the low rendition's scale and bitrate share must be between 0 and 1, got "
                    f"{low.scale} and {low.bitrate_share}"
                )
            if self.video and (s := self.low) is not None and (s.width < 2 or s.height < 2):
                raise ValueError(
                    f"the low rendition of {self.width}x{self.height} would be {s.width}x{s.height}"
                )
        if self.max_pending_segments < 1:
            raise ValueError(f"max_pending_segments must be >= 1, got {self.max_pending_segments}")

    @property
    def low(self) -> Size | None:
        """The low rendition this broadcast encodes: None for audio-only or when it is off."""
        low = self.low_rendition
        if not self.video or low is None:
            return None
        return Size(
            width=int(self.width * low.scale) // 2 * 2,
            height=int(self.height * low.scale) // 2 * 2,
            video_bitrate=round(self.video_bitrate * low.bitrate_share),
        )

    @property
    def audio_twin(self) -> bool:
        """Whether each segment also has its sound alone: a video broadcast with renditions."""
        return self.low is not None and self.audio_rendition

    @property
    def frames_per_segment(self) -> int:
        return int(Fraction(self.segment_seconds).limit_denominator(1000) * self.fps)

    @property
    def samples_per_segment(self) -> int:
        return int(Fraction(self.segment_seconds).limit_denominator(1000) * self.sample_rate)

    @property
    def audio_lag_samples(self) -> int:
        return round(self.audio_lag * self.sample_rate)
