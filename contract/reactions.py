"""The aggregated reactions message; defined by schema/reactions.schema.json."""

from __future__ import annotations

import json
import math
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
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def parse_reaction_burst(text: str | bytes) -> ReactionBurst | None:
    """The message, or None when it is not one: wrong shape, windows that are not whole numbers in
    order, a window length that is not a finite positive number, a count that is not a whole number.
    Unknown emoji and counts of 0 are dropped. (A NaN or infinite length would never age out of the
    composer's feed, and would make the feed JSON no strict parser reads.)"""
    try:
        doc = json.loads(text)
        first, last, seconds = _whole(doc["first_window"]), _whole(doc["last_window"]), doc["window_seconds"]
        if first is None or last is None or not 0 <= first <= last:
            return None
        if not _number(seconds) or not 0 < seconds < math.inf:
            return None
        raw_counts = doc["counts"]
        if not isinstance(raw_counts, dict):
            return None
        counts = {str(k): _whole(v) for k, v in raw_counts.items()}
        if any(v is None or v < 0 for v in counts.values()):
            return None
        return ReactionBurst(
            space_id=str(doc["space_id"]),
            first_window=first,
            last_window=last,
            window_seconds=float(seconds),
            counts={k: v for k, v in counts.items() if k in REACTION_EMOJI and v},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _whole(value: object) -> int | None:
    """A JSON integer (JSON Schema counts 10.0 as one too), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def parse_reaction_feed(text: str | bytes) -> ReactionFeed | None:
    """The feed, or None when it is not one; bursts that are not ReactionBursts are dropped."""
    try:
        doc = json.loads(text)
        parsed = (parse_reaction_burst(json.dumps(b)) for b in doc["bursts"])
        return ReactionFeed(space_id=str(doc["space_id"]), bursts=tuple(b for b in parsed if b is not None))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
