"""DynamoDB: one table, key names from contract.names (the CDK state construct creates the same shape).

Items (docs/control-plane.md, "Data model"):
  pk=SPACE#<id>                  sk=META           the Space's own fields (title, roles, pin, state,
                                                   times, version, schema_version); the only item in
                                                   the discovery index: gsi1pk=STATE#<state>#<k>,
                                                   k in 0..DISCOVERY_SHARDS-1, gsi1sk=<time>#<id>
  pk=SPACE#<id>                  sk=HAND#<user>    one raised hand (`at`: when, orders the queue;
                                                   `name`, `picture`: the display name and avatar
                                                   it was raised with)
  pk=SPACE#<id>                  sk=BLOCK#<user>   one blocked user
  pk=SPACE#<id>#MEMBER#<user>    sk=MEMBER         the user's own hand and block in one item (`hand`:
                                                   its `at`, `hand_name`, `hand_picture`; `blocked`),
                                                   written in the same transactions as the two above:
                                                   what a member's read (a token, a page) reads, on a
                                                   partition of its own. Complete for Spaces whose
                                                   META has `member_markers` (created since)
  pk=SPACE#<id>                  sk=VIEWER#LATEST  the latest removals told to HLS viewers (`at`, `exp`:
                                                   tag -> epoch ms, expiry; `rev`; ttl;
                                                   domain/viewers.py): read by whole reads only
  pk=SPACE#<id>                  sk=COUNT#HANDS    number of HAND items (ADD by every hand/block
                                 sk=COUNT#BLOCKS   change, conditioned on the limit when it grows)
  pk=SPACE#<id>#LISTENERS#<k>    sk=COUNT          listener count shard k in 0..LISTENER_SHARDS-1 (ADD)
  pk=SPACE#<id>#AUDIENCE#<k>     sk=<name key>.<user>  one listener (name, picture, joined_at; ttl for
                                                   HLS viewers), k = crc32(user) % AUDIENCE_SHARDS;
                                                   also in the index as gsi1pk=LISTENER#<id>#<user>
                                                   (how a leave finds the entries of one user)
  pk=SPACE#<id>#HLS#<w>#<k>      sk=COUNT          HLS heartbeats counted in window w, shard k =
                                                   crc32(user) % HLS_SHARDS (ADD; expires through ttl)
  pk=SPACE#<id>#BEAT#<user>      sk=W#<w>          one counted heartbeat (user, window): the dedupe
                                                   marker written with the shard's ADD (ttl)
  pk=SPACE#<id>#HLSEST           sk=ESTIMATE       the reconciler's HLS estimate (window, viewers)
  pk=SPACE#<id>#SEATS#<bucket>   sk=COUNT          WebRTC seats taken during one 5 s bucket and not
                                                   released yet (domain/broadcast.py; ADD, ttl)
  pk=SPACE#<id>#SEATS            sk=U#<user>       the user's seat (`b`: its bucket, `c`: the claim
                                                   that put it; ttl)
  pk=SPACE#<id>#REMOVED#<user>   sk=REMOVED        the user's last removal without a block (`at`: when;
                                                   ttl; the rejoin check, domain/stage.py): a
                                                   partition per user, as every room join reads it
  pk=HOST#<user>                 sk=LIVE           live Spaces the user hosts (`n`, ADD: the start quota)
                                 sk=SCHEDULED      scheduled Spaces the user hosts (`ids`, a string
                                                   set: the scheduling quota)
  pk=EVENT#<webhook id>          sk=EVENT          webhook dedupe, expires through ttl
  pk=IDEMP#<owner>#<key>         sk=IDEMP          Idempotency-Key -> Space id, expires through ttl

Records written before issue 9 (schema_version absent = 1: hands, blocks and `listener_count` on
the META item, gsi1pk=STATE#<state>) read unchanged: their lists are merged with the per-user items,
their count is added to the shards, and discovery also reads the unsharded partition.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from contract import names

from ..domain import audience, reactions, viewers
from ..domain.audience import Listener, ListenerPage
from ..domain.broadcast import SEAT_BUCKET_SECONDS, SeatClaim
from ..domain.errors import Busy, Conflict
from ..domain.model import Space, SpaceState
from ..domain.presence import HlsEstimate
from ..domain.reactions import LimitState, RateLimit
from ..domain.stage import HAND_LIMIT
from .base import (
    BACKOFF_START,
    DEDUPE_TTL,
    DISCOVERY_SHARDS,
    END,
    MAX_ATTEMPTS,
    PAGE_LIMIT_MAX,
    START,
    IdempotencyKey,
    InvalidCursor,
    Page,
    Positions,
    Snapshot,
    SpaceStore,
    above_floor,
    discovery_key,
    epoch_ms,
    from_record,
    hosting_change,
    legacy_members,
    listed_without_counts,
    live_quota_reached,
    members_change,
    newest_first,
    parse_ts,
    scheduled_quota_reached,
    scheduling_change,
    to_record,
    ts,
)
from .failures import reasons_of, throttled
from .reactions import ReactionStore

PK, SK = names.TABLE_PK, names.TABLE_SK
GSI1, GSI1_PK, GSI1_SK = names.TABLE_GSI1, names.TABLE_GSI1_PK, names.TABLE_GSI1_SK
TTL = names.TABLE_TTL_ATTRIBUTE
META, EVENT, IDEMP = "META", "EVENT", "IDEMP"
HAND, BLOCK = "HAND#", "BLOCK#"
MEMBER = "MEMBER"
# On the META item of every Space created since member markers exist: its markers are complete, so
# a member's read needs no HAND#/BLOCK# item. Written by the create only (a Space created before
# them never gets it: its member reads stay on the hand and block items, which are as correct).
MARKED = "member_markers"
VIEWERS_LATEST = "VIEWER#LATEST"
HAND_COUNT, BLOCK_COUNT = "COUNT#HANDS", "COUNT#BLOCKS"
HLS_ESTIMATE = "ESTIMATE"
# A transaction that collides with another one on the same item is cancelled, not queued.
TRANSACTION_ATTEMPTS = 8
# Sends of one change's transaction while only collisions cancel it, before the change reads again
# (base.py's loop of MAX_ATTEMPTS reads): 3 x at most 20 ms keeps the worst case of a change that
# keeps colliding (64 x (3 sends + a read)) within seconds, far under the Lambda's 29 s.
COMMIT_SENDS = 3
# Listener count shards. A partition takes at most 1,000 WCU/s and a transactional write of a
# small item costs 2 WCU, so one counter item tops out at 500 counted webhooks/s. The design peak is
# 100,000 listeners joining one Space in 60 s (1,667 joins/s) while earlier ones leave at a similar
# rate: 16 shards put ~104 joins/s (+ ~104 leaves/s) on each, ~420 WCU/s, under half a partition
# and under the 300 writes/s per key goal with 3x headroom for uneven hashing and bursts. Reading
# costs one BatchGetItem of 16 keys. The shards need their own partition keys: items that share one
# (even with different sort keys) share that partition's 1,000 WCU/s.
LISTENER_SHARDS = 16
# Discovery index shards: base.DISCOVERY_SHARDS (the cursor has a slot per shard). Only META items
# are indexed, and META changes only on create, start, end, role, pin and title changes, so the
# index takes a few writes per Space-minute; 4 shards keep a flash crowd of Spaces starting at once
# (e.g. on the hour) under 4 x 1,000 index writes/s, while a discovery page costs 4 small queries
# (+1 for records written before issue 9).

# A BatchGetItem that DynamoDB answers in part returns the rest as UnprocessedKeys (what a throttled
# partition does instead of raising, and which the SDK does not retry). Asked again this many times
# in all, with full-jitter backoff from BATCH_GET_BACKOFF doubling up to BATCH_GET_BACKOFF_MAX
# (at most 0.31 s of waiting, ~0.16 s on average), then refused as the store's 503: a hot key is
# not hammered until the Lambda's timeout.
BATCH_GET_ATTEMPTS = 6
BATCH_GET_BACKOFF = 0.01
BATCH_GET_BACKOFF_MAX = 0.16

# Audience shards (docs/listeners.md). A join writes one entry (plus its copy in the index, which
# lands in a per-user index partition) and a leave deletes it. 16 shards, as many as the listener
# count has, so the audience adds no hotter key to a join storm: at the design peak of 1,667
# joins/s into one Space each shard takes ~104 writes/s (the count's shards take the same). A page
# reads the 16 shards in parallel (Limit = page size + 1 each) and merges them by key.
AUDIENCE_SHARDS = 16
AUDIENCE_READ_THREADS = 8
# HLS heartbeat shards per window (domain/presence.py). 100,000 HLS viewers, half of them sampled,
# send 50,000 heartbeats per 300 s window: 167/s spread evenly, 10/s per shard. The worst case is
# everyone starting to play within one minute, each sending its first heartbeat at a uniformly
# random moment of its first window (the web client's phase): still 167/s, and even if all
# 50,000 came within 60 s (833/s) each shard takes 52 transactions/s (~104 WCU/s): far under the
# 300 writes/s per key goal and a partition's 1,000 WCU/s. The markers are one item per (user,
# window): never hot. Reading a window costs one BatchGetItem of 16 keys, once per window.
HLS_SHARDS = 16

logger = logging.getLogger(__name__)
_ser = TypeSerializer()
_de = TypeDeserializer()


def space_key(space_id: str) -> dict[str, Any]:
    return {PK: {"S": f"SPACE#{space_id}"}, SK: {"S": META}}


def member_key(space_id: str, prefix: str, user: str) -> dict[str, Any]:
    return {PK: {"S": f"SPACE#{space_id}"}, SK: {"S": f"{prefix}{user}"}}


def member_marker_key(space_id: str, user: str) -> dict[str, Any]:
    # A partition per user: every join's token request reads one strongly consistent. Read from the
    # Space's partition (HAND#/BLOCK#), a join storm's 2 reads per join there came on top of META's
    # (~5,000 RCU/s on one partition key at 1,667 joins/s, against the 3,000 a partition serves).
    return {PK: {"S": f"SPACE#{space_id}#{MEMBER}#{user}"}, SK: {"S": MEMBER}}


def count_key(space_id: str, which: str) -> dict[str, Any]:
    return {PK: {"S": f"SPACE#{space_id}"}, SK: {"S": which}}


def listener_shard_key(space_id: str, shard: int) -> dict[str, Any]:
    return {PK: {"S": f"SPACE#{space_id}#LISTENERS#{shard}"}, SK: {"S": "COUNT"}}


def hls_shard_key(space_id: str, window: int, shard: int) -> dict[str, Any]:
    return {PK: {"S": f"SPACE#{space_id}#HLS#{window}#{shard}"}, SK: {"S": "COUNT"}}


def beat_key(space_id: str, user: str, window: int) -> dict[str, Any]:
    return {PK: {"S": f"SPACE#{space_id}#BEAT#{user}"}, SK: {"S": f"W#{window}"}}


def hls_estimate_key(space_id: str) -> dict[str, Any]:
    # Not sk=COUNT: the listener count sums every item with that sort key it reads beside it.
    return {PK: {"S": f"SPACE#{space_id}#HLSEST"}, SK: {"S": HLS_ESTIMATE}}


def seat_key(space_id: str, bucket: int) -> dict[str, Any]:
    # A partition per bucket: a burst's strongly consistent reads of the two live buckets and the
    # holders land on three partitions, each under a partition's 3,000 RCU/s at 1,667 requests/s.
    return {PK: {"S": f"SPACE#{space_id}#SEATS#{bucket}"}, SK: {"S": "COUNT"}}


def live_host_key(user: str) -> dict[str, Any]:
    """How many live Spaces `user` hosts (the start quota): a partition per person."""
    return {PK: {"S": f"HOST#{user}"}, SK: {"S": "LIVE"}}


def scheduled_host_key(user: str) -> dict[str, Any]:
    """The scheduled Spaces `user` hosts (the scheduling quota): a string set `ids`."""
    return {PK: {"S": f"HOST#{user}"}, SK: {"S": "SCHEDULED"}}


def seat_holder_key(space_id: str, user: str) -> dict[str, Any]:
    return {PK: {"S": f"SPACE#{space_id}#SEATS"}, SK: {"S": f"U#{user}"}}


def removal_key(space_id: str, user: str) -> dict[str, Any]:
    # A partition per user: each participant_joined webhook reads one (strongly consistent), and a
    # join burst of one room would otherwise meet at a single partition's 3,000 RCU/s.
    return {PK: {"S": f"SPACE#{space_id}#REMOVED#{user}"}, SK: {"S": "REMOVED"}}


def audience_partition(space_id: str, shard: int) -> str:
    return f"SPACE#{space_id}#AUDIENCE#{shard}"


def audience_index_key(space_id: str, user_id: str) -> str:
    return f"LISTENER#{space_id}#{user_id}"


def shard_of(value: str, shards: int) -> int:
    """Stable across processes (Python's hash() is salted per process)."""
    return zlib.crc32(value.encode()) % shards


def discovery_partition(state: SpaceState, space_id: str) -> str:
    return f"STATE#{state.value}#{shard_of(space_id, DISCOVERY_SHARDS)}"


def discovery_partitions(state: SpaceState) -> list[str]:
    """The index partitions in cursor slot order: the shards, then the one records written before
    issue 9 use."""
    return [*(f"STATE#{state.value}#{k}" for k in range(DISCOVERY_SHARDS)), f"STATE#{state.value}"]


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):  # noqa: UP046 - 3.11 has no type parameter lists
    """Values kept per process for `seconds` after they were put, at most `size` of them (the
    expired ones go first, then the oldest)."""

    def __init__(self, *, seconds: float, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.size = size
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry[0] <= self._clock():
                return None
            return entry[1]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            now = self._clock()
            self._items.pop(key, None)  # re-put: the newest again
            if len(self._items) >= self.size:
                self._items = {k: v for k, v in self._items.items() if v[0] > now}
                if len(self._items) >= self.size:
                    self._items.pop(next(iter(self._items)))
            self._items[key] = (now + self.seconds, value)

    def forget(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# What every member's eventually consistent read of a Space (a listener's page, a reaction) shares:
# META, the listener count shards and the HLS estimate. Read on every such request they put the
# whole audience's read rate on single items (a partition serves 3,000 RCU/s; docs/control-plane.md,
# "Reads"), so each process keeps them this long. Such a read is then at most this plus DynamoDB's own
# replication lag (about a second) old; a member's own marker (hand and block) is always read, so a
# block still holds at once, and strongly consistent reads (tokens, webhooks, writes) never use it.
SHARED_READ_SECONDS = 1.0
# Spaces whose shared items a process keeps at most (one Lambda instance serves few at a time).
SHARED_READ_SPACES = 256


class SharedReads(TtlCache[str, dict[tuple[str, str], dict[str, Any]]]):
    """The shared items of recently read Spaces (by Space id), per process, for SHARED_READ_SECONDS."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(seconds=SHARED_READ_SECONDS, size=SHARED_READ_SPACES, clock=clock)


# A public discovery page (GET /spaces: the lobby polls it every 30 s per open tab) reads 4-5 index
# queries plus 17 count items per listed live Space (one BatchGetItem per 5 Spaces). Each process
# keeps a page this long, keyed by the whole query (state, limit, cursor, the scheduled list's
# `since` floored to this many seconds so that concurrent polls ask the same), so a page is at most
# this plus the index's own lag (about a second) old. Nothing about the caller is in a page (their
# view of each Space is applied after it, in the API's presenter), and the reconciler's patrol
# lists through list(), never through this. A write by this process forgets every page.
DISCOVERY_CACHE_SECONDS = 5
# Pages a process keeps at most: 3 states x a few page sizes and cursors a lobby asks for.
DISCOVERY_CACHE_PAGES = 64
DiscoveryQuery = tuple[SpaceState, int, str | None, datetime | None]


def batch_get(
    client: Any, table: str, keys: list[dict[str, Any]], *, consistent: bool = True
) -> dict[tuple[str, str], dict[str, Any]]:
    """The items of `keys` by (pk, sk), 100 keys per BatchGetItem; missing ones are absent. Keys
    DynamoDB leaves unprocessed are asked again (BATCH_GET_ATTEMPTS), then the store's 503."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(keys), 100):
        pending: dict[str, Any] = {table: {"Keys": keys[start : start + 100], "ConsistentRead": consistent}}
        delay = BATCH_GET_BACKOFF
        for attempt in range(BATCH_GET_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, delay))
                delay = min(delay * 2, BATCH_GET_BACKOFF_MAX)
            result = client.batch_get_item(RequestItems=pending)
            for item in result["Responses"].get(table, []):
                found[(item[PK]["S"], item[SK]["S"])] = item
            pending = result.get("UnprocessedKeys") or {}
            if not pending:
                break
        else:
            raise throttled()
    return found


class DynamoStore(SpaceStore):
    def __init__(self, table_name: str, *, endpoint_url: str | None = None, client: Any = None) -> None:
        self.table = table_name
        self.shared = SharedReads()
        self.pages: TtlCache[DiscoveryQuery, Page] = TtlCache(
            seconds=DISCOVERY_CACHE_SECONDS, size=DISCOVERY_CACHE_PAGES
        )
        self.client: Any = client or boto3.client(
            "dynamodb",
            endpoint_url=endpoint_url,
            # Fail fast: a Lambda has seconds, and the caller retries a 5xx anyway.
            config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}),
        )

    # --- reads --------------------------------------------------------------------------------
    def get(self, space_id: str, *, member: str | None = None, consistent: bool = True) -> Space | None:
        if member is None:
            read = self._read(space_id)
            return None if read is None else read.space
        pk = f"SPACE#{space_id}"
        shared = None if consistent else self.shared.get(space_id)
        if shared is not None:
            meta = shared[(pk, META)]
            items = {**self._batch_get(own_keys(space_id, member, meta), consistent=False), **shared}
        else:
            with ThreadPoolExecutor(max_workers=2) as pool:
                counts = pool.submit(self._counts, [space_id], consistent=consistent)
                items = self._batch_get(
                    [space_key(space_id), member_marker_key(space_id, member)], consistent=consistent
                )
                found = items.get((pk, META))
                if found is None:
                    return None
                meta = found
                if MARKED not in meta:  # created before member markers: the hand and block items
                    items.update(self._batch_get(own_keys(space_id, member, meta), consistent=consistent))
                shared_items = counts.result()
            items.update(shared_items)
            # Any read refreshes what the next eventually consistent ones share (a strongly
            # consistent one is the fresher).
            self.shared.put(space_id, {**shared_items, (pk, META): meta})
        record = _plain(meta)
        legacy_hands, legacy_blocked = legacy_members(record)
        own = own_membership(space_id, member, meta, items)
        return from_record(
            record,
            raised_hands=(member,) if own.hand or member in legacy_hands else (),
            blocked=(member,) if own.blocked or member in legacy_blocked else (),
            # The hand's name and avatar, as the whole read has them (SqliteStore alike).
            hand_names={member: own.name} if own.hand and own.name is not None else {},
            hand_pictures={member: own.picture} if own.hand and own.picture is not None else {},
            listener_count=_listeners(record, items.values()),
            hls=_hls(items.values()),
        )

    def get_own(self, space_id: str) -> Space | None:
        # One GetItem of META (1 RCU up to 4 KB; the stage's names and avatars, the only lists on it,
        # are bounded by the stage limits), whatever the number of hands and blocks.
        item = self.client.get_item(TableName=self.table, Key=space_key(space_id), ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else from_record(_plain(item))

    def queued_hands(self, space_id: str) -> int:
        # One GetItem of the count every hand change sets in its transaction (1 RCU).
        item = self.client.get_item(
            TableName=self.table, Key=count_key(space_id, HAND_COUNT), ConsistentRead=True
        ).get("Item")
        return 0 if item is None else int(item["n"]["N"])

    def _read(self, space_id: str) -> Snapshot | None:
        items = self._query_partition(f"SPACE#{space_id}")
        meta = next((i for i in items if i[SK]["S"] == META), None)
        if meta is None:
            return None
        record = _plain(meta)
        legacy_hands, legacy_blocked = legacy_members(record)
        hand_items = sorted(
            (int(i["at"]["N"]), i[SK]["S"][len(HAND) :]) for i in items if i[SK]["S"].startswith(HAND)
        )
        block_items = sorted(i[SK]["S"][len(BLOCK) :] for i in items if i[SK]["S"].startswith(BLOCK))
        counts = {i[SK]["S"]: int(i["n"]["N"]) for i in items if i[SK]["S"] in (HAND_COUNT, BLOCK_COUNT)}
        hands = tuple(u for u in legacy_hands) + tuple(u for _, u in hand_items if u not in legacy_hands)
        # A hand item carries the display name and avatar it was raised with (items from before
        # names or avatars: none).
        hand_names, hand_pictures = (
            {
                i[SK]["S"][len(HAND) :]: i[attribute]["S"]
                for i in items
                if i[SK]["S"].startswith(HAND) and "S" in i.get(attribute, {})
            }
            for attribute in ("name", "picture")
        )
        blocked = tuple(legacy_blocked) + tuple(u for u in block_items if u not in legacy_blocked)
        latest = next((i for i in items if i[SK]["S"] == VIEWERS_LATEST), None)
        removed_viewers = {t: e[0] for t, e in _viewer_entries(latest, now=time.time()).items()}
        shards = self._counts([space_id])
        space = from_record(
            record,
            raised_hands=hands,
            blocked=blocked,
            listener_count=_listeners(record, shards.values()),
            hand_names=hand_names,
            hand_pictures=hand_pictures,
            hls=_hls(shards.values()),
            removed_viewers=removed_viewers,
        )
        return Snapshot(
            space=space,
            legacy_hands=legacy_hands,
            legacy_blocked=legacy_blocked,
            hand_count=counts.get(HAND_COUNT),
            block_count=counts.get(BLOCK_COUNT),
            extra={"hand_items": {u for _, u in hand_items}, "block_items": set(block_items)},
        )

    def _query_partition(self, pk: str) -> list[dict[str, Any]]:
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": PK},
            "ExpressionAttributeValues": {":p": {"S": pk}},
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            result = self.client.query(**query)
            items += result["Items"]
            if "LastEvaluatedKey" not in result:
                return items
            query["ExclusiveStartKey"] = result["LastEvaluatedKey"]

    def _counts(
        self, space_ids: list[str], *, consistent: bool = False
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The listener count shards and the HLS estimate of these Spaces. Eventually consistent
        unless asked (a second old at worst, at half the cost) where the count is only shown; the
        token path asks for consistent ones, since the count decides the seats (docs/control-plane.md,
        "Reads")."""
        keys = [
            key
            for space_id in space_ids
            for key in (
                *(listener_shard_key(space_id, k) for k in range(LISTENER_SHARDS)),
                hls_estimate_key(space_id),
            )
        ]
        return self._batch_get(keys, consistent=consistent)

    def _batch_get(
        self, keys: list[dict[str, Any]], *, consistent: bool = True
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Items by (pk, sk); missing ones are absent. Consistent unless asked otherwise: a block
        takes effect at once."""
        return batch_get(self.client, self.table, keys, consistent=consistent)

    def discover(
        self, state: SpaceState, *, limit: int, cursor: str | None = None, since: datetime | None = None
    ) -> Page:
        """list(), kept DISCOVERY_CACHE_SECONDS per exact query (a floored `since` shows a scheduled
        Space that many seconds longer)."""
        if since is not None:
            step = DISCOVERY_CACHE_SECONDS
            since = datetime.fromtimestamp(since.timestamp() // step * step, UTC)
        query: DiscoveryQuery = (state, min(limit, PAGE_LIMIT_MAX), cursor, since)
        page = self.pages.get(query)
        if page is None:
            page = self.list(state, limit=limit, cursor=cursor, since=since)
            self.pages.put(query, page)
        return page

    def _page(
        self, state: SpaceState, *, limit: int, after: Positions | None, floor: str | None = None
    ) -> tuple[list[Space], Positions | None]:
        """Query every shard of the state's index partition, merge by discovery key. The cursor holds
        each shard's position: the last key taken from it, or END when it has nothing left."""
        partitions = discovery_partitions(state)
        desc = newest_first(state)
        positions = [START] * len(partitions) if after is None else list(after)
        live = [n for n, pos in enumerate(positions) if pos != END]
        with ThreadPoolExecutor(max_workers=len(live) or 1) as pool:
            results = list(
                pool.map(
                    lambda n: self._shard_page(partitions[n], above_floor(positions[n], floor), desc, limit),
                    live,
                )
            )
        candidates: list[tuple[str, int, dict[str, Any]]] = []
        complete: dict[int, bool] = {}
        for n, (items, complete[n]) in zip(live, results, strict=True):
            candidates += [(i[GSI1_SK]["S"], n, i) for i in items]
        candidates.sort(key=lambda c: c[0], reverse=desc)
        taken = candidates[:limit]
        for key, n, _ in taken:
            positions[n] = key
        for n in live:
            left_behind = any(c[1] == n for c in candidates[limit:])
            if complete[n] and not left_behind:
                positions[n] = END
        spaces = self._with_counts([i for _, _, i in taken])
        more = any(pos != END for pos in positions)
        return spaces, (tuple(positions) if more else None)

    def _shard_page(
        self, partition: str, position: str, desc: bool, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` items after `position`; True when the shard has nothing beyond them."""
        condition = "#p = :p"
        values: dict[str, Any] = {":p": {"S": partition}}
        if position != START:
            condition += " AND #s < :after" if desc else " AND #s > :after"
            values[":after"] = {"S": position}
        try:
            result = self.client.query(
                TableName=self.table,
                IndexName=GSI1,
                KeyConditionExpression=condition,
                ExpressionAttributeNames={"#p": GSI1_PK, **({"#s": GSI1_SK} if ":after" in values else {})},
                ExpressionAttributeValues=values,
                ScanIndexForward=not desc,
                Limit=limit,
            )
        except ClientError as exc:
            # Kept as a guard: every position the cursor pattern admits is a plain ASCII string
            # DynamoDB compares, so a refusal here would be a bad position that came from the client.
            if position != START and exc.response["Error"]["Code"] == "ValidationException":
                raise InvalidCursor("cursor is not one this API returned") from exc
            raise
        return result["Items"], "LastEvaluatedKey" not in result

    def _with_counts(self, metas: list[dict[str, Any]]) -> list[Space]:
        """Listed live Spaces carry their listener count (17 items each: one BatchGetItem per 5
        Spaces). Scheduled and ended ones read nothing beyond their index item: nobody listens to
        them (a scheduled Space has no room yet, an ended one no longer), so they list 0 listeners
        (listed_without_counts). No listed Space's hands or blocks are read (GET /spaces/{id} has them)."""
        live = [m["id"]["S"] for m in metas if m.get("state", {}).get("S") == SpaceState.LIVE.value]
        shards = self._counts(live) if live else {}
        spaces = []
        for meta in metas:
            record = _plain(meta)
            if record["id"] not in live:
                spaces.append(listed_without_counts(from_record(record)))
                continue
            mine = [v for (pk, _), v in shards.items() if pk.startswith(f"SPACE#{record['id']}#")]
            spaces.append(from_record(record, listener_count=_listeners(record, mine), hls=_hls(mine)))
        return spaces

    # --- writes -------------------------------------------------------------------------------
    def _insert(self, space: Space, idempotency: IdempotencyKey | None) -> Space:
        self.pages.clear()  # before the write: a page read while it is in flight may still miss it
        put = {
            "TableName": self.table,
            "Item": _item(space),
            "ConditionExpression": f"attribute_not_exists({PK})",
        }
        # The host's scheduled Spaces, in the same transaction (the quota holds under concurrency).
        schedule = self._schedule_updates(space.id, scheduling_change(None, space))
        if idempotency is None:
            actions = [{"Put": put}, *schedule]
            if len(actions) == 1:
                self.client.put_item(**put)
                return space
            # One host's concurrent creates meet at their scheduled-Spaces item, and DynamoDB cancels
            # a transaction that meets another in flight (TransactionConflict) instead of queueing it:
            # try again, as the keyed path and update() do; the quota's condition still decides.
            for _ in range(TRANSACTION_ATTEMPTS):
                try:
                    self.client.transact_write_items(TransactItems=actions)
                    return space
                except ClientError as exc:
                    if not _cancelled_by_conflict(exc):
                        self._raise_if_scheduled_quota(exc, actions)
                        raise
                time.sleep(random.uniform(0.005, 0.05))
            raise Busy(
                "too_much_contention", "too many concurrent creates by this host; nothing was changed, retry"
            )
        key = {PK: {"S": f"IDEMP#{idempotency.owner}#{idempotency.key}"}, SK: {"S": IDEMP}}
        # Concurrent creates with one key collide in the transaction (cancelled, not queued): retry,
        # and the retry sees the winner's key and replays its Space.
        for _ in range(TRANSACTION_ATTEMPTS):
            now = int(time.time())
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": {
                                    **key,
                                    "space_id": {"S": space.id},
                                    "fingerprint": {"S": idempotency.fingerprint},
                                    TTL: {"N": str(now + DEDUPE_TTL)},
                                },
                                # DynamoDB deletes expired items lazily (up to days later): an
                                # expired key is free again, as in SQLite (`expires > now`).
                                "ConditionExpression": f"attribute_not_exists({PK}) OR #ttl < :now",
                                "ExpressionAttributeNames": {"#ttl": TTL},
                                "ExpressionAttributeValues": {":now": {"N": str(now)}},
                            }
                        },
                        {"Put": put},
                        *schedule,
                    ]
                )
                return space
            except ClientError as exc:
                if _cancelled_by_condition(exc, index=0):
                    earlier = self._live_idempotency_item(key)
                    if earlier is not None:
                        if earlier["fingerprint"]["S"] != idempotency.fingerprint:
                            raise Conflict(
                                "idempotency_key_reused",
                                "this Idempotency-Key was used for a different request",
                            ) from exc
                        return self.require(earlier["space_id"]["S"])
                    # It expired between the write and the read: the key is free, try again.
                elif not _cancelled_by_conflict(exc):
                    self._raise_if_scheduled_quota(exc, [{}, {}, *schedule])
                    raise
            time.sleep(random.uniform(0.005, 0.05))
        raise Busy(
            "too_much_contention",
            "too many concurrent creates with this Idempotency-Key; nothing was changed, retry",
        )

    def _live_idempotency_item(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table, Key=key, ConsistentRead=True
        ).get("Item")
        if item is None or int(item[TTL]["N"]) < int(time.time()):
            return None
        return item

    def _commit(self, read: Snapshot, after: Space) -> Space | None:
        """One transaction: the META item (compare-and-set on `version` if its fields changed, else
        a condition check of it), the added/removed hand and block items, their counts (an ADD,
        conditioned on the store's cap when it grows), the member marker of each user whose items
        it writes, a check that every other user the change touches still has the hand/block items it
        read, the host's count of live Spaces (on a start or an end, conditioned on the quota) and the
        host's set of scheduled Spaces (conditioned on its size). Never touches the listener shards.
        None when the change lost to another writer (read again and retry)."""
        before = read.space
        sid = before.id
        change = members_change(before, after)
        ended = after.state is SpaceState.ENDED
        hand_items: set[str] = read.extra["hand_items"]
        block_items: set[str] = read.extra["block_items"]
        # Members kept inside a version-1 record leave it by rewriting it; new ones become items.
        legacy_hands = tuple(u for u in read.legacy_hands if u in after.raised_hands)
        legacy_blocked = tuple(u for u in read.legacy_blocked if u in after.blocked)
        legacy_changed = (legacy_hands, legacy_blocked) != (read.legacy_hands, read.legacy_blocked)
        if legacy_changed and after.version == before.version:
            after = after.replace(version=before.version + 1)

        actions: list[dict[str, Any]] = []
        written: set[str] = set()
        hand_at = time.time_ns()
        if after.version != before.version:
            actions.append({"Update": self._meta_update(after, before.version, legacy_hands, legacy_blocked)})
        else:
            actions.append(
                {"ConditionCheck": {**self._on(space_key(sid)), **_condition("#v = :v", before.version)}}
            )
        # An ended Space's queue is never read again: its hand items are left where they are.
        hands_written: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        if not ended:
            hands_written = self._member_writes(
                actions,
                written,
                sid,
                HAND,
                HAND_COUNT,
                read.hand_count,
                hand_items,
                # Hands a version-1 record keeps on META count towards the queue too.
                cap=self.hand_cap - len(legacy_hands),
                added=change.hands_added,
                removed=change.hands_removed,
                at=hand_at,
                names=after.names,
                pictures=after.pictures,
            )
        blocks_written = self._member_writes(
            actions,
            written,
            sid,
            BLOCK,
            BLOCK_COUNT,
            read.block_count,
            block_items,
            cap=self.block_cap - len(legacy_blocked),
            added=change.blocks_added,
            removed=change.blocks_removed,
        )
        actions += self._marker_updates(
            sid,
            hands=hands_written,
            blocks=blocks_written,
            at=hand_at,
            hand_names=after.names,
            hand_pictures=after.pictures,
        )
        # Every other user the change touches must still have the hand and block items it read (a
        # promotion must not pass a concurrent block). Not when the change ends the Space: nothing
        # about its members matters any more, and a check per hand it clears would take a Space with
        # 100 raised hands past DynamoDB's 100 actions a transaction, so it could never end.
        for user in () if ended else sorted(change.touched):
            for prefix, items in ((HAND, hand_items), (BLOCK, block_items)):
                if f"{prefix}{user}" in written:
                    continue
                exists = "attribute_exists(#pk)" if user in items else "attribute_not_exists(#pk)"
                actions.append(
                    {
                        "ConditionCheck": {
                            **self._on(member_key(sid, prefix, user)),
                            "ConditionExpression": exists,
                            "ExpressionAttributeNames": {"#pk": PK},
                        }
                    }
                )
        # The live-Space count of each host the change starts, ends or hands over, the quota
        # checked on the one it adds to (a start, the new host of a live hand-over).
        quota_checks: list[int] = []
        for host, delta in hosting_change(before, after).items():
            update: dict[str, Any] = {
                **self._on(live_host_key(host)),
                "UpdateExpression": "ADD #n :d",
                "ExpressionAttributeNames": {"#n": "n"},
                "ExpressionAttributeValues": {":d": {"N": str(delta)}},
            }
            if delta > 0 and self.live_quota is not None:
                update["ConditionExpression"] = "attribute_not_exists(#n) OR #n < :most"
                update["ExpressionAttributeValues"][":most"] = {"N": str(self.live_quota)}
                quota_checks.append(len(actions))
            actions.append({"Update": update})
        actions += self._schedule_updates(sid, scheduling_change(before, after))
        if len(actions) > 100:  # DynamoDB's transaction limit; no single rule gets near it
            raise Conflict("change_too_large", "this change touches too many records at once")
        try:
            self._transact_through_conflicts(actions)
        except ClientError as exc:
            if self.live_quota is not None and any(
                _cancelled_by_condition(exc, index=n) for n in quota_checks
            ):
                raise live_quota_reached(self.live_quota) from None
            self._raise_if_scheduled_quota(exc, actions)
            failed_condition = any(r.get("Code") == "ConditionalCheckFailed" for r in reasons_of(exc))
            if failed_condition or _cancelled_by_conflict(exc):
                return None
            raise
        # This process's next page reads go to DynamoDB again (eventually consistent: they see the
        # write within about a second, as any other process's do).
        self.shared.forget(sid)
        self.pages.clear()
        return after

    def _transact_through_conflicts(self, actions: list[dict[str, Any]]) -> None:
        """The transaction, sent again while DynamoDB cancels it only for colliding with another one
        in flight on the same items (the hand count in a raise storm): its conditions hold all
        that its read assumed, so a retry needs no new read (COMMIT_SENDS times; then the change
        reads again). Any other refusal raises at once."""
        for attempt in range(1, COMMIT_SENDS + 1):
            try:
                self.client.transact_write_items(TransactItems=actions)
                return
            except ClientError as exc:
                if attempt == COMMIT_SENDS or not _only_conflicts(exc):
                    raise
            time.sleep(random.uniform(0.005, 0.02))

    def _schedule_updates(self, space_id: str, change: dict[str, int]) -> list[dict[str, Any]]:
        """Add the Space to (or take it from) each host's set of scheduled Spaces; the quota is the
        condition on the set it joins. A Space scheduled before the sets existed is in none: taking
        it out changes nothing, so no count drifts."""
        updates = []
        for host, delta in change.items():
            update: dict[str, Any] = {
                **self._on(scheduled_host_key(host)),
                "UpdateExpression": f"{'ADD' if delta > 0 else 'DELETE'} #ids :id",
                "ExpressionAttributeNames": {"#ids": "ids"},
                "ExpressionAttributeValues": {":id": {"SS": [space_id]}},
            }
            if delta > 0 and self.scheduled_quota is not None:
                update["ConditionExpression"] = "attribute_not_exists(#ids) OR size(#ids) < :most"
                update["ExpressionAttributeValues"][":most"] = {"N": str(self.scheduled_quota)}
            updates.append({"Update": update})
        return updates

    def _raise_if_scheduled_quota(self, exc: ClientError, actions: list[dict[str, Any]]) -> None:
        """The quota's Conflict when the transaction was refused on a scheduled-Spaces set."""
        for n, action in enumerate(actions):
            update = action.get("Update", {})
            if "size(#ids)" not in update.get("ConditionExpression", ""):
                continue
            if _cancelled_by_condition(exc, index=n):
                assert self.scheduled_quota is not None  # the condition is only written with a quota
                held = self.client.get_item(TableName=self.table, Key=update["Key"], ConsistentRead=True)
                ids = held.get("Item", {}).get("ids", {}).get("SS", [])
                raise scheduled_quota_reached(self.scheduled_quota, ids) from None

    def _on(self, key: dict[str, Any]) -> dict[str, Any]:
        return {"TableName": self.table, "Key": key}

    def _meta_update(
        self, space: Space, expected: int, legacy_hands: tuple[str, ...], legacy_blocked: tuple[str, ...]
    ) -> dict[str, Any]:
        fields = _meta_attributes(space)
        removes: list[str] = []
        if legacy_hands or legacy_blocked:
            # Still a version-1 record: keep its remaining members (and its version marker).
            fields["schema_version"] = {"N": "1"}
            fields["raised_hands"] = _ser.serialize(list(legacy_hands))
            fields["blocked"] = _ser.serialize(list(legacy_blocked))
        else:
            removes = ["raised_hands", "blocked"]
        names_ = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        expression = "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        removed = {f"#r{i}": name for i, name in enumerate(removes)}
        if removed:
            expression += " REMOVE " + ", ".join(removed)
        return {
            **self._on(space_key(space.id)),
            "UpdateExpression": expression,
            "ConditionExpression": "#v = :expected",
            "ExpressionAttributeNames": {**names_, **removed, "#v": "version"},
            "ExpressionAttributeValues": {**values, ":expected": {"N": str(expected)}},
        }

    def _member_writes(
        self,
        actions: list[dict[str, Any]],
        written: set[str],
        sid: str,
        prefix: str,
        count_sk: str,
        count: int | None,
        items: set[str],
        *,
        cap: int,
        added: tuple[str, ...],
        removed: tuple[str, ...],
        at: int = 0,
        names: dict[str, str] | None = None,
        pictures: dict[str, str] | None = None,
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Appends the writes; returns the users whose items they add and delete."""
        removed = tuple(u for u in removed if u in items)  # the rest lived in a version-1 record
        if not added and not removed:
            return (), ()
        for user in added:
            item = {**member_key(sid, prefix, user), "user": {"S": user}, "at": {"N": str(at)}}
            if names and user in names:
                item["name"] = {"S": names[user]}
            if pictures and user in pictures:
                item["picture"] = {"S": pictures[user]}
            actions.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(#pk)",
                        "ExpressionAttributeNames": {"#pk": PK},
                    }
                }
            )
            written.add(f"{prefix}{user}")
        for user in removed:
            actions.append(
                {
                    "Delete": {
                        **self._on(member_key(sid, prefix, user)),
                        "ConditionExpression": "attribute_exists(#pk)",
                        "ExpressionAttributeNames": {"#pk": PK},
                    }
                }
            )
            written.add(f"{prefix}{user}")
        net = len(added) - len(removed)
        if count is None:
            # No count yet (a Space from before them): set it from the items read, if still absent.
            update: dict[str, Any] = {
                "UpdateExpression": "SET #n = :n",
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#n": "n", "#pk": PK},
                "ExpressionAttributeValues": {":n": {"N": str(len(items) + net)}},
            }
        else:
            # An increment, not a compare-and-set on the count as read: the conditional Put and
            # Delete above keep it exact, so concurrent raises (or blocks) commute instead of
            # failing each other one round at a time (every loser re-reading the whole Space: n
            # raises at once cost O(n^2) reads). The cap is the only condition a growing count needs.
            update = {
                "UpdateExpression": "ADD #n :d",
                "ExpressionAttributeNames": {"#n": "n"},
                "ExpressionAttributeValues": {":d": {"N": str(net)}},
            }
            if net > 0:
                update["ConditionExpression"] = "#n <= :room"
                update["ExpressionAttributeValues"][":room"] = {"N": str(cap - net)}
        actions.append({"Update": {**self._on(count_key(sid, count_sk)), **update}})
        return added, removed

    def _marker_updates(
        self,
        sid: str,
        *,
        hands: tuple[tuple[str, ...], tuple[str, ...]],
        blocks: tuple[tuple[str, ...], tuple[str, ...]],
        at: int,
        hand_names: dict[str, str],
        hand_pictures: dict[str, str],
    ) -> list[dict[str, Any]]:
        """One update per user whose hand or block items this change writes: their marker says the
        same (a transaction may touch an item once, so a removal with block is one update). `hands`,
        `blocks`: the users whose items it adds and deletes (_member_writes)."""
        (hands_added, hands_removed), (blocks_added, blocks_removed) = hands, blocks
        sets: dict[str, dict[str, dict[str, Any]]] = {}
        removes: dict[str, set[str]] = {}
        for user in hands_added:
            sets.setdefault(user, {})["hand"] = {"N": str(at)}
            for attribute, given in (("hand_name", hand_names), ("hand_picture", hand_pictures)):
                if user in given:
                    sets[user][attribute] = {"S": given[user]}
                else:
                    removes.setdefault(user, set()).add(attribute)
        for user in hands_removed:
            removes.setdefault(user, set()).update(("hand", "hand_name", "hand_picture"))
        for user in blocks_added:
            sets.setdefault(user, {})["blocked"] = {"BOOL": True}
        for user in blocks_removed:
            removes.setdefault(user, set()).add("blocked")
        updates = []
        for user in sorted(sets.keys() | removes.keys()):
            setting = sets.get(user, {})
            removing = sorted(removes.get(user, set()))
            attribute_names = {f"#s{i}": a for i, a in enumerate(setting)}
            attribute_names |= {f"#r{i}": a for i, a in enumerate(removing)}
            clauses = []
            if setting:
                clauses.append("SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(setting))))
            if removing:
                clauses.append("REMOVE " + ", ".join(f"#r{i}" for i in range(len(removing))))
            update: dict[str, Any] = {
                **self._on(member_marker_key(sid, user)),
                "UpdateExpression": " ".join(clauses),
                "ExpressionAttributeNames": attribute_names,
            }
            if setting:
                update["ExpressionAttributeValues"] = {
                    f":s{i}": value for i, value in enumerate(setting.values())
                }
            updates.append({"Update": update})
        return updates

    def adjust_listeners(self, space_id: str, delta: int, *, event_id: str | None = None) -> bool:
        """ADD to one shard (by the event id's hash, so a retried event lands on the same one). No
        check that the Space exists: that would read its META item on every join. Webhooks are signed
        and rooms exist only for Spaces, and a count for an unknown Space is never read."""
        shard = shard_of(event_id, LISTENER_SHARDS) if event_id else random.randrange(LISTENER_SHARDS)
        update = {
            **self._on(listener_shard_key(space_id, shard)),
            "UpdateExpression": "ADD #n :d",
            "ExpressionAttributeNames": {"#n": "n"},
            "ExpressionAttributeValues": {":d": {"N": str(delta)}},
        }
        if event_id is None:
            self.client.update_item(**update)
            return True
        for _ in range(TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(
                    TransactItems=[{"Put": self._event_put(event_id)}, {"Update": update}]
                )
                return True
            except ClientError as exc:
                if _cancelled_by_condition(exc, index=0):
                    return False  # seen before
                if not _cancelled_by_conflict(exc):
                    raise
            time.sleep(random.uniform(0.005, 0.02))
        raise Busy(
            "too_much_contention", "listener count busy; nothing was changed, the webhook will be retried"
        )

    # --- WebRTC seats --------------------------------------------------------------------------
    def claim_seat(self, space_id: str, claim: SeatClaim) -> int | None:
        """One strongly consistent read of the two live buckets' counters and the user's seat. A
        seat of this bucket is theirs again. Otherwise, while there is room: a conditional ADD to
        this bucket's counter, held to what the read left of the capacity (concurrent claims
        cannot pass it), then the user's seat, put only over none or an older one (which is moved
        here: its old bucket gives its count back). A full Space costs reads, not writes, for the
        rest of a burst. A throttled table gives no seat (the broadcast)."""
        try:
            return self._claim_seat(space_id, claim)
        except ClientError as exc:
            if not _refused(exc):
                raise
            logger.warning("no seat in %s: %s", space_id, exc.response["Error"]["Code"])
            return None
        except Busy as exc:  # the read's keys left unprocessed (_batch_get): throttled as well
            logger.warning("no seat in %s: %s", space_id, exc.rule)
            return None

    def _claim_seat(self, space_id: str, claim: SeatClaim) -> int | None:
        previous_key, current_key = seat_key(space_id, claim.bucket - 1), seat_key(space_id, claim.bucket)
        holder_key = seat_holder_key(space_id, claim.user)
        held = self._batch_get([previous_key, current_key, holder_key])

        def item(key: dict[str, Any]) -> dict[str, Any]:
            return held.get((key[PK]["S"], key[SK]["S"]), {})

        holder = item(holder_key)
        old = int(holder["b"]["N"]) if "b" in holder else None
        if old is not None and old >= claim.bucket:
            return old
        room = claim.capacity - int(item(previous_key).get("n", {}).get("N", 0))
        if room - int(item(current_key).get("n", {}).get("N", 0)) <= 0:
            return None
        # Kept a minute past the time it is still read (the next bucket), then deleted by the TTL.
        ttl = {"N": str((claim.bucket + 2) * SEAT_BUCKET_SECONDS + 60)}
        try:
            self.client.update_item(
                TableName=self.table,
                Key=current_key,
                UpdateExpression="ADD #n :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#n) OR #n < :room",
                ExpressionAttributeNames={"#n": "n", "#ttl": TTL},
                ExpressionAttributeValues={":one": {"N": "1"}, ":room": {"N": str(room)}, ":ttl": ttl},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        nonce = uuid.uuid4().hex
        try:
            self.client.put_item(
                TableName=self.table,
                Item={**holder_key, "b": {"N": str(claim.bucket)}, "c": {"S": nonce}, TTL: ttl},
                ConditionExpression="attribute_not_exists(#b) OR #b < :now",
                ExpressionAttributeNames={"#b": "b"},
                ExpressionAttributeValues={":now": {"N": str(claim.bucket)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                self._uncount(current_key)
                raise
            # A retried write (the SDK retries a timeout) fails on its own success; otherwise a
            # request of theirs put a seat of this bucket just now: that one stands, ours goes back.
            stored = self.client.get_item(TableName=self.table, Key=holder_key, ConsistentRead=True).get(
                "Item", {}
            )
            if stored.get("c", {}).get("S") != nonce:
                self._uncount(current_key)
                return int(stored["b"]["N"]) if "b" in stored else None
        if old is not None:
            self._uncount(seat_key(space_id, old))  # the seat moved here from its older bucket
        return claim.bucket

    def release_seat(self, space_id: str, user: str, bucket: int) -> bool:
        """Delete the user's seat if it is the one taken in `bucket` (once: False after that),
        then take it off that bucket's count."""
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=seat_holder_key(space_id, user),
                ConditionExpression="#b = :b",
                ExpressionAttributeNames={"#b": "b"},
                ExpressionAttributeValues={":b": {"N": str(bucket)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        self._uncount(seat_key(space_id, bucket))
        return True

    def _uncount(self, key: dict[str, Any]) -> None:
        """One seat off a bucket's count, never below zero."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="ADD #n :minus",
                ConditionExpression="#n > :zero",
                ExpressionAttributeNames={"#n": "n"},
                ExpressionAttributeValues={":minus": {"N": "-1"}, ":zero": {"N": "0"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # --- the HLS viewers' presence -------------------------------------------------------------
    def record_presence(self, space_id: str, user: str, window: int, *, expires_at: float) -> bool:
        """One transaction: the (user, window) marker, conditioned on its absence, and an ADD to
        the user's shard of the window. A repeat is cancelled by the marker: nothing counted twice."""
        ttl = {"N": str(int(expires_at))}
        marker = {
            "TableName": self.table,
            "Item": {**beat_key(space_id, user, window), TTL: ttl},
            "ConditionExpression": f"attribute_not_exists({PK})",
        }
        add = {
            "TableName": self.table,
            "Key": hls_shard_key(space_id, window, shard_of(user, HLS_SHARDS)),
            "UpdateExpression": "ADD #n :one SET #ttl = :ttl",
            "ExpressionAttributeNames": {"#n": "n", "#ttl": TTL},
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":ttl": ttl},
        }
        for _ in range(TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=[{"Put": marker}, {"Update": add}])
                return True
            except ClientError as exc:
                if _cancelled_by_condition(exc, index=0):
                    return False  # this user is already counted in this window
                if not _cancelled_by_conflict(exc):
                    raise
            time.sleep(random.uniform(0.005, 0.02))
        raise Busy(
            "too_much_contention", "presence count busy; nothing was counted, send the heartbeat again"
        )

    def presence_count(self, space_id: str, window: int) -> int:
        shards = self._batch_get([hls_shard_key(space_id, window, k) for k in range(HLS_SHARDS)])
        return sum(int(s["n"]["N"]) for s in shards.values() if "n" in s)

    def put_hls_estimate(self, space_id: str, estimate: HlsEstimate) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    **hls_estimate_key(space_id),
                    "window": {"N": str(estimate.window)},
                    "viewers": {"N": str(estimate.viewers)},
                },
                ConditionExpression=f"attribute_not_exists({PK}) OR #w < :w",
                ExpressionAttributeNames={"#w": "window"},
                ExpressionAttributeValues={":w": {"N": str(estimate.window)}},
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    # --- the audience --------------------------------------------------------------------------
    def put_listener(self, space_id: str, listener: Listener) -> None:
        keys = listener.keys
        for key in keys:  # the whole name's entry, then each later word's (at most 4 writes)
            self.client.put_item(TableName=self.table, Item=listener_item(space_id, listener, key=key))
        # The same user under an earlier name (renamed at the identity provider): deleted, unless a
        # concurrent join wrote it later. The index is eventually consistent: an entry written
        # within the last second may be missed, and is then gone with the user's next leave.
        earlier = [
            item for item in self._user_entries(space_id, listener.user_id) if item[SK]["S"] not in keys
        ]
        # Strictly earlier: two joins in the same millisecond keep both entries rather than neither.
        self._delete_entries(earlier, joined_before=listener.joined_at - timedelta(milliseconds=1))

    def renew_listeners(
        self, space_id: str, present: Sequence[tuple[str, str]], *, expires_at: datetime
    ) -> int:
        until = {"N": str(int(expires_at.timestamp()))}

        def renew(person: tuple[str, str]) -> bool:
            user, name = person
            # Every entry of theirs (one per indexed word, all of them: no short cut); counted once,
            # as in SqliteStore.
            renewed = [renew_key(user, key) for key in audience.all_keys(name, user)]
            return any(renewed)

        def renew_key(user: str, key: str) -> bool:
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key={
                        PK: {"S": audience_partition(space_id, shard_of(user, AUDIENCE_SHARDS))},
                        SK: {"S": key},
                    },
                    UpdateExpression="SET #ttl = :until",
                    # Only an entry that exists, and never to an earlier expiry.
                    ConditionExpression="attribute_exists(#p)"
                    " AND (attribute_not_exists(#ttl) OR #ttl < :until)",
                    ExpressionAttributeNames={"#p": PK, "#ttl": TTL},
                    ExpressionAttributeValues={":until": until},
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                return False
            return True

        if not present:
            return 0
        with ThreadPoolExecutor(max_workers=AUDIENCE_READ_THREADS) as pool:
            return sum(pool.map(renew, present))

    def listed(self, space_id: str, user_id: str) -> Listener | None:
        # The index is eventually consistent: an entry written within the last second may be missed.
        entries = [_listener(item) for item in self._user_entries(space_id, user_id)]
        return max(entries, key=lambda entry: entry.joined_at, default=None)

    def remove_listener(self, space_id: str, user_id: str, *, joined_before: datetime | None = None) -> int:
        # The index is eventually consistent; a leave comes seconds after the token it follows.
        return self._delete_entries(self._user_entries(space_id, user_id), joined_before=joined_before)

    def _user_entries(self, space_id: str, user_id: str) -> list[dict[str, Any]]:
        return list(
            self.client.query(
                TableName=self.table,
                IndexName=GSI1,
                KeyConditionExpression="#p = :p",
                ExpressionAttributeNames={"#p": GSI1_PK},
                ExpressionAttributeValues={":p": {"S": audience_index_key(space_id, user_id)}},
            )["Items"]
        )

    def _delete_entries(self, found: list[dict[str, Any]], *, joined_before: datetime | None) -> int:
        removed = 0
        for item in found:
            delete: dict[str, Any] = {"TableName": self.table, "Key": {PK: item[PK], SK: item[SK]}}
            if joined_before is not None:
                delete["ConditionExpression"] = "#j <= :before"
                delete["ExpressionAttributeNames"] = {"#j": "joined_at"}
                delete["ExpressionAttributeValues"] = {":before": {"N": str(_ms(joined_before))}}
            try:
                self.client.delete_item(**delete)
                removed += 1
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        return removed

    def listeners(
        self,
        space_id: str,
        *,
        query: str | None,
        limit: int,
        after: str | None,
        now: datetime,
        hidden: frozenset[str] = frozenset(),
    ) -> ListenerPage:
        """Every shard returns its first `limit` listed entries in the range (or all it has); the
        page is the first `limit` of their merge. An entry a shard did not return sorts after its
        `limit`-th, hence after the page's last: the next page starts after that one key."""
        limit = max(1, min(limit, audience.PAGE_MAX))
        items: list[Listener] = []
        more = False
        # The ranges in order (a search: whole names, then later words), each until the page is full.
        for key_range in audience.search_ranges(query, after):
            room = limit - len(items)
            if room <= 0:
                more = True
                break
            with ThreadPoolExecutor(max_workers=AUDIENCE_READ_THREADS) as pool:
                results = list(
                    pool.map(
                        lambda k, r=key_range, n=room: self._audience_shard(
                            audience_partition(space_id, k), r, limit=n, now=now, hidden=hidden, query=query
                        ),
                        range(AUDIENCE_SHARDS),
                    )
                )
            merged = sorted((e for entries, _ in results for e in entries), key=lambda e: e.position)
            items += merged[:room]
            if len(merged) > room or not all(complete for _, complete in results):
                more = True
                break
        return ListenerPage(items=items, cursor=items[-1].position if more and items else None)

    def _audience_shard(
        self,
        partition: str,
        key_range: audience.KeyRange,
        *,
        limit: int,
        now: datetime,
        hidden: frozenset[str],
        query: str | None,
    ) -> tuple[list[Listener], bool]:
        """Up to `limit` listed entries of one shard in key order; True when it has no more."""
        # search_ranges leaves out a range the cursor is past, so `low` is below `upper` here.
        low = key_range.after if key_range.after is not None else key_range.start
        names_: dict[str, str] = {"#p": PK, "#ttl": TTL, "#s": SK}
        values: dict[str, Any] = {
            ":p": {"S": partition},
            ":now": {"N": str(int(now.timestamp()))},
            ":hi": {"S": key_range.upper},
        }
        if low is None:
            condition = "#p = :p AND #s < :hi"
        else:
            # BETWEEN includes both bounds: no key equals an upper bound (keys hold no '~' and no
            # bare "w"), and the lower one is skipped below when it is the cursor.
            values[":lo"] = {"S": low}
            condition = "#p = :p AND #s BETWEEN :lo AND :hi"
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "FilterExpression": "attribute_not_exists(#ttl) OR #ttl > :now",
            "ExpressionAttributeNames": names_,
            "ExpressionAttributeValues": values,
            "Limit": limit + 1,
        }
        kept: list[Listener] = []
        while True:
            result = self.client.query(**request)
            for item in result["Items"]:
                entry = _listener(item)
                if entry.position == key_range.after or not audience.visible(entry, now=now, hidden=hidden):
                    continue
                if not audience.shown(entry, query=query):
                    continue
                kept.append(entry)
            if "LastEvaluatedKey" not in result:
                return kept, True
            if len(kept) >= limit:
                return kept, False
            request["ExclusiveStartKey"] = result["LastEvaluatedKey"]

    def record_removed_viewer(self, space_id: str, tag: str, *, at: datetime, expires_at: datetime) -> None:
        # One item in the Space's partition, which only whole reads query (a member's read, every
        # join's, names its keys and never meets it), holding the latest REMOVED_VIEWERS_MAX: a host
        # removing made-up ids cannot grow what whole reads load. Read, merged, written back under
        # its revision (concurrent removals retry).
        key = count_key(space_id, VIEWERS_LATEST)
        for attempt in range(MAX_ATTEMPTS):
            item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            rev = int(item["rev"]["N"]) if item else 0
            entries = _viewer_entries(item, now=at.timestamp())
            if entries.get(tag, (0, 0))[0] >= epoch_ms(at):
                return  # a later removal of the same person is there already
            entries[tag] = (epoch_ms(at), int(expires_at.timestamp()))
            kept = {t: entries[t] for t in viewers.latest({t: e[0] for t, e in entries.items()})}
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item={
                        **key,
                        "at": {"M": {t: {"N": str(e[0])} for t, e in kept.items()}},
                        "exp": {"M": {t: {"N": str(e[1])} for t, e in kept.items()}},
                        "rev": {"N": str(rev + 1)},
                        TTL: {"N": str(max(e[1] for e in kept.values()))},
                    },
                    ConditionExpression="attribute_not_exists(#rev) OR #rev = :rev",
                    ExpressionAttributeNames={"#rev": "rev"},
                    ExpressionAttributeValues={":rev": {"N": str(rev)}},
                )
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
            if attempt + 1 < MAX_ATTEMPTS:
                time.sleep(random.uniform(0, BACKOFF_START * 8))
        raise Busy("too_much_contention", "too many removals at once; the last one was not told to viewers")

    def record_removal(self, space_id: str, user: str, *, at: datetime, expires_at: datetime) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    **removal_key(space_id, user),
                    "at": {"S": ts(at)},
                    TTL: {"N": str(int(expires_at.timestamp()))},
                },
                # ts() is fixed-width UTC, so its text orders as its time does.
                ConditionExpression="attribute_not_exists(#at) OR #at < :at",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":at": {"S": ts(at)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def removed_at(self, space_id: str, user: str, *, now: datetime) -> datetime | None:
        item = self.client.get_item(
            TableName=self.table, Key=removal_key(space_id, user), ConsistentRead=True
        ).get("Item")
        # DynamoDB TTL deletes lazily (up to days late): the read filters too.
        if item is None or int(item[TTL]["N"]) <= now.timestamp():
            return None
        return parse_ts(item["at"]["S"])

    def claim_event(self, event_id: str) -> bool:
        try:
            self.client.put_item(**self._event_put(event_id))
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def release_event(self, event_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key={PK: {"S": f"EVENT#{event_id}"}, SK: {"S": EVENT}})

    def _event_put(self, event_id: str) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "Item": {
                PK: {"S": f"EVENT#{event_id}"},
                SK: {"S": EVENT},
                TTL: {"N": str(int(time.time()) + DEDUPE_TTL)},
            },
            "ConditionExpression": f"attribute_not_exists({PK})",
        }


def ensure_table(client: Any, table_name: str) -> None:
    """Create the table the way the CDK state construct does (local servers and tests only)."""
    try:
        client.create_table(
            TableName=table_name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": "S"} for n in (PK, SK, GSI1_PK, GSI1_SK)
            ],
            KeySchema=[{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": GSI1,
                    "KeySchema": [
                        {"AttributeName": GSI1_PK, "KeyType": "HASH"},
                        {"AttributeName": GSI1_SK, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=table_name)


def _meta_attributes(space: Space) -> dict[str, Any]:
    attrs = {k: _ser.serialize(v) for k, v in to_record(space).items()}
    attrs[GSI1_PK] = {"S": discovery_partition(space.state, space.id)}
    attrs[GSI1_SK] = {"S": discovery_key(space)}
    return attrs


def _item(space: Space) -> dict[str, Any]:
    """META as a create writes it: created with complete member markers, which member reads then use
    (MARKED; an update never sets it, see _meta_update)."""
    return {**space_key(space.id), **_meta_attributes(space), MARKED: {"BOOL": True}}


def listener_item(space_id: str, listener: Listener, *, key: str | None = None) -> dict[str, Any]:
    """One audience entry as stored, under `key` (default: the whole name's; also what the listener
    benchmark loads in bulk)."""
    key = key or listener.key
    item: dict[str, Any] = {
        PK: {"S": audience_partition(space_id, shard_of(listener.user_id, AUDIENCE_SHARDS))},
        SK: {"S": key},
        "user": {"S": listener.user_id},
        "name": {"S": listener.name},
        "joined_at": {"N": str(_ms(listener.joined_at))},
        GSI1_PK: {"S": audience_index_key(space_id, listener.user_id)},
        GSI1_SK: {"S": key},
    }
    if listener.picture:
        item["picture"] = {"S": listener.picture}
    if listener.expires_at is not None:
        # DynamoDB TTL is in epoch seconds and deletes lazily (up to days late): reads filter too.
        item[TTL] = {"N": str(int(listener.expires_at.timestamp()))}
    return item


def _viewer_entries(item: dict[str, Any] | None, *, now: float) -> dict[str, tuple[int, int]]:
    """The removals told to viewers in their item, tag -> (epoch ms, expiry epoch s), without those
    expired by `now` (DynamoDB TTL deletes lazily, up to days late, and only whole items)."""
    if item is None:
        return {}
    at, exp = item.get("at", {}).get("M", {}), item.get("exp", {}).get("M", {})
    return {t: (int(v["N"]), int(exp[t]["N"])) for t, v in at.items() if t in exp and int(exp[t]["N"]) > now}


def _ms(when: datetime) -> int:
    return round(when.timestamp() * 1000)


def _listener(item: dict[str, Any]) -> Listener:
    expires = int(item[TTL]["N"]) if TTL in item else None
    return Listener(
        user_id=item["user"]["S"],
        name=item["name"]["S"],
        picture=item["picture"]["S"] if "picture" in item else None,
        joined_at=datetime.fromtimestamp(int(item["joined_at"]["N"]) / 1000, UTC),
        expires_at=None if expires is None else datetime.fromtimestamp(expires, UTC),
        listed_as=item[SK]["S"],
    )


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


@dataclass(frozen=True)
class Membership:
    """One member's own hand and block, as a member's read finds them."""

    hand: bool
    blocked: bool
    name: str | None = None  # the hand's, as raised
    picture: str | None = None


def own_keys(space_id: str, member: str, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """What a member's read needs beside META: their marker, or for a Space created before markers
    their hand and block items."""
    if MARKED in meta:
        return [member_marker_key(space_id, member)]
    return [member_key(space_id, HAND, member), member_key(space_id, BLOCK, member)]


def own_membership(
    space_id: str, member: str, meta: dict[str, Any], items: dict[tuple[str, str], dict[str, Any]]
) -> Membership:
    """Members kept inside a version-1 record are not in here (legacy_members has them)."""
    if MARKED in meta:
        key = member_marker_key(space_id, member)
        marker = items.get((key[PK]["S"], key[SK]["S"]), {})
        hand = "hand" in marker
        return Membership(
            hand=hand,
            blocked=marker.get("blocked", {}).get("BOOL", False),
            name=marker.get("hand_name", {}).get("S") if hand else None,
            picture=marker.get("hand_picture", {}).get("S") if hand else None,
        )
    hand_item = items.get((f"SPACE#{space_id}", f"{HAND}{member}"))
    return Membership(
        hand=hand_item is not None,
        blocked=(f"SPACE#{space_id}", f"{BLOCK}{member}") in items,
        name=(hand_item or {}).get("name", {}).get("S"),
        picture=(hand_item or {}).get("picture", {}).get("S"),
    )


def _listeners(record: dict[str, Any], shards: Any) -> int:
    """The shards' sum, plus the single counter a version-1 record kept on itself."""
    legacy = int(record.get("listener_count") or 0)
    return legacy + sum(int(s["n"]["N"]) for s in shards if s[SK]["S"] == "COUNT" and "n" in s)


def _hls(items: Any) -> HlsEstimate | None:
    """The HLS estimate among items read beside a Space (None: never estimated)."""
    for item in items:
        if item[SK]["S"] == HLS_ESTIMATE:
            return HlsEstimate(window=int(item["window"]["N"]), viewers=int(item["viewers"]["N"]))
    return None


def _condition(expression: str, version: int) -> dict[str, Any]:
    return {
        "ConditionExpression": expression,
        "ExpressionAttributeNames": {"#v": "version"},
        "ExpressionAttributeValues": {":v": {"N": str(version)}},
    }


# A seat claim that meets a condition or a throttled table gives no seat: the listener gets the
# broadcast, which is always safe.
_SEAT_REFUSALS = frozenset(
    {"ConditionalCheckFailedException", "ProvisionedThroughputExceededException", "ThrottlingException"}
)


def _refused(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in _SEAT_REFUSALS


def _cancelled_by_condition(exc: ClientError, *, index: int) -> bool:
    reasons = reasons_of(exc)
    return len(reasons) > index and reasons[index].get("Code") == "ConditionalCheckFailed"


def _only_conflicts(exc: ClientError) -> bool:
    """Cancelled for colliding with another transaction, and for no condition of its own."""
    if exc.response["Error"]["Code"] == "TransactionConflictException":
        return True
    codes = {r.get("Code") for r in reasons_of(exc)} - {None, "None"}
    return codes == {"TransactionConflict"}


def _cancelled_by_conflict(exc: ClientError) -> bool:
    if exc.response["Error"]["Code"] == "TransactionConflictException":
        return True
    return any(r.get("Code") == "TransactionConflict" for r in reasons_of(exc))


# --- reactions (functions/store/reactions.py) -------------------------------------------------
# Items (same table, none of them a hot key):
#   pk=REACTLIMIT#<space>#<user>          sk=LIMIT  bucket, count, last; ttl
#   pk=HANDLIMIT#<space>#<user>           sk=LIMIT  the same for hand raises and lowers
#   pk=REACT#<space>#<window>#<shard>     sk=COUNT  one number attribute per emoji code; ttl
#   pk=REACTPUB#<space>                   sk=PUB    published: the newest published window
#   pk=REACTACTIVE#<k>                    sk=<space>  win: the newest window with reactions; ttl
#     (k = crc32(space) mod ACTIVE_SHARDS: the trailing flush queries these few partitions)
# Parallel seal writes of one publication (32 shards: a few round trips, not 32).
SEAL_THREADS = 8
# The partition key prefix of each per-user limit's items (domain/reactions.py RateLimit.name).
LIMIT_PREFIXES = {reactions.LIMIT.name: "REACTLIMIT", HAND_LIMIT.name: "HANDLIMIT"}
# Concurrent requests of one user a limit check outlasts before it answers "wait" (each round of
# compare-and-set has a winner, so 8 attempts see 8 concurrent requests through).
LIMIT_ATTEMPTS = 8


def _counts(item: dict[str, Any]) -> dict[str, int]:
    return {k.removeprefix("c_"): int(v["N"]) for k, v in item.items() if k[:2] == "c_"}


class DynamoReactions(ReactionStore):
    def __init__(self, table_name: str, *, endpoint_url: str | None = None, client: Any = None) -> None:
        self.table = table_name
        self.client: Any = client or DynamoStore(table_name, endpoint_url=endpoint_url).client

    def _limit_key(self, space_id: str, user: str, limit: RateLimit) -> dict[str, Any]:
        return {PK: {"S": f"{LIMIT_PREFIXES[limit.name]}#{space_id}#{user}"}, SK: {"S": "LIMIT"}}

    def limit_state(
        self, space_id: str, user: str, *, limit: RateLimit = reactions.LIMIT
    ) -> LimitState | None:
        item = self.client.get_item(
            TableName=self.table, Key=self._limit_key(space_id, user, limit), ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return LimitState(int(item["bucket"]["N"]), int(item["count"]["N"]), float(item["last"]["N"]))

    def accept(self, space_id: str, user: str, now: float, *, limit: RateLimit = reactions.LIMIT) -> float:
        # A concurrent request of the same user that wins the write is read again: the limit then
        # decides on what it wrote (a reaction's 1-s spacing refuses; a hand toggle may still pass).
        for _ in range(LIMIT_ATTEMPTS):
            wait = self._accept_once(space_id, user, now, limit)
            if wait is not None:
                return wait
        return max(limit.min_interval, 1.0)

    def _accept_once(self, space_id: str, user: str, now: float, limit: RateLimit) -> float | None:
        """The wait (0.0: accepted), or None when a concurrent request wrote first."""
        state = self.limit_state(space_id, user, limit=limit)
        wait = reactions.retry_after(state, now, limit)
        if wait > 0:
            return wait
        new = reactions.after_accept(state, now, limit)
        nonce = uuid.uuid4().hex
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                **self._limit_key(space_id, user, limit),
                "bucket": {"N": str(new.bucket)},
                "count": {"N": str(new.count)},
                "last": {"N": repr(new.last)},
                TTL: {"N": str(int(now) + reactions.ITEM_TTL)},
                # Tells this request's write from a concurrent one (see the retry case below).
                "nonce": {"S": nonce},
            },
        }
        # Compare-and-set on what was read: of two concurrent requests by one user, one wins and
        # the other reads again.
        if state is None:
            put["ConditionExpression"] = f"attribute_not_exists({PK})"
        else:
            # Every accepted write moves the count or the bucket (`last` alone may not move: a
            # limit without spacing accepts several at one instant).
            put["ConditionExpression"] = "#b = :b AND #c = :c AND #last = :last"
            put["ExpressionAttributeNames"] = {"#b": "bucket", "#c": "count", "#last": "last"}
            put["ExpressionAttributeValues"] = {
                ":b": {"N": str(state.bucket)},
                ":c": {"N": str(state.count)},
                ":last": {"N": repr(state.last)},
            }
        try:
            self.client.put_item(**put)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # A retried write (the SDK retries a timeout) can fail on its own first success.
            stored = self.client.get_item(
                TableName=self.table, Key=self._limit_key(space_id, user, limit), ConsistentRead=True
            ).get("Item", {})
            if stored.get("nonce", {}).get("S") == nonce:
                return 0.0
            return None
        return 0.0

    def _counter_key(self, space_id: str, window: int, shard: int) -> dict[str, Any]:
        return {PK: {"S": f"REACT#{space_id}#{window}#{shard}"}, SK: {"S": "COUNT"}}

    def add(self, space_id: str, window: int, shard: int, code: str) -> int | None:
        try:
            result = self.client.update_item(
                TableName=self.table,
                Key=self._counter_key(space_id, window, shard),
                UpdateExpression="ADD #c :one, #n :one SET #ttl = if_not_exists(#ttl, :ttl)",
                ConditionExpression="attribute_not_exists(sealed)",
                ExpressionAttributeNames={"#c": f"c_{code}", "#n": "total", "#ttl": TTL},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":ttl": {"N": str(int(reactions.window_start(window)) + reactions.ITEM_TTL)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return int(result["Attributes"]["total"]["N"])

    def take_back(self, space_id: str, window: int, shard: int) -> dict[str, int] | None:
        # A publisher seals only the items it reads, and may have read this window before this
        # item was written. Taken: its counts are the caller's to publish, and no publisher
        # counts them. The mark is this call's own, so a retry of a take that was applied but
        # whose answer was lost still knows the take was its.
        token = uuid.uuid4().hex
        key = self._counter_key(space_id, window, shard)
        taken = self._take(key, token=token)
        if taken is not None:
            return taken
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})
        # Not ours: a publisher sealed it after the add (this count is in that message).
        return _counts(item) if item.get("moved", {}).get("S") == token else None

    def _take(self, key: dict[str, Any], *, token: str | None = None) -> dict[str, int] | None:
        """Seal an existing, unsealed counter item and return its counts (one atomic step); None
        when it is not there or already sealed. `token`: a late writer's (`take_back`), marking the
        item taken back, which publishers then leave out."""
        moved = {":token": {"S": token}} if token is not None else {}
        try:
            result = self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET sealed = :t" + (", moved = :token" if moved else ""),
                ConditionExpression="attribute_exists(#pk) AND attribute_not_exists(sealed)",
                ExpressionAttributeNames={"#pk": PK},
                ExpressionAttributeValues={":t": {"BOOL": True}, **moved},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return _counts(result.get("Attributes", {}))

    def claim(self, space_id: str, through: int) -> tuple[bool, int | None]:
        try:
            old = self.client.update_item(
                TableName=self.table,
                Key={PK: {"S": f"REACTPUB#{space_id}"}, SK: {"S": "PUB"}},
                UpdateExpression="SET published = :w",
                ConditionExpression="attribute_not_exists(published) OR published < :w",
                ExpressionAttributeValues={":w": {"N": str(through)}},
                ReturnValues="UPDATED_OLD",
            ).get("Attributes", {})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False, None
            raise
        return True, (int(old["published"]["N"]) if "published" in old else None)

    def published(self, space_id: str) -> int | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={PK: {"S": f"REACTPUB#{space_id}"}, SK: {"S": "PUB"}},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None or "published" not in item else int(item["published"]["N"])

    def mark_active(self, space_id: str, window: int) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={PK: {"S": f"REACTACTIVE#{reactions.active_shard_of(space_id)}"}, SK: {"S": space_id}},
                UpdateExpression="SET win = :w, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(win) OR win < :w",
                ExpressionAttributeNames={"#ttl": TTL},
                ExpressionAttributeValues={
                    ":w": {"N": str(window)},
                    ":ttl": {"N": str(int(reactions.window_start(window)) + reactions.ITEM_TTL)},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def active(self, since: int) -> list[tuple[str, int]]:
        with ThreadPoolExecutor(max_workers=SEAL_THREADS) as pool:
            parts = list(
                pool.map(lambda shard: self._active_shard(shard, since), range(reactions.ACTIVE_SHARDS))
            )
        return [marked for part in parts for marked in part]

    def _active_shard(self, shard: int, since: int) -> list[tuple[str, int]]:
        marked: list[tuple[str, int]] = []
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#p = :p",
            "FilterExpression": "win >= :since",
            "ExpressionAttributeNames": {"#p": PK},
            "ExpressionAttributeValues": {":p": {"S": f"REACTACTIVE#{shard}"}, ":since": {"N": str(since)}},
        }
        while True:
            page = self.client.query(**query)
            marked += [(i[SK]["S"], int(i["win"]["N"])) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return marked
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def seal(self, space_id: str, windows: range) -> list[dict[str, int]]:
        """Read every shard item of the windows (consistent BatchGetItem: reads, where a seal per
        shard wrote, and created, every one of them), then seal and take those that exist and are
        open. An item created after the read is late, and its writer takes it back (`take_back`)."""
        keys = [self._counter_key(space_id, w, s) for w in windows for s in range(reactions.SHARDS)]
        found = self._read_counters(keys)
        counts: list[dict[str, int]] = []
        open_keys = []
        for item in found:
            if "moved" in item:
                continue  # taken back by its late writer, who published its counts
            if "sealed" in item:
                counts.append(_counts(item))  # sealed before (this window's range was read again)
            else:
                open_keys.append({PK: item[PK], SK: item[SK]})
        with ThreadPoolExecutor(SEAL_THREADS) as pool:
            taken = list(pool.map(self._take_or_read, open_keys))
        counts += [c for c in taken if c is not None]
        return [c for c in counts if c]

    def _take_or_read(self, key: dict[str, Any]) -> dict[str, int] | None:
        taken = self._take(key)
        if taken is not None:
            return taken
        # Sealed between the read and now: by its late writer (moved: its to publish) or by us.
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})
        return None if "moved" in item or "sealed" not in item else _counts(item)

    def _read_counters(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The counter items of `keys` that exist: 100 keys per BatchGetItem, in parallel."""
        chunks = [keys[i : i + 100] for i in range(0, len(keys), 100)]
        with ThreadPoolExecutor(SEAL_THREADS) as pool:
            parts = list(pool.map(lambda chunk: batch_get(self.client, self.table, chunk), chunks))
        return [item for part in parts for item in part.values()]
