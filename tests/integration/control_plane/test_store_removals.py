"""Removals, as both stores (SQLite file, DynamoDB Local) remember them for the page of the person
removed: without a block, a note where the latest removal wins whatever order the writes land in,
another user or Space has none, and a note past its expiry reads as none (DynamoDB deletes it
lazily); and, for HLS viewers, each removal under its tag (domain/viewers.py), which only whole
reads of the Space carry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from contract.room_metadata import REMOVED_VIEWERS_MAX
from functions.domain import stage
from functions.domain.model import Limits
from functions.store.base import SpaceStore, epoch_ms

from .test_store_contract import live, make_space

pytestmark = pytest.mark.integration
SPACE = "7a" * 16
T0 = datetime(2026, 12, 5, 6, 0, 0, 123456, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


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


def test_a_removed_viewer_is_kept_under_their_tag_for_whole_reads_only(store: SpaceStore) -> None:
    space = live(store, make_space())
    now = datetime.now(UTC)
    store.record_removed_viewer(space.id, "tagAmy00", at=now, expires_at=now + HOUR)
    store.record_removed_viewer(space.id, "tagBob00", at=now + timedelta(seconds=1), expires_at=now + HOUR)
    # An older write landing late does not move an entry back; a later one moves it on.
    store.record_removed_viewer(space.id, "tagAmy00", at=now - timedelta(seconds=5), expires_at=now + HOUR)
    ms = epoch_ms(now)
    assert store.require(space.id).removed_viewers == {
        "tagAmy00": ms,
        "tagBob00": epoch_ms(now + timedelta(seconds=1)),
    }
    later = now + timedelta(seconds=2)
    store.record_removed_viewer(space.id, "tagAmy00", at=later, expires_at=later + HOUR)
    assert store.require(space.id).removed_viewers["tagAmy00"] == epoch_ms(later)
    # A write of the Space keeps them (they are not its own fields), and the version does not move.
    after = store.update(space.id, lambda s: stage.raise_hand(s, user="x", limits=Limits())).after
    assert after.version == space.version and store.require(space.id).removed_viewers == {
        "tagAmy00": epoch_ms(later),
        "tagBob00": epoch_ms(now + timedelta(seconds=1)),
    }
    # A member's read (every join's) does not carry them, strongly consistent or not; another Space
    # has none; an expired one is gone.
    assert store.require(space.id, member="amy").removed_viewers == {}
    assert store.require(space.id, member="amy", consistent=False).removed_viewers == {}
    assert store.require(live(store, make_space()).id).removed_viewers == {}
    store.record_removed_viewer(space.id, "tagOld00", at=now - HOUR, expires_at=now - timedelta(seconds=1))
    assert "tagOld00" not in store.require(space.id).removed_viewers


def test_only_the_latest_removals_told_to_viewers_are_kept(store: SpaceStore) -> None:
    """A host removing made-up ids cannot grow what every whole read of the Space loads."""
    space = live(store, make_space())
    now = datetime.now(UTC)
    for n in range(REMOVED_VIEWERS_MAX + 4):
        at = now + timedelta(milliseconds=10 * n)
        store.record_removed_viewer(space.id, f"tag{n:05d}", at=at, expires_at=at + HOUR)
    kept = store.require(space.id).removed_viewers
    assert set(kept) == {f"tag{n:05d}" for n in range(4, REMOVED_VIEWERS_MAX + 4)}


def test_concurrent_removals_told_to_viewers_are_all_kept(store: SpaceStore) -> None:
    """Each write merges into the Space's one item under its revision: none is lost to another."""
    space = live(store, make_space())
    now = datetime.now(UTC)

    def remove(n: int) -> None:
        store.record_removed_viewer(space.id, f"tag{n:05d}", at=now, expires_at=now + HOUR)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(remove, range(8)))
    assert set(store.require(space.id).removed_viewers) == {f"tag{n:05d}" for n in range(8)}
