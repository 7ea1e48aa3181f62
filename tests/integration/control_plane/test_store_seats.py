"""WebRTC seats in both stores (SQLite file, DynamoDB Local): a shard hands out at most its
capacity over its bucket and the one before, under concurrent claims too, and frees up after."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.domain.broadcast import SeatClaim
from functions.store.base import SpaceStore

pytestmark = pytest.mark.integration
SPACE = "5e" * 16


def claim(shard: int = 0, bucket: int = 1_000, capacity: int = 3) -> SeatClaim:
    return SeatClaim(shard=shard, bucket=bucket, capacity=capacity)


def test_a_shard_gives_out_its_capacity_then_refuses(store: SpaceStore) -> None:
    assert [store.claim_seat(SPACE, claim()) for _ in range(5)] == [True, True, True, False, False]
    # Another shard, and another Space, have their own seats.
    assert store.claim_seat(SPACE, claim(shard=1))
    assert store.claim_seat("6f" * 16, claim())


def test_seats_of_the_bucket_before_still_count_and_older_ones_do_not(store: SpaceStore) -> None:
    assert store.claim_seat(SPACE, claim(bucket=1_000)) and store.claim_seat(SPACE, claim(bucket=1_000))
    # The next bucket: the two seats still count (their joins may not be counted yet).
    assert [store.claim_seat(SPACE, claim(bucket=1_001)) for _ in range(2)] == [True, False]
    # Two buckets on, only the bucket before (one seat) counts.
    assert [store.claim_seat(SPACE, claim(bucket=1_002)) for _ in range(3)] == [True, True, False]
    # A capacity that shrank (more listeners counted) refuses what it no longer has.
    assert not store.claim_seat(SPACE, claim(bucket=1_002, capacity=2))


def test_a_released_seat_can_be_claimed_again_and_never_goes_below_zero(store: SpaceStore) -> None:
    assert [store.claim_seat(SPACE, claim(capacity=2)) for _ in range(3)] == [True, True, False]
    store.release_seat(SPACE, 0, 1_000)
    assert store.claim_seat(SPACE, claim(capacity=2))
    for _ in range(4):  # more releases than seats (a webhook for a seat already gone): floor at 0
        store.release_seat(SPACE, 0, 1_000)
    store.release_seat(SPACE, 0, 999)  # a bucket never written: nothing happens
    assert [store.claim_seat(SPACE, claim(capacity=2)) for _ in range(3)] == [True, True, False]


def test_concurrent_claims_never_take_more_than_the_capacity(store: SpaceStore) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        granted = list(pool.map(lambda _: store.claim_seat(SPACE, claim(capacity=7)), range(64)))
    assert granted.count(True) == 7
