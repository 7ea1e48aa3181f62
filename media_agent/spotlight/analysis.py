"""Per-speaker frame analysis: level, adaptive noise floor, voice activity, periodicity.

Frames of any length are cut into fixed 10 ms hops; levels for all hops of a frame come from one
vectorised numpy expression, and the costly detectors (periodicity, the optional VAD) only run on
hops that pass the speaker's own energy gate, so a silent track costs one RMS per hop.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from media_agent.spotlight.config import EngineConfig

# WebRTC VAD accepts these rates only; anything else is resampled to 16 kHz first.
_VAD_RATES = (8000, 16000, 32000, 48000)
# A quiet mic's hops are lifted so its noise floor sits here before the VAD (see _vad_says_speech).
_VAD_FLOOR_DBFS = -65.0
# Periodicity runs on the last 3 hops (30 ms) at 8 kHz, limited to 60..1000 Hz, over the lags of
# a 70..400 Hz pitch.
_PITCH_RATE = 8000
_PITCH_HOPS = 3
_PITCH_NFFT = 512
_PITCH_MIN_LAG = _PITCH_RATE // 400
_PITCH_MAX_LAG = _PITCH_RATE // 70
_PITCH_BAND = np.zeros(_PITCH_NFFT // 2 + 1)
_PITCH_BAND[int(60 * _PITCH_NFFT / _PITCH_RATE) : int(1000 * _PITCH_NFFT / _PITCH_RATE) + 1] = 1.0
_FLOOR_MIN_DBFS = -100.0
# Below one LSB of RMS no microphone's noise is this quiet: the track carries digital silence (before
# the first packet, while muted, during DTX). Such hops must not pull the noise floor down, or the
# room noise that follows clears the gate for the ~10 s the floor takes to climb back (3 dB/s), and
# a silent speaker's noise peaks start to count as speech. Live, that made a fresh or just-unmuted
# track take the spotlight on its background noise and hold it against the next real turn.
_DIGITAL_SILENCE_DBFS = -90.0


@functools.cache
def _ones(n: int) -> np.ndarray:
    return np.ones(n, dtype=np.float32)


@functools.cache
def _lag_norm(n: int) -> np.ndarray:
    """The autocorrelation of a finite window shrinks with the lag; undo that so the threshold
    means the same at every pitch."""
    return n / np.maximum(n - np.arange(_PITCH_MAX_LAG + 1, dtype=np.float64), 1.0)


@dataclass(frozen=True)
class Hop:
    t_end: float
    level_db: float
    snr_db: float
    # Above the speaker's floor and judged speech by the VAD (consonants, coughs, voiced speech).
    speechlike: bool
    # ... periodic in the pitch band, with most of its energy there: voiced speech (and little else).
    voiced: bool
    # The pitch band's peak normalised autocorrelation, when it was measured (0 otherwise).
    periodicity: float = 0.0


class FrameAnalyzer:
    """Turns one speaker's frames into hops. Stateful: keeps the partial hop and the noise floor."""

    def __init__(self, config: EngineConfig) -> None:
        self._config = config
        self._rate = 0
        self._hop = 0
        self._pending = np.zeros(0, dtype=np.float32)
        self._pending_t = 0.0
        self._floor_db: float | None = None
        # The last few hops (references, no copies): the periodicity window when it is needed.
        self._recent: list[np.ndarray] = []
        # Periodicity of the previous hop, reused for the next one (its 30 ms window overlaps 20 ms
        # of this one): halves the costliest step while someone talks. None after a gated-out hop.
        self._periodicity_cache: tuple[float, float] | None = None
        self._vad = None
        if config.vad == "webrtc":
            import webrtcvad

            self._vad = webrtcvad.Vad(config.vad_mode)

    def feed(self, t: float, pcm: np.ndarray, sample_rate: int) -> list[Hop]:
        """Analyse a frame whose first sample is at time t; returns the hops it completed."""
        if sample_rate != self._rate:
            self._rate = sample_rate
            self._hop = round(sample_rate * self._config.hop_s)
            self._pending = np.zeros(0, dtype=np.float32)
        hop_s = self._hop / self._rate
        expected_t = self._pending_t + len(self._pending) / self._rate
        if len(self._pending) == 0 or abs(t - expected_t) > hop_s:
            # A gap or a jump in the timeline: a partial hop across it would mix two moments.
            self._pending = pcm.astype(np.float32)
            self._pending_t = t
        else:
            self._pending = np.concatenate((self._pending, pcm.astype(np.float32)))
        n = len(self._pending) // self._hop
        if n == 0:
            return []
        block = self._pending[: n * self._hop].reshape(n, self._hop)
        start_t = self._pending_t
        self._pending = self._pending[n * self._hop :]
        self._pending_t = start_t + n * hop_s
        # Level in dBFS of each hop (full scale = int16 max).
        power = np.einsum("ij,ij->i", block, block) / self._hop
        levels = 10.0 * np.log10(power + 1e-3) - 90.309
        hops = []
        for i in range(n):
            hops.append(self._hop_decision(start_t + (i + 1) * hop_s, float(levels[i]), block[i]))
        return hops

    def _hop_decision(self, t_end: float, level_db: float, samples: np.ndarray) -> Hop:
        config = self._config
        floor = self._floor_db
        if level_db >= _DIGITAL_SILENCE_DBFS:
            if floor is None:
                floor = level_db
            elif level_db < floor:
                floor += (level_db - floor) * config.floor_fall_fraction
            else:
                floor = min(level_db, floor + config.floor_rise_db_per_s * config.hop_s)
            self._floor_db = floor = max(floor, _FLOOR_MIN_DBFS)
        snr = level_db - floor if floor is not None else 0.0
        recent = self._recent
        recent.append(samples)
        if len(recent) > _PITCH_HOPS:
            del recent[0]
        gated = snr >= config.gate_snr_db and level_db >= config.min_level_dbfs
        speechlike = gated
        if speechlike and self._vad is not None:
            speechlike = self._vad_says_speech(samples)
        voiced = speechlike
        periodicity = 0.0
        if voiced and config.periodicity:
            cached = self._periodicity_cache
            if cached is None:
                cached = self._voicing()
                self._periodicity_cache = cached
            else:
                self._periodicity_cache = None
            periodicity, low_fraction = cached
            voiced = (
                periodicity >= config.periodicity_threshold and low_fraction >= config.voiced_low_fraction
            )
        else:
            self._periodicity_cache = None
        return Hop(t_end, level_db, snr, speechlike, voiced, periodicity)

    def _voicing(self) -> tuple[float, float]:
        """(periodicity, low fraction) of the last 30 ms.

        Periodicity: the peak normalised autocorrelation over pitch lags, band-limited to 60-1000 Hz
        (where voicing lives). Low fraction: the share of the window's energy in that band. A vowel
        carries most of its energy there (the pitch and the first formant); a mug's thud is periodic
        in the band too, but the clink and the impact noise put most of its energy above it.
        """
        window = np.concatenate(self._recent) if len(self._recent) > 1 else self._recent[0]
        factor = self._rate // _PITCH_RATE
        if self._rate % _PITCH_RATE == 0:
            usable = len(window) // factor * factor
            low = window[:usable].reshape(-1, factor) @ _ones(factor)
            # Summing `factor` samples scales amplitude by factor and keeps 1 sample in factor.
            energy_scale = 1.0 / factor
        else:
            n = round(len(window) * _PITCH_RATE / self._rate)
            low = np.interp(np.linspace(0, len(window) - 1, n), np.arange(len(window)), window)
            energy_scale = self._rate / _PITCH_RATE
        low = low - float(low.sum()) / len(low)
        spectrum = np.fft.rfft(low, _PITCH_NFFT)
        power = (spectrum.real**2 + spectrum.imag**2) * _PITCH_BAND
        ac = np.fft.irfft(power, _PITCH_NFFT)[: _PITCH_MAX_LAG + 1] * _lag_norm(len(low))
        if ac[0] <= 0.0:
            return 0.0, 0.0
        # ac[0] is the band's energy in the decimated signal (the lag norm is 1 at lag 0).
        total = float(window @ window)
        low_fraction = float(ac[0]) * energy_scale / total if total > 0.0 else 0.0
        if self._config.pitch_peak_only:
            # Only a true peak of the autocorrelation is a pitch: noise with most of its energy at
            # low frequencies (brown, rumble) correlates strongly at short lags too, but falls off
            # monotonically from lag 0, so its maximum sits at the shortest lag, not at a peak.
            inner = ac[_PITCH_MIN_LAG:_PITCH_MAX_LAG]
            peaks = (inner > ac[_PITCH_MIN_LAG - 1 : _PITCH_MAX_LAG - 1]) & (
                inner >= ac[_PITCH_MIN_LAG + 1 :]
            )
            best = float(inner[peaks].max()) if peaks.any() else 0.0
            return best / float(ac[0]), low_fraction
        return float(ac[_PITCH_MIN_LAG:].max() / ac[0]), low_fraction

    def _vad_says_speech(self, samples: np.ndarray) -> bool:
        assert self._vad is not None
        # The WebRTC VAD has absolute energy thresholds tuned for a typical mic; a quiet mic (20 dB
        # down) reads as noise. Lift the hop so this speaker's noise floor sits where a typical
        # mic's does, which keeps the VAD's view of the signal-to-noise ratio intact.
        floor = self._floor_db if self._floor_db is not None else _VAD_FLOOR_DBFS
        if floor < _VAD_FLOOR_DBFS:
            samples = samples * (10 ** ((_VAD_FLOOR_DBFS - floor) / 20))
        rate = self._rate
        if rate not in _VAD_RATES:
            n = round(len(samples) * 16000 / rate)
            samples = np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples)
            rate = 16000
        pcm = np.clip(samples, -32768, 32767).astype(np.int16).tobytes()
        return bool(self._vad.is_speech(pcm, rate))
