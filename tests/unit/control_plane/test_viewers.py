"""Viewer tags (domain/viewers.py): how a removal reaches an HLS viewer's page, and what state.json
gives away about it (nothing but a count)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contract.room_metadata import REMOVED_VIEWERS_MAX, parse_room_metadata
from contract.schema import load
from functions.domain import grants, viewers
from functions.domain.model import Space, SpaceState, VideoPolicy

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 5, tzinfo=UTC)
KEY = viewers.tag_key("a LiveKit API secret")
SPACE = "5" * 32


def live(**changes: object) -> Space:
    return Space(
        id=SPACE, title="t", host="host", video=VideoPolicy.SPEAKERS, created_at=NOW, state=SpaceState.LIVE
    ).replace(**changes)


def test_a_tag_is_the_same_for_one_person_in_one_space_and_another_elsewhere() -> None:
    tag = viewers.viewer_tag(KEY, SPACE, "lena")
    assert len(tag) == viewers.TAG_CHARS and tag == viewers.viewer_tag(KEY, SPACE, "lena")
    assert tag != viewers.viewer_tag(KEY, SPACE, "nina")
    # Another Space, or another key: another tag, so tags link neither Spaces nor deployments.
    assert tag != viewers.viewer_tag(KEY, "6" * 32, "lena")
    assert tag != viewers.viewer_tag(viewers.tag_key("another secret"), SPACE, "lena")
    # The separator keeps (space, user) pairs apart that would concatenate alike.
    assert viewers.viewer_tag(KEY, "ab", "c") != viewers.viewer_tag(KEY, "a", "bc")
    # The key is derived: the secret itself is not the key.
    assert KEY != b"a LiveKit API secret" and len(KEY) == 32


def test_only_someone_off_stage_is_told_by_tag() -> None:
    """A stage role joins the room (the SFU disconnects them); an entry appearing as they leave the
    stage's lists would say whose tag it is."""
    space = live(speakers=("sam",), cohosts=("cora",))
    assert viewers.told_to_viewers(space, "lena")
    assert not any(viewers.told_to_viewers(space, u) for u in ("sam", "cora", "host"))


def test_the_metadata_carries_the_latest_removals() -> None:
    stored = {f"t{n:02d}": 1_000 + n for n in range(REMOVED_VIEWERS_MAX + 3)}
    kept = viewers.latest(stored)
    assert len(kept) == REMOVED_VIEWERS_MAX and min(kept.values()) == 1_003
    assert viewers.latest({"a": 5}) == {"a": 5} and viewers.latest({}) == {}


def test_the_room_metadata_carries_tags_and_times_and_no_ids() -> None:
    tag = viewers.viewer_tag(KEY, SPACE, "lena")
    space = live(removed_viewers={tag: 1_765_000_000_500})
    text = grants.room_metadata(space, host_grace=120.0)
    assert "lena" not in text
    doc = parse_room_metadata(text)
    assert doc.removed_viewers == {tag: 1_765_000_000_500}
    # Told if the grant was issued before the removal, not if after (a join on purpose).
    assert doc.removed_since(tag, 1_765_000_000_499) and not doc.removed_since(tag, 1_765_000_000_500)
    assert not doc.removed_since(viewers.viewer_tag(KEY, SPACE, "nina"), 0) and not doc.removed_since(None, 0)


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


def test_a_malformed_entry_leaves_the_others() -> None:
    assert parse_room_metadata('{"removed_viewers": {"a": 3, "b": "x", "c": false}}').removed_viewers == {
        "a": 3
    }


def test_the_schema_bounds_the_map_as_the_domain_does() -> None:
    prop = load("room_metadata")["properties"]["removed_viewers"]
    assert prop["maxProperties"] == REMOVED_VIEWERS_MAX
    text = json.dumps({"removed_viewers": {"a": 1}})
    assert parse_room_metadata(text).to_dict()["removed_viewers"] == {"a": 1}
