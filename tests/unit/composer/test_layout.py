"""The layout follows the published stage and never decides a spotlight of its own."""

from __future__ import annotations

import pytest

from composer.layout import (
    MAX_STRIP,
    Geometry,
    Speaker,
    compose,
    identity_colour,
    identity_hue,
    initials,
)
from contract.stage import Speaking, StageState

GEOMETRY = Geometry.for_size(1280, 720)
ALICE = Speaker("alice", "Alice Liddell", "speaker", has_camera=True)
BOB = Speaker("bob", "Bob", "speaker", has_camera=False)
HOST = Speaker("hana", "Hana", "host", has_camera=True)


def stage(**fields: object) -> StageState:
    return StageState(seq=1, **fields)  # type: ignore[arg-type]


def layout(st: StageState | None, speakers: list[Speaker], video: str = "speakers"):  # type: ignore[no-untyped-def]
    return compose(st, speakers, title="Friday night", video=video, geometry=GEOMETRY)  # type: ignore[arg-type]


def test_the_video_spotlight_camera_takes_the_big_tile() -> None:
    out = layout(stage(spotlight="bob", video_spotlight="alice", video_on=("alice",)), [ALICE, BOB])
    assert out.big is not None
    assert out.big.camera == "alice" and out.big.card.name == "Alice Liddell"
    assert [m.card.identity for m in out.strip] == ["bob"]
    assert out.title == "Friday night" and out.video


def test_a_pinned_screen_share_takes_the_big_tile_as_a_screen() -> None:
    sharing = Speaker("hana", "Hana", "host", has_camera=True, has_screen=True)
    screen = stage(spotlight="hana", video_spotlight="hana", video_source="screen_share", pinned="hana")
    out = layout(screen, [ALICE, sharing])
    assert out.big is not None and (out.big.camera, out.big.source) == ("hana", "screen_share")
    # The same stage for a camera is a different tile (the renderer caches by the tile).
    camera = layout(stage(spotlight="hana", video_spotlight="hana"), [ALICE, sharing])
    assert camera.big is not None and (camera.big.camera, camera.big.source) == ("hana", "camera")
    # The share is gone from the room before the agent's next stage: the card, never a stale camera.
    stopped = layout(screen, [ALICE, HOST])
    assert stopped.big is not None and stopped.big.camera is None


def test_without_a_camera_the_spotlight_gets_an_avatar_card() -> None:
    out = layout(stage(spotlight="bob"), [ALICE, BOB])
    assert out.big is not None and out.big.camera is None
    assert out.big.card.initials == "BO" and out.big.card.name == "Bob"
    assert out.big.card.colour == identity_colour("bob")


def test_a_camera_that_went_off_in_the_room_shows_the_card() -> None:
    muted = Speaker("alice", "Alice Liddell", "speaker", has_camera=False)
    out = layout(stage(spotlight="alice", video_spotlight="alice"), [muted, BOB])
    assert out.big is not None and out.big.camera is None and out.big.card.identity == "alice"


def test_audio_only_space_never_shows_a_camera() -> None:
    out = layout(stage(spotlight="bob", video_spotlight="alice"), [ALICE, BOB], video="off")
    assert not out.video
    assert out.big is not None and out.big.card.identity == "bob" and out.big.camera is None


def test_no_stage_or_no_spotlight_leaves_the_big_tile_to_the_title() -> None:
    assert layout(None, [ALICE, BOB]).big is None
    out = layout(stage(), [ALICE, BOB])
    assert out.big is None
    assert [m.card.identity for m in out.strip] == ["alice", "bob"]


def test_a_spotlight_who_left_the_room_is_not_drawn() -> None:
    out = layout(stage(spotlight="carol"), [ALICE, BOB])
    assert out.big is None


def test_strip_is_in_stage_order_with_speaking_rings() -> None:
    st = stage(spotlight="hana", speaking=(Speaking("bob", 0.4), Speaking("alice", 0.0)))
    out = layout(st, [BOB, ALICE, HOST])
    assert out.big is not None and out.big.card.identity == "hana"
    assert [(m.card.identity, m.speaking) for m in out.strip] == [("alice", False), ("bob", True)]
    assert out.strip[1].level == 0.4


def test_the_strip_keeps_the_order_people_took_their_seats() -> None:
    """Within a role, the room metadata's order (who came on stage first), not the ids': a newcomer
    joins the end and nobody moves. Anyone the metadata does not list comes after, by identity."""
    cohost = Speaker("zoe", "Zoe", "cohost", has_camera=False)
    late = Speaker("aaron", "Aaron", "speaker", has_camera=False)
    stray = Speaker("abe", "Abe", "speaker", has_camera=False)
    seated = ("hana", "zoe", "bob", "alice", "aaron")
    out = compose(
        stage(spotlight="hana"),
        [stray, late, ALICE, BOB, cohost, HOST],
        title="",
        video="speakers",
        geometry=GEOMETRY,
        seated=seated,
    )
    assert [m.card.identity for m in out.strip] == ["zoe", "bob", "alice", "aaron", "abe"]
    # A listing the control plane did not write may name someone twice: their first seat counts,
    # and the unlisted come after every seat, as on the page (web/src/stage.test.ts).
    x, b, aa = (Speaker(i, i, "speaker", has_camera=False) for i in ("x", "b", "aa"))
    out = compose(
        stage(), [aa, b, x], title="", video="speakers", geometry=GEOMETRY, seated=("h", "x", "x", "b")
    )
    assert [m.card.identity for m in out.strip] == ["x", "b", "aa"]


def test_the_big_tile_holder_speaking_is_marked() -> None:
    out = layout(stage(spotlight="bob", speaking=(Speaking("bob", 0.5),)), [ALICE, BOB])
    assert out.big is not None and out.big.speaking


def test_a_crowded_stage_is_summarised() -> None:
    crowd = [Speaker(f"s{i:02d}", "", "speaker", has_camera=False) for i in range(MAX_STRIP + 3)]
    out = layout(stage(), crowd)
    assert len(out.strip) == MAX_STRIP and out.more == 3
    assert out.strip[0].card.name == "s00"  # no display name: the identity is shown


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Alice Liddell", "AL"),
        ("bob", "BO"),
        ("x", "X"),
        ("Mary Ann Evans", "ME"),
        ("  ", "?"),
        ("jean-luc picard", "JP"),
    ],
)
def test_initials(name: str, expected: str) -> None:
    assert initials(name) == expected


def test_identity_colours_are_stable_and_differ() -> None:
    assert identity_colour("alice") != identity_colour("bob")
    assert all(0 <= c <= 255 for c in identity_colour("alice"))


def test_a_person_has_the_pages_hue_in_the_broadcast() -> None:
    """The same vectors pin web/src/dom.ts avatarStyle (web/src/people.test.ts)."""
    import json
    from pathlib import Path

    import contract

    vectors = json.loads((Path(contract.__file__).parent / "identity_hues.json").read_text())["hues"]
    assert len(vectors) >= 8
    for identity, hue in vectors.items():
        assert identity_hue(identity) == hue, identity


def test_geometry_tiles_do_not_overlap_and_fit_the_canvas() -> None:
    for width, height in [(1280, 720), (640, 360)]:
        g = Geometry.for_size(width, height)
        assert g.title.y + g.title.h <= g.big.y
        assert g.big.y + g.big.h <= g.strip.y
        assert g.strip.y + g.strip.h == height
        slots = g.strip_slots(MAX_STRIP)
        assert slots[0].x >= 0 and slots[-1].x + slots[-1].w <= width


def test_geometry_refuses_a_tiny_canvas() -> None:
    with pytest.raises(ValueError, match="too small"):
        Geometry.for_size(100, 50)
