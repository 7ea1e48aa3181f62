"""The stage state: what the media agent decides and every viewer (web, composer) renders.

Defined by schema/stage.schema.json; this is its Python side (a test keeps the two in step).
Parsing is lenient the way a client must be: anything malformed in one field falls back to that
field's default, and a state without an integer `seq` is no state at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

# The big tile's source (schema $defs VideoSource): named as LiveKit names track sources.
VideoSource = Literal["camera", "screen_share"]
VIDEO_SOURCES: tuple[VideoSource, ...] = get_args(VideoSource)


def video_source(value: object) -> VideoSource:
    """A source field as a reader must take it: anything but a known source is the camera."""
    return "screen_share" if value == "screen_share" else "camera"


@dataclass(frozen=True)
class Speaking:
    identity: str
    level: float


@dataclass(frozen=True)
class StageState:
    seq: int
    spotlight: str | None = None
    video_spotlight: str | None = None
    video_source: VideoSource = "camera"
    speaking: tuple[Speaking, ...] = field(default=())
    video_on: tuple[str, ...] = field(default=())
    pinned: str | None = None
    t: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "spotlight": self.spotlight,
            "video_spotlight": self.video_spotlight,
            "video_source": self.video_source,
            "speaking": [{"identity": s.identity, "level": s.level} for s in self.speaking],
            "video_on": list(self.video_on),
            "pinned": self.pinned,
            "t": self.t,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _level(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN
        return 0.0
    return min(1.0, max(0.0, float(value)))


def from_dict(raw: object) -> StageState | None:
    """A decoded stage document, or None when it has no integer `seq`."""
    if not isinstance(raw, dict):
        return None
    seq = raw.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        return None
    speaking_raw = raw.get("speaking")
    speaking = tuple(
        Speaking(identity=ident, level=_level(s.get("level")))
        for s in (speaking_raw if isinstance(speaking_raw, list) else [])
        if isinstance(s, dict) and (ident := _text(s.get("identity"))) is not None
    )
    video_raw = raw.get("video_on")
    video_on = tuple(v for v in (video_raw if isinstance(video_raw, list) else []) if _text(v))
    t = raw.get("t")
    return StageState(
        seq=seq,
        spotlight=_text(raw.get("spotlight")),
        video_spotlight=_text(raw.get("video_spotlight")),
        video_source=video_source(raw.get("video_source")),
        speaking=speaking,
        video_on=video_on,
        pinned=_text(raw.get("pinned")),
        t=float(t) if isinstance(t, int | float) and not isinstance(t, bool) and t == t else 0.0,
    )


def parse_stage(value: str | bytes | None) -> StageState | None:
    """A stage attribute or RPC reply, or None if it is not a usable stage."""
    if not value:
        return None
    try:
        raw = json.loads(value)
    except ValueError:
        return None
    return from_dict(raw)
