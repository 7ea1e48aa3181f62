"""WebRTC seats in both stores (SQLite file, DynamoDB Local): the Space hands out at most its
capacity over a bucket and the one before, one seat per user, under concurrent claims too; a
seat is freed once, by its user's counted join, or lapses two buckets on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.domain.broadcast import SeatClaim
from functions.store.base import SpaceStore

pytestmark = pytest.mark.integration
SPACE = "5e" * 16


def claim(user: str, bucket: int = 1_000, capacity: int = 3) -> SeatClaim:
    return SeatClaim(user=user, bucket=bucket, capacity=capacity)


def test_the_space_gives_out_its_capacity_then_refuses(store: SpaceStore) -> None:
    assert [store.claim_seat(SPACE, claim(f"u{n}")) for n in range(5)] == [1_000, 1_000, 1_000, None, None]
    # Another Space has its own seats.
    assert store.claim_seat("6f" * 16, claim("u4")) == 1_000


def test_a_user_holds_one_seat_and_asking_again_keeps_it(store: SpaceStore) -> None:
    assert [store.claim_seat(SPACE, claim("amy", capacity=2)) for _ in range(3)] == [1_000] * 3
    # The next bucket: the same seat, moved there so it lasts as long as a new one; no second one.
    assert [store.claim_seat(SPACE, claim("amy", bucket=1_001, capacity=2)) for _ in range(3)] == [1_001] * 3
    assert store.claim_seat(SPACE, claim("bob", bucket=1_001, capacity=2)) == 1_001
    assert store.claim_seat(SPACE, claim("cy", bucket=1_001, capacity=2)) is None
    # Two buckets on, amy's moved seat still counts; the old token's join frees nothing.
    assert not store.release_seat(SPACE, "amy", 1_000)
    assert store.claim_seat(SPACE, claim("cy", bucket=1_002, capacity=2)) is None
    assert store.release_seat(SPACE, "amy", 1_001)
    assert store.claim_seat(SPACE, claim("cy", bucket=1_002, capacity=2)) == 1_002


def test_seats_of_the_bucket_before_still_count_and_older_ones_do_not(store: SpaceStore) -> None:
    assert store.claim_seat(SPACE, claim("a", bucket=1_000, capacity=2)) == 1_000
    assert store.claim_seat(SPACE, claim("b", bucket=1_000, capacity=2)) == 1_000
    assert store.claim_seat(SPACE, claim("c", bucket=1_001, capacity=2)) is None  # both still count
    # Two buckets on, those seats have lapsed: their users (and others) get new ones.
    assert store.claim_seat(SPACE, claim("c", bucket=1_002, capacity=2)) == 1_002
    assert store.claim_seat(SPACE, claim("a", bucket=1_002, capacity=2)) == 1_002
    assert store.claim_seat(SPACE, claim("d", bucket=1_002, capacity=2)) is None


def test_a_seat_is_freed_once_by_its_users_join(store: SpaceStore) -> None:
    assert store.claim_seat(SPACE, claim("a", capacity=2)) == 1_000
    assert store.claim_seat(SPACE, claim("b", capacity=2)) == 1_000
    assert store.claim_seat(SPACE, claim("c", capacity=2)) is None
    assert store.release_seat(SPACE, "a", 1_000)
    # A second join with the same token, or a bucket the user holds no seat in: nothing freed.
    assert not store.release_seat(SPACE, "a", 1_000)
    assert not store.release_seat(SPACE, "b", 999)
    assert store.claim_seat(SPACE, claim("c", capacity=2)) == 1_000
    assert store.claim_seat(SPACE, claim("d", capacity=2)) is None


def test_concurrent_claims_never_take_more_than_the_capacity(store: SpaceStore) -> None:
    users = [f"u{n % 40}" for n in range(64)]  # some ask twice at once
    with ThreadPoolExecutor(max_workers=16) as pool:
        granted = list(pool.map(lambda u: store.claim_seat(SPACE, claim(u, capacity=7)), users))
    holders = {u for u, seat in zip(users, granted, strict=True) if seat is not None}
    assert len(holders) == 7
