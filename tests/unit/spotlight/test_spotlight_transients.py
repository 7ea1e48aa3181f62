"""The transient stress benchmark's draws: seeded, at the corpus's levels, and scored by the engine."""

from __future__ import annotations

import numpy as np

from bench.spotlight import sounds
from bench.spotlight.transients import RATES, Draw, draws, most_evidence
from media_agent.spotlight import EngineConfig


def test_every_kind_is_drawn_at_every_rate_and_the_same_draw_is_the_same_track() -> None:
    drawn = list(draws(3))
    assert len(drawn) == len(sounds.TRANSIENT_KINDS) * 3 * len(RATES)
    assert {(d.kind, d.rate) for d in drawn} == {(k, r) for k in sounds.TRANSIENT_KINDS for r in RATES}
    assert np.array_equal(Draw("mug", 1, 16000).track(), Draw("mug", 1, 16000).track())
    assert not np.array_equal(Draw("mug", 1, 16000).track(), Draw("mug", 2, 16000).track())


def test_the_transient_sits_after_the_settled_noise_and_stands_out_of_it() -> None:
    for kind in sounds.TRANSIENT_KINDS:
        draw = Draw(kind, 0, 48000)
        pcm = draw.track()
        assert pcm.dtype == np.int16 and len(pcm) == int(2.5 * draw.rate)
        track = pcm.astype(np.float64)
        at = int(1.5 * draw.rate)
        assert np.argmax(np.abs(track)) >= at
        noise_rms = np.sqrt(np.mean(track[: at - 10] ** 2))
        assert np.max(np.abs(track[at:])) > 10 * noise_rms


def test_a_voice_in_place_of_the_transient_reaches_the_onset_so_the_measure_can_fail() -> None:
    # The measure is the engine's own evidence: a sustained vowel where the mug was earns it.
    draw, config = Draw("mug", 0, 16000), EngineConfig()
    t = np.arange(int(0.4 * draw.rate)) / draw.rate
    vowel = sum(np.sin(2 * np.pi * 130.0 * h * t) / h for h in range(1, 8)) * 3000
    track = draw.track().astype(np.float64)
    start = int(1.5 * draw.rate)
    track[start : start + len(vowel)] += vowel
    voiced = np.clip(track, -32768, 32767).astype(np.int16)
    assert most_evidence(voiced, draw.rate, config) >= config.onset_s
    assert most_evidence(draw.track(), draw.rate, config) < config.onset_s
