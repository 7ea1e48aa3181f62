"""Which video tracks the composer holds, and at which simulcast layer: the rule, without LiveKit.

The big tile shows one video: the stage's `video_spotlight` camera, or the host's pinned screen
share (docs/screen-share.md). Subscribing to a camera only when the spotlight reaches it shows the
person's card in the broadcast until the subscription is set up and the camera's first keyframe
arrives, on every switch. So, warm, every stage member's simulcast camera is held at its lowest
layer (a few hundred kb/s, decoded but not drawn), and the shown one at its highest: a switch draws
the warm camera's newest picture at once, scaled up, and the full picture as soon as the SFU has
moved that subscription to its top layer (at that layer's next keyframe, which the SFU asks for).

Cold (`SPACES_COMPOSER_WARM_CAMERAS=0`), only the shown video is held. A camera published without
simulcast is never held warm: its one layer is the full picture, and decoding every such camera
at full size would cost what the rule saves. Screen shares are held only while shown (they are
pinned, never switched to by speech). The stage bounds the number of cameras (a host, two co-hosts
and ten speakers: docs/broadcast.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from contract.stage import VideoSource

# A subscription's simulcast layer, as the composer asks the SFU for it.
Layer = Literal["high", "low"]


@dataclass(frozen=True)
class VideoTrack:
    """A video publication in the room, as the rule needs to see it."""

    identity: str
    sid: str
    source: VideoSource
    simulcast: bool
    on_stage: bool


def held_videos(
    tracks: Iterable[VideoTrack], shown: tuple[str, VideoSource] | None, *, warm: bool
) -> dict[str, Layer]:
    """The video publications to hold (by sid) and the layer each is asked for.

    `shown` is the big tile's (identity, source), or None when it shows no video. Only stage
    members' tracks are held; the shown one at the top layer, warm cameras at the lowest."""
    held: dict[str, Layer] = {}
    for track in tracks:
        if not track.on_stage:
            continue
        if (track.identity, track.source) == shown:
            held[track.sid] = "high"
        elif warm and track.source == "camera" and track.simulcast:
            held[track.sid] = "low"
    return held
