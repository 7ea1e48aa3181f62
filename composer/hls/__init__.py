"""Encoding, segmenting and upload of a Space's HLS broadcast (docs/broadcast.md).

`Broadcast` takes composed frames and mixed audio, encodes them with FFmpeg through PyAV (H.264 +
AAC, or AAC only) into MPEG-TS segments, and publishes segments, playlist and timeline to a sink.
"""

from composer.hls.broadcast import Broadcast, BroadcastEnded
from composer.hls.config import BroadcastConfig, RetryPolicy
from composer.hls.headers import cache_headers
from composer.hls.playlist import MediaPlaylist, Segment, is_closed, parse_playlist
from composer.hls.sinks import DiskSink, S3Sink, Sink
from composer.hls.stats import BroadcastStats, StageTime

__all__ = [
    "Broadcast",
    "BroadcastConfig",
    "BroadcastEnded",
    "BroadcastStats",
    "DiskSink",
    "MediaPlaylist",
    "RetryPolicy",
    "S3Sink",
    "Segment",
    "Sink",
    "StageTime",
    "cache_headers",
    "is_closed",
    "parse_playlist",
]
