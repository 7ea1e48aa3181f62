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


def count(
    store: ReactionStore,
    space: str,
    window: int,
    shard: int,
    code: str,
    *,
    at: int,
    taken: list[dict[str, int]] | None = None,
) -> int | None:
    """What the use case does for one reaction counted into `window` at the start of window `at`
    (functions/usecases/reactions.py `_count`, `_late`): add; a late add into a window a publisher
    has claimed takes its item back, and the counts it took (which that request publishes itself)
    go to `taken`. None: refused."""
    total = store.add(space, window, shard, code)
    if total is not None and rx.late(window, rx.window_start(at)):
        published = store.published(space)
        if published is not None and published >= window:
            got = store.take_back(space, window, shard)
            if got is not None and taken is not None:
                taken.append(got)
    return total


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
    """Once a publisher has claimed and sealed a window, an add to it is refused, or (DynamoDB,
    which seals only the items it read) lands late in an item of its own, which its writer takes
    back and publishes itself: never in the publication, never lost."""
    space = sid()
    assert count(reactions, space, 20, 1, "wow", at=20) == 1
    # The publisher of window 20 claims and seals it once window 22 has begun.
    now = 20 + rx.PUBLISH_LAG_WINDOWS
    assert reactions.claim(space, 20) == (True, None)
    assert rx.merge_counts(reactions.seal(space, range(20, 21))) == {"wow": 1}
    taken: list[dict[str, int]] = []
    assert count(reactions, space, 20, 1, "wow", at=now, taken=taken) is None  # its item is sealed
    other = count(reactions, space, 20, 2, "wow", at=now, taken=taken)
    assert (other, taken) in ((None, []), (1, [{"wow": 1}]))
    assert count(reactions, space, 21, 1, "wow", at=now) == 1
    assert rx.merge_counts(reactions.seal(space, range(20, 21))) == {"wow": 1}


def test_concurrent_adds_and_a_seal_lose_nothing(reactions: ReactionStore) -> None:
    """Stalled adds to window 30 land while its publisher seals it: each is in the seal's answer,
    or refused (its caller counts it in a later window), or taken back with its item by a late
    writer who publishes it; never lost, never counted twice."""
    space = sid()
    now = 30 + rx.PUBLISH_LAG_WINDOWS
    taken: list[dict[str, int]] = []

    def add(i: int) -> bool:
        return count(reactions, space, 30, i % 4, "fire", at=now, taken=taken) is not None

    assert reactions.claim(space, 30)[0]
    with ThreadPoolExecutor(8) as pool:
        pending = [pool.submit(add, i) for i in range(60)]
        sealed = pool.submit(reactions.seal, space, range(30, 31))
        accepted = sum(f.result() for f in pending)
        counted = rx.merge_counts(sealed.result()).get("fire", 0)
    again = rx.merge_counts(reactions.seal(space, range(30, 31))).get("fire", 0)
    by_writers = rx.merge_counts(taken).get("fire", 0)
    assert counted == again and counted + by_writers == accepted
    assert count(reactions, space, 30, 0, "fire", at=now) is None


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


def test_a_counter_first_written_after_the_publisher_read_its_window_is_not_lost(
    reactions: ReactionStore,
) -> None:
    """DynamoDB seals only the shard items it reads. An add that lands after its window could have
    been read (`reactions.late`), into a window a publisher has claimed, takes its item back; the
    counts it took go out with its own message, and a later read of the window leaves them out.
    SQLite seals the whole window: such adds are refused."""
    space = sid()
    assert count(reactions, space, 40, 7, "clap", at=40) == 1
    assert reactions.claim(space, 40)[0]
    assert rx.merge_counts(reactions.seal(space, range(40, 41))) == {"clap": 1}  # at window 42
    taken: list[dict[str, int]] = []
    stalled = count(reactions, space, 40, 9, "fire", at=42, taken=taken)
    assert (stalled, taken) in ((None, []), (1, [{"fire": 1}]))
    # Beyond the clock assumption: a writer whose clock is slow writes after the read without
    # taking anything back; a late writer to the same item takes both counts back.
    slow = count(reactions, space, 40, 13, "wow", at=40, taken=taken)
    late = count(reactions, space, 40, 13, "heart", at=42, taken=taken)
    if stalled is None:
        assert slow is None and late is None and taken == []
    else:
        assert (slow, late) == (1, 2) and rx.merge_counts(taken) == {"fire": 1, "wow": 1, "heart": 1}
    # The publication's own answer is unchanged, however often the window is read again.
    assert rx.merge_counts(reactions.seal(space, range(40, 41))) == {"clap": 1}


def test_a_seal_writes_only_the_shard_items_that_were_written(request: pytest.FixtureRequest) -> None:
    """DynamoDB (SQLite seals a window with one row). The cost the soak review measured: a seal
    wrote, and created, all 32 shard items of every window it published."""
    from functions.store.dynamodb import PK, DynamoReactions

    endpoint = request.getfixturevalue("dynamodb")
    table = fresh_dynamo_table(endpoint)
    store = DynamoReactions(table, endpoint_url=endpoint.url)
    space = sid()
    assert count(store, space, 50, 3, "clap", at=50) == 1
    assert rx.merge_counts(store.seal(space, range(41, 61))) == {"clap": 1}
    items = store.client.scan(TableName=table)["Items"]
    counters = [i for i in items if i[PK]["S"].startswith(f"REACT#{space}#")]
    assert len(counters) == 1 and "sealed" in counters[0]


def test_a_take_back_whose_answer_was_lost_still_knows_it_was_its(request: pytest.FixtureRequest) -> None:
    """DynamoDB: the client retries a take whose write was applied but whose answer was lost; the
    retry's condition fails. The take's own mark tells it that the item is its own to publish
    (otherwise the item, marked taken, would be published by nobody)."""
    from botocore.exceptions import ClientError

    from functions.store.dynamodb import DynamoReactions

    endpoint = request.getfixturevalue("dynamodb")
    store = DynamoReactions(fresh_dynamo_table(endpoint), endpoint_url=endpoint.url)
    space = sid()
    assert count(store, space, 70, 5, "clap", at=70) == 1
    real = store.client.update_item

    def applied_then_lost(**kwargs: object) -> object:
        real(**kwargs)  # applied ...
        store.client.update_item = real  # ... and the retry finds it sealed
        error = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "sealed"}}
        raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]

    store.client.update_item = applied_then_lost
    assert store.take_back(space, 70, 5) == {"clap": 1}
    # Someone else's take of the same item (another request) is not its own.
    assert store.take_back(space, 70, 5) is None
    assert store.seal(space, range(70, 71)) == []  # a publisher leaves it out
