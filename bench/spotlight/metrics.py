"""Scoring a spotlight timeline against the truth, as the replay manifest's metrics define it
(docs/spotlight.md, "The manifest").

A timeline is the replay output reduced to (t, spotlight) changes, starting with the initial state.
Pins override truth while they hold. Turns that start under a pin are not scored for latency
(the pin, not the speaker, owns the spotlight then) and are counted as `pinned`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

FALSE_SWITCH_GRACE_S = 1.0
TRANSIENT_WINDOW_S = 1.5
FLICKER_WINDOW_S = 2.0

Timeline = Sequence[tuple[float, str | None]]


@dataclass
class Score:
    duration_s: float = 0.0
    switch_latencies: list[float] = field(default_factory=list)
    switch_misses: int = 0
    takeover_latencies: list[float] = field(default_factory=list)
    takeover_misses: int = 0
    pinned_turns: int = 0
    false_switches: int = 0
    # kind -> false switches within TRANSIENT_WINDOW_S after a transient of that kind.
    transient_false_switches: dict[str, int] = field(default_factory=dict)
    transients: dict[str, int] = field(default_factory=dict)
    flickers: int = 0
    changes: int = 0
    correct_s: float = 0.0
    scored_s: float = 0.0
    # (kind, identity, latency or None for a miss) per scored truth interval, for breakdowns.
    events: list[tuple[str, str, float | None]] = field(default_factory=list)

    def merge(self, other: Score) -> None:
        self.duration_s += other.duration_s
        self.switch_latencies += other.switch_latencies
        self.switch_misses += other.switch_misses
        self.takeover_latencies += other.takeover_latencies
        self.takeover_misses += other.takeover_misses
        self.pinned_turns += other.pinned_turns
        self.false_switches += other.false_switches
        for kind, n in other.transient_false_switches.items():
            self.transient_false_switches[kind] = self.transient_false_switches.get(kind, 0) + n
        for kind, n in other.transients.items():
            self.transients[kind] = self.transients.get(kind, 0) + n
        self.flickers += other.flickers
        self.changes += other.changes
        self.correct_s += other.correct_s
        self.scored_s += other.scored_s
        self.events += other.events

    @property
    def accuracy(self) -> float:
        return self.correct_s / self.scored_s if self.scored_s else 0.0

    @property
    def false_switches_per_min(self) -> float:
        return self.false_switches / (self.duration_s / 60.0) if self.duration_s else 0.0


class _Step:
    """A piecewise-constant function of time, from sorted (t, value) changes."""

    def __init__(self, changes: Sequence[tuple[float, Any]], before: Any = None) -> None:
        self.times = [t for t, _ in changes]
        self.values = [value for _, value in changes]
        self.before = before

    def at(self, t: float) -> Any:
        i = bisect.bisect_right(self.times, t) - 1
        return self.values[i] if i >= 0 else self.before

    def segments(self, start: float, end: float) -> list[tuple[float, float, Any]]:
        """(from, to, value) pieces covering [start, end)."""
        cuts = [start] + [t for t in self.times if start < t < end] + [end]
        return [(a, b, self.at(a)) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def holder_changes(truth: Sequence[dict], pins: Sequence[dict]) -> list[tuple[float, str | None]]:
    """Who should hold the spotlight, as changes: the latest-started truth interval, or the pin."""
    truth_changes = sorted((float(tr["start"]), tr["identity"]) for tr in truth)
    pin_changes = sorted(((float(pin["at"]), pin["identity"]) for pin in pins), key=lambda change: change[0])
    truth_step, pin_step = _Step(truth_changes), _Step(pin_changes)
    times = sorted({t for t, _ in truth_changes} | {t for t, _ in pin_changes})
    changes: list[tuple[float, str | None]] = []
    for t in times:
        pinned = pin_step.at(t)
        holder = pinned if pinned is not None else truth_step.at(t)
        if not changes or changes[-1][1] != holder:
            changes.append((t, holder))
    return changes


def score(timeline: Timeline, manifest: dict, duration_s: float) -> Score:
    truth = manifest.get("truth", [])
    pins = manifest.get("pins", [])
    spot = _Step(list(timeline))
    holder = _Step(holder_changes(truth, pins))
    pin = _Step(sorted(((float(p["at"]), p["identity"]) for p in pins), key=lambda change: change[0]))
    result = Score(duration_s=duration_s)
    switch_times = [
        (t, who) for (t, who), (_, before) in zip(timeline[1:], timeline, strict=False) if who != before
    ]
    result.changes = len(switch_times)

    for interval in truth:
        start, end, identity = float(interval["start"]), float(interval["end"]), interval["identity"]
        if pin.at(start) is not None:
            result.pinned_turns += 1
            continue
        latency = _first_time_equal(spot, timeline, start, end, identity)
        interrupt = interval.get("kind") == "interrupt"
        result.events.append(("interrupt" if interrupt else "turn", identity, latency))
        if latency is None:
            if interrupt:
                result.takeover_misses += 1
            else:
                result.switch_misses += 1
        elif interrupt:
            result.takeover_latencies.append(latency)
        else:
            result.switch_latencies.append(latency)

    transients = sorted((float(tr["at"]), tr["kind"]) for tr in manifest.get("transients", []))
    for _, kind in transients:
        result.transients[kind] = result.transients.get(kind, 0) + 1
    for t, who in switch_times:
        if who is None or who == holder.at(t):
            continue
        becomes = any(value == who for _, _, value in holder.segments(t, t + FALSE_SWITCH_GRACE_S))
        if becomes:
            continue
        result.false_switches += 1
        recent = [kind for at, kind in transients if at <= t <= at + TRANSIENT_WINDOW_S]
        if recent:
            kind = recent[-1]
            result.transient_false_switches[kind] = result.transient_false_switches.get(kind, 0) + 1

    for i, (t_leave, _) in enumerate(switch_times):
        left = spot.at(t_leave - 1e-9)
        if left is None:
            continue
        for t_back, back in switch_times[i + 1 :]:
            if t_back > t_leave + FLICKER_WINDOW_S:
                break
            if back == left:
                if all(value == left for _, _, value in holder.segments(t_leave, t_back)) and (
                    holder.at(t_leave) == left
                ):
                    result.flickers += 1
                break

    if truth:
        first = min(float(tr["start"]) for tr in truth)
        for a, b, expected in holder.segments(first, duration_s):
            for c, d, shown in spot.segments(a, b):
                result.scored_s += d - c
                if shown == expected:
                    result.correct_s += d - c
    return result


def _first_time_equal(
    spot: _Step, timeline: Timeline, start: float, end: float, identity: str
) -> float | None:
    if spot.at(start) == identity:
        return 0.0
    for t, who in timeline:
        if t < start:
            continue
        if t >= end:
            return None
        if who == identity:
            return t - start
    return None
