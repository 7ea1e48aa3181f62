"""The composer's environment: where the broadcast goes, what it encodes, how many Spaces a worker takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from composer.hls import DiskSink, S3Sink
from composer.load import MAX_SPACES_ENV, max_spaces
from composer.settings import (
    S3_ATTEMPTS,
    S3_CONNECT_TIMEOUT_S,
    S3_READ_TIMEOUT_S,
    SettingsError,
    config_from_env,
    sink_from_env,
)
from contract import names


def test_a_directory_means_a_disk_sink(tmp_path: Path) -> None:
    sink = sink_from_env({names.ENV_BROADCAST_DIR: str(tmp_path), names.ENV_BROADCAST_BUCKET: "b"})
    assert isinstance(sink, DiskSink) and sink.root == tmp_path


def test_a_bucket_means_an_s3_sink_under_the_prefix() -> None:
    client = object()
    env = {names.ENV_BROADCAST_BUCKET: "media", names.ENV_BROADCAST_PREFIX: "broadcasts/"}
    sink = sink_from_env(env, s3_client=lambda: client)
    assert isinstance(sink, S3Sink)
    assert (sink.bucket, sink.prefix, sink.client) == ("media", "broadcasts/", client)
    assert sink.object_key("s1/index.m3u8") == "broadcasts/s1/index.m3u8"


def test_the_prefix_defaults_to_the_shared_one() -> None:
    sink: Any = sink_from_env({names.ENV_BROADCAST_BUCKET: "media"}, s3_client=lambda: None)
    assert sink.prefix == names.BROADCAST_PREFIX


def test_no_destination_is_refused_naming_the_variables() -> None:
    with pytest.raises(SettingsError, match=f"{names.ENV_BROADCAST_DIR}.*{names.ENV_BROADCAST_BUCKET}"):
        sink_from_env({})


def test_config_defaults_to_720p30_one_second_segments() -> None:
    config = config_from_env({}, video=True)
    assert (config.width, config.height, config.fps, config.segment_seconds, config.video) == (
        1280,
        720,
        30,
        1.0,
        True,
    )
    assert config_from_env({}, video=False).video is False


def test_config_overrides() -> None:
    env = {
        "SPACES_COMPOSER_WIDTH": "640",
        "SPACES_COMPOSER_HEIGHT": "360",
        "SPACES_COMPOSER_FPS": "15",
        "SPACES_COMPOSER_SEGMENT_S": "2",
    }
    config = config_from_env(env, video=True)
    assert (config.width, config.height, config.fps, config.segment_seconds) == (640, 360, 15, 2.0)
    assert config.low is not None and (config.low.width, config.low.height) == (320, 180)
    assert config_from_env({"SPACES_COMPOSER_LOW_RENDITION": "0"}, video=True).low is None
    assert config_from_env({}, video=True).audio_twin
    assert not config_from_env({"SPACES_COMPOSER_AUDIO_RENDITION": "0"}, video=True).audio_twin
    assert not config_from_env({"SPACES_COMPOSER_LOW_RENDITION": "0"}, video=True).audio_twin  # with it only
    assert not config_from_env({}, video=False).audio_twin


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SPACES_COMPOSER_FPS": "fast"}, "SPACES_COMPOSER_FPS must be a positive integer"),
        ({"SPACES_COMPOSER_WIDTH": "-2"}, "SPACES_COMPOSER_WIDTH must be a positive integer"),
        ({"SPACES_COMPOSER_WIDTH": "641"}, "even"),
        ({"SPACES_COMPOSER_SEGMENT_S": "0"}, "SPACES_COMPOSER_SEGMENT_S must be a positive number"),
        ({"SPACES_COMPOSER_SEGMENT_S": "0.01"}, "whole number of frames"),
        ({"SPACES_COMPOSER_LOW_RENDITION": "yes"}, "SPACES_COMPOSER_LOW_RENDITION must be 1 or 0"),
        ({"SPACES_COMPOSER_AUDIO_RENDITION": "2"}, "SPACES_COMPOSER_AUDIO_RENDITION must be 1 or 0"),
    ],
)
def test_bad_settings_are_refused_with_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        config_from_env(env, video=True)


def test_one_space_per_core_by_default() -> None:
    assert max_spaces({}, cpus=4) == 4
    assert max_spaces({}, cpus=0.5) == 1  # a fractional task still takes one Space


def test_max_spaces_override_and_refusal() -> None:
    assert max_spaces({MAX_SPACES_ENV: "20"}, cpus=1) == 20
    for bad in ("0", "-1", "many"):
        with pytest.raises(ValueError, match=MAX_SPACES_ENV):
            max_spaces({MAX_SPACES_ENV: bad}, cpus=1)


def test_the_s3_client_fails_a_hung_request_in_seconds_not_minutes() -> None:
    """botocore's defaults (60 s connect and read, legacy retries) under the publisher's own
    attempts would freeze live.m3u8 for minutes on one hung PUT."""
    sink: Any = sink_from_env({names.ENV_BROADCAST_BUCKET: "media"})
    config = sink.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (S3_CONNECT_TIMEOUT_S, S3_READ_TIMEOUT_S)
    assert config.connect_timeout <= 2 and config.read_timeout <= 5
    assert config.retries == {"mode": "standard", "total_max_attempts": S3_ATTEMPTS}
