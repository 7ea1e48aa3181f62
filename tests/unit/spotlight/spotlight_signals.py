"""Synthetic test signals for the spotlight engine: vowel-like speech, noise, bursts, mugs, silence.

"Speech" here is a glottal pulse train through three formant resonances with a voice's spectral
tilt and syllable-rate amplitude modulation: periodic in the pitch band and speech-shaped, so it
passes the same detectors real voices do, without files or a synthesiser.
"""

from __future__ import annotations

import numpy as np

RATE = 16000


def speech(
    seconds: float, *, f0: float = 140.0, dbfs: float = -20.0, seed: int = 0, rate: int = RATE
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    # Pitch drifts a little like intonation does.
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.08 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)))) / rate
    harmonics = np.arange(1, int(3800 / f0))
    formants = ((700.0, 110.0), (1220.0, 120.0), (2600.0, 160.0))
    amplitude = np.zeros(len(harmonics))
    for k, h in enumerate(harmonics):
        f = h * f0
        # A voice's spectrum falls about 6 dB per octave (glottal source and lip radiation together),
        # so most of its energy is below 1 kHz, as a real voice's is.
        amplitude[k] = sum(1.0 / (1.0 + ((f - fc) / bw) ** 2) for fc, bw in formants) / h
    voice = sum(a * np.sin(h * phase) for a, h in zip(amplitude, harmonics, strict=True))
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6))
    x = voice * syllables
    return _at_level(x, dbfs)


def noise(seconds: float, *, dbfs: float = -65.0, seed: int = 1, rate: int = RATE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _at_level(rng.standard_normal(int(seconds * rate)), dbfs)


def burst(seconds: float, *, dbfs: float = -15.0, seed: int = 2, rate: int = RATE) -> np.ndarray:
    """A cough-like broadband burst with a fast attack and exponential decay."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / (seconds / 3))
    return _at_level(rng.standard_normal(n) * envelope, dbfs)


def clicks(
    seconds: float, *, count: int = 6, dbfs: float = -12.0, seed: int = 3, rate: int = RATE
) -> np.ndarray:
    """Keyboard-like: short decaying rings spread over `seconds`."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n)
    ring_t = np.arange(int(0.012 * rate)) / rate
    for start in np.linspace(0, n - len(ring_t) - 1, count).astype(int):
        out[start : start + len(ring_t)] += np.sin(2 * np.pi * rng.uniform(1500, 4000) * ring_t) * np.exp(
            -ring_t / 0.003
        )
    return _at_level(out, dbfs, peak=True)


def mug(
    seconds: float = 0.25, *, thud_hz: float = 150.0, dbfs: float = -6.0, seed: int = 6, rate: int = RATE
) -> np.ndarray:
    """A mug set down: a low thud (periodic in the pitch band, like a voice) and a ringing clink."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    thud = np.sin(2 * np.pi * thud_hz * t) * np.exp(-t / 0.03)
    clink = sum(np.sin(2 * np.pi * f * t) * np.exp(-t / 0.08) for f in (2100.0, 3300.0, 4700.0))
    return _at_level(
        thud + 0.6 * clink + 0.2 * rng.standard_normal(len(t)) * np.exp(-t / 0.01), dbfs, peak=True
    )


def rumble(seconds: float, *, dbfs: float = -60.0, seed: int = 1, rate: int = RATE) -> np.ndarray:
    """Low-frequency room noise (integrated white noise, DC removed), as a decoded mic often has."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal(int(seconds * rate)))
    return _at_level(x - np.convolve(x, np.ones(200) / 200, mode="same"), dbfs)


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate))


def _at_level(x: np.ndarray, dbfs: float, peak: bool = False) -> np.ndarray:
    ref = np.max(np.abs(x)) if peak else np.sqrt(np.mean(x**2))
    return x * (10 ** (dbfs / 20) * 32768 / (ref or 1.0))


def track(*parts: np.ndarray, floor_dbfs: float = -65.0, seed: int = 9, rate: int = RATE) -> np.ndarray:
    """Concatenate parts over a constant noise floor; int16 like a decoded track."""
    x = np.concatenate(parts)
    x = x + noise(len(x) / rate, dbfs=floor_dbfs, seed=seed, rate=rate)
    return np.clip(x, -32768, 32767).astype(np.int16)


def overlay(base: np.ndarray, part: np.ndarray, at_s: float, rate: int = RATE) -> np.ndarray:
    out = base.astype(np.float64).copy()
    start = int(at_s * rate)
    out[start : start + len(part)] += part[: len(out) - start]
    return np.clip(out, -32768, 32767).astype(np.int16)
