"""Transient stress: how much speech evidence single non-speech sounds earn, engine by engine.

    python -m bench.spotlight.transients [--draws 1000] [--engines spotlight spotlight/last-stop ...]

The corpus has ~2,000 transients in all; a rule that keeps them out can still sit one hop from
letting some in. Here each of the four kinds (corpus sounds: cough, click, keyboard burst, mug) is
drawn `--draws` times at 16 and 48 kHz, alone on one speaker's track: background noise of a kind
and at a level the corpus draws (18-35 dB below speech), the transient at the corpus's peak level
for its kind, a mic gain within 20 dB, 1.5 s into the track (the noise floor has settled) at a
random offset within a 10 ms hop. A transient "reaches the onset" when the speaker's evidence (or
the evidence its run has shown) gets to that engine's `onset_s`: on a free floor it would take the
spotlight. Nothing here is scored against truth; the draws are seeded, so every run is the same.
Writes bench/out/spotlight/transients.json and prints a markdown table (docs/bench/spotlight.md).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
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
DEFAULT_ENGINES = ("spotlight", "spotlight/no-build-up", "spotlight/last-stop")


@dataclass(frozen=True)
class Draw:
    kind: str
    index: int
    rate: int

    def track(self) -> np.ndarray:
        """The speaker's whole track (int16): noise, then the transient 1.5 s in."""
        rng = np.random.default_rng([SEED, sounds.TRANSIENT_KINDS.index(self.kind), self.index, self.rate])
        n = int(2.5 * self.rate)
        speech_rms = 0.1  # -20 dBFS, the corpus's nominal speech level
        noise = sounds.background(rng, n, self.rate) * speech_rms * 10 ** (-rng.uniform(18.0, 35.0) / 20)
        sound = sounds.TRANSIENTS[self.kind](rng, self.rate)
        peak = 10 ** (rng.uniform(*sounds.TRANSIENT_PEAK_DB[self.kind]) / 20)
        at = int(self.rate * (1.5 + rng.uniform(0.0, 0.01)))
        track = noise
        track[at : at + len(sound)] += sound * peak
        gain = 10 ** (rng.uniform(-20.0, 0.0) / 20)
        return np.clip(track * gain * 32768.0, -32768, 32767).astype(np.int16)


def draws(per_kind: int) -> Iterator[Draw]:
    for kind in sounds.TRANSIENT_KINDS:
        for index in range(per_kind):
            for rate in RATES:
                yield Draw(kind, index, rate)


def most_evidence(pcm: np.ndarray, rate: int, config: EngineConfig) -> float:
    """The most evidence a speaker showed on this track, fed in 20 ms frames as the agent feeds it."""
    speaker = Speaker("stress", config)
    step = rate // 50
    best = 0.0
    for start in range(0, len(pcm), step):
        speaker.push(start / rate, pcm[start : start + step], rate)
        best = max(best, speaker.evidence, speaker.evidence_peak)
    return best


def _job(job: tuple[str, Draw]) -> tuple[str, str, float]:
    name, draw = job
    return name, draw.kind, most_evidence(draw.track(), draw.rate, EngineConfig(**CONFIGS[name]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spotlight.transients")
    parser.add_argument("--draws", type=int, default=1000, help="per kind and sample rate")
    parser.add_argument("--engines", nargs="*", default=list(DEFAULT_ENGINES), choices=sorted(CONFIGS))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    jobs = [(name, draw) for name in args.engines for draw in draws(args.draws)]
    with Pool(args.jobs) as pool:
        results = pool.map(_job, jobs, chunksize=50)
    table: dict[str, dict[str, list[float]]] = {}
    for name, kind, evidence in results:
        table.setdefault(name, {}).setdefault(kind, []).append(evidence)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "transients.json").write_text(
        json.dumps({"draws_per_kind_and_rate": args.draws, "evidence": table})
    )
    kinds = sounds.TRANSIENT_KINDS
    print(f"{2 * args.draws} draws per kind ({args.draws} at each of {', '.join(map(str, RATES))} Hz).\n")
    print("| engine | onset | " + " | ".join(f"{k}: reach onset / max evidence" for k in kinds) + " | all |")
    print("|---" * (len(kinds) + 3) + "|")
    for name, per_kind in table.items():
        onset = EngineConfig(**CONFIGS[name]).onset_s
        cells, total = [], 0
        for kind in kinds:
            values = np.array(per_kind[kind])
            reached = int(np.sum(values >= onset - 1e-9))
            total += reached
            cells.append(f"{reached} / {values.max():.2f} s")
        print(
            f"| {name} | {onset:.2f} s | "
            + " | ".join(cells)
            + f" | {total} of {len(kinds) * 2 * args.draws} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
