"""HLS presence at audience scale: simulated HLS viewers' heartbeats into the real DynamoDB store
(DynamoDB Local), the hottest key's writes per second and the listener count's error.

    python -m bench.control_plane.hls_presence --viewers 1000 10000 100000

For each audience size, every viewer arrives within `--arrival` seconds (a flash crowd); the sampled
ones (domain/presence.py) send their first heartbeat at a uniformly random moment of their first
window, as web/src/heartbeat.ts does, and a tenth of them send it twice (a retry). Each heartbeat is
a real `DynamoStore.record_presence` call (the route's store write) against DynamoDB Local, issued as
fast as the machine allows; the time a heartbeat *would* arrive comes from the simulated schedule,
and writes per key per second are counted on that schedule (the design's load, not this machine's
speed). The estimate is read the way the reconciler reads it (`presence_count` / rate).
A worst case is counted from the same writes: every sampled viewer's first heartbeat at arrival.
"""

from __future__ import annotations

import argparse
import math
import random
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from functions.domain import presence
from functions.store.dynamodb import HLS_SHARDS, shard_of

WINDOW = presence.WINDOW_SECONDS
RETRY_SHARE = 0.1


def run(store: Any, viewers: int, *, arrival: float, threads: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    space = uuid.uuid4().hex
    window = 1_000_000  # one window; arrivals and phases stay inside it (arrival + phase < 2 x WINDOW)
    users = [f"hls-{seed}-{n}" for n in range(viewers)]
    sampled = [u for u in users if presence.sampled(u)]
    beats: list[tuple[float, float, str]] = []  # (designed time, worst-case time, user)
    for user in sampled:
        arrives = rng.uniform(0, arrival)
        beats.append((arrives + rng.uniform(0, WINDOW), arrives, user))
        if rng.random() < RETRY_SHARE:
            beats.append((arrives + rng.uniform(0, WINDOW), arrives, user))
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        counted = sum(pool.map(lambda b: store.record_presence(space, b[2], window, expires_at=2e9), beats))
    elapsed = time.monotonic() - started
    estimate = presence.estimate(store.presence_count(space, window))
    designed: Counter[tuple[int, int]] = Counter()
    worst: Counter[tuple[int, int]] = Counter()
    seen: set[str] = set()
    for at, first, user in sorted(beats):
        if user in seen:
            continue  # a repeat is refused by the marker: no shard write
        seen.add(user)
        shard = shard_of(user, HLS_SHARDS)
        designed[(shard, int(at))] += 1
        worst[(shard, int(first))] += 1
    per_shard = Counter(shard_of(u, HLS_SHARDS) for u in sampled)
    return {
        "viewers": viewers,
        "sampled": len(sampled),
        "heartbeats": len(beats),
        "counted": counted,
        "estimate": estimate,
        "error_pct": 100 * abs(estimate - viewers) / viewers,
        "stated_se_pct": 100 * presence.standard_error(viewers) / viewers,
        "hot_key_designed": max(designed.values()),
        "hot_key_worst": max(worst.values()),
        "shard_max": max(per_shard.values()),
        "shard_mean": len(sampled) / HLS_SHARDS,
        "calls_per_viewer_minute": len(sampled) / viewers * 60 / WINDOW,
        "store_seconds": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--arrival", type=float, default=60.0, help="seconds in which everyone arrives")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()

    import boto3

    from functions.store.dynamodb import DynamoStore, ensure_table
    from tests.support.dynamodb_local import dynamodb_server

    with dynamodb_server() as endpoint:
        ensure_table(boto3.client("dynamodb", endpoint_url=endpoint.url), "bench-presence")
        store = DynamoStore("bench-presence", endpoint_url=endpoint.url)
        print(
            "| HLS viewers | sampled | heartbeats (10 % retried) | counted | estimate | error | 1 SE "
            "| hottest key, design (writes/s) | hottest key, all first beats at arrival | calls/viewer-min |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for n in args.viewers:
            r = run(store, n, arrival=args.arrival, threads=args.threads, seed=args.seed)
            print(
                f"| {n:,} | {r['sampled']:,} | {r['heartbeats']:,} | {r['counted']:,} | {r['estimate']:,} "
                f"| {r['error_pct']:.2f} % | {r['stated_se_pct']:.2f} % | {r['hot_key_designed']} "
                f"| {r['hot_key_worst']} | {r['calls_per_viewer_minute']:.3f} |",
                flush=True,
            )
            assert r["counted"] == r["sampled"], "a heartbeat was counted twice or lost"
            assert math.isfinite(r["store_seconds"])


if __name__ == "__main__":
    main()
