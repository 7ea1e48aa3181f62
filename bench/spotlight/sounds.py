"""Non-speech sounds for the corpus, synthesised with numpy: transients and background noise.

Every transient is at most 300 ms (the issue's bound), peak-normalised so the caller sets its level.
"""

from __future__ import annotations

import numpy as np

TRANSIENT_KINDS = ("cough", "click", "keyboard", "mug")
MAX_TRANSIENT_S = 0.3


def _shaped_noise(rng: np.random.Generator, n: int, rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """White noise band-limited in the frequency domain (no scipy needed)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0.0
    return np.fft.irfft(spectrum, n)


def _normalise(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) or 1.0
    return x / peak


def cough(rng: np.random.Generator, rate: int) -> np.ndarray:
    """An explosive broadband burst with a fast attack and a breathy decay, 150-300 ms."""
    n = int(rate * rng.uniform(0.15, MAX_TRANSIENT_S))
    t = np.arange(n) / rate
    attack = np.minimum(t / 0.01, 1.0)
    envelope = attack * np.exp(-t / rng.uniform(0.05, 0.1))
    burst = _shaped_noise(rng, n, rate, rng.uniform(150, 400), rng.uniform(2500, 5000))
    return _normalise(burst * envelope)


def click(rng: np.random.Generator, rate: int) -> np.ndarray:
    """A mouse click or a pen tap: a few ms of ringing, 5-30 ms in all."""
    n = int(rate * rng.uniform(0.005, 0.03))
    t = np.arange(n) / rate
    ring = np.sin(2 * np.pi * rng.uniform(1500, 4000) * t) * np.exp(-t / 0.003)
    return _normalise(ring + 0.3 * rng.standard_normal(n) * np.exp(-t / 0.002))


def keyboard(rng: np.random.Generator, rate: int) -> np.ndarray:
    """A burst of 3-8 key strokes within 300 ms."""
    n = int(rate * rng.uniform(0.15, MAX_TRANSIENT_S))
    out = np.zeros(n)
    strokes = rng.integers(3, 9)
    for start in np.sort(rng.uniform(0, n / rate - 0.02, strokes)):
        stroke = click(rng, rate) * rng.uniform(0.5, 1.0)
        begin = int(start * rate)
        out[begin : begin + len(stroke)] += stroke[: n - begin]
    return _normalise(out)


def mug(rng: np.random.Generator, rate: int) -> np.ndarray:
    """A mug put down on a desk: a low thud and a ringing clink, 100-300 ms."""
    n = int(rate * rng.uniform(0.1, MAX_TRANSIENT_S))
    t = np.arange(n) / rate
    thud = np.sin(2 * np.pi * rng.uniform(90, 220) * t) * np.exp(-t / rng.uniform(0.015, 0.03))
    clink = sum(
        np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) * np.exp(-t / rng.uniform(0.03, 0.09))
        for f in rng.uniform(1800, 5500, 3)
    )
    return _normalise(thud + 0.6 * clink + 0.2 * rng.standard_normal(n) * np.exp(-t / 0.01))


TRANSIENTS = {"cough": cough, "click": click, "keyboard": keyboard, "mug": mug}

# Peak level (dBFS at nominal mic gain) each kind is drawn at, relative to a speech peak of ~ -8 dBFS.
TRANSIENT_PEAK_DB = {
    "cough": (-10.0, -2.0),
    "click": (-16.0, -6.0),
    "keyboard": (-22.0, -10.0),
    "mug": (-12.0, -4.0),
}


def background(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Stationary room/mic noise with unit RMS: white, pink, brown, or pink with mains hum."""
    kind = rng.choice(["white", "pink", "brown", "hum"])
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    freqs[0] = freqs[1]
    slope = {"white": 0.0, "pink": 0.5, "brown": 1.0, "hum": 0.5}[kind]
    spectrum /= freqs**slope
    spectrum[freqs < 20] = 0.0
    noise = np.fft.irfft(spectrum, n)
    noise /= float(np.sqrt(np.mean(noise**2))) or 1.0
    if kind == "hum":
        t = np.arange(n) / rate
        mains = rng.choice([50.0, 60.0])
        hum = sum(np.sin(2 * np.pi * mains * k * t) / k for k in (1, 2, 3, 5))
        noise = noise + 1.5 * hum / float(np.sqrt(np.mean(hum**2)))
        noise /= float(np.sqrt(np.mean(noise**2)))
    return noise
