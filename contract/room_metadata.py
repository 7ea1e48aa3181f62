"""Room metadata: what the control plane tells every room member about the Space.

Defined by schema/room_metadata.schema.json; this is its Python side. The control plane writes it
(`to_json`); the media agent, the composer and the web client read it. A reader never fails on it:
a malformed document or field reads as the default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal, cast, get_args

VideoPolicy = Literal["off", "host", "speakers"]
VIDEO_POLICIES: tuple[VideoPolicy, ...] = get_args(VideoPolicy)


@dataclass(frozen=True)
class RoomMetadata:
    space_id: str = ""
    video: VideoPolicy = "off"
    pinned: str | None = None
    title: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {"space_id": self.space_id, "video": self.video, "pinned": self.pinned, "title": self.title},
            separators=(",", ":"),
        )


def parse_room_metadata(value: str | bytes | None) -> RoomMetadata:
    if not value:
        return RoomMetadata()
    try:
        raw = json.loads(value)
    except ValueError:
        return RoomMetadata()
    if not isinstance(raw, dict):
        return RoomMetadata()
    space_id, video, pinned, title = (raw.get(k) for k in ("space_id", "video", "pinned", "title"))
    return RoomMetadata(
        space_id=space_id if isinstance(space_id, str) else "",
        video=cast(VideoPolicy, video) if video in VIDEO_POLICIES else "off",
        pinned=pinned if isinstance(pinned, str) and pinned else None,
        title=title if isinstance(title, str) else "",
    )
