"""Viewer tags (domain/viewers.py): how a removal reaches an HLS viewer's page, and what state.json
gives away about it (nothing but a count)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contract.room_metadata import REMOVED_VIEWERS_MAX, parse_room_metadata
from contract.schema import load
from functions.domain import grants, stage, viewers
from functions.domain.model import Limits, Space, SpaceState, VideoPolicy

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 5, tzinfo=UTC)
LIMITS = Limits(max_blocked=2)


def live(salt: str = "0123456789abcdef", **changes: object) -> Space:
    return Space(
        id="s" * 32,
        title="t",
        host="host",
        video=VideoPolicy.SPEAKERS,
        created_at=NOW,
        state=SpaceState.LIVE,
        viewer_salt=salt,
        version=41,
    ).replace(**changes)


def test_a_tag_is_the_same_for_one_person_in_one_space_and_tells_nothing_without_the_salt() -> None:
    space = live()
    tag = viewers.viewer_tag(space, "lena")
    assert tag is not None and len(tag) == viewers.TAG_CHARS
    assert tag == viewers.viewer_tag(live(), "lena")
    assert tag != viewers.viewer_tag(space, "nina")
    # Another Space (another salt) gives the same person another tag: tags do not link Spaces.
    assert tag != viewers.viewer_tag(live(salt="fedcba9876543210"), "lena")
    # Created before tags existed: no salt, no tag, nothing recorded.
    assert viewers.viewer_tag(live(salt=""), "lena") is None
    assert viewers.removed_viewer(live(salt=""), "lena") == live(salt="")


def test_a_removal_is_recorded_at_the_version_its_write_gives_the_space() -> None:
    space = live()
    removed = viewers.removed_viewer(space, "lena")
    assert removed.removed_viewers == {viewers.viewer_tag(space, "lena"): 42}
    # Removed again later: the entry moves on, it is not added twice.
    again = viewers.removed_viewer(removed.replace(version=50), "lena")
    assert again.removed_viewers == {viewers.viewer_tag(space, "lena"): 51}


def test_only_the_latest_removals_are_kept() -> None:
    space = live()
    for n in range(REMOVED_VIEWERS_MAX + 3):
        space = viewers.removed_viewer(space, f"v{n}").replace(version=space.version + 1)
    kept = space.removed_viewers
    assert len(kept) == REMOVED_VIEWERS_MAX
    assert set(kept) == {viewers.viewer_tag(space, f"v{n}") for n in range(3, REMOVED_VIEWERS_MAX + 3)}


def test_the_room_metadata_carries_the_tags_and_neither_ids_nor_the_salt() -> None:
    space = viewers.removed_viewer(
        stage.remove(live(), actor="host", target="lena", block=True, limits=LIMITS), "lena"
    )
    text = grants.room_metadata(space, host_grace=120.0)
    assert "lena" not in text and space.viewer_salt not in text
    doc = parse_room_metadata(text)
    tag = viewers.viewer_tag(space, "lena")
    assert doc.removed_viewers == {tag: 42}
    # Told if the grant was read before the removal, not if after (a join on purpose).
    assert doc.removed_since(tag, 41) and not doc.removed_since(tag, 42)
    assert not doc.removed_since(viewers.viewer_tag(space, "nina"), 0) and not doc.removed_since(None, 0)


@pytest.mark.parametrize(
    "value",
    [
        '{"removed_viewers": {"a": "1"}}',
        '{"removed_viewers": {"a": true}}',
        '{"removed_viewers": [1]}',
        '{"removed_viewers": {"a": -1}}',
        '{"removed_viewers": {"": 3}}',
    ],
)
def test_a_malformed_entry_reads_as_none(value: str) -> None:
    assert parse_room_metadata(value).removed_viewers == {}
    assert parse_room_metadata('{"removed_viewers": {"a": 3, "b": "x"}}').removed_viewers == {"a": 3}


def test_the_schema_bounds_the_map_as_the_domain_does() -> None:
    prop = load("room_metadata")["properties"]["removed_viewers"]
    assert prop["maxProperties"] == REMOVED_VIEWERS_MAX
    text = json.dumps({"removed_viewers": {"a": 1}})
    assert parse_room_metadata(text).to_dict()["removed_viewers"] == {"a": 1}
