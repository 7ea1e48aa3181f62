"""timeline.json (contract/schema/broadcast.schema.json): build entries, read a stored one back."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from contract.broadcast import BroadcastTimeline, TimelineEntry

_IDENTITY_KEYS = ("spotlight", "video_spotlight", "pinned")


def timeline_entry(entry: Mapping[str, Any], *, default_t: float) -> TimelineEntry:
    """A timeline entry from the composer's dict; ValueError naming the field that is wrong.

    `t` may be left out (then `default_t`, the current time); the identities must be strings or
    None and `names` a mapping of strings to strings.
    """
    unknown = set(entry) - {"t", "names", *_IDENTITY_KEYS}
    if unknown:
        raise ValueError(f"timeline entry has unknown fields: {sorted(unknown)}")
    t = entry.get("t", default_t)
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise ValueError(f"timeline entry 't' must be epoch seconds, got {t!r}")
    identities: dict[str, str | None] = {}
    for key in _IDENTITY_KEYS:
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"timeline entry {key!r} must be a string or null, got {value!r}")
        identities[key] = value
    names = entry.get("names", {})
    if not isinstance(names, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in names.items()
    ):
        raise ValueError("timeline entry 'names' must map identities to display names (strings)")
    return TimelineEntry(
        t=float(t),
        spotlight=identities["spotlight"],
        video_spotlight=identities["video_spotlight"],
        pinned=identities["pinned"],
        names=dict(names),
    )


def append_entry(timeline: BroadcastTimeline, entry: TimelineEntry) -> BroadcastTimeline:
    return replace(timeline, entries=(*timeline.entries, entry))


def _key(entry: TimelineEntry) -> str:
    return json.dumps(entry.to_dict(), sort_keys=True, separators=(",", ":"))


def foreign_to(
    entries: tuple[TimelineEntry, ...], ours: tuple[TimelineEntry, ...]
) -> tuple[TimelineEntry, ...]:
    """The entries of `entries` that `ours` does not hold."""
    if not entries:
        # The common case (no other composer wrote this timeline): nothing to key, on every write.
        return ()
    held = {_key(e) for e in ours}
    return tuple(e for e in entries if _key(e) not in held)


def merge_entries(
    ours: tuple[TimelineEntry, ...], extra: tuple[TimelineEntry, ...]
) -> tuple[TimelineEntry, ...]:
    """`ours` with the entries of `extra` it does not hold, all in time order (stable: of entries
    with equal `t`, ours come first). Nothing of either side is dropped."""
    added = foreign_to(extra, ours)
    if not added:
        return ours
    return tuple(sorted((*ours, *added), key=lambda e: e.t))


def timeline_json(timeline: BroadcastTimeline) -> str:
    return json.dumps(timeline.to_dict(), separators=(",", ":"), ensure_ascii=False)


def parse_timeline(text: str) -> BroadcastTimeline:
    """A stored timeline.json back as data; ValueError if it does not follow the schema."""
    try:
        doc = json.loads(text)
        entries = tuple(timeline_entry(e, default_t=math.nan) for e in doc["entries"])
        started_at = doc["started_at"]
        if not isinstance(doc["space_id"], str) or not isinstance(doc["ended"], bool):
            raise ValueError("space_id must be a string and ended a boolean")
        if isinstance(started_at, bool) or not isinstance(started_at, int | float):
            raise ValueError("started_at must be epoch seconds")
        return BroadcastTimeline(
            space_id=doc["space_id"], started_at=float(started_at), ended=doc["ended"], entries=entries
        )
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a broadcast timeline: {exc}") from exc
