"""The contenders, by name: the engine (and ablations of its detectors) and the three baselines."""

from __future__ import annotations

from collections.abc import Callable

from bench.spotlight.baselines import JitsiDominantSpeaker, LiveKitActiveSpeakers, LoudestSpeaker
from media_agent.replay import Engine
from media_agent.spotlight import EngineConfig, SpotlightEngine

ENGINES: dict[str, Callable[[], Engine]] = {
    "spotlight": lambda: SpotlightEngine(EngineConfig()),
    # Ablations: what each voice detector buys (docs/spotlight.md, "the VAD decision").
    "spotlight+webrtc-vad": lambda: SpotlightEngine(EngineConfig(vad="webrtc")),
    "spotlight/webrtc-vad-only": lambda: SpotlightEngine(EngineConfig(vad="webrtc", periodicity=False)),
    "spotlight/energy-only": lambda: SpotlightEngine(EngineConfig(vad="none", periodicity=False)),
    # The engine before the low-frequency voicing check: onset on 0.13 s of periodic evidence.
    "spotlight/periodic-only": lambda: SpotlightEngine(EngineConfig(voiced_low_fraction=0.0, onset_s=0.13)),
    # The engine before issue 10: that, and a talking holder's floor taken on 0.55 s of talk, no run.
    "spotlight/no-run-rule": lambda: SpotlightEngine(
        EngineConfig(voiced_low_fraction=0.0, onset_s=0.13, takeover_min_run_s=0.0)
    ),
    "loudest": LoudestSpeaker,
    "livekit": LiveKitActiveSpeakers,
    "jitsi": JitsiDominantSpeaker,
}

BASELINES = ("loudest", "livekit", "jitsi")


def make_engine(name: str) -> Engine:
    return ENGINES[name]()
