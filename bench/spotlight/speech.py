"""Speech for the corpus: espeak-ng voices, resampled by sox, trimmed and cached on disk."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Different espeak-ng voice variants, rates and pitches make the speakers distinguishable (and
# exercise the pitch range the periodicity check must cover). The first corpus's ten voices.
VOICES = (
    ("en-us+m1", 165, 45),
    ("en-us+f2", 170, 60),
    ("en-gb+m3", 155, 35),
    ("en-us+f4", 180, 70),
    ("en-gb-x-rp+m5", 160, 40),
    ("en-us+f1", 150, 55),
    ("en-us+Andy", 175, 50),
    ("en-gb+Annie", 165, 65),
    ("en-us+m7", 145, 30),
    ("en-gb-scotland+f3", 170, 58),
)

SENTENCES = (
    "I think the real question is who is going to maintain this once we ship it.",
    "We tried that last spring and the numbers did not move at all.",
    "Honestly, the latency matters more to me than the price.",
    "Let me push back on that a little bit.",
    "The community meetup is on Thursday, and we still need a venue.",
    "If you look at the chart, the dip starts right after the holidays.",
    "So what would you do differently next time?",
    "That is a fair point, but it only works for small rooms.",
    "My guess is that most people never change the default settings.",
    "We should ask the listeners what they think about it.",
    "The first version was slow, the second one was simply wrong.",
    "I spent the whole weekend reading the old design notes.",
    "There is a reason nobody uses that feature, and it is not the color.",
    "Can we come back to the budget before we run out of time?",
    "Picture a room with forty people and one microphone that crackles.",
    "It took us three months to notice the bug, which is a little embarrassing.",
    "The mobile app needs the same fix, by the way.",
    "Right now the onboarding takes about six minutes, which is far too long.",
    "I would rather ship something small that works than something big that does not.",
    "Our best users are the ones who complain the loudest.",
    "Weather permitting, we will record the next episode outside.",
    "The library handles most of it, we only glue the pieces together.",
    "Did anyone else see the announcement this morning?",
    "Numbers like that usually mean the measurement is broken.",
    "A good host keeps the conversation moving without talking over people.",
    "We can split the work, you take the server and I take the client.",
    "Nobody reads the documentation until something breaks.",
    "Maybe the answer is to do less, not more.",
    "I keep a notebook next to the keyboard for exactly this reason.",
    "The hardest part was convincing the team that it was worth it.",
    "Let us take one more question from the audience.",
    "Funny enough, the cheapest option turned out to be the fastest.",
)

# Two disjoint pools of voices for the two halves of the corpus (corpus.py): the engine is tuned on
# conversations voiced from TUNE_VOICES only and reported on HOLDOUT_VOICES, which it never heard.
# Each is (accent, variant); every speaker also draws its own rate and pitch (corpus.py), so the
# same pair never sounds the same twice.
TUNE_VOICES = tuple(
    (accent, variant)
    for accent in ("en-us", "en-gb", "en-gb-x-rp")
    for variant in ("m1", "m3", "m7", "f1", "f2", "f4", "Andy", "Annie", "Alex", "Alicia")
)
HOLDOUT_VOICES = tuple(
    (accent, variant)
    for accent in ("en-gb-scotland", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
    for variant in (
        "m2",
        "m4",
        "m6",
        "f3",
        "f5",
        "Michael",
        "Linda",
        "Steph",
        "Denis",
        "Zac",
        "Edward",
        "Belinda",
    )
)
# Rates (words per minute) and pitches (0-99) a speaker's voice is drawn from.
RATE_RANGE = (125, 215)
PITCH_RANGE = (20, 85)

BACKCHANNELS = ("yeah", "mm hmm", "right", "okay", "uh huh", "sure", "yes")
# The wider set of single-word (or fused) backchannels of the second corpus; the holdout half uses
# the words the tune half never says.
TUNE_BACKCHANNELS = ("yeah", "mm hmm", "right", "okay", "uh huh", "sure", "yes", "wow", "true")
HOLDOUT_BACKCHANNELS = ("exactly", "hmm", "totally", "oh", "no way", "yep", "absolutely", "I see", "nice")
# Backchannels are said quickly (espeak-ng otherwise draws "mm hmm" out to 0.7 s).
BACKCHANNEL_SPEEDUP = 40
# How sox writes every utterance (-D: no dither, so the same text is the same samples on every run
# and machine). Part of the cache key, so utterances cached by an older recipe are made again.
SOX_OUTPUT = "16-bit signed, undithered"


@dataclass(frozen=True)
class Voice:
    name: str
    speed: int
    pitch: int


def synthesize(text: str, voice: Voice, rate: int, cache: Path) -> np.ndarray:
    """float64 samples in [-1, 1], leading and trailing silence trimmed, cached by content."""
    key = hashlib.sha256(f"{voice}|{text}|{rate}|{SOX_OUTPUT}".encode()).hexdigest()[:20]
    path = cache / f"{key}.npy"
    if path.exists():
        return np.load(path)
    espeak = subprocess.run(
        ["espeak-ng", "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch), "--stdout", text],
        check=True,
        capture_output=True,
    )
    raw = subprocess.run(
        ["sox", "-D", "-t", "wav", "-", "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed"]
        + ["-t", "raw", "-"],
        input=espeak.stdout,
        check=True,
        capture_output=True,
    ).stdout
    samples = trim(np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0, rate)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, samples)
    return samples


def trim(x: np.ndarray, rate: int) -> np.ndarray:
    """Cut to the first and last 5 ms block within 40 dB of the peak, so truth starts at the sound."""
    block = rate // 200
    n = len(x) // block
    energy = np.sqrt(np.mean(x[: n * block].reshape(n, block) ** 2, axis=1))
    loud = np.flatnonzero(energy > energy.max() * 0.01)
    return x[loud[0] * block : (loud[-1] + 1) * block]


def active_rms(x: np.ndarray, rate: int) -> float:
    """RMS over the 10 ms blocks within 30 dB of the loudest (ITU P.56 in spirit, simpler)."""
    block = rate // 100
    n = len(x) // block
    rms = np.sqrt(np.mean(x[: n * block].reshape(n, block) ** 2, axis=1))
    return float(np.sqrt(np.mean(rms[rms > rms.max() * 0.03] ** 2)))
