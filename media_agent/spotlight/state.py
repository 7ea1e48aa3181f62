"""The stage state the engine returns, and the bookkeeping that turns a dominant speaker into it.

`StageComposer` owns the rules that are not about audio: a host pin overrides the dominant speaker,
and the big video tile shows the spotlight if their camera is on, else the most recent earlier
spotlight holder whose camera is on, so it never goes black while any camera is on. The baselines in
bench/spotlight reuse it, so they differ from the engine only in how they pick the dominant speaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StageState:
    spotlight: str | None = None
    video_spotlight: str | None = None
    # (identity, level 0..1), sorted by identity so a level change never reorders the list.
    speaking: tuple[tuple[str, float], ...] = ()
    video_on: tuple[str, ...] = ()
    pinned: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stage JSON of the contract, minus `seq` and `t` (the agent adds those)."""
        return {
            "spotlight": self.spotlight,
            "video_spotlight": self.video_spotlight,
            "speaking": [{"identity": identity, "level": level} for identity, level in self.speaking],
            "video_on": list(self.video_on),
            "pinned": self.pinned,
        }


class StageComposer:
    """Pin, camera and spotlight history: everything between "who dominates" and the StageState."""

    def __init__(self) -> None:
        self.pinned: str | None = None
        # identity -> time the camera came on; the earliest one is the last-resort big tile.
        self._video_since: dict[str, float] = {}
        # Spotlight holders, most recent last, each identity once.
        self._history: list[str] = []
        self._spotlight: str | None = None

    def set_video(self, identity: str, t: float, on: bool) -> None:
        if on:
            self._video_since.setdefault(identity, t)
        else:
            self._video_since.pop(identity, None)

    def set_pin(self, identity: str | None) -> None:
        self.pinned = identity

    def remove(self, identity: str) -> None:
        self._video_since.pop(identity, None)
        if identity in self._history:
            self._history.remove(identity)
        # A pin is the host's decision: it stays (and keeps the spotlight) until unpinned, even if
        # the pinned speaker drops out, so a reconnecting speaker is not knocked off the stage.

    def previous_holder(self) -> str | None:
        """Whoever held the spotlight most recently (after removals), for when the holder leaves."""
        return self._history[-1] if self._history else None

    def compose(self, dominant: str | None, speaking: tuple[tuple[str, float], ...]) -> StageState:
        spotlight = self.pinned if self.pinned is not None else dominant
        if spotlight is not None and spotlight != self._spotlight:
            if spotlight in self._history:
                self._history.remove(spotlight)
            self._history.append(spotlight)
        self._spotlight = spotlight
        return StageState(
            spotlight=spotlight,
            video_spotlight=self._video_spotlight(spotlight),
            speaking=speaking,
            video_on=tuple(sorted(self._video_since)),
            pinned=self.pinned,
        )

    def _video_spotlight(self, spotlight: str | None) -> str | None:
        if not self._video_since:
            return None
        if spotlight in self._video_since:
            return spotlight
        for identity in reversed(self._history):
            if identity in self._video_since:
                return identity
        # Nobody who ever held the spotlight has a camera on, but someone does: the tile must not
        # go black, and the longest-running camera is the choice that moves least.
        return min(self._video_since, key=lambda identity: (self._video_since[identity], identity))
