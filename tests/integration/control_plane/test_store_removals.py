"""Removals, as both stores (SQLite file, DynamoDB Local) remember them for the page of the person
removed: without a block, a note where the latest removal wins whatever order the writes land in,
another user or Space has none, and a note past its expiry reads as none (DynamoDB deletes it
lazily); and, for HLS viewers, the Space's viewer salt and latest removals (domain/viewers.py),
whose versions are those the stores give the Space."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.domain import stage, viewers
from functions.domain.model import Limits, Space
from functions.store.base import SpaceStore

from .test_store_contract import live, make_space

pytestmark = pytest.mark.integration
SPACE = "7a" * 16
T0 = datetime(2026, 12, 5, 6, 0, 0, 123456, tzinfo=UTC)
DAY = timedelta(days=1)


def test_a_removal_is_remembered_to_the_microsecond_for_that_user_and_space(store: SpaceStore) -> None:
    assert store.removed_at(SPACE, "amy", now=T0) is None
    store.record_removal(SPACE, "amy", at=T0, expires_at=T0 + DAY)
    assert store.removed_at(SPACE, "amy", now=T0) == T0
    assert store.removed_at(SPACE, "bob", now=T0) is None
    assert store.removed_at("7b" * 16, "amy", now=T0) is None


def test_the_latest_removal_wins_in_whatever_order_they_land(store: SpaceStore) -> None:
    later = T0 + timedelta(minutes=5)
    store.record_removal(SPACE, "amy", at=later, expires_at=later + DAY)
    store.record_removal(SPACE, "amy", at=T0, expires_at=T0 + DAY)  # an older write, landing late
    assert store.removed_at(SPACE, "amy", now=later) == later
    latest = later + timedelta(microseconds=1)
    store.record_removal(SPACE, "amy", at=latest, expires_at=latest + DAY)
    assert store.removed_at(SPACE, "amy", now=later) == latest


def test_an_expired_note_reads_as_none(store: SpaceStore) -> None:
    store.record_removal(SPACE, "amy", at=T0, expires_at=T0 + timedelta(hours=1))
    assert store.removed_at(SPACE, "amy", now=T0 + timedelta(minutes=59)) == T0
    assert store.removed_at(SPACE, "amy", now=T0 + timedelta(hours=1)) is None
    # A new removal after it is remembered again.
    again = T0 + timedelta(hours=2)
    store.record_removal(SPACE, "amy", at=again, expires_at=again + DAY)
    assert store.removed_at(SPACE, "amy", now=again) == again


def test_a_removed_viewer_is_kept_under_their_tag_at_the_version_the_store_gives_the_space(
    store: SpaceStore,
) -> None:
    space = live(store, make_space().replace(viewer_salt="00112233aabbccdd"))
    assert store.require(space.id).viewer_salt == "00112233aabbccdd"

    def remove(user: str, block: bool = False) -> int:
        def rule(s: Space) -> Space:
            return viewers.removed_viewer(
                stage.remove(s, actor="host", target=user, block=block, limits=Limits()), user
            )

        return store.update(space.id, rule).after.version

    first = remove("amy")
    second = remove("bob", block=True)
    got = store.require(space.id)
    tags = {viewers.viewer_tag(got, u): v for u, v in (("amy", first), ("bob", second))}
    assert got.removed_viewers == tags and got.version == second == first + 1
    # The cheap reads (a member's, the eventually consistent one) carry them as well.
    assert store.require(space.id, member="amy", consistent=False).removed_viewers == tags
