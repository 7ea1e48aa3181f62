"""Raised hands: the moderators-only data message (schema/hands.schema.json), topic names.HANDS_TOPIC.

The control plane sends it (built by functions/domain/pushed.py) to the host and co-hosts whenever
the queue changes; their pages read it instead of polling the Space.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RaisedHands:
    space_id: str
    version: int
    hands: tuple[str, ...]
    # id -> display name of the people in `hands` (listeners are hidden in the room).
    names: dict[str, str] = field(default_factory=dict)
    # id -> avatar URL (https) of the people in `hands` who have one.
    pictures: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "space_id": self.space_id,
            "version": self.version,
            "hands": list(self.hands),
            "names": dict(self.names),
            "pictures": dict(self.pictures),
        }

    def to_json(self) -> str:
        # UTF-8, not \u escapes: a display name costs at most 4 bytes a character (docs/identity.md).
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)
