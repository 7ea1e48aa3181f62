"""The composer's settings from its environment: where the broadcast goes and what it encodes.

Pure functions of a mapping (plus a client factory for S3), so the rules are unit-tested without a
process. Names shared with the control plane and the CDK app come from contract.names; the tuning
knobs below are the composer's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from composer.hls import BroadcastConfig, DiskSink, S3Sink, Sink
from composer.hls.config import LowRendition
from contract import names

# Output size and rate. 1280x720 at 30 fps is the product; a smaller size or rate is for machines
# that cannot spare a core per Space (the integration tests on a shared 2-core runner).
WIDTH_ENV = "SPACES_COMPOSER_WIDTH"
HEIGHT_ENV = "SPACES_COMPOSER_HEIGHT"
FPS_ENV = "SPACES_COMPOSER_FPS"
SEGMENT_SECONDS_ENV = "SPACES_COMPOSER_SEGMENT_S"
# A video Space's second, smaller rendition for viewers on slow links (docs/broadcast.md,
# "Renditions"): 1 (default) or 0, which saves its ~15 % of the composer's CPU per video Space.
LOW_RENDITION_ENV = "SPACES_COMPOSER_LOW_RENDITION"
AUDIO_RENDITION_ENV = "SPACES_COMPOSER_AUDIO_RENDITION"
# Hold every stage member's simulcast camera at its lowest layer, so that a switch of the big tile
# draws a picture at once (composer/video.py). 0 holds the shown video only.
WARM_CAMERAS_ENV = "SPACES_COMPOSER_WARM_CAMERAS"
# How long a camera shown from warm may stay at its lowest layer before it is subscribed to afresh
# (composer/worker.py `_await_full`: the SFU may not move a streaming subscription up).
FULL_PICTURE_WAIT_ENV = "SPACES_COMPOSER_FULL_PICTURE_WAIT_S"

# The S3 client's own limits, short because the broadcast is live: viewers sit ~1.5 s behind the
# live edge and each of the publisher's passes waits for its slowest write, so a PUT that hangs holds
# back every segment and playlist behind it. botocore's defaults (60 s to connect, 60 s per read, 5 attempts
# in its legacy mode) let one hung connection freeze live.m3u8 for minutes, under the publisher's
# own 8 attempts. 2 s to connect and 5 s per socket read (a 1 s segment at 2.5 Mb/s is ~310 kB,
# an S3 PUT answers in well under a second) fail a hung request fast; 2 attempts in botocore's
# standard mode (one quick retry on a fresh connection, throttling-aware) and the publisher's
# backoff on top (composer/hls/config.py RetryPolicy) do the rest. Worst case per publisher
# attempt: 2 x (2 + 5) s plus botocore's backoff, about 15 s, where the defaults allowed minutes.
S3_CONNECT_TIMEOUT_S = 2.0
S3_READ_TIMEOUT_S = 5.0
S3_ATTEMPTS = 2


class SettingsError(ValueError):
    """The environment does not describe a composer that can run; the message names the variable."""


def sink_from_env(env: Mapping[str, str], s3_client: Callable[[], Any] | None = None) -> Sink:
    """SPACES_BROADCAST_DIR -> a DiskSink; else SPACES_BROADCAST_BUCKET (+ PREFIX) -> an S3Sink."""
    directory = env.get(names.ENV_BROADCAST_DIR)
    if directory:
        return DiskSink(directory)
    bucket = env.get(names.ENV_BROADCAST_BUCKET)
    if bucket:
        prefix = env.get(names.ENV_BROADCAST_PREFIX, names.BROADCAST_PREFIX)
        client = s3_client() if s3_client is not None else default_s3_client()
        return S3Sink(bucket, prefix, client)
    raise SettingsError(
        f"no broadcast destination: set {names.ENV_BROADCAST_DIR} (local) or "
        f"{names.ENV_BROADCAST_BUCKET} and {names.ENV_BROADCAST_PREFIX} (S3)"
    )


def s3_client_config() -> Any:
    """The botocore Config of the composer's S3 client (the limits above)."""
    from botocore.config import Config

    return Config(
        connect_timeout=S3_CONNECT_TIMEOUT_S,
        read_timeout=S3_READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": S3_ATTEMPTS},
    )


def default_s3_client() -> Any:
    """boto3's S3 client (credentials and region from the task's environment) with short limits."""
    import boto3

    return boto3.client("s3", config=s3_client_config())


def _switch(env: Mapping[str, str], name: str) -> bool:
    """A setting that is on unless it says 0."""
    raw = env.get(name, "").strip()
    if raw not in ("", "0", "1"):
        raise SettingsError(f"{name} must be 1 or 0, got {raw!r}")
    return raw != "0"


def config_from_env(env: Mapping[str, str], *, video: bool) -> BroadcastConfig:
    """The encoding settings (defaults: 1280x720, 30 fps, 1 s segments); `video` from the Space."""
    width = _int(env, WIDTH_ENV, 1280)
    height = _int(env, HEIGHT_ENV, 720)
    fps = _int(env, FPS_ENV, 30)
    segment = _float(env, SEGMENT_SECONDS_ENV, 1.0)
    low = LowRendition() if _switch(env, LOW_RENDITION_ENV) else None
    sound = _switch(env, AUDIO_RENDITION_ENV)
    try:
        return BroadcastConfig(
            width=width,
            height=height,
            fps=fps,
            video=video,
            segment_seconds=segment,
            low_rendition=low,
            audio_rendition=sound,
        )
    except ValueError as exc:
        raise SettingsError(f"{WIDTH_ENV}/{HEIGHT_ENV}/{FPS_ENV}/{SEGMENT_SECONDS_ENV}: {exc}") from exc


def warm_cameras(env: Mapping[str, str]) -> bool:
    """Whether cameras not shown are held warm (default yes)."""
    raw = env.get(WARM_CAMERAS_ENV, "").strip()
    if raw in ("", "1"):
        return True
    if raw == "0":
        return False
    raise SettingsError(f"{WARM_CAMERAS_ENV} must be 1 or 0, got {raw!r}")


def full_picture_wait(env: Mapping[str, str]) -> float:
    """Seconds a warm camera may stay low after a switch before it is subscribed to afresh (1.5)."""
    return _float(env, FULL_PICTURE_WAIT_ENV, 1.5)


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a positive integer, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{key} must be a positive integer, got {raw!r}")
    return value


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a positive number of seconds, got {raw!r}") from None
    if not value > 0:
        raise SettingsError(f"{key} must be a positive number of seconds, got {raw!r}")
    return value
