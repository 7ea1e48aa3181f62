"""The renderer, checked by pixels: camera colour in the big tile, cards, rings, the cache."""

from __future__ import annotations

import numpy as np
import pytest

from composer.layout import Geometry, Layout, Speaker, compose, identity_colour
from composer.render import RING, TILE, Renderer
from contract.stage import Speaking, StageState

GEOMETRY = Geometry.for_size(1280, 720)
RED = (200, 30, 40)
ALICE = Speaker("alice", "Alice", "speaker", has_camera=True)
BOB = Speaker("bob", "Bob", "speaker", has_camera=False)


def layout_for(st: StageState | None, speakers: list[Speaker]) -> Layout:
    return compose(st, speakers, title="Launch party", video="speakers", geometry=GEOMETRY)


def solid(width: int, height: int, colour: tuple[int, int, int]) -> np.ndarray:
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = colour
    return frame


@pytest.fixture
def renderer() -> Renderer:
    return Renderer(GEOMETRY)


def test_frame_shape(renderer: Renderer) -> None:
    frame = renderer.render(layout_for(None, [ALICE, BOB]))
    assert frame.shape == (720, 1280, 3) and frame.dtype == np.uint8


def test_big_tile_shows_the_camera_colour(renderer: Renderer) -> None:
    layout = layout_for(StageState(seq=1, spotlight="alice", video_spotlight="alice"), [ALICE, BOB])
    frame = renderer.render(layout, renderer.fit_camera(solid(320, 240, RED)))
    cx, cy = GEOMETRY.big.centre
    assert tuple(frame[cy, cx]) == RED
    # 4:3 into a wide tile: full height, centred, with bars at the sides.
    box = renderer.camera_box
    assert tuple(frame[box.y + 1, cx]) == RED and tuple(frame[box.y + box.h - 2, cx]) == RED
    assert tuple(frame[cy, box.x + 2]) != RED


def test_camera_is_scaled_with_its_aspect_ratio(renderer: Renderer) -> None:
    fitted = renderer.fit_camera(solid(320, 240, RED))
    box = renderer.camera_box
    assert fitted.shape[0] == box.h
    assert abs(fitted.shape[1] / fitted.shape[0] - 4 / 3) < 0.01
    wide = renderer.fit_camera(solid(1920, 1080, RED))
    assert wide.shape[1] <= box.w and wide.shape[0] <= box.h
    assert wide.shape[1] == box.w or wide.shape[0] == box.h


def test_avatar_card_when_nobody_has_a_camera(renderer: Renderer) -> None:
    layout = layout_for(StageState(seq=1, spotlight="bob"), [ALICE, BOB])
    frame = renderer.render(layout)
    tile = GEOMETRY.big
    cx, cy = tile.centre
    # The card circle in bob's colour sits in the middle of the tile (above the name).
    card_pixels = frame[tile.y : tile.y + tile.h, tile.x : tile.x + tile.w].reshape(-1, 3)
    matches = np.all(card_pixels == identity_colour("bob"), axis=1).sum()
    assert matches > 0.05 * tile.w * tile.h
    assert tuple(frame[tile.y + 10, tile.x + 10]) == TILE
    # The card has text drawn on it: white initials inside the circle.
    circle = frame[cy - 80 : cy - 20, cx - 60 : cx + 60].reshape(-1, 3)
    assert (circle.min(axis=1) > 200).any()


def test_a_camera_frame_for_someone_else_is_not_shown(renderer: Renderer) -> None:
    layout = layout_for(StageState(seq=1, spotlight="bob"), [ALICE, BOB])
    frame = renderer.render(layout, renderer.fit_camera(solid(320, 240, RED)))
    cx, cy = GEOMETRY.big.centre
    assert tuple(frame[cy, cx]) != RED


def ring_pixels(frame: np.ndarray, renderer: Renderer, slot_index: int, count: int) -> int:
    slot = GEOMETRY.strip_slots(count)[slot_index]
    cx, cy = GEOMETRY.avatar_centre(slot)
    r = GEOMETRY.avatar // 2 + 10
    area = frame[cy - r : cy + r, cx - r : cx + r].reshape(-1, 3)
    return int(np.all(area == RING, axis=1).sum())


def test_a_speaking_member_has_a_ring(renderer: Renderer) -> None:
    carol = Speaker("carol", "Carol", "speaker", has_camera=False)
    st = StageState(seq=1, spotlight="carol", speaking=(Speaking("bob", 0.5),))
    frame = renderer.render(layout_for(st, [ALICE, BOB, carol]))
    # strip: alice (silent), bob (speaking)
    assert ring_pixels(frame, renderer, 0, 2) == 0
    assert ring_pixels(frame, renderer, 1, 2) > 100
    # The member's own colour fills the avatar inside the ring.
    slot = GEOMETRY.strip_slots(2)[1]
    cx, cy = GEOMETRY.avatar_centre(slot)
    assert tuple(frame[cy - GEOMETRY.avatar // 2 + 3, cx]) == identity_colour("bob")


def test_the_title_is_drawn(renderer: Renderer) -> None:
    blank = renderer.render(compose(None, [], title="", video="speakers", geometry=GEOMETRY))
    titled = renderer.render(layout_for(None, []))
    bar = GEOMETRY.title
    assert not np.array_equal(blank[: bar.h], titled[: bar.h])


def test_a_title_with_a_newline_is_drawn_on_one_line(renderer: Renderer) -> None:
    """Pillow refuses to measure multiline text; a title stored before the API cleaned titles may
    hold a newline, and raising here would stop the broadcast."""
    one = renderer.render(compose(None, [], title="Launch party", video="speakers", geometry=GEOMETRY))
    two = renderer.render(compose(None, [], title="Launch\nparty", video="speakers", geometry=GEOMETRY))
    bar = GEOMETRY.title
    assert np.array_equal(one[: bar.h], two[: bar.h])


def test_static_parts_are_cached(renderer: Renderer) -> None:
    layout = layout_for(StageState(seq=1, spotlight="bob"), [ALICE, BOB])
    first = renderer.render(layout)
    again = renderer.render(layout_for(StageState(seq=2, spotlight="bob"), [ALICE, BOB]))
    assert again is first  # same picture: no redrawing
    assert not first.flags.writeable
    with_camera = layout_for(StageState(seq=3, spotlight="alice", video_spotlight="alice"), [ALICE, BOB])
    a = renderer.render(with_camera, renderer.fit_camera(solid(320, 240, RED)))
    b = renderer.render(with_camera, renderer.fit_camera(solid(320, 240, (0, 0, 255))))
    assert a is not b and tuple(a[360, 640]) == RED and tuple(b[360, 640]) == (0, 0, 255)


def test_rejects_a_layout_for_another_canvas(renderer: Renderer) -> None:
    small = compose(None, [], title="", video="speakers", geometry=Geometry.for_size(640, 360))
    with pytest.raises(ValueError, match="canvas"):
        renderer.render(small)


def test_the_camera_in_the_big_tile_is_named(renderer: Renderer) -> None:
    """The video spotlight may show someone who is not speaking (the last speaker with a camera):
    the broadcast says whose picture it is, as the page does."""
    from composer.render import CAPTION, TEXT

    layout = layout_for(StageState(seq=1, spotlight="bob", video_spotlight="alice"), [ALICE, BOB])
    frame = renderer.render(layout, renderer.fit_camera(solid(320, 240, RED)))
    box = renderer.camera_box
    margin = max(4, box.h // 40)
    corner = frame[
        box.y + box.h - margin - 30 : box.y + box.h - margin, box.x + margin : box.x + margin + 200
    ]
    colours = {tuple(p) for row in corner for p in row}
    assert CAPTION in colours and TEXT in colours
    # Drawn once per name: the next frame reuses it.
    again = renderer.render(layout, renderer.fit_camera(solid(320, 240, RED)))
    assert (again == frame).all()
    # A card (no camera yet) carries the name already: no caption over it.
    card = renderer.render(layout)
    corner = card[box.y + box.h - margin - 30 : box.y + box.h - margin, box.x + margin : box.x + margin + 200]
    assert CAPTION not in {tuple(p) for row in corner for p in row}


# Letters of names people have (José Müller, Łukasz, Zoë, Ağca, Øyvind, Straße), a title's dashes
# and euro, and letters of other scripts the font covers. None may be drawn as the "no glyph" box.
COVERED = "éñüßçøåłğëÉÜ—–€Ωжשب"


def test_names_with_accents_are_drawn_with_their_own_glyphs() -> None:
    from composer.render import _font, font_file

    assert font_file() is not None, "the broadcast font is installed (scripts/install-system-deps.sh)"
    font = _font(24)
    missing = bytes(font.getmask("\U0010fffd"))  # a private-use code point no font draws
    for letter in COVERED:
        assert bytes(font.getmask(letter)) != missing, letter
