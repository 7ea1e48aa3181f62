"""Probe: what Silero VAD would buy the engine, in quality and CPU (docs/spotlight.md, the VAD decision).

Not part of `make bench-spotlight`: Silero needs onnxruntime, which the agent does not ship. Run it
in a throwaway environment that has the project's agent dependencies plus the model:

    uv venv /tmp/silero && uv pip install --python /tmp/silero/bin/python numpy webrtcvad-wheels onnxruntime
    uv pip install --python /tmp/silero/bin/python --no-deps silero-vad     # only for its .onnx file
    /tmp/silero/bin/python -m bench.spotlight.silero_probe

Silero scores every 32 ms chunk (512 samples at 16 kHz) of every track, with its recurrent state
carried from chunk to chunk; a hop counts as speech when the latest chunk's probability is >= 0.5.
It replaces the engine's extra-VAD slot, so "silero-only" is Silero instead of the periodicity check
and "spotlight+silero" is Silero on top of it.
"""

from __future__ import annotations

import importlib.util
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bench.spotlight.corpus import build
from bench.spotlight.metrics import Score, score
from media_agent.replay import load_manifest, replay
from media_agent.spotlight import EngineConfig, SpotlightEngine, analysis

CHUNK = 512
CONTEXT = 64
RATE = 16000


def _session() -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    # Located, not imported: the package's __init__ imports torch, which is not needed for the model.
    spec = importlib.util.find_spec("silero_vad")
    assert spec is not None and spec.submodule_search_locations
    model = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    return ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])


class _Silero:
    """One track's Silero stream: consecutive 512-sample chunks, recurrent state kept."""

    session: ort.InferenceSession | None = None

    def __init__(self) -> None:
        if _Silero.session is None:
            _Silero.session = _session()
        self.state = np.zeros((2, 1, 128), dtype=np.float32)
        self.context = np.zeros((1, CONTEXT), dtype=np.float32)
        self.pending = np.zeros(0, dtype=np.float32)
        self.probability = 0.0
        self.cpu_s = 0.0

    def feed(self, pcm: np.ndarray) -> None:
        self.pending = np.concatenate((self.pending, pcm.astype(np.float32) / 32768.0))
        while len(self.pending) >= CHUNK:
            chunk, self.pending = self.pending[:CHUNK], self.pending[CHUNK:]
            started = time.process_time()
            window = np.concatenate((self.context, chunk[None, :]), axis=1)
            out, self.state = self.session.run(  # type: ignore[union-attr]
                None, {"input": window, "state": self.state, "sr": np.array(RATE, dtype=np.int64)}
            )
            self.context = window[:, -CONTEXT:]
            self.probability = float(out[0][0])
            self.cpu_s += time.process_time() - started


_installed = False


def _install() -> None:
    """Route the engine's extra-VAD slot to Silero (the probe only; the engine is unchanged)."""
    global _installed
    if _installed:
        return
    _installed = True
    original_feed = analysis.FrameAnalyzer.feed

    def feed(self, t, pcm, sample_rate):  # type: ignore[no-untyped-def]
        if not hasattr(self, "_silero"):
            self._silero = _Silero()
        self._silero.feed(pcm)
        return original_feed(self, t, pcm, sample_rate)

    def says_speech(self, samples):  # type: ignore[no-untyped-def]
        return self._silero.probability >= 0.5

    analysis.FrameAnalyzer.feed = feed  # type: ignore[method-assign]
    analysis.FrameAnalyzer._vad_says_speech = says_speech  # type: ignore[method-assign]


VARIANTS = {
    "spotlight+silero": EngineConfig(vad="webrtc"),
    "silero-only": EngineConfig(vad="webrtc", periodicity=False),
}


def _run(job: tuple[str, str]) -> tuple[str, Score, float, int]:
    _install()
    name, path = job
    manifest = load_manifest(path)
    engine = SpotlightEngine(VARIANTS[name])
    timeline = [(t, state.spotlight) for t, state in replay(manifest, engine)]
    silero_cpu = sum(getattr(s._analyzer, "_silero").cpu_s for s in engine._speakers.values())  # noqa: B009
    frames = int(manifest.duration / 0.02) * len(manifest.tracks)
    return name, score(timeline, manifest.raw, manifest.duration), silero_cpu, frames


def main() -> None:
    manifests = [str(path) for path in build()]
    totals = {name: Score() for name in VARIANTS}
    cpu = dict.fromkeys(VARIANTS, 0.0)
    frames = dict.fromkeys(VARIANTS, 0)
    with Pool(2) as pool:
        for name, result, seconds, n in pool.imap_unordered(
            _run, [(v, m) for v in VARIANTS for m in manifests]
        ):
            totals[name].merge(result)
            cpu[name] += seconds
            frames[name] += n
    for name, total in totals.items():
        noise = sum(n for kind, n in total.transient_false_switches.items() if kind != "backchannel")
        print(
            f"{name}: switch median {np.median(total.switch_latencies):.2f} s "
            f"p90 {np.quantile(total.switch_latencies, 0.9):.2f} s misses {total.switch_misses}; "
            f"takeover median {np.median(total.takeover_latencies):.2f} s misses {total.takeover_misses}; "
            f"false switches/min {total.false_switches_per_min:.2f} (noise transients {noise}, backchannels "
            f"{total.transient_false_switches.get('backchannel', 0)}); flicker {total.flickers}; "
            f"accuracy {total.accuracy * 100:.2f} %; "
            f"Silero CPU {cpu[name] / frames[name] * 1e6:.0f} µs per 20 ms frame of a track"
        )


if __name__ == "__main__":
    main()
