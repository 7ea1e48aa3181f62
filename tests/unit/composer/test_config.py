"""Broadcast settings that cannot give whole-frame segments are refused up front."""

from __future__ import annotations

from typing import Any

import pytest

from composer.hls import BroadcastConfig
from composer.hls.config import LowRendition


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


def test_a_video_broadcast_has_a_low_rendition_of_half_its_size_and_a_quarter_of_its_bitrate() -> None:
    low = BroadcastConfig().low
    assert low is not None and (low.width, low.height, low.video_bitrate) == (640, 360, 600_000)
    odd = BroadcastConfig(width=854, height=480).low  # 427x240: rounded down to even
    assert odd is not None and (odd.width, odd.height) == (426, 240)
    assert BroadcastConfig(video=False).low is None
    assert BroadcastConfig(low_rendition=None).low is None


@pytest.mark.parametrize(
    ("low", "problem"),
    [
        (LowRendition(scale=1.0), "between 0 and 1"),
        (LowRendition(bitrate_share=0), "between 0 and 1"),
        (LowRendition(scale=0.001), "would be 0x0"),
    ],
)
def test_a_low_rendition_that_cannot_work_is_refused(low: LowRendition, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        BroadcastConfig(low_rendition=low)
