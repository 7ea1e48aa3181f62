"""The contenders, by name: the engine (and ablations of its detectors) and the three baselines."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from bench.spotlight.baselines import JitsiDominantSpeaker, LiveKitActiveSpeakers, LoudestSpeaker
from media_agent.replay import Engine
from media_agent.spotlight import EngineConfig, SpotlightEngine

# Each earlier engine as it was. The one before `answer_first` (e5410bd) did not keep an answer's
# free floor when the old holder spoke up after it; the one before that had neither a holder's
# unvoiced speech keeping the floor nor a run starting at its word's first sound; the stops before
# it also had the voicing test's 0.5 low-band share and any voiced hop keeping a burst going, and
# before them, no free-floor rules either.
_LAST_STOP: dict[str, Any] = {"answer_first": False}
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

_ONSET_003_BUILD_UP: dict[str, Any] = {"onset_s": 0.03, "build_up_hop": 3}

# The engine's variants, as overrides of its shipped configuration.
CONFIGS: dict[str, dict[str, Any]] = {
    "spotlight": {},
    # Ablations: what each voice detector buys (docs/spotlight.md, "the VAD decision").
    "spotlight+webrtc-vad": {"vad": "webrtc"},
    "spotlight/webrtc-vad-only": {"vad": "webrtc", "periodicity": False},
    "spotlight/energy-only": {"vad": "none", "periodicity": False},
    # The engine as it was before the stricter voicing test (periodicity at any lag, no low-band
    # share), which needed 0.13 s of evidence for an onset and 0.55 s of talk for a takeover.
    "spotlight/periodic-only": _PERIODIC_ONLY,
    # The engine before issue 10: that, and a talking holder's floor taken on talk alone, no run.
    "spotlight/no-run-rule": {**_PERIODIC_ONLY, "takeover_min_run_s": 0.0},
    # The engine before runs were bridged by consonants (and needed 0.9 s).
    "spotlight/unbridged-run": {
        **_NO_FREE_FLOOR_RULES,
        "run_bridge_speechlike": False,
        "takeover_min_run_s": 0.9,
    },
    # The engine before the free-floor rules (the first to speak gets a free floor; an onset once
    # shown holds while the speaker is voiced).
    "spotlight/no-free-floor-rules": _NO_FREE_FLOOR_RULES,
    # Tried at this stop and not shipped (docs/bench/spotlight.md): a 0.03 s onset with the build-up
    # check, and with the clear-pitch check as well.
    "spotlight/onset-0.03+build-up": _ONSET_003_BUILD_UP,
    "spotlight/onset-0.03+build-up+clear-pitch": {**_ONSET_003_BUILD_UP, "clear_pitch": 0.7},
    # The engine of the last stop: the old holder's word over an answer made the floor taken again.
    "spotlight/last-stop": _LAST_STOP,
    # The engine of the stop before: the floor was free once the holder's vowels were
    # holder_release_s old, whatever they still said, and a run started at its first vowel; and
    # each of that stop's rules taken out on its own.
    "spotlight/two-stops-ago": _TWO_STOPS_AGO,
    "spotlight/no-unvoiced-holder": {"holder_unvoiced_s": 0.0},
    "spotlight/no-run-lead": {"run_lead_s": 0.0},
}


def _spotlight(overrides: dict[str, Any]) -> Engine:
    return SpotlightEngine(EngineConfig(**overrides))


ENGINES: dict[str, Callable[[], Engine]] = {
    **{name: partial(_spotlight, overrides) for name, overrides in CONFIGS.items()},
    "loudest": LoudestSpeaker,
    "livekit": LiveKitActiveSpeakers,
    "jitsi": JitsiDominantSpeaker,
}

BASELINES = ("loudest", "livekit", "jitsi")


def make_engine(name: str) -> Engine:
    return ENGINES[name]()
