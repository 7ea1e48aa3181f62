"""The aggregated reactions message; defined by schema/reactions.schema.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .names import BROADCAST_REACTIONS_SECONDS, REACTION_EMOJI


@dataclass(frozen=True)
class ReactionBurst:
    space_id: str
    first_window: int
    last_window: int
    window_seconds: float
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "space_id": self.space_id,
            "first_window": self.first_window,
            "last_window": self.last_window,
            "window_seconds": self.window_seconds,
            "counts": dict(self.counts),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))


def parse_reaction_burst(text: str | bytes) -> ReactionBurst | None:
    """The message, or None when it is not one (wrong shape, unknown emoji dropped)."""
    try:
        doc = json.loads(text)
        counts = {str(k): int(v) for k, v in doc["counts"].items() if k in REACTION_EMOJI and int(v) > 0}
        return ReactionBurst(
            space_id=str(doc["space_id"]),
            first_window=int(doc["first_window"]),
            last_window=int(doc["last_window"]),
            window_seconds=float(doc["window_seconds"]),
            counts=counts,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


# Seconds of bursts the feed keeps (why: contract/names.py).
FEED_SECONDS = float(BROADCAST_REACTIONS_SECONDS)


@dataclass(frozen=True)
class ReactionFeed:
    """schema/reactions.schema.json $defs ReactionFeed: the document beside the playlist."""

    space_id: str
    bursts: tuple[ReactionBurst, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"space_id": self.space_id, "bursts": [b.to_dict() for b in self.bursts]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))


def parse_reaction_feed(text: str | bytes) -> ReactionFeed | None:
    """The feed, or None when it is not one; bursts that are not ReactionBursts are dropped."""
    try:
        doc = json.loads(text)
        parsed = (parse_reaction_burst(json.dumps(b)) for b in doc["bursts"])
        return ReactionFeed(space_id=str(doc["space_id"]), bursts=tuple(b for b in parsed if b is not None))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
