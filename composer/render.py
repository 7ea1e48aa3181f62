"""Draw a Layout into an RGB frame (numpy, uint8, height x width x 3).

Everything but the camera picture changes only on a stage change (a name, a ring, the title), so
the frame without the camera is drawn once with Pillow and cached by what it shows; a frame then
costs one copy of the cached base and one paste of the camera picture, which the composer has
already scaled to the tile (`fit_camera`, called once per received camera frame, not per output
frame).
"""

from __future__ import annotations

import functools
import logging
import os
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from composer.avatars import AvatarCache
from composer.layout import BigTile, Card, Geometry, Layout, Rect

logger = logging.getLogger(__name__)

BACKGROUND = (18, 20, 26)
TITLE_BAR = (30, 33, 41)
TILE = (34, 37, 45)
TEXT = (240, 242, 245)
MUTED_TEXT = (160, 166, 178)
CAPTION = (12, 14, 18)  # behind the name over a camera: white on it is 17:1
# Captions kept drawn: the names of one stage and their screens.
CAPTION_CACHE_SIZE = 64
RING = (52, 211, 122)  # the speaking ring, on the strip avatars and around the big tile
# Bases kept: one per recent combination of title, big tile and strip. A stage change costs one
# Pillow drawing (a few ms); swinging back and forth between two speakers costs nothing.
BASE_CACHE_SIZE = 8

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
# Names and titles are anyone's: DejaVu Sans has every accented Latin letter, Greek, Cyrillic,
# Armenian, Georgian, Hebrew and Arabic letters, dashes and currency signs (Debian's
# fonts-dejavu-core, installed in the workers' image and by scripts/install-system-deps.sh).
# Pillow's bundled font, the fallback, has ASCII only: "José" would be drawn "Jos▯".
FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)


class Renderer:
    def __init__(self, geometry: Geometry, avatars: AvatarCache | None = None) -> None:
        self.geometry = geometry
        # Pictures for cards that have one; None: initials only.
        self._avatars = avatars
        g = geometry
        self._ring = max(2, round(g.height * 5 / 720))
        self._camera_box = _inset(g.big, self._ring)
        self._title_font = _font(round(g.title.h * 0.45))
        self._name_font = _font(round(g.strip.h * 0.12))
        self._strip_initials_font = _font(round(g.avatar * 0.38))
        self._card_initials_font = _font(round(g.big.h * 0.16))
        self._card_name_font = _font(round(g.big.h * 0.07))
        self._bases: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        # The caption naming whose video fills the big tile, drawn once per text.
        self._caption_font = _font(round(g.big.h * 0.045))
        self._captions: OrderedDict[str, np.ndarray] = OrderedDict()
        self._fit_sizes: dict[tuple[int, int], tuple[int, int]] = {}

    @property
    def camera_box(self) -> Rect:
        """Where the camera picture goes: the big tile inside its speaking ring."""
        return self._camera_box

    def fit_camera(self, rgb: np.ndarray) -> np.ndarray:
        """`rgb` (any size) scaled to fit the camera box, keeping its aspect ratio."""
        h, w = rgb.shape[:2]
        size = self._fit_sizes.get((w, h))
        if size is None:
            box = self._camera_box
            scale = min(box.w / w, box.h / h)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            self._fit_sizes[(w, h)] = size
        if size == (w, h):
            return rgb
        return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))

    def render(self, layout: Layout, camera: np.ndarray | None = None) -> np.ndarray:
        """The frame for `layout`; `camera` (from `fit_camera`) fills the big tile if it shows video.

        The returned array is read-only when it is the cached base (no camera): callers encode it,
        they never draw on it.
        """
        if layout.geometry != self.geometry:
            raise ValueError("layout was made for another canvas size")
        show_camera = camera is not None and layout.big is not None and layout.big.camera is not None
        base = self._base(layout, show_camera)
        if not show_camera:
            return base
        assert camera is not None
        frame = base.copy()
        box = self._camera_box
        h, w = min(camera.shape[0], box.h), min(camera.shape[1], box.w)
        y, x = box.y + (box.h - h) // 2, box.x + (box.w - w) // 2
        frame[y : y + h, x : x + w] = camera[:h, :w]
        # Whose picture this is: the video spotlight can show someone other than the speaker (the
        # last speaker with a camera on), and the page names it too (web/src/views/space/stage.ts).
        assert layout.big is not None
        big = layout.big
        caption = self._caption(
            f"{big.card.name}'s screen" if big.source == "screen_share" else big.card.name
        )
        ch, cw = caption.shape[:2]
        margin = max(4, box.h // 40)
        cy, cx = box.y + box.h - ch - margin, box.x + margin
        frame[cy : cy + ch, cx : cx + cw] = caption
        return frame

    def _caption(self, text: str) -> np.ndarray:
        """`text` on a dark box, at most half the big tile wide; cached (a name per turn, not per frame)."""
        caption = self._captions.get(text)
        if caption is not None:
            self._captions.move_to_end(text)
            return caption
        box = self._camera_box
        font = self._caption_font
        scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        shown = _fit_text(scratch, text, font, box.w // 2)
        left, top, right, bottom = (round(v) for v in scratch.textbbox((0, 0), shown, font=font))
        pad = max(4, (bottom - top) // 2)
        image = Image.new("RGB", (right - left + 2 * pad, bottom - top + 2 * pad), CAPTION)
        ImageDraw.Draw(image).text((pad - left, pad - top), shown, font=font, fill=TEXT)
        caption = np.asarray(image)
        self._captions[text] = caption
        if len(self._captions) > CAPTION_CACHE_SIZE:
            self._captions.popitem(last=False)
        return caption

    # -- the cached base --------------------------------------------------------------------------

    def _base(self, layout: Layout, show_camera: bool) -> np.ndarray:
        # A picture that arrived since changes the drawing of the same layout.
        generation = self._avatars.generation if self._avatars is not None else 0
        key = (layout.title, layout.big, show_camera, layout.strip, layout.more, generation)
        base = self._bases.get(key)
        if base is not None:
            self._bases.move_to_end(key)
            return base
        base = self._draw_base(layout, show_camera)
        base.flags.writeable = False
        self._bases[key] = base
        if len(self._bases) > BASE_CACHE_SIZE:
            self._bases.popitem(last=False)
        return base

    def _draw_base(self, layout: Layout, show_camera: bool) -> np.ndarray:
        g = self.geometry
        image = Image.new("RGB", (g.width, g.height), BACKGROUND)
        draw = ImageDraw.Draw(image)
        self._draw_title(draw, layout.title)
        self._draw_big(image, draw, layout.big, layout.title, show_camera)
        self._draw_strip(image, draw, layout)
        return np.asarray(image)

    def _draw_title(self, draw: ImageDraw.ImageDraw, title: str) -> None:
        bar = self.geometry.title
        draw.rectangle(_box(bar), fill=TITLE_BAR)
        pad = bar.h // 3
        text = _fit_text(draw, title, self._title_font, bar.w - 2 * pad)
        draw.text((bar.x + pad, bar.y + bar.h // 2), text, font=self._title_font, fill=TEXT, anchor="lm")

    def _draw_big(
        self,
        image: Image.Image,
        draw: ImageDraw.ImageDraw,
        big: BigTile | None,
        title: str,
        show_camera: bool,
    ) -> None:
        tile = self.geometry.big
        if big is not None and big.speaking:
            draw.rectangle(_box(tile), fill=RING)
        draw.rectangle(_box(self._camera_box), fill=BACKGROUND if show_camera else TILE)
        if big is None:
            cx, cy = tile.centre
            text = _fit_text(draw, title, self._card_name_font, tile.w * 3 // 4)
            draw.text((cx, cy), text, font=self._card_name_font, fill=MUTED_TEXT, anchor="mm")
            return
        if not show_camera:
            self._draw_card(image, draw, big.card, tile)

    def _draw_card(self, image: Image.Image, draw: ImageDraw.ImageDraw, card: Card, tile: Rect) -> None:
        cx, cy = tile.centre
        radius = round(tile.h * 0.22)
        cy -= round(tile.h * 0.06)
        self._draw_avatar(image, draw, card, (cx, cy), radius, self._card_initials_font)
        name = _fit_text(draw, card.name, self._card_name_font, tile.w * 3 // 4)
        draw.text(
            (cx, cy + radius + round(tile.h * 0.1)), name, font=self._card_name_font, fill=TEXT, anchor="mm"
        )

    def _draw_strip(self, image: Image.Image, draw: ImageDraw.ImageDraw, layout: Layout) -> None:
        g = self.geometry
        count = len(layout.strip) + (1 if layout.more else 0)
        slots = g.strip_slots(count)
        for slot, member in zip(slots, layout.strip, strict=False):
            cx, cy = g.avatar_centre(slot)
            radius = g.avatar // 2
            if member.speaking:
                outer = radius + self._ring + 1
                draw.ellipse((cx - outer, cy - outer, cx + outer, cy + outer), fill=RING)
            self._draw_avatar(image, draw, member.card, (cx, cy), radius, self._strip_initials_font)
            name = _fit_text(draw, member.card.name, self._name_font, slot.w - 8)
            draw.text((cx, slot.y + round(slot.h * 0.84)), name, font=self._name_font, fill=TEXT, anchor="mm")
        if layout.more:
            cx, cy = g.avatar_centre(slots[-1])
            draw.text(
                (cx, cy), f"+{layout.more}", font=self._strip_initials_font, fill=MUTED_TEXT, anchor="mm"
            )

    def _draw_avatar(
        self,
        image: Image.Image,
        draw: ImageDraw.ImageDraw,
        card: Card,
        centre: tuple[int, int],
        radius: int,
        font: Font,
    ) -> None:
        """The card's picture in a circle, or its initials on its colour."""
        cx, cy = centre
        picture = self._avatars.get(card.picture, 2 * radius + 1) if self._avatars is not None else None
        if picture is not None:
            image.paste(picture, (cx - radius, cy - radius), picture)
            return
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=card.colour)
        draw.text((cx, cy), card.initials, font=font, fill=TEXT, anchor="mm")


def _inset(rect: Rect, by: int) -> Rect:
    return Rect(rect.x + by, rect.y + by, rect.w - 2 * by, rect.h - 2 * by)


def _box(rect: Rect) -> tuple[int, int, int, int]:
    return rect.x, rect.y, rect.x + rect.w - 1, rect.y + rect.h - 1


def _font(size: int) -> Font:
    path = font_file()
    if path is None:
        return ImageFont.load_default(size=max(8, size))
    return ImageFont.truetype(path, max(8, size))


@functools.cache
def font_file() -> str | None:
    """The first of FONT_FILES on this machine, or None (Pillow's bundled font, said once)."""
    for path in FONT_FILES:
        if os.path.isfile(path):
            return path
    logger.warning(
        "none of %s: names and titles with accents or non-Latin letters show as boxes in the broadcast",
        ", ".join(FONT_FILES),
    )
    return None


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font: Font, max_width: int) -> str:
    # One line: Pillow refuses to measure multiline text, and a title or name stored before the
    # control plane cleaned them may hold a newline (a raise here would stop the whole broadcast).
    text = " ".join(text.split())
    if draw.textlength(text, font=font) <= max_width:
        return text
    while text and draw.textlength(text + "…", font=font) > max_width:
        text = text[:-1]
    return text + "…"
