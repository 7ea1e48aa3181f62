"""What a discovery page costs the store, per listed Space (an abuse/cost review found every listed
Space read its 16 listener shards and the HLS estimate, scheduled and ended ones included, whose
counts are zero or frozen). Measured on DynamoStore against a fake client that answers the index
queries and counts every item a BatchGetItem asks for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.domain import lifecycle
from functions.domain.model import Space, SpaceState, VideoPolicy
from functions.store.dynamodb import (
    DISCOVERY_CACHE_PAGES,
    DISCOVERY_CACHE_SECONDS,
    GSI1_PK,
    GSI1_SK,
    LISTENER_SHARDS,
    DynamoStore,
    TtlCache,
    _item,
)
from functions.store.sqlite import SqliteStore

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
PAGE = 10


class IndexClient:
    """A DynamoDB client holding META items: Query on the discovery index (key condition on the
    partition and at most one bound on the sort key) and BatchGetItem (counted; nothing stored but
    the META items, so every count reads as absent)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.keys_read = 0

    def query(self, **request: Any) -> dict[str, Any]:
        values = request["ExpressionAttributeValues"]
        found = [i for i in self.items if i.get(GSI1_PK, {}).get("S") == values[":p"]["S"]]
        condition = request["KeyConditionExpression"]
        if ":after" in values:
            after = values[":after"]["S"]
            found = [
                i for i in found if (i[GSI1_SK]["S"] < after if "<" in condition else i[GSI1_SK]["S"] > after)
            ]
        found.sort(key=lambda i: i[GSI1_SK]["S"], reverse=not request["ScanIndexForward"])
        limit = request["Limit"]
        answer: dict[str, Any] = {"Items": found[:limit]}
        if len(found) > limit:
            answer["LastEvaluatedKey"] = {"more": True}
        return answer

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        for table in RequestItems.values():
            self.keys_read += len(table["Keys"])
        return {"Responses": {}}


def spaces_in(state: SpaceState, n: int) -> list[Space]:
    out = []
    for k in range(n):
        space = lifecycle.new_space(
            space_id=uuid.uuid4().hex,
            title=f"s{k}",
            host=f"host{k}",
            video=VideoPolicy.OFF,
            now=NOW - timedelta(hours=2),
            scheduled_start=NOW + timedelta(hours=k + 1),
        )
        if state is not SpaceState.SCHEDULED:
            space = lifecycle.start(space, actor=space.host, now=NOW - timedelta(minutes=k + 1))
        if state is SpaceState.ENDED:
            space = lifecycle.end(space, actor=space.host, now=NOW - timedelta(seconds=k + 1))
        out.append(space)
    return out


@pytest.mark.parametrize("state", [SpaceState.SCHEDULED, SpaceState.ENDED])
def test_listing_spaces_nobody_listens_to_reads_nothing_beyond_the_index(state: SpaceState) -> None:
    client = IndexClient([_item(s) for s in spaces_in(state, PAGE)])
    page = DynamoStore("spaces", client=client).list(state, limit=PAGE)
    assert len(page.items) == PAGE
    assert client.keys_read == 0, f"{client.keys_read / PAGE:.0f} count items read per listed {state} Space"
    assert all(s.listener_count == 0 and s.audience_count == 0 for s in page.items)


def test_listing_live_spaces_reads_each_ones_count_once() -> None:
    client = IndexClient([_item(s) for s in spaces_in(SpaceState.LIVE, PAGE)])
    page = DynamoStore("spaces", client=client).list(SpaceState.LIVE, limit=PAGE)
    assert len(page.items) == PAGE
    # The listener count's shards and the HLS estimate: what the lobby shows for a live Space.
    assert client.keys_read == PAGE * (LISTENER_SHARDS + 1)


def test_both_stores_list_an_ended_space_with_no_listeners(tmp_path: Any) -> None:
    ended = spaces_in(SpaceState.ENDED, 1)[0]
    store = SqliteStore(tmp_path / "s.sqlite3")
    store.create(spaces_in(SpaceState.SCHEDULED, 1)[0].replace(id=ended.id, host=ended.host))
    store.adjust_listeners(ended.id, 3)
    store.update(ended.id, lambda s: lifecycle.start(s, actor=s.host, now=NOW))
    store.update(ended.id, lambda s: lifecycle.end(s, actor=s.host, now=NOW + timedelta(minutes=1)))
    listed = store.list(SpaceState.ENDED, limit=5).items
    assert [s.id for s in listed] == [ended.id] and listed[0].listener_count == 0
    # Read by id, it still carries the count it ended with.
    assert store.require(ended.id).listener_count == 3


# --- scheduled Spaces long past their start leave discovery -----------------------------------


def scheduled_at(when: datetime, *, host: str = "h") -> Space:
    return lifecycle.new_space(
        space_id=uuid.uuid4().hex, title="t", host=host, video=VideoPolicy.OFF, now=NOW, scheduled_start=when
    )


def test_dynamodb_skips_scheduled_spaces_long_past_their_start_in_the_index_query() -> None:
    stale = [scheduled_at(datetime(1971, 1, 1, tzinfo=UTC)), scheduled_at(NOW - timedelta(hours=25))]
    due = [scheduled_at(NOW - timedelta(hours=23)), scheduled_at(NOW + timedelta(days=3))]
    store = DynamoStore("spaces", client=IndexClient([_item(s) for s in stale + due]))
    since = lifecycle.listed_since(NOW)
    assert [s.id for s in store.list(SpaceState.SCHEDULED, limit=10, since=since).items] == [
        s.id for s in due
    ]
    # A cursor from before the floor (an old page) continues from the floor, not from 1971.
    first = store.list(SpaceState.SCHEDULED, limit=1)
    assert first.items[0].id == stale[0].id and first.cursor is not None
    rest = store.list(SpaceState.SCHEDULED, limit=10, cursor=first.cursor, since=since).items
    assert [s.id for s in rest] == [s.id for s in due]


def test_since_bounds_only_lists_that_start_with_the_oldest() -> None:
    with pytest.raises(ValueError, match="newest first"):
        DynamoStore("spaces", client=IndexClient([])).list(SpaceState.LIVE, limit=1, since=NOW)


# --- public discovery pages are kept a few seconds per process ---------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingIndex(IndexClient):
    def __init__(self, items: list[dict[str, Any]]) -> None:
        super().__init__(items)
        self.queries = 0

    def query(self, **request: Any) -> dict[str, Any]:
        self.queries += 1
        return super().query(**request)

    def reads(self) -> tuple[int, int]:
        return self.queries, self.keys_read


def cached_store(client: IndexClient, clock: Clock) -> DynamoStore:
    store = DynamoStore("spaces", client=client)
    store.pages = TtlCache(seconds=DISCOVERY_CACHE_SECONDS, size=DISCOVERY_CACHE_PAGES, clock=clock)
    return store


def test_a_discovery_page_is_read_once_within_its_seconds_and_again_after() -> None:
    clock = Clock()
    spaces = spaces_in(SpaceState.LIVE, 3)
    client = CountingIndex([_item(s) for s in spaces[:2]])
    store = cached_store(client, clock)
    first = store.discover(SpaceState.LIVE, limit=PAGE)
    read = client.reads()
    assert read[0] > 0 and read[1] == 2 * (LISTENER_SHARDS + 1)
    client.items.append(_item(spaces[2]))  # started since, in another process
    clock.now += DISCOVERY_CACHE_SECONDS - 0.1
    assert store.discover(SpaceState.LIVE, limit=PAGE) == first
    assert client.reads() == read
    clock.now += 0.1
    assert {s.id for s in store.discover(SpaceState.LIVE, limit=PAGE).items} == {s.id for s in spaces}
    assert client.reads()[1] == read[1] + 3 * (LISTENER_SHARDS + 1)


def test_each_query_has_its_own_page() -> None:
    clock = Clock()
    client = CountingIndex(
        [_item(s) for state in SpaceState for s in spaces_in(state, 3) if state is not SpaceState.SCHEDULED]
    )
    store = cached_store(client, clock)
    first = store.discover(SpaceState.LIVE, limit=2)
    assert first.cursor is not None
    queries = [
        (SpaceState.ENDED, 2, None),
        (SpaceState.LIVE, 1, None),
        (SpaceState.LIVE, 2, first.cursor),
    ]
    for state, limit, cursor in queries:
        before = client.queries
        page = store.discover(state, limit=limit, cursor=cursor)
        assert client.queries > before, (state, limit, cursor)
        assert page == store.list(state, limit=limit, cursor=cursor)
    # ...and each of them is kept: asked again, nothing is read.
    before = client.reads()
    for state, limit, cursor in [(SpaceState.LIVE, 2, None), *queries]:
        store.discover(state, limit=limit, cursor=cursor)
    assert client.reads() == before


def test_what_must_be_current_never_reads_a_kept_page() -> None:
    clock = Clock()
    spaces = spaces_in(SpaceState.LIVE, 2)
    client = CountingIndex([_item(spaces[0])])
    store = cached_store(client, clock)
    store.discover(SpaceState.LIVE, limit=PAGE)
    client.items.append(_item(spaces[1]))
    # The reconciler's patrol lists through list(); a member's read of a Space is its own.
    assert {s.id for s in store.list(SpaceState.LIVE, limit=PAGE).items} == {s.id for s in spaces}
    assert len(store.discover(SpaceState.LIVE, limit=PAGE).items) == 1


def test_polls_of_the_scheduled_list_within_one_step_share_a_page() -> None:
    clock = Clock()
    due = [scheduled_at(NOW + timedelta(hours=1)), scheduled_at(NOW + timedelta(hours=2))]
    client = CountingIndex([_item(s) for s in due])
    store = cached_store(client, clock)
    step_start = datetime.fromtimestamp(
        NOW.timestamp() // DISCOVERY_CACHE_SECONDS * DISCOVERY_CACHE_SECONDS, UTC
    )
    first = store.discover(SpaceState.SCHEDULED, limit=PAGE, since=step_start)
    queries = client.queries
    later = step_start + timedelta(seconds=DISCOVERY_CACHE_SECONDS - 1)
    assert store.discover(SpaceState.SCHEDULED, limit=PAGE, since=later) == first
    assert client.queries == queries
    # The next step is another query.
    store.discover(
        SpaceState.SCHEDULED, limit=PAGE, since=step_start + timedelta(seconds=DISCOVERY_CACHE_SECONDS)
    )
    assert client.queries > queries


def test_the_kept_pages_are_bounded_expired_ones_first_then_the_oldest() -> None:
    clock = Clock()
    cache: TtlCache[int, str] = TtlCache(seconds=5, size=3, clock=clock)
    cache.put(0, "old")
    clock.now += 5
    for key in (1, 2, 3):  # 0 has expired: it goes first
        cache.put(key, f"v{key}")
    assert [cache.get(k) for k in range(4)] == [None, "v1", "v2", "v3"]
    cache.put(4, "v4")  # none expired: the oldest goes
    assert [cache.get(k) for k in range(5)] == [None, None, "v2", "v3", "v4"]
