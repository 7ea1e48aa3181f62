"""One speaker's speech evidence: how long they have been talking in the current burst."""

from __future__ import annotations

import math

import numpy as np

from media_agent.spotlight.analysis import FrameAnalyzer, Hop
from media_agent.spotlight.config import EngineConfig


class Speaker:
    def __init__(self, identity: str, config: EngineConfig) -> None:
        self.identity = identity
        self._config = config
        self._analyzer = FrameAnalyzer(config)
        self.muted = False
        # Voiced time in the current burst, leaked by unvoiced hops inside it (seconds).
        self.evidence = 0.0
        self.last_voiced_t = -math.inf
        self.last_audio_t = -math.inf
        self.burst_start_t = -math.inf
        # Smoothed SNR (dB) of voiced hops, for the published level.
        self.snr_db = 0.0

    def push(self, t: float, pcm: np.ndarray, sample_rate: int) -> None:
        if self.muted:
            # A muted microphone never counts, whatever the track still carries.
            self.last_audio_t = t + len(pcm) / sample_rate
            return
        for hop in self._analyzer.feed(t, pcm, sample_rate):
            self._update(hop)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self._end_burst()

    def expire(self, t: float) -> None:
        """No audio for a while is silence: end the burst so stale evidence never wins."""
        if t - self.last_audio_t > self._config.stale_audio_s and self.evidence > 0.0:
            self._end_burst()

    def voiced_within(self, t: float, window_s: float) -> bool:
        return not self.muted and t - self.last_voiced_t <= window_s

    def _update(self, hop: Hop) -> None:
        config = self._config
        self.last_audio_t = hop.t_end
        if hop.voiced:
            if hop.t_end - self.last_voiced_t > config.burst_gap_s:
                self.evidence = 0.0
                self.burst_start_t = hop.t_end - config.hop_s
            self.evidence = min(self.evidence + config.hop_s, config.evidence_cap_s)
            self.last_voiced_t = hop.t_end
            # ~100 ms attack so the level follows syllables without jittering per hop.
            self.snr_db += (hop.snr_db - self.snr_db) * 0.1
        elif hop.t_end - self.last_voiced_t > config.burst_gap_s:
            self._end_burst()
        else:
            self.evidence = max(0.0, self.evidence - config.hop_s * config.evidence_leak)

    def _end_burst(self) -> None:
        self.evidence = 0.0
        self.snr_db = 0.0
