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
from functions.store.dynamodb import GSI1_PK, GSI1_SK, LISTENER_SHARDS, DynamoStore, _item
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
