"""The HLS viewers' presence in both stores (SQLite, DynamoDB Local): one count per (user, window)
under concurrency, the estimate stored only forward, read with the Space beside (never into) the
exact WebRTC count, and on DynamoDB no counter item taking more than its share."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from functions.domain.model import SpaceState
from functions.domain.presence import HlsEstimate
from functions.store.base import SpaceStore

from .test_store_contract import live, make_space

WINDOW = 5_000_000
EXPIRES = time.time() + 3600


def test_each_user_counts_once_per_window_under_concurrency(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    users = [f"viewer-{n}" for n in range(60)]
    # Every heartbeat twice, at once (a retry racing the first attempt).
    with ThreadPoolExecutor(max_workers=12) as pool:
        counted = list(
            pool.map(lambda u: store.record_presence(space, u, WINDOW, expires_at=EXPIRES), users + users)
        )
    assert sum(counted) == len(users)
    assert store.presence_count(space, WINDOW) == len(users)
    # The next window counts afresh; other Spaces and windows are untouched.
    assert store.record_presence(space, users[0], WINDOW + 1, expires_at=EXPIRES)
    assert store.presence_count(space, WINDOW + 1) == 1
    assert store.presence_count(space, WINDOW - 1) == 0
    assert store.presence_count(uuid.uuid4().hex, WINDOW) == 0


def test_the_estimate_is_read_with_the_space_and_only_moves_forward(store: SpaceStore) -> None:
    space = live(store, make_space())
    assert store.require(space.id).hls is None
    assert store.adjust_listeners(space.id, 3, event_id=f"join-{space.id}")
    assert store.put_hls_estimate(space.id, HlsEstimate(window=WINDOW, viewers=1200))
    assert not store.put_hls_estimate(space.id, HlsEstimate(window=WINDOW - 1, viewers=5))
    assert not store.put_hls_estimate(space.id, HlsEstimate(window=WINDOW, viewers=7))
    for read in (store.require(space.id), store.require(space.id, member="someone")):
        assert read.hls == HlsEstimate(window=WINDOW, viewers=1200)
        # The exact WebRTC part is kept apart: it decides who gets WebRTC.
        assert read.listener_count == 3 and read.audience_count == 1203
    listed = {s.id: s for s in store.list(SpaceState.LIVE, limit=100).items}
    assert listed[space.id].audience_count == 1203
    assert store.put_hls_estimate(space.id, HlsEstimate(window=WINDOW + 1, viewers=0))
    assert store.require(space.id).audience_count == 3
    # Counts are no part of a change's condition: a write after the estimate still applies.
    after = store.update(space.id, lambda s: s.replace(title="renamed"))
    assert after.after.title == "renamed" and store.require(space.id).hls == HlsEstimate(WINDOW + 1, 0)


def test_dynamodb_spreads_a_window_over_its_shards(dynamodb: object) -> None:
    from functions.store.dynamodb import HLS_SHARDS, DynamoStore, hls_shard_key
    from tests.support.dynamodb_local import DynamoEndpoint

    from .conftest import fresh_dynamo_table

    assert isinstance(dynamodb, DynamoEndpoint)
    store = DynamoStore(fresh_dynamo_table(dynamodb), endpoint_url=dynamodb.url)
    space = uuid.uuid4().hex
    users = [f"viewer-{n}" for n in range(800)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        assert all(pool.map(lambda u: store.record_presence(space, u, WINDOW, expires_at=EXPIRES), users))
    per_shard = []
    for shard in range(HLS_SHARDS):
        item = store.client.get_item(TableName=store.table, Key=hls_shard_key(space, WINDOW, shard))["Item"]
        per_shard.append(int(item["n"]["N"]))
        assert int(item["ttl"]["N"]) == int(EXPIRES)  # deleted by TTL after the window is read
    assert sum(per_shard) == len(users)
    # Even: no shard takes more than twice its share of the window's writes.
    assert max(per_shard) <= 2 * len(users) / HLS_SHARDS
