"""The reactions' store items: one contract, SQLite and DynamoDB Local."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from functions.domain import reactions as rx
from functions.domain.stage import HAND_LIMIT
from functions.store.reactions import ReactionStore

from .conftest import STORES, fresh_dynamo_table

pytestmark = pytest.mark.integration


@pytest.fixture(params=STORES)
def reactions(request: pytest.FixtureRequest, tmp_path: Path) -> ReactionStore:
    if request.param == "sqlite":
        from functions.store.sqlite import SqliteReactions

        return SqliteReactions(tmp_path / "spaces.sqlite3")
    from functions.store.dynamodb import DynamoReactions

    endpoint = request.getfixturevalue("dynamodb")
    return DynamoReactions(fresh_dynamo_table(endpoint), endpoint_url=endpoint.url)


def sid() -> str:
    return uuid.uuid4().hex


def test_accept_applies_the_per_user_limit(reactions: ReactionStore) -> None:
    space = sid()
    assert reactions.accept(space, "alice", 1000.0) == 0.0
    assert reactions.accept(space, "alice", 1000.3) == pytest.approx(0.7)
    assert reactions.accept(space, "bob", 1000.3) == 0.0
    assert reactions.accept(space, "alice", 1001.0) == 0.0
    assert reactions.accept(sid(), "alice", 1000.5) == 0.0  # per Space
    state = reactions.limit_state(space, "alice")
    assert state is not None and state.count == 2 and state.last == 1001.0
    # Ten in the 10-s bucket, then a wait until the next bucket.
    for t in range(1002, 1010):
        assert reactions.accept(space, "alice", float(t)) == 0.0
    assert reactions.accept(space, "alice", 1009.5) == pytest.approx(0.5)
    assert reactions.accept(space, "alice", 1010.0) == 0.0


def test_concurrent_requests_of_one_user_accept_exactly_one(reactions: ReactionStore) -> None:
    space = sid()
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda _: reactions.accept(space, "eve", 2000.0), range(16)))
    assert waits.count(0.0) == 1
    assert all(w > 0 for w in waits if w != 0.0)


def test_the_hand_limit_is_its_own_and_lets_concurrent_toggles_through_to_its_burst(
    reactions: ReactionStore,
) -> None:
    space = sid()
    assert reactions.accept(space, "alice", 3000.0) == 0.0  # a reaction spends no hand toggle
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda _: reactions.accept(space, "alice", 3000.0, limit=HAND_LIMIT), range(6)))
    assert waits.count(0.0) == HAND_LIMIT.burst
    assert all(w == pytest.approx(5.0) for w in waits if w != 0.0)
    state = reactions.limit_state(space, "alice", limit=HAND_LIMIT)
    assert state is not None and state.count == HAND_LIMIT.burst
    assert reactions.accept(space, "alice", 3005.0, limit=HAND_LIMIT) == 0.0


def test_add_counts_per_shard_and_counts_reads_them_back(reactions: ReactionStore) -> None:
    space = sid()
    assert reactions.add(space, 10, 3, "clap") == 1
    assert reactions.add(space, 10, 3, "fire") == 2
    assert reactions.add(space, 10, 4, "clap") == 1
    assert reactions.add(space, 11, 3, "clap") == 1
    assert reactions.add(sid(), 10, 3, "clap") == 1
    assert rx.merge_counts(reactions.seal(space, range(10, 11))) == {"clap": 2, "fire": 1}
    assert rx.merge_counts(reactions.seal(space, range(10, 12))) == {"clap": 3, "fire": 1}
    assert reactions.seal(space, range(12, 14)) == []


def test_a_sealed_window_refuses_adds_and_keeps_its_counts(reactions: ReactionStore) -> None:
    space = sid()
    assert reactions.add(space, 20, 1, "wow") == 1
    assert rx.merge_counts(reactions.seal(space, range(20, 21))) == {"wow": 1}
    assert reactions.add(space, 20, 1, "wow") is None
    assert reactions.add(space, 20, 2, "wow") is None
    assert reactions.add(space, 21, 1, "wow") == 1
    assert rx.merge_counts(reactions.seal(space, range(20, 21))) == {"wow": 1}


def test_concurrent_adds_and_a_seal_lose_nothing(reactions: ReactionStore) -> None:
    space = sid()

    def add(i: int) -> bool:
        return reactions.add(space, 30, i % 4, "fire") is not None

    with ThreadPoolExecutor(8) as pool:
        pending = [pool.submit(add, i) for i in range(60)]
        sealed = pool.submit(reactions.seal, space, range(30, 31))
        accepted = sum(f.result() for f in pending)
        counted = rx.merge_counts(sealed.result()).get("fire", 0)
    late = rx.merge_counts(reactions.seal(space, range(30, 31))).get("fire", 0)
    # An add that succeeded did so before its shard was sealed, so the seal's answer has it.
    assert counted == late == accepted
    assert reactions.add(space, 30, 0, "fire") is None


def test_concurrent_adds_lose_nothing(reactions: ReactionStore) -> None:
    space = sid()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: reactions.add(space, 5, i % 2, "heart"), range(100)))
    assert rx.merge_counts(reactions.seal(space, range(5, 6))) == {"heart": 100}


def test_claim_is_won_once_per_window_and_returns_the_previous(reactions: ReactionStore) -> None:
    space = sid()
    assert reactions.published(space) is None
    assert reactions.claim(space, 7) == (True, None)
    assert reactions.published(space) == 7
    assert reactions.claim(space, 7) == (False, None)
    assert reactions.claim(space, 6) == (False, None)
    assert reactions.claim(space, 9) == (True, 7)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: reactions.claim(space, 12), range(16)))
    assert results.count((True, 9)) == 1
    assert results.count((False, None)) == 15


def test_marks_keep_each_spaces_newest_window(reactions: ReactionStore) -> None:
    one, two, old = sid(), sid(), sid()
    reactions.mark_active(one, 1000)
    reactions.mark_active(one, 998)  # a slower request of an earlier window: no step back
    reactions.mark_active(two, 1001)
    reactions.mark_active(old, 900)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda w: reactions.mark_active(two, w), range(1002, 1010)))
    marked = dict(reactions.active(999))
    assert marked[one] == 1000 and marked[two] == 1009 and old not in marked
