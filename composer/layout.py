"""What the broadcast frame shows, decided from the stage: pure data in, a Layout out.

The composer is a viewer of the stage like the web page (web/src/stage.ts `layoutFor`): the big
tile belongs to `video_spotlight` when someone's camera is in the spotlight, else to `spotlight`;
everybody else on stage is in the strip, in stage order. Nothing here chooses a spotlight; it only
draws the one the stage agent published.

Geometry is part of the layout (proportional to the canvas), so the renderer and the tests that
look for the big tile in decoded frames agree on where it is.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass

from contract.room_metadata import VideoPolicy
from contract.stage import StageState

# The strip shows at most this many members; more are summarised as "+N" (a Space has at most a
# host, 2 co-hosts and 10 speakers: functions/domain/model.py Limits).
MAX_STRIP = 8
# A member counts as speaking in the strip from this level on (stage levels are 0..1 in 0.1 steps;
# the agent only lists people it hears, so any listed level is speech).
SPEAKING_LEVEL = 0.05

STAGE_ORDER = {"host": 0, "cohost": 1, "speaker": 2}


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def centre(self) -> tuple[int, int]:
        return self.x + self.w // 2, self.y + self.h // 2


@dataclass(frozen=True)
class Geometry:
    """Where things go on a width x height canvas (designed at 1280x720, scaled proportionally)."""

    width: int
    height: int
    title: Rect
    big: Rect
    strip: Rect
    slot_w: int  # width of one strip slot
    avatar: int  # diameter of a strip avatar

    @classmethod
    def for_size(cls, width: int, height: int) -> Geometry:
        if width < 160 or height < 90:
            raise ValueError(f"canvas too small for the layout: {width}x{height}")
        title_h = round(height * 56 / 720)
        strip_h = round(height * 150 / 720)
        margin = round(height * 12 / 720)
        big_h = height - title_h - strip_h - 2 * margin
        return cls(
            width=width,
            height=height,
            title=Rect(0, 0, width, title_h),
            big=Rect(margin, title_h + margin, width - 2 * margin, big_h),
            strip=Rect(0, height - strip_h, width, strip_h),
            slot_w=width // MAX_STRIP,
            avatar=round(strip_h * 0.56),
        )

    def strip_slots(self, count: int) -> list[Rect]:
        """`count` strip slots, centred as one row."""
        offset = (self.strip.w - count * self.slot_w) // 2
        return [Rect(offset + i * self.slot_w, self.strip.y, self.slot_w, self.strip.h) for i in range(count)]

    def avatar_centre(self, slot: Rect) -> tuple[int, int]:
        """The centre of the avatar circle in a strip slot."""
        return slot.x + slot.w // 2, slot.y + round(slot.h * 0.4)


@dataclass(frozen=True)
class Speaker:
    """Someone on stage, as the composer sees them in the room."""

    identity: str
    name: str  # display name ("" falls back to the identity)
    role: str  # host | cohost | speaker
    has_camera: bool  # a camera is published and not muted
    has_screen: bool = False  # a screen share is published and not muted
    picture: str = ""  # avatar URL from the room metadata's `pictures` ("" : none)


@dataclass(frozen=True)
class Card:
    """A person drawn without video: their avatar (initials on a colour of their own until it has
    arrived, or without one), and the name."""

    identity: str
    name: str
    initials: str
    colour: tuple[int, int, int]
    picture: str = ""


@dataclass(frozen=True)
class BigTile:
    card: Card
    # Draw this identity's video frame (when one has arrived); the card is shown until then.
    camera: str | None
    speaking: bool = False
    # Which of their video tracks that frame comes from: "camera" or "screen_share".
    source: str = "camera"


@dataclass(frozen=True)
class StripMember:
    card: Card
    speaking: bool
    level: float


@dataclass(frozen=True)
class Layout:
    geometry: Geometry
    title: str
    big: BigTile | None  # None: nobody on stage holds the spotlight (the title card shows)
    strip: tuple[StripMember, ...]
    more: int  # members beyond the strip's capacity
    video: bool  # False: audio-only Space, nothing is rendered


def display_name(identity: str, name: str) -> str:
    return name.strip() or identity


def initials(name: str) -> str:
    words = [w for w in name.replace("_", " ").replace("-", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper() if len(words[0]) > 1 else words[0].upper()
    return (words[0][0] + words[-1][0]).upper()


def identity_hue(identity: str) -> int:
    """The hue (0..359) of `identity`'s avatar: the web page's rule (web/src/dom.ts avatarStyle), so a
    person has one colour on the page and in the broadcast. A 32-bit `h * 31 + c` over the first
    UTF-16 unit of each code point, as JavaScript's charCodeAt reads it; contract/identity_hues.json
    pins both sides."""
    h = 0
    for char in identity:
        code = ord(char)
        unit = code if code < 0x10000 else 0xD800 + ((code - 0x10000) >> 10)
        h = (h * 31 + unit) & 0xFFFFFFFF
    return h % 360


def identity_colour(identity: str) -> tuple[int, int, int]:
    """A stable colour per identity: the middle of the page's avatar gradient (hsl(hue 70% 55%) to
    hsl(hue+40 70% 40%)), so the card in the broadcast and the circle on the page match."""
    hue = (identity_hue(identity) + 20) % 360
    r, g, b = colorsys.hls_to_rgb(hue / 360, 0.475, 0.7)
    return round(r * 255), round(g * 255), round(b * 255)


def card_for(identity: str, name: str, picture: str = "") -> Card:
    shown = display_name(identity, name)
    return Card(
        identity=identity,
        name=shown,
        initials=initials(shown),
        colour=identity_colour(identity),
        picture=picture,
    )


def stage_order(speakers: Sequence[Speaker], seated: Sequence[str] = ()) -> list[Speaker]:
    """Host, co-hosts, speakers; within a role in the order they took their seats (`seated`, the
    room metadata's), so a newcomer joins the end of the strip and nobody moves; anyone not in
    `seated` (a room the control plane does not run) after them, by identity. The same rule as
    web/src/stage.ts `stageOrder`, which every page applies."""
    seat: dict[str, int] = {}
    for index, identity in enumerate(seated):
        seat.setdefault(identity, index)
    unseated = len(seated)  # as the page counts (web/src/stage.ts), duplicates included

    def key(speaker: Speaker) -> tuple[int, int, str]:
        return STAGE_ORDER.get(speaker.role, 3), seat.get(speaker.identity, unseated), speaker.identity

    return sorted(speakers, key=key)


def compose(
    stage: StageState | None,
    speakers: Sequence[Speaker],
    *,
    title: str,
    video: VideoPolicy,
    geometry: Geometry,
    seated: Sequence[str] = (),
) -> Layout:
    """The frame for `stage` with `speakers` present (anyone not present is not drawn), the strip
    in stage order (`stage_order`, `seated` the room metadata's)."""
    present = {s.identity: s for s in speakers}
    ordered = stage_order(speakers, seated)
    levels = {s.identity: s.level for s in stage.speaking} if stage is not None else {}
    big: BigTile | None = None
    if stage is not None:
        video_holder = stage.video_spotlight if video != "off" else None
        screen = stage.video_source == "screen_share"
        holder = present.get(video_holder) if video_holder is not None else None
        if holder is not None and (holder.has_screen if screen else holder.has_camera):
            big = _big(holder, levels, camera=True, source=stage.video_source)
        elif stage.spotlight is not None and stage.spotlight in present:
            big = _big(present[stage.spotlight], levels, camera=False)
        elif video_holder is not None and video_holder in present:
            big = _big(present[video_holder], levels, camera=False)
    rest = [s for s in ordered if big is None or s.identity != big.card.identity]
    shown = rest[:MAX_STRIP]
    strip = tuple(
        StripMember(
            card=card_for(s.identity, s.name, s.picture),
            speaking=levels.get(s.identity, 0.0) >= SPEAKING_LEVEL,
            level=levels.get(s.identity, 0.0),
        )
        for s in shown
    )
    return Layout(
        geometry=geometry,
        title=title,
        big=big,
        strip=strip,
        more=len(rest) - len(shown),
        video=video != "off",
    )


def _big(holder: Speaker, levels: dict[str, float], *, camera: bool, source: str = "camera") -> BigTile:
    return BigTile(
        card=card_for(holder.identity, holder.name, holder.picture),
        camera=holder.identity if camera else None,
        speaking=levels.get(holder.identity, 0.0) >= SPEAKING_LEVEL,
        source=source if camera else "camera",
    )
