"""The stage state the engine returns, and the bookkeeping that turns a dominant speaker into it.

`StageComposer` owns the rules that are not about audio: a host pin overrides the dominant speaker,
and the big video tile shows the spotlight if their camera is on, else the most recent earlier
spotlight holder whose camera is on, so it never goes black while any camera is on. A pinned screen
share takes the stage and the big tile while it is published; while it is not, the stage follows
the speakers as if nothing were pinned (the pin stays, so the share returns when it is back). The baselines in
bench/spotlight reuse it, so they differ from the engine only in how they pick the dominant speaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Video sources (contract: stage.schema.json $defs VideoSource). The engine imports no contract
# module so it stays replayable on its own; tests/unit/agent checks these against the contract.
CAMERA = "camera"
SCREEN_SHARE = "screen_share"


@dataclass(frozen=True)
class StageState:
    spotlight: str | None = None
    video_spotlight: str | None = None
    # (identity, level 0..1), sorted by identity so a level change never reorders the list.
    speaking: tuple[tuple[str, float], ...] = ()
    video_on: tuple[str, ...] = ()
    pinned: str | None = None
    # Which of video_spotlight's tracks the big tile shows (contract VideoSource).
    video_source: str = "camera"

    def to_dict(self) -> dict[str, Any]:
        """The stage JSON of the contract, minus `seq` and `t` (the agent adds those)."""
        return {
            "spotlight": self.spotlight,
            "video_spotlight": self.video_spotlight,
            "video_source": self.video_source,
            "speaking": [{"identity": identity, "level": level} for identity, level in self.speaking],
            "video_on": list(self.video_on),
            "pinned": self.pinned,
        }


class StageComposer:
    """Pin, camera and spotlight history: everything between "who dominates" and the StageState."""

    def __init__(self) -> None:
        self.pinned: str | None = None
        self.pinned_source = CAMERA
        # Who has a screen share published (and not muted).
        self._screens: set[str] = set()
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

    def set_screen(self, identity: str, on: bool) -> None:
        if on:
            self._screens.add(identity)
        else:
            self._screens.discard(identity)

    def set_pin(self, identity: str | None, source: str = CAMERA) -> None:
        self.pinned = identity
        self.pinned_source = source if identity is not None else CAMERA

    def remove(self, identity: str) -> None:
        self._video_since.pop(identity, None)
        self._screens.discard(identity)
        if identity in self._history:
            self._history.remove(identity)
        # A pin is the host's decision: it stays (and keeps the spotlight) until unpinned, even if
        # the pinned speaker drops out, so a reconnecting speaker is not knocked off the stage.

    def previous_holder(self) -> str | None:
        """Whoever held the spotlight most recently (after removals), for when the holder leaves."""
        return self._history[-1] if self._history else None

    def compose(self, dominant: str | None, speaking: tuple[tuple[str, float], ...]) -> StageState:
        if self.pinned_source == SCREEN_SHARE:
            screen = self.pinned if self.pinned in self._screens else None
            spotlight = screen if screen is not None else dominant
        else:
            screen = None
            spotlight = self.pinned if self.pinned is not None else dominant
        if spotlight is not None and spotlight != self._spotlight:
            if spotlight in self._history:
                self._history.remove(spotlight)
            self._history.append(spotlight)
        self._spotlight = spotlight
        return StageState(
            spotlight=spotlight,
            video_spotlight=screen if screen is not None else self._video_spotlight(spotlight),
            speaking=speaking,
            video_on=tuple(sorted(self._video_since)),
            pinned=self.pinned,
            video_source=SCREEN_SHARE if screen is not None else CAMERA,
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
