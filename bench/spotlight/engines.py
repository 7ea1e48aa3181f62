"""The contenders, by name: the engine (and ablations of its detectors) and the three baselines."""

from __future__ import annotations

from collections.abc import Callable

from bench.spotlight.baselines import JitsiDominantSpeaker, LiveKitActiveSpeakers, LoudestSpeaker
from media_agent.replay import Engine
from media_agent.spotlight import EngineConfig, SpotlightEngine

# Each earlier engine as it was. The last stop's did not keep an answer's free floor when the old holder
# spoke up after it (answer_first); the one before had neither a holder's unvoiced speech keeping the
# floor nor a run starting at its word's first sound; the stops before it also had the voicing
# test's 0.5 low-band share and any voiced hop keeping a burst going, and before them, no free-floor
# rules either.
_LAST_STOP = {"answer_first": False}
_TWO_STOPS_AGO = {**_LAST_STOP, "holder_unvoiced_s": 0.0, "run_lead_s": 0.0}
_NO_FREE_FLOOR_RULES = {
    **_TWO_STOPS_AGO,
    "voiced_low_fraction": 0.5,
    "burst_by_streaks": False,
    "first_come": False,
    "onset_peak": False,
}
_PERIODIC_ONLY = {
    **_NO_FREE_FLOOR_RULES,
    "voiced_low_fraction": 0.0,
    "pitch_peak_only": False,
    "onset_s": 0.13,
    "takeover_s": 0.55,
    "run_min_streak": 1,
    "run_bridge_speechlike": False,
    "takeover_min_run_s": 0.9,
}

ENGINES: dict[str, Callable[[], Engine]] = {
    "spotlight": lambda: SpotlightEngine(EngineConfig()),
    # Ablations: what each voice detector buys (docs/spotlight.md, "the VAD decision").
    "spotlight+webrtc-vad": lambda: SpotlightEngine(EngineConfig(vad="webrtc")),
    "spotlight/webrtc-vad-only": lambda: SpotlightEngine(EngineConfig(vad="webrtc", periodicity=False)),
    "spotlight/energy-only": lambda: SpotlightEngine(EngineConfig(vad="none", periodicity=False)),
    # The engine as it was before the stricter voicing test (periodicity at any lag, no low-band
    # share), which needed 0.13 s of evidence for an onset and 0.55 s of talk for a takeover.
    "spotlight/periodic-only": lambda: SpotlightEngine(EngineConfig(**_PERIODIC_ONLY)),
    # The engine before issue 10: that, and a talking holder's floor taken on talk alone, no run.
    "spotlight/no-run-rule": lambda: SpotlightEngine(
        EngineConfig(**{**_PERIODIC_ONLY, "takeover_min_run_s": 0.0})
    ),
    # The engine before runs were bridged by consonants (and needed 0.9 s).
    "spotlight/unbridged-run": lambda: SpotlightEngine(
        EngineConfig(**_NO_FREE_FLOOR_RULES, run_bridge_speechlike=False, takeover_min_run_s=0.9)
    ),
    # The engine before the free-floor rules (the first to speak gets a free floor; an onset once
    # shown holds while the speaker is voiced).
    "spotlight/no-free-floor-rules": lambda: SpotlightEngine(EngineConfig(**_NO_FREE_FLOOR_RULES)),
    # The engine of the last stop: the old holder's word over an answer made the floor taken again.
    "spotlight/last-stop": lambda: SpotlightEngine(EngineConfig(**_LAST_STOP)),
    # The engine of the stop before: the floor was free once the holder's vowels were
    # holder_release_s old, whatever they still said, and a run started at its first vowel; and
    # each of that stop's rules taken out on its own.
    "spotlight/two-stops-ago": lambda: SpotlightEngine(EngineConfig(**_TWO_STOPS_AGO)),
    "spotlight/no-unvoiced-holder": lambda: SpotlightEngine(EngineConfig(holder_unvoiced_s=0.0)),
    "spotlight/no-run-lead": lambda: SpotlightEngine(EngineConfig(run_lead_s=0.0)),
    "loudest": LoudestSpeaker,
    "livekit": LiveKitActiveSpeakers,
    "jitsi": JitsiDominantSpeaker,
}

BASELINES = ("loudest", "livekit", "jitsi")


def make_engine(name: str) -> Engine:
    return ENGINES[name]()
