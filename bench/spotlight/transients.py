"""Transient stress: how much speech evidence single non-speech sounds earn, engine by engine.

    python -m bench.spotlight.transients [--draws 1000] [--engines spotlight spotlight/last-stop ...]

The corpus has ~2,000 transients in all; a rule that keeps them out can still sit one hop from
letting some in. Here each kind is drawn `--draws` times at 16 and 48 kHz, alone on one speaker's
track: background noise of a kind and at a level the corpus draws (18-35 dB below speech), the
sound at its kind's peak level 1.5 s in (the noise floor has settled) at a random offset within a
10 ms hop, and a mic gain within 20 dB. The kinds are the corpus's four generated sounds (cough,
click, keyboard burst, mug) and real typing: a 1 s excerpt, from a random point, of one of the two
keyboard recordings that livekit-agents ships (CC BY 4.0, its resources/NOTICE), at the keyboard's
level. A draw "reaches the onset" when, from the sound's start until 0.3 s after its end, the
speaker's evidence (or the evidence its run has shown) gets to that engine's `onset_s`: on a free
floor it would take the spotlight. Each draw is also played without its sound (the same noise,
the control): a reach there is the noise's, and is counted apart. The draws are seeded, so every
run is the same. Writes bench/out/spotlight/transients.json and prints a markdown table
(docs/bench/spotlight.md).
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from bench.spotlight import sounds
from bench.spotlight.engines import CONFIGS
from media_agent.spotlight import EngineConfig
from media_agent.spotlight.speaker import Speaker

OUT = Path("bench/out/spotlight")
RATES = (16000, 48000)
SEED = 20261203
AT_S = 1.5
AFTER_S = 0.3
TYPING = "typing (recording)"
RECORDINGS = ("keyboard-typing.ogg", "keyboard-typing2.ogg")
KINDS = (*sounds.TRANSIENT_KINDS, TYPING)
DEFAULT_ENGINES = ("spotlight", "spotlight/onset-0.03+build-up", "spotlight/onset-0.03+build-up+clear-pitch")


@cache
def recording(name: str, rate: int) -> np.ndarray:
    """One of livekit-agents' bundled recordings, mono, at `rate`, in [-1, 1]."""
    import av

    path = importlib.resources.files("livekit.agents") / "resources" / name
    with importlib.resources.as_file(path) as file, av.open(str(file)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        chunks = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
    return np.concatenate(chunks).astype(np.float64) / 32768.0


@dataclass(frozen=True)
class Draw:
    kind: str
    index: int
    rate: int

    def tracks(self) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
        """(track with the sound, the same without it, the window scored), as int16 tracks."""
        rng = np.random.default_rng([SEED, KINDS.index(self.kind), self.index, self.rate])
        speech_rms = 0.1  # -20 dBFS, the corpus's nominal speech level
        noise_db = rng.uniform(18.0, 35.0)
        if self.kind == TYPING:
            source = recording(RECORDINGS[int(rng.integers(len(RECORDINGS)))], self.rate)
            start = int(rng.integers(0, len(source) - self.rate))
            sound = source[start : start + self.rate]
            sound = sound / (float(np.max(np.abs(sound))) or 1.0)
            peak_db = rng.uniform(*sounds.TRANSIENT_PEAK_DB["keyboard"])
        else:
            sound = sounds.TRANSIENTS[self.kind](rng, self.rate)
            peak_db = rng.uniform(*sounds.TRANSIENT_PEAK_DB[self.kind])
        at = int(self.rate * (AT_S + rng.uniform(0.0, 0.01)))
        gain = 10 ** (rng.uniform(-20.0, 0.0) / 20)
        n = at + len(sound) + int(self.rate * (AFTER_S + 0.2))
        noise = sounds.background(rng, n, self.rate) * speech_rms * 10 ** (-noise_db / 20)
        with_sound = noise.copy()
        with_sound[at : at + len(sound)] += sound * 10 ** (peak_db / 20)
        window = (at / self.rate, (at + len(sound)) / self.rate + AFTER_S)
        return _pcm(with_sound * gain), _pcm(noise * gain), window


def _pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 32768.0, -32768, 32767).astype(np.int16)


def draws(per_kind: int) -> Iterator[Draw]:
    for kind in KINDS:
        for index in range(per_kind):
            for rate in RATES:
                yield Draw(kind, index, rate)


def most_evidence(pcm: np.ndarray, rate: int, config: EngineConfig, window: tuple[float, float]) -> float:
    """The most evidence a speaker showed within `window`, fed in 20 ms frames as the agent feeds it."""
    speaker = Speaker("stress", config)
    step = rate // 50
    best = 0.0
    for start in range(0, len(pcm), step):
        speaker.push(start / rate, pcm[start : start + step], rate)
        if window[0] <= (start + step) / rate <= window[1] + 0.02:
            best = max(best, speaker.evidence, speaker.evidence_peak)
    return best


def _job(job: tuple[str, Draw]) -> tuple[str, str, float, float]:
    name, draw = job
    config = EngineConfig(**CONFIGS[name])
    with_sound, control, window = draw.tracks()
    return (
        name,
        draw.kind,
        most_evidence(with_sound, draw.rate, config, window),
        most_evidence(control, draw.rate, config, window),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spotlight.transients")
    parser.add_argument("--draws", type=int, default=1000, help="per kind and sample rate")
    parser.add_argument("--engines", nargs="*", default=list(DEFAULT_ENGINES), choices=sorted(CONFIGS))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    jobs = [(name, draw) for name in args.engines for draw in draws(args.draws)]
    with Pool(args.jobs) as pool:
        results = pool.map(_job, jobs, chunksize=50)
    table: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for name, kind, evidence, control in results:
        table.setdefault(name, {}).setdefault(kind, []).append((evidence, control))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "transients.json").write_text(
        json.dumps({"draws_per_kind_and_rate": args.draws, "evidence": table})
    )
    per_kind = 2 * args.draws
    print(f"{per_kind} draws per kind ({args.draws} at each of {', '.join(map(str, RATES))} Hz).\n")
    print(
        "| engine | onset | "
        + " | ".join(KINDS)
        + " | caused by the sound, all kinds | noise alone (control) |"
    )
    print("|---" * (len(KINDS) + 4) + "|")
    for name, kinds in table.items():
        onset = EngineConfig(**CONFIGS[name]).onset_s - 1e-9
        cells, caused, noise = [], 0, 0
        for kind in KINDS:
            pairs = np.array(kinds[kind])
            reached = int(np.sum((pairs[:, 0] >= onset) & (pairs[:, 1] < onset)))
            caused += reached
            noise += int(np.sum(pairs[:, 1] >= onset))
            cells.append(f"{reached} / {pairs[:, 0].max():.2f} s")
        print(
            f"| {name} | {onset:.2f} s | "
            + " | ".join(cells)
            + f" | {caused} of {len(KINDS) * per_kind} | {noise} of {len(KINDS) * per_kind} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
