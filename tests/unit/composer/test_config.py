"""Broadcast settings that cannot give whole-frame segments are refused up front."""

from __future__ import annotations

from typing import Any

import pytest

from composer.hls import BroadcastConfig


def test_defaults_are_720p30_one_second_segments_of_30_frames() -> None:
    config = BroadcastConfig()
    assert (config.width, config.height, config.fps, config.segment_seconds) == (1280, 720, 30, 1.0)
    assert (config.frames_per_segment, config.samples_per_segment) == (30, 48000)


def test_half_second_and_two_second_segments_are_whole_frames() -> None:
    assert BroadcastConfig(segment_seconds=0.5).frames_per_segment == 15
    assert BroadcastConfig(segment_seconds=2.0, fps=25).frames_per_segment == 50


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"segment_seconds": 0.1, "fps": 25}, "whole number of frames"),
        ({"segment_seconds": 0}, "segment_seconds"),
        ({"width": 1279}, "even"),
        ({"height": 0}, "even"),
        ({"fps": 0}, "fps"),
        ({"sample_rate": 16000}, "sample_rate"),
        ({"max_pending_segments": 0}, "max_pending_segments"),
    ],
)
def test_impossible_settings_are_refused_naming_the_field(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        BroadcastConfig(**kwargs)
