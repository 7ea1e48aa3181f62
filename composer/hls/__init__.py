"""Encoding, segmenting and upload of a Space's HLS broadcast (docs/broadcast.md).

`Broadcast` takes composed frames and mixed audio, encodes them with FFmpeg through PyAV (H.264 +
AAC, or AAC only) into MPEG-TS segments, and publishes segments, playlist and timeline to a sink.

`Broadcast` is imported lazily: the control plane imports `cache_headers` from here for its local
static route, and must not load PyAV and NumPy for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from composer.hls.config import BroadcastConfig, RetryPolicy
from composer.hls.headers import cache_headers
from composer.hls.playlist import MediaPlaylist, Segment, is_closed, parse_playlist
from composer.hls.sinks import DiskSink, S3Sink, Sink, WriteConflict, discarding
from composer.hls.stats import BroadcastStats, StageTime

if TYPE_CHECKING:
    from composer.hls.broadcast import Broadcast, BroadcastEnded

_LAZY = {"Broadcast", "BroadcastEnded"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from composer.hls import broadcast

        return getattr(broadcast, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Broadcast",
    "BroadcastConfig",
    "BroadcastEnded",
    "BroadcastStats",
    "DiskSink",
    "MediaPlaylist",
    "RetryPolicy",
    "S3Sink",
    "WriteConflict",
    "discarding",
    "Segment",
    "Sink",
    "StageTime",
    "cache_headers",
    "is_closed",
    "parse_playlist",
]
