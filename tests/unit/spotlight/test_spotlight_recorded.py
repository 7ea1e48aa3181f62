"""Cutting recordings into utterances and words for the benchmark's recorded voices."""

from __future__ import annotations

import numpy as np

from bench.spotlight.recorded import _cut

RATE = 16000


def _tone(seconds: float, level: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return level * np.sin(2 * np.pi * 180 * t)


def test_pieces_start_at_the_voice_not_at_the_recordings_own_noise() -> None:
    # A recording with noise 30 dB below its speech (as several packaged clips have): 0.3 s of noise,
    # 1 s of "speech", a 0.5 s pause, 0.8 s more.
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [np.zeros(int(0.3 * RATE)), _tone(1.0, 0.5), np.zeros(int(0.5 * RATE)), _tone(0.8, 0.5)]
    )
    x = x + rng.standard_normal(len(x)) * 0.5 * 10 ** (-30 / 20)
    pieces = _cut(x, RATE, 0.3)
    assert [round(len(piece) / RATE, 1) for piece in pieces] == [1.0, 0.8]
    # The first piece begins with the tone, not with the 0.3 s of noise before it.
    assert np.sqrt(np.mean(pieces[0][: RATE // 100] ** 2)) > 0.1


def test_a_pause_shorter_than_the_threshold_keeps_one_piece() -> None:
    x = np.concatenate([_tone(0.4, 0.5), np.zeros(int(0.1 * RATE)), _tone(0.4, 0.5)])
    assert len(_cut(x, RATE, 0.3)) == 1
    assert len(_cut(x, RATE, 0.06)) == 2
