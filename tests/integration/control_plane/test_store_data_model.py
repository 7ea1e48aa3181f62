"""The data model without hot keys (issue 9), one contract on both stores: hands and blocks as their
own records, limits under concurrency, counts that lose nothing, discovery across index shards,
and records written before issue 9 (tests/fixtures/store_v1, captured from the old store)."""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from functions.domain import lifecycle, stage
from functions.domain.errors import Conflict, Forbidden
from functions.domain.model import Limits, Role, SpaceState
from functions.store.base import SpaceStore
from functions.store.dynamodb import DISCOVERY_SHARDS, LISTENER_SHARDS, DynamoStore, SharedReads
from functions.store.sqlite import SqliteStore

from .test_store_contract import T0, live, make_space

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "store_v1"
OLD_LIVE, OLD_SCHEDULED, OLD_ENDED = (f"{'0' * 31}{i}" for i in (1, 2, 3))
LIMITS = Limits()


def raise_hand(store: SpaceStore, space_id: str, user: str, limits: Limits = LIMITS) -> None:
    store.update(space_id, lambda s: stage.raise_hand(s, user=user, limits=limits))


def test_hands_keep_their_order_and_never_touch_the_space_version(store: SpaceStore) -> None:
    space = live(store, make_space())
    for user in ("a", "b", "c"):
        raise_hand(store, space.id, user)
    got = store.require(space.id)
    assert got.raised_hands == ("a", "b", "c")
    assert got.version == space.version  # the Space record was not written
    store.update(space.id, lambda s: stage.lower_hand(s, user="a"))
    promoted = store.update(
        space.id,
        lambda s: stage.change_role(s, actor="host", target="b", role=Role.SPEAKER, limits=LIMITS, now=T0),
    ).after
    assert promoted.version == space.version + 1
    assert store.require(space.id).raised_hands == ("c",)
    assert store.require(space.id).speakers == ("b",)
    # A hand raised again goes to the back of the queue.
    raise_hand(store, space.id, "a")
    assert store.require(space.id).raised_hands == ("c", "a")
    ended = store.update(space.id, lambda s: lifecycle.end(s, actor="host", now=T0)).after
    assert ended.raised_hands == () and store.require(space.id).raised_hands == ()


def test_blocks_are_per_user_records_and_the_member_view_reads_only_one(store: SpaceStore) -> None:
    space = live(store, make_space())
    raise_hand(store, space.id, "troll")
    raise_hand(store, space.id, "fan")
    store.update(space.id, lambda s: stage.remove(s, actor="host", target="troll", block=True, limits=LIMITS))
    full = store.require(space.id)
    assert full.blocked == ("troll",) and full.raised_hands == ("fan",)
    troll = store.require(space.id, member="troll")
    assert troll.blocked == ("troll",) and troll.raised_hands == ()
    fan = store.require(space.id, member="fan")
    assert fan.blocked == () and fan.raised_hands == ("fan",)
    assert fan.title == full.title and fan.version == full.version
    with pytest.raises(Conflict):
        store.update(
            space.id,
            lambda s: stage.change_role(
                s, actor="host", target="troll", role=Role.SPEAKER, limits=LIMITS, now=T0
            ),
        )


def test_the_block_limit_holds(store: SpaceStore) -> None:
    space = live(store, make_space())
    limits = Limits(max_blocked=2)
    for user in ("x", "y"):
        store.update(space.id, partial(stage.remove, actor="host", target=user, block=True, limits=limits))
    with pytest.raises(Conflict) as err:
        store.update(space.id, lambda s: stage.remove(s, actor="host", target="z", block=True, limits=limits))
    assert err.value.rule == "block_list_full"


def test_parallel_hand_raises_respect_the_limit(store: SpaceStore) -> None:
    """30 listeners raise at once into a queue of 7: exactly 7 hands, every refusal names the rule."""
    space = live(store, make_space())
    limits = Limits(max_raised_hands=7)
    store.hand_cap = limits.max_raised_hands  # as open_store sets it from the settings

    def attempt(user: str) -> bool:
        try:
            raise_hand(store, space.id, user, limits)
            return True
        except Conflict as exc:
            assert exc.rule == "hand_queue_full"
            return False

    users = [f"u{i}" for i in range(30)]
    with ThreadPoolExecutor(max_workers=15) as pool:
        won = list(pool.map(attempt, users))
    hands = store.require(space.id).raised_hands
    assert sum(won) == 7 and len(hands) == 7
    assert set(hands) == {u for u, ok in zip(users, won, strict=True) if ok}
    # What a raise reads before the whole Space to refuse a full queue (usecases/stage.py).
    assert store.queued_hands(space.id) == 7 and store.queued_hands("0" * 32) == 0


def test_a_hand_raised_while_its_owner_is_promoted_is_not_left_behind(store: SpaceStore) -> None:
    """Promotion and raising race for one user: whichever wins, a speaker never holds a hand."""
    for _ in range(4):
        space = live(store, make_space())
        with ThreadPoolExecutor(max_workers=2) as pool:
            raised = pool.submit(_try, partial(raise_hand, store, space.id, "bob"))
            promote = partial(
                stage.change_role, actor="host", target="bob", role=Role.SPEAKER, limits=LIMITS, now=T0
            )
            promoted = pool.submit(store.update, space.id, promote)
            raised.result(), promoted.result()
        final = store.require(space.id)
        assert final.speakers == ("bob",) and final.raised_hands == ()


def _try(action: Any) -> bool:
    try:
        action()
        return True
    except Conflict:
        return False


def test_parallel_joins_lose_no_count_and_duplicates_count_once(store: SpaceStore) -> None:
    space = live(store, make_space())
    events = [f"join-{i}" for i in range(300)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        first = list(pool.map(lambda e: store.adjust_listeners(space.id, 1, event_id=e), events))
        again = list(pool.map(lambda e: store.adjust_listeners(space.id, 1, event_id=e), events[:50]))
        left = list(
            pool.map(lambda i: store.adjust_listeners(space.id, -1, event_id=f"leave-{i}"), range(40))
        )
    assert all(first) and not any(again) and all(left)
    got = store.require(space.id)
    assert got.listener_count == 260
    assert store.require(space.id, member="someone").listener_count == 260
    assert got.version == space.version
    assert [s.listener_count for s in store.list(SpaceState.LIVE, limit=10).items if s.id == space.id] == [
        260
    ]


def test_discovery_pages_across_shards_in_order_with_every_space_once(store: SpaceStore) -> None:
    started = [live(store, make_space(title=f"l{i}"), at=T0 + timedelta(minutes=i)) for i in range(17)]
    for limit in (1, 4, 5, 20):
        seen: list[str] = []
        cursor = None
        for _ in range(40):
            page = store.list(SpaceState.LIVE, limit=limit, cursor=cursor)
            assert len(page.items) <= limit
            seen += [s.id for s in page.items]
            cursor = page.cursor
            if cursor is None:
                break
        assert seen == [s.id for s in reversed(started)], limit
    # Listed Spaces leave their hands out (GET /spaces/{id} has them).
    raise_hand(store, started[0].id, "a")
    listed = {s.id: s for s in store.list(SpaceState.LIVE, limit=100).items}
    assert listed[started[0].id].raised_hands == ()


def test_ended_spaces_list_by_end_time_newest_first(store: SpaceStore) -> None:
    spaces = [live(store, make_space(title=f"e{i}")) for i in range(6)]
    # End them in a shuffled order; the listing follows the end time, not the start.
    for n, i in enumerate((3, 0, 5, 1, 4, 2)):
        store.update(
            spaces[i].id, partial(lifecycle.end, actor="host", now=T0 + timedelta(hours=1, minutes=n))
        )
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = store.list(SpaceState.ENDED, limit=4, cursor=cursor)
        seen += [s.id for s in page.items]
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == [spaces[i].id for i in (2, 4, 1, 5, 0, 3)]
    assert store.list(SpaceState.LIVE, limit=10).items == []


# --- records written before issue 9 --------------------------------------------------------------


def load_old_records(store: SpaceStore) -> None:
    """Put the captured items into the store byte for byte, as an old deployment left them."""
    if isinstance(store, DynamoStore):
        for item in json.loads((FIXTURES / "dynamodb_items.json").read_text()):
            store.client.put_item(TableName=store.table, Item=item)
        return
    assert isinstance(store, SqliteStore)
    db = sqlite3.connect(store.path)
    with db:
        for row in json.loads((FIXTURES / "sqlite_rows.json").read_text()):
            db.execute(
                "INSERT INTO spaces (id, record, state, discovery_key, version, listener_count)"
                " VALUES (:id, :record, :state, :discovery_key, :version, :listener_count)",
                row,
            )
    db.close()


def test_old_format_records_read_as_they_were_written(store: SpaceStore) -> None:
    load_old_records(store)
    space = store.require(OLD_LIVE)
    assert space.title == "Old live Space" and space.host == "hanna" and space.state is SpaceState.LIVE
    assert space.cohosts == ("carl",) and space.speakers == ("omar",) and space.pinned == "omar"
    assert space.raised_hands == ("lena", "pia") and space.blocked == ("troll1", "troll2")
    assert space.listener_count == 4 and space.version == 9
    assert space.started_at == T0 + timedelta(minutes=5)
    assert store.require(OLD_LIVE, member="troll2").blocked == ("troll2",)
    assert store.require(OLD_LIVE, member="pia").raised_hands == ("pia",)
    assert store.require(OLD_LIVE, member="nobody").blocked == ()
    assert [s.id for s in store.list(SpaceState.LIVE, limit=10).items] == [OLD_LIVE]
    assert [s.listener_count for s in store.list(SpaceState.LIVE, limit=10).items] == [4]
    assert [s.id for s in store.list(SpaceState.SCHEDULED, limit=10).items] == [OLD_SCHEDULED]
    ended = store.require(OLD_ENDED)
    assert ended.state is SpaceState.ENDED and ended.ended_at == T0 + timedelta(minutes=30)
    assert [s.id for s in store.list(SpaceState.ENDED, limit=10).items] == [OLD_ENDED]


def test_old_format_records_take_new_changes_without_a_migration(store: SpaceStore) -> None:
    load_old_records(store)
    raise_hand(store, OLD_LIVE, "quinn")
    assert store.require(OLD_LIVE).raised_hands == ("lena", "pia", "quinn")
    store.update(
        OLD_LIVE,
        lambda s: stage.change_role(s, actor="hanna", target="pia", role=Role.SPEAKER, limits=LIMITS, now=T0),
    )
    store.update(
        OLD_LIVE, lambda s: stage.remove(s, actor="hanna", target="troll3", block=True, limits=LIMITS)
    )
    assert store.adjust_listeners(OLD_LIVE, 1, event_id="new-join")
    space = store.require(OLD_LIVE)
    assert space.raised_hands == ("lena", "quinn") and space.speakers == ("omar", "pia")
    assert set(space.blocked) == {"troll1", "troll2", "troll3"}
    assert space.listener_count == 5
    assert store.require(OLD_LIVE, member="troll1").blocked == ("troll1",)
    # Limits count old and new members together.
    with pytest.raises(Conflict):
        raise_hand(store, OLD_LIVE, "rex", Limits(max_raised_hands=2))
    # Still discoverable, once, after its record was rewritten (it moves to a sharded partition).
    assert [s.id for s in store.list(SpaceState.LIVE, limit=10).items] == [OLD_LIVE]
    ended = store.update(
        OLD_LIVE, lambda s: lifecycle.end(s, actor="hanna", now=T0 + timedelta(hours=2))
    ).after
    assert ended.raised_hands == () and store.require(OLD_LIVE).blocked == space.blocked
    assert [s.id for s in store.list(SpaceState.ENDED, limit=10).items] == [OLD_LIVE, OLD_ENDED]
    assert store.list(SpaceState.LIVE, limit=10).items == []


# --- DynamoDB: which items a join, a hand and discovery really touch ------------------------------


@pytest.fixture
def dynamo(request: pytest.FixtureRequest, tmp_path: Path) -> DynamoStore:
    from .conftest import open_test_store

    store = open_test_store("dynamodb", tmp_path=tmp_path, request=request)
    assert isinstance(store, DynamoStore)
    return store


def scan(store: DynamoStore, **extra: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": store.table, "ConsistentRead": True, **extra}
    if "IndexName" in extra:
        del kwargs["ConsistentRead"]
    while True:
        result = store.client.scan(**kwargs)
        items += result["Items"]
        if "LastEvaluatedKey" not in result:
            return items
        kwargs["ExclusiveStartKey"] = result["LastEvaluatedKey"]


def test_dynamodb_joins_never_write_the_space_item_and_spread_over_shards(dynamo: DynamoStore) -> None:
    space = live(dynamo, make_space())
    meta_before = dynamo.client.get_item(
        TableName=dynamo.table, Key={"pk": {"S": f"SPACE#{space.id}"}, "sk": {"S": "META"}}
    )
    for i in range(400):
        dynamo.adjust_listeners(space.id, 1, event_id=f"ev-{i}")
    meta_after = dynamo.client.get_item(
        TableName=dynamo.table, Key={"pk": {"S": f"SPACE#{space.id}"}, "sk": {"S": "META"}}
    )
    assert meta_after["Item"] == meta_before["Item"]
    shards = [i for i in scan(dynamo) if i["pk"]["S"].startswith(f"SPACE#{space.id}#LISTENERS#")]
    counts = sorted(int(i["n"]["N"]) for i in shards)
    # Each shard its own partition key, all of them used, none far above the mean (400/16 = 25).
    assert len({i["pk"]["S"] for i in shards}) == LISTENER_SHARDS
    assert sum(counts) == 400 and counts[0] > 0 and counts[-1] < 3 * 400 / LISTENER_SHARDS


def test_dynamodb_index_is_sparse_and_sharded(dynamo: DynamoStore) -> None:
    spaces = [live(dynamo, make_space(title=f"s{i}")) for i in range(12)]
    raise_hand(dynamo, spaces[0].id, "a")
    dynamo.update(
        spaces[0].id, lambda s: stage.remove(s, actor="host", target="b", block=True, limits=LIMITS)
    )
    dynamo.adjust_listeners(spaces[0].id, 1, event_id="e1")
    indexed = scan(dynamo, IndexName="gsi1")
    # Only Space records are indexed: no hand, block, count or shard items.
    assert sorted(i["sk"]["S"] for i in indexed) == ["META"] * 12
    partitions = {i["gsi1pk"]["S"] for i in indexed}
    assert partitions <= {f"STATE#live#{k}" for k in range(DISCOVERY_SHARDS)} and len(partitions) > 1
    # A hand, a block and a count are their own items, under the Space's partition or a shard's.
    sks = {i["sk"]["S"] for i in scan(dynamo) if i["pk"]["S"] == f"SPACE#{spaces[0].id}"}
    assert {"META", "HAND#a", "BLOCK#b", "COUNT#HANDS", "COUNT#BLOCKS"} <= sks


def test_dynamodb_hands_kept_in_an_old_record_count_towards_the_queue_under_concurrency(
    dynamo: DynamoStore,
) -> None:
    """A version-1 record keeps 2 hands on META, outside the count item: parallel raises into a
    queue of 4 add 2 more, not 4 (the count's condition leaves room for the hands kept there)."""
    load_old_records(dynamo)
    limits = Limits(max_raised_hands=4)
    dynamo.hand_cap = limits.max_raised_hands
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda u: _try(partial(raise_hand, dynamo, OLD_LIVE, u, limits)), [f"n{i}" for i in range(8)]
            )
        )
    hands = dynamo.require(OLD_LIVE).raised_hands
    assert len(hands) == 4 and {"lena", "pia"} <= set(hands)


def test_dynamodb_keeps_an_old_record_at_version_1_while_it_holds_members(dynamo: DynamoStore) -> None:
    load_old_records(dynamo)
    key = {"pk": {"S": f"SPACE#{OLD_LIVE}"}, "sk": {"S": "META"}}
    dynamo.update(OLD_LIVE, lambda s: s.replace(title="renamed"))
    item = dynamo.client.get_item(TableName=dynamo.table, Key=key, ConsistentRead=True)["Item"]
    # Members still inside: the record stays version 1 and keeps them.
    assert item["schema_version"]["N"] == "1" and len(item["raised_hands"]["L"]) == 2
    assert item["gsi1pk"]["S"].startswith("STATE#live#")
    for user in ("lena", "pia"):
        dynamo.update(OLD_LIVE, partial(stage.lower_hand, user=user))
    ended = dynamo.update(
        OLD_LIVE, lambda s: lifecycle.end(s, actor="hanna", now=datetime(2026, 11, 21, tzinfo=UTC))
    )
    assert ended.after.blocked == ("troll1", "troll2")
    item = dynamo.client.get_item(TableName=dynamo.table, Key=key, ConsistentRead=True)["Item"]
    assert item["raised_hands"]["L"] == [] and item["schema_version"]["N"] == "1"
    assert dynamo.require(OLD_LIVE).blocked == ("troll1", "troll2")


def test_dynamodb_member_reads_share_the_spaces_items_for_a_second_never_a_members_own(
    dynamo: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener's page and a reaction read a Space eventually consistent; one process keeps what
    all of them share (META, the count shards, the HLS estimate) for a second, so a join storm's
    reads stop landing on single items. Each member's own marker (hand and block) is always read."""
    now = [0.0]
    dynamo.shared = SharedReads(clock=lambda: now[0])
    space = live(dynamo, make_space())
    keys_read: list[int] = []
    batch_get = dynamo.client.batch_get_item

    def counting(**kwargs: Any) -> Any:
        keys_read.append(sum(len(r["Keys"]) for r in kwargs["RequestItems"].values()))
        return batch_get(**kwargs)

    monkeypatch.setattr(dynamo.client, "batch_get_item", counting)
    everything = 2 + LISTENER_SHARDS + 1  # META, the member's marker; the shards, the HLS estimate

    first = dynamo.require(space.id, member="a", consistent=False)
    assert sum(keys_read) == everything
    keys_read.clear()
    second = dynamo.require(space.id, member="b", consistent=False)
    assert keys_read == [1]  # b's marker only
    assert (second.title, second.version, second.state) == (first.title, first.version, SpaceState.LIVE)

    # Another process blocks b and raises c's hand: within the second, both show at once.
    other = DynamoStore(dynamo.table, client=dynamo.client)
    other.update(space.id, lambda s: stage.remove(s, actor="host", target="b", block=True, limits=LIMITS))
    raise_hand(other, space.id, "c")
    assert dynamo.require(space.id, member="b", consistent=False).blocked == ("b",)
    assert dynamo.require(space.id, member="c", consistent=False).raised_hands == ("c",)

    # Strongly consistent reads never use it.
    keys_read.clear()
    dynamo.require(space.id, member="d")
    assert sum(keys_read) == everything

    # A write through this process is seen by its next read; past the second, everything is read.
    dynamo.update(space.id, lambda s: lifecycle.end(s, actor="host", now=T0))
    keys_read.clear()
    assert dynamo.require(space.id, member="a", consistent=False).state is SpaceState.ENDED
    assert sum(keys_read) == everything
    keys_read.clear()
    now[0] += 1.01
    dynamo.require(space.id, member="a", consistent=False)
    assert sum(keys_read) == everything


def test_a_host_starts_at_most_the_quota_of_live_spaces_even_all_at_once(store: SpaceStore) -> None:
    """The count of live Spaces per host moves in the same transaction as the start, the end and a
    live hand-over: twelve starts at once by one host make exactly two live Spaces."""
    store.live_quota = 2
    host = f"quota-{uuid.uuid4().hex[:8]}"
    spaces = [make_space(host) for _ in range(12)]
    for space in spaces:
        store.create(space)

    def start(space_id: str) -> bool:
        try:
            store.update(space_id, lambda s: lifecycle.start(s, actor=host, now=T0))
            return True
        except Conflict as exc:
            assert exc.rule == "too_many_live_spaces", exc.rule
            return False

    with ThreadPoolExecutor(max_workers=12) as pool:
        started = list(pool.map(start, [s.id for s in spaces]))
    assert sum(started) == 2
    live_ids = [s.id for s, ok in zip(spaces, started, strict=True) if ok]
    waiting = [s.id for s, ok in zip(spaces, started, strict=True) if not ok]
    assert all(store.require(i).state is SpaceState.SCHEDULED for i in waiting)  # nothing changed
    # Someone else's quota is their own.
    assert live(store, make_space("someone-else")).state is SpaceState.LIVE
    # An end frees a place, whatever ends it.
    store.update(live_ids[0], lambda s: lifecycle.end(s, actor=host, now=T0))
    assert start(waiting[0])
    assert not start(waiting[1])
    store.update(live_ids[1], lambda s: lifecycle.room_closed(s, now=T0))
    assert start(waiting[1])
    # A live hand-over moves the Space to its new host's count, and respects their quota.
    successor = f"successor-{uuid.uuid4().hex[:8]}"
    store.update(waiting[0], lambda s: s.replace(host=successor))
    assert start(waiting[2])  # the host was down to one
    live(store, make_space(successor))  # the successor's second
    with pytest.raises(Conflict) as err:
        store.update(waiting[1], lambda s: s.replace(host=successor))
    assert err.value.rule == "too_many_live_spaces"
    assert store.require(waiting[1]).host == host  # nothing changed


# --- DynamoDB: a member's read stays off the Space's partition, but for META ---------------------


def own_view(store: DynamoStore, space_id: str, user: str, *, consistent: bool) -> tuple[Any, ...]:
    space = store.require(space_id, member=user, consistent=consistent)
    return space.raised_hands, space.blocked, space.names.get(user), space.pictures.get(user)


def seen_in_whole(store: DynamoStore, space_id: str, user: str) -> tuple[Any, ...]:
    whole = store.require(space_id)
    return (
        (user,) if user in whole.raised_hands else (),
        (user,) if user in whole.blocked else (),
        whole.names.get(user),
        whole.pictures.get(user),
    )


def test_dynamodb_a_members_read_touches_the_spaces_partition_at_meta_only(
    dynamo: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A join storm's token requests read the Space strongly consistent, one per join: its partition
    key must take META and nothing else, or 1,667 joins/s put ~5,000 RCU/s on one partition
    (docs/control-plane.md, "Reads"). The member's own hand and block come from their marker, a
    partition of its own, and say what the Space's hand and block items say after every change."""
    space = live(dynamo, make_space())
    pk = f"SPACE#{space.id}"
    read: list[tuple[str, str, bool]] = []
    batch_get = dynamo.client.batch_get_item

    def recording(**kwargs: Any) -> Any:
        for request in kwargs["RequestItems"].values():
            read.extend((k["pk"]["S"], k["sk"]["S"], request["ConsistentRead"]) for k in request["Keys"])
        return batch_get(**kwargs)

    monkeypatch.setattr(dynamo.client, "batch_get_item", recording)
    users = [f"u{k}" for k in range(6)]
    rng = random.Random(20261205)

    def named_raise(s: Any, user: str) -> Any:
        s = s.replace(
            names={**s.names, user: f"Name {user}"}, pictures={**s.pictures, user: f"https://p/{user}"}
        )
        return stage.raise_hand(s, user=user, limits=LIMITS)

    def raise_(s: Any, user: str) -> Any:
        return stage.raise_hand(s, user=user, limits=LIMITS)

    def lower(s: Any, user: str) -> Any:
        return stage.lower_hand(s, user=user)

    def block(s: Any, user: str) -> Any:
        return stage.remove(s, actor="host", target=user, block=True, limits=LIMITS)

    def remove(s: Any, user: str) -> Any:
        return stage.remove(s, actor="host", target=user, block=False, limits=LIMITS)

    def unblock(s: Any, user: str) -> Any:
        return s.replace(blocked=tuple(b for b in s.blocked if b != user))

    def demote(s: Any, user: str) -> Any:
        return stage.change_role(s, actor="host", target=user, role=Role.LISTENER, limits=LIMITS, now=T0)

    def promote(s: Any, user: str) -> Any:
        return stage.change_role(s, actor="host", target=user, role=Role.SPEAKER, limits=LIMITS, now=T0)

    steps = [named_raise, raise_, lower, promote, demote, block, remove, unblock]
    for _ in range(40):
        step, user = rng.choice(steps), rng.choice(users)
        try:
            dynamo.update(space.id, partial(step, user=user))
        except (Conflict, Forbidden):
            pass  # a rule refused it (a blocked user's raise, a promotion of one): nothing changed
        for member in users:
            read.clear()
            for consistent in (True, False):
                assert own_view(dynamo, space.id, member, consistent=consistent) == seen_in_whole(
                    dynamo, space.id, member
                ), (step.__name__, user, member)
            # Whole reads query the partition; the member reads above touched it at META only.
            member_reads = [(p, s) for p, s, _ in read if p == pk]
            assert set(member_reads) <= {(pk, "META")}, member_reads
    whole = dynamo.require(space.id)
    assert whole.raised_hands and whole.blocked  # the walk went through both


def test_dynamodb_a_space_created_before_member_markers_reads_its_hand_and_block_items(
    dynamo: DynamoStore,
) -> None:
    """An old deployment's live Space has hand and block items but no markers and no
    `member_markers` on META: member reads stay on its items, and later changes never mark it."""
    space = live(dynamo, make_space())
    raise_hand(dynamo, space.id, "fan")
    dynamo.update(
        space.id, lambda s: stage.remove(s, actor="host", target="troll", block=True, limits=LIMITS)
    )
    meta = {"pk": {"S": f"SPACE#{space.id}"}, "sk": {"S": "META"}}
    # What the store wrote before markers: no flag, no marker items.
    dynamo.client.update_item(TableName=dynamo.table, Key=meta, UpdateExpression="REMOVE member_markers")
    for item in scan(dynamo):
        if item["pk"]["S"].startswith(f"SPACE#{space.id}#MEMBER#"):
            dynamo.client.delete_item(TableName=dynamo.table, Key={"pk": item["pk"], "sk": item["sk"]})
    dynamo.shared.clear()

    for consistent in (True, False):
        assert dynamo.require(space.id, member="fan", consistent=consistent).raised_hands == ("fan",)
        assert dynamo.require(space.id, member="troll", consistent=consistent).blocked == ("troll",)
        assert dynamo.require(space.id, member="nobody", consistent=consistent).blocked == ()
    dynamo.update(space.id, lambda s: s.replace(title="renamed"))
    raise_hand(dynamo, space.id, "late")
    dynamo.update(space.id, partial(stage.lower_hand, user="fan"))
    assert dynamo.require(space.id, member="late").raised_hands == ("late",)
    assert dynamo.require(space.id, member="fan").raised_hands == ()
    item = dynamo.client.get_item(TableName=dynamo.table, Key=meta, ConsistentRead=True)["Item"]
    assert "member_markers" not in item and item["title"]["S"] == "renamed"
    # A Space created now is marked.
    fresh = live(dynamo, make_space())
    fresh_meta = {"pk": {"S": f"SPACE#{fresh.id}"}, "sk": {"S": "META"}}
    assert dynamo.client.get_item(TableName=dynamo.table, Key=fresh_meta)["Item"]["member_markers"] == {
        "BOOL": True
    }
