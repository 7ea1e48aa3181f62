"""The host's listener list at 100k listeners: DynamoDB Local, the real store (functions/store/dynamodb.py).

    python -m bench.control_plane.listeners --listeners 100000 --reps 60

Loads N audience entries into one Space (BatchWriteItem of the items `put_listener` writes, so the
load is fast; the items are byte for byte what a join writes), then times, through
`DynamoStore.listeners`, one page (50 entries) read: the first page, a prefix search (two letters
of a random name), a surname search (two letters of a random last name, which reads the later
words' range), and a deep page (a cursor 90 % into the name order). Then it counts what one join
costs: the write requests and the WCU DynamoDB Local reports for `put_listener` (table and index).
Results: docs/bench/listeners.md and the summary in docs/benchmarks.md. Not part of `make test` (it
takes minutes).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .result_block import write_block

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "bench" / "listeners.md"
PAGE = 50
FIRST = ["Ana", "Zoë", "Émile", "Björn", "Chloé", "Dmitri", "Élodie", "Fatima", "José", "Kai", "Léa", "Mia"]
FIRST += [
    "Noah",
    "Olúwa",
    "Priya",
    "Renée",
    "Søren",
    "Tomás",
    "Uma",
    "Wei",
    "Yusuf",
    "Zeynep",
    "Ingrid",
    "Hugo",
]
LAST = ["Adams", "Ångström", "Baker", "Çelik", "Dubois", "Eriksen", "García", "Huang", "Ivanova", "Jónsson"]
LAST += [
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "O'Brien",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schröder",
    "Tanaka",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(store: Any, space_id: str, count: int, rng: random.Random) -> list[Any]:
    from functions.domain.audience import Listener
    from functions.store.dynamodb import listener_item

    now = datetime.now(UTC)
    entries = [
        Listener(
            user_id=f"user-{n:06d}",
            name=f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.randrange(100)}",
            picture=None,
            joined_at=now,
        )
        for n in range(count)
    ]

    def batch(chunk: list[Any]) -> None:
        pending: dict[str, Any] = {
            store.table: [
                {"PutRequest": {"Item": listener_item(space_id, e, key=key)}} for e in chunk for key in e.keys
            ]
        }
        while pending:
            pending = store.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    # BatchWriteItem takes 25 items; an entry is at most 1 + WORD_ENTRIES_MAX items (one per word).
    chunks = [entries[i : i + 6] for i in range(0, count, 6)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(batch, chunks))
    return entries


def timed(fn: Any, reps: int) -> tuple[list[float], Any]:
    samples: list[float] = []
    result = None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples, result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.control_plane.listeners")
    parser.add_argument("--listeners", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=60, help="reads timed per kind")
    parser.add_argument("--no-write", action="store_true", help="print the result block only")
    args = parser.parse_args()
    command = "python -m bench.control_plane.listeners " + " ".join(sys.argv[1:])

    import boto3

    from functions.domain.audience import Listener, normalize
    from functions.store.dynamodb import (
        AUDIENCE_READ_THREADS,
        AUDIENCE_SHARDS,
        GSI1,
        GSI1_PK,
        DynamoStore,
        audience_index_key,
        ensure_table,
        listener_item,
    )
    from tests.support.dynamodb_local import dynamodb_server

    rng = random.Random(10)
    load0 = os.getloadavg()[0]
    with dynamodb_server() as endpoint:
        table = f"listeners-{uuid.uuid4().hex[:8]}"
        ensure_table(boto3.client("dynamodb", endpoint_url=endpoint.url), table)
        store = DynamoStore(table, endpoint_url=endpoint.url)
        space_id = uuid.uuid4().hex
        t0 = time.perf_counter()
        entries = load(store, space_id, args.listeners, rng)
        load_s = time.perf_counter() - t0
        now = datetime.now(UTC)
        ordered = sorted(entries, key=lambda e: e.key)

        def first() -> Any:
            return store.listeners(space_id, query=None, limit=PAGE, after=None, now=now)

        def search() -> Any:
            prefix = normalize(rng.choice(entries).name)[:2]
            return store.listeners(space_id, query=prefix, limit=PAGE, after=None, now=now)

        def surname() -> Any:
            prefix = normalize(rng.choice(LAST))[:2]
            return store.listeners(space_id, query=prefix, limit=PAGE, after=None, now=now)

        deep_cursor = ordered[int(len(ordered) * 0.9)].key

        def deep() -> Any:
            return store.listeners(space_id, query=None, limit=PAGE, after=deep_cursor, now=now)

        first()  # warm the client's connections
        rows: list[tuple[str, list[float], int]] = []
        for label, fn in (
            ("first page", first),
            ("prefix search (2 letters)", search),
            ("surname search (2 letters)", surname),
            ("deep page (90 %)", deep),
        ):
            samples, page = timed(fn, args.reps)
            rows.append((label, samples, len(page.items)))
        # Correctness alongside: the deep page is the 50 entries after the cursor, in order.
        deep_page = deep()
        start = int(len(ordered) * 0.9) + 1
        assert [e.user_id for e in deep_page.items] == [e.user_id for e in ordered[start : start + PAGE]]

        # One join's writes: the requests put_listener sends (one per indexed word of a two-word
        # name), with the capacity DynamoDB Local reports.
        joiner = Listener(user_id="user-join", name="New Comer", picture=None, joined_at=now)
        table_wcu = index_wcu = 0.0
        for key in joiner.keys:
            consumed = store.client.put_item(
                TableName=table,
                Item=listener_item(space_id, joiner, key=key),
                ReturnConsumedCapacity="INDEXES",
            )["ConsumedCapacity"]
            table_wcu += consumed.get("Table", {}).get("CapacityUnits", 0.0)
            index_wcu += sum(
                v.get("CapacityUnits", 0.0) for v in consumed.get("GlobalSecondaryIndexes", {}).values()
            )
        # ... and the read it makes to replace the user's entries under earlier names (a rename).
        rename_read = store.client.query(
            TableName=table,
            IndexName=GSI1,
            KeyConditionExpression="#p = :p",
            ExpressionAttributeNames={"#p": GSI1_PK},
            ExpressionAttributeValues={":p": {"S": audience_index_key(space_id, joiner.user_id)}},
            ReturnConsumedCapacity="INDEXES",
        )["ConsumedCapacity"]
        index_rcu = sum(
            v.get("CapacityUnits", 0.0) for v in rename_read.get("GlobalSecondaryIndexes", {}).values()
        ) or rename_read.get("CapacityUnits", 0.0)

    load1 = os.getloadavg()[0]
    lines = [
        f"Command: `{command}`",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores "
        f"shared with other work; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; 1-minute load average "
        f"{load0:.1f} at the start, {load1:.1f} at the end. DynamoDB Local (in memory) on the same cores.",
        "",
        f"{args.listeners:,} audience entries in one Space ({AUDIENCE_SHARDS} shards), "
        f"loaded in {load_s:.0f} s. "
        f"Each read is one `DynamoStore.listeners` call for a page of {PAGE} ({args.reps} reads each; "
        f"the {AUDIENCE_SHARDS} shard queries run on {AUDIENCE_READ_THREADS} threads).",
        "",
        "| read | p50 (ms) | p99 (ms) | entries returned |",
        "|---|---|---|---|",
    ]
    for label, samples, returned in rows:
        lines.append(
            f"| {label} | {statistics.median(samples):.1f} | {pct(samples, 0.99):.1f} | {returned} |"
        )
    lines += [
        "",
        f"What a join adds, for a two-word name: {len(joiner.keys)} PutItems of the listener's own entries "
        "(the whole name's and the last name's; new items, no condition), "
        f"{table_wcu:.1f} WCU on the table + {index_wcu:.1f} WCU on the index as DynamoDB Local reports it, "
        "and one eventually consistent Query of the user's own index partition (to replace their entries "
        f"under earlier names), {index_rcu:.1f} RCU. The writes land on one of {AUDIENCE_SHARDS} audience "
        f"partitions (1/{AUDIENCE_SHARDS} of the joins each, as the listener count's shards); their "
        "index copies and the read on the user's own index partition.",
    ]
    block = "\n".join(lines)
    print(block)
    if not args.no_write:
        write_block(DOC, "listeners", block, title="# The host's listener list at scale\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
