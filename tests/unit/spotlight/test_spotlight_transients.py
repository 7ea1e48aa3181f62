"""The transient stress benchmark: seeded draws at the corpus's levels, a control, the engine's evidence."""

from __future__ import annotations

import numpy as np

from bench.spotlight.transients import KINDS, RATES, TYPING, Draw, draws, most_evidence
from media_agent.spotlight import EngineConfig


def test_every_kind_is_drawn_at_every_rate_and_the_same_draw_is_the_same_track() -> None:
    drawn = list(draws(3))
    assert len(drawn) == len(KINDS) * 3 * len(RATES)
    assert {(d.kind, d.rate) for d in drawn} == {(k, r) for k in KINDS for r in RATES}
    first, again, other = (
        Draw("mug", 1, 16000).tracks(),
        Draw("mug", 1, 16000).tracks(),
        Draw("mug", 2, 16000).tracks(),
    )
    assert np.array_equal(first[0], again[0]) and first[2] == again[2]
    assert not np.array_equal(first[0], other[0])


def test_the_sound_sits_in_its_window_after_settled_noise_and_the_control_is_that_noise_alone() -> None:
    for kind in KINDS:
        draw = Draw(kind, 0, 48000)
        with_sound, control, (start, end) = draw.tracks()
        assert with_sound.dtype == np.int16 and len(with_sound) == len(control)
        assert 1.5 <= start < 1.52 and end > start + 0.3
        difference = with_sound.astype(np.float64) - control
        inside = np.flatnonzero(np.abs(difference) > 1)
        assert start <= inside[0] / draw.rate and inside[-1] / draw.rate <= end
        noise_rms = np.sqrt(np.mean(control.astype(np.float64) ** 2))
        assert np.max(np.abs(difference)) > 10 * noise_rms


def test_real_typing_is_an_excerpt_of_a_recording_shipped_with_livekit_agents() -> None:
    with_sound, control, (start, end) = Draw(TYPING, 3, 16000).tracks()
    assert end - start >= 1.0
    assert np.max(np.abs(with_sound.astype(np.float64) - control)) > 0


def test_a_voice_in_place_of_the_sound_reaches_the_onset_so_the_measure_can_fail() -> None:
    # The measure is the engine's own evidence: a sustained vowel in the window earns it.
    draw, config = Draw("mug", 0, 16000), EngineConfig()
    with_sound, control, window = draw.tracks()
    t = np.arange(int(0.4 * draw.rate)) / draw.rate
    vowel = sum(np.sin(2 * np.pi * 130.0 * h * t) / h for h in range(1, 8)) * 3000
    voiced = control.astype(np.float64)
    start = int(window[0] * draw.rate)
    voiced[start : start + len(vowel)] += vowel
    voiced_pcm = np.clip(voiced, -32768, 32767).astype(np.int16)
    assert most_evidence(voiced_pcm, draw.rate, config, window) >= config.onset_s
    assert most_evidence(with_sound, draw.rate, config, window) < config.onset_s
    # Outside the window nothing counts, even the vowel.
    assert most_evidence(voiced_pcm, draw.rate, config, (0.0, 1.0)) == 0.0
