"""The broadcast's files beside its playlist; timeline.json is defined by schema/broadcast.schema.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TimelineEntry:
    t: float
    spotlight: str | None
    video_spotlight: str | None
    pinned: str | None
    names: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "spotlight": self.spotlight,
            "video_spotlight": self.video_spotlight,
            "pinned": self.pinned,
            "names": dict(self.names),
        }


@dataclass(frozen=True)
class BroadcastTimeline:
    space_id: str
    started_at: float
    ended: bool = False
    entries: tuple[TimelineEntry, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "space_id": self.space_id,
            "started_at": self.started_at,
            "ended": self.ended,
            "entries": [e.to_dict() for e in self.entries],
        }
