"""Recorded human speech for the corpus's third part, from test data Debian ships in packages.

No speech corpus can be downloaded here, but three Debian packages carry real recordings:
- codec2-examples: the Codec2 project's reference clips (several men and women, mostly clean);
- pocketsphinx-testdata: LibriVox audiobook clips, spoken commands, card names and digit strings;
- alsa-utils: the speaker-test voice saying channel names ("Front Left", "Rear Center", ...).

Each recording's speaker is a voice. Recordings are cut at their pauses into utterances (turns are
built from those), and the channel names into single words (the backchannels: real one-word
utterances, stretched towards 0.2-0.8 s, though not "yeah" or "mm-hm", which no package ships).
`install` names the command that installs them; the benchmark skips these parts without them.
"""

from __future__ import annotations

import functools
import subprocess
import zlib
from pathlib import Path

import numpy as np

from bench.spotlight.speech import trim

_CODEC2 = Path("/usr/share/codec2")
_SPHINX = Path("/usr/share/pocketsphinx/test/data")
_ALSA = Path("/usr/share/sounds/alsa")
# package -> one file it installs (scripts/install-system-deps.sh --recordings checks the same ones).
_MARKERS = {
    "codec2-examples": _CODEC2 / "wav/hts1a.wav",
    "pocketsphinx-testdata": _SPHINX / "numbers.raw",
    "alsa-utils": _ALSA / "Front_Center.wav",
}

# voice -> recordings of that one speaker. Raw files are 16-bit mono at the rate given. Clips with
# radio noise or music under the voice (ve9qrp, vk2tpm_004, david4) are left out: the corpus adds
# its own background noise.
TURN_VOICES: dict[str, tuple[tuple[Path, int | None], ...]] = {
    "librivox": tuple((path, None) for path in sorted((_SPHINX / "librivox").glob("*.wav"))),
    "cards": tuple((path, None) for path in sorted((_SPHINX / "cards").glob("*.wav"))),
    "sphinx-commands": ((_SPHINX / "goforward.raw", 16000), (_SPHINX / "something.raw", 16000)),
    "hts1a": ((_CODEC2 / "wav/hts1a.wav", None),),
    "hts2a": ((_CODEC2 / "wav/hts2a.wav", None),),
    "forig": ((_CODEC2 / "wav/forig.wav", None),),
    "morig": ((_CODEC2 / "wav/morig.wav", None),),
    "mmt1": ((_CODEC2 / "wav/mmt1.wav", None),),
    "cross": ((_CODEC2 / "wav/cross.wav", None),),
    "big_dog": ((_CODEC2 / "wav/big_dog.wav", None),),
    "kristoff": ((_CODEC2 / "raw/kristoff.raw", 8000),),
    "vk5qi": ((_CODEC2 / "wav/vk5qi.wav", None),),
    "wia": ((_CODEC2 / "wav/wia_16kHz.wav", None),),
    "speech_orig": ((_CODEC2 / "raw/speech_orig_16k.wav", None),),
}
# The speaker-test recordings say two words each ("Front Left"): the tuning half's backchannels are
# the first words (Front, Rear, Side), the held-out half's the second (Left, Right, Center). The
# packages' other recordings are connected speech with no pause between words.
_ALSA_FILES = tuple(path for path in sorted(_ALSA.glob("*.wav")) if path.name != "Noise.wav")
WORDS = {"alsa-first": (_ALSA_FILES, 0), "alsa-second": (_ALSA_FILES, 1)}
# Disjoint halves, like the synthetic corpus's: the engine may be tuned on "recorded-tune" and is
# reported on "recorded-holdout", whose speakers and words it never heard.
_HOLDOUT_VOICES = ("cards", "hts2a", "morig", "cross", "kristoff", "wia", "speech_orig")
_TUNE_VOICES = ("librivox", "sphinx-commands", "hts1a", "forig", "mmt1", "big_dog", "vk5qi")
SPLIT_VOICES = {
    "recorded-tune": _TUNE_VOICES,
    "recorded-tune-2": _TUNE_VOICES,
    "recorded-holdout": _HOLDOUT_VOICES,
    "recorded-holdout-fresh": _HOLDOUT_VOICES,
    "recorded-holdout-blind": _HOLDOUT_VOICES,
}
SPLIT_WORDS = {
    "recorded-tune": "alsa-first",
    "recorded-tune-2": "alsa-first",
    "recorded-holdout": "alsa-second",
    "recorded-holdout-fresh": "alsa-second",
    "recorded-holdout-blind": "alsa-second",
}

# Pauses that separate utterances, and (shorter) words; levels relative to the recording's peak.
_UTTERANCE_PAUSE_S = 0.3
_WORD_PAUSE_S = 0.06
_ABOVE_FLOOR_DB = 12.0
_BELOW_PEAK_DB = 40.0


PREFIX = "recorded:"


def is_recorded(voice: str) -> bool:
    return voice.startswith(PREFIX)


def utterance(voice: str, text: str, rate: int) -> np.ndarray:
    """The voice's recorded utterance standing in for `text` (the same text, the same utterance)."""
    pieces = _utterances(voice.removeprefix(PREFIX), rate)
    return pieces[zlib.crc32(text.encode()) % len(pieces)]


def word(key: str, length_s: float, rate: int) -> np.ndarray:
    """Recorded word `key` ("voice:index"), time-stretched (pitch kept, sox tempo) towards length_s
    by at most 1.6x either way: the recordings hold few words longer than ~0.6 s."""
    voice, index = key.split(":")
    x = words(voice, rate)[int(index)]
    factor = min(1.6, max(1 / 1.6, len(x) / rate / length_s))
    if abs(factor - 1.0) < 0.05:
        return x
    return _stretch(x, factor, rate)


def word_keys(split: str, rate: int) -> tuple[str, ...]:
    voice = SPLIT_WORDS[split]
    return tuple(f"{voice}:{i}" for i in range(len(words(voice, rate))))


def missing() -> list[str]:
    """The packages whose files are not on this machine."""
    return [package for package, path in _MARKERS.items() if not path.exists()]


def install() -> str:
    """The command that installs them (what `make bench-spotlight` runs first)."""
    return "bash scripts/install-system-deps.sh --recordings"


@functools.cache
def _utterances(name: str, rate: int) -> tuple[np.ndarray, ...]:
    """A turn voice's recordings cut into utterances (those of 0.6 s or more, if it has any)."""
    pieces = [
        piece
        for path, raw_rate in TURN_VOICES[name]
        for piece in _cut(_load(path, raw_rate, rate), rate, _UTTERANCE_PAUSE_S)
    ]
    utterances = tuple(piece for piece in pieces if len(piece) >= 0.6 * rate)
    return utterances or tuple(pieces)


@functools.cache
def words(name: str, rate: int) -> tuple[np.ndarray, ...]:
    """The recorded single words of one word set."""
    files, position = WORDS[name]
    out = []
    for path in files:
        pieces = _cut(_load(path, None, rate), rate, _WORD_PAUSE_S)
        if len(pieces) == 2:
            out.append(pieces[position])
    return tuple(out)


def _stretch(x: np.ndarray, factor: float, rate: int) -> np.ndarray:
    pcm = np.clip(x * 32768.0, -32768, 32767).astype("<i2").tobytes()
    out = subprocess.run(
        ["sox", "-D", *_raw(rate), "-", *_raw(rate), "-", "tempo", "-s", f"{factor:.3f}"],
        input=pcm,
        check=True,
        capture_output=True,
    ).stdout
    return trim(np.frombuffer(out, dtype="<i2").astype(np.float64) / 32768.0, rate)


def _raw(rate: int) -> list[str]:
    """sox's description of headerless 16-bit mono PCM at `rate`."""
    return ["-t", "raw", "-r", str(rate), "-e", "signed", "-b", "16", "-c", "1"]


def _load(path: Path, raw_rate: int | None, rate: int) -> np.ndarray:
    out = subprocess.run(
        ["sox", "-D", *(_raw(raw_rate) if raw_rate else []), str(path), *_raw(rate), "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.float64) / 32768.0


def _cut(x: np.ndarray, rate: int, pause_s: float) -> list[np.ndarray]:
    """Pieces of x separated by pauses of at least pause_s, each cut to its sound.

    Sound is a 10 ms block above the recording's own noise floor (its 10th-percentile block) by
    _ABOVE_FLOOR_DB and within _BELOW_PEAK_DB of its peak: several recordings carry noise 25-35 dB
    below their peak, which a threshold relative to the peak alone would count as speech, starting
    the truth before the talker does.
    """
    block = rate // 100
    n = len(x) // block
    if n == 0:
        return []
    level = 20 * np.log10(np.sqrt(np.mean(x[: n * block].reshape(n, block) ** 2, axis=1)) + 1e-9)
    loud = level > max(float(np.percentile(level, 10)) + _ABOVE_FLOOR_DB, float(level.max()) - _BELOW_PEAK_DB)
    pieces: list[np.ndarray] = []
    start: int | None = None
    quiet = 0
    for i, on in enumerate(loud):
        if on:
            if start is None:
                start = i
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet * block >= pause_s * rate:
                pieces.append(x[start * block : (i - quiet + 1) * block])
                start = None
    if start is not None:
        pieces.append(x[start * block : (n - quiet) * block])
    return [piece for piece in pieces if len(piece) >= 0.1 * rate]
