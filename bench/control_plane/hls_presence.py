"""HLS presence at audience scale: simulated HLS viewers' heartbeats into the real DynamoDB store
(DynamoDB Local), the hottest key's writes per second and the listener count's error.

    python -m bench.control_plane.hls_presence --viewers 1000 10000 100000

For each audience size, every viewer arrives within `--arrival` seconds (a flash crowd) and sends
its first heartbeat at a uniformly random moment of its first interval (two windows), as
web/src/heartbeat.ts does; a tenth of them send it twice (a retry). Each heartbeat is a real
`DynamoStore.record_presence` call (the route's counting write) against DynamoDB Local, into the
window it would arrive in, issued as fast as the machine allows; the time a heartbeat *would*
arrive comes from the simulated schedule, and writes per key per second are counted on that
schedule (the design's load, not this machine's speed). Each of the two windows of the interval is
read the way the reconciler reads it (`presence_count` x 2). A worst case is counted from the same
writes: every viewer's first heartbeat at arrival. The heartbeat's other write, the renewal of the
viewer's entry in the listener list (one conditional update per indexed word of the name, two for
the common two-word name, into the user's audience shard), is counted on the same schedule.
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
from functions.store.dynamodb import AUDIENCE_SHARDS, HLS_SHARDS, shard_of

WINDOW = presence.WINDOW_SECONDS
RETRY_SHARE = 0.1
# A listener entry per indexed word of the name (domain/audience.py): two for "First Last".
RENEWALS_PER_BEAT = 2


def run(store: Any, viewers: int, *, arrival: float, threads: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    space = uuid.uuid4().hex
    first_window = 1_000_000  # even: the first slot's two windows; arrival + phase < 3 windows
    interval = presence.interval(WINDOW)
    users = [f"hls-{seed}-{n}" for n in range(viewers)]
    beats: list[tuple[float, float, str]] = []  # (designed time, worst-case time, user)
    for user in users:
        arrives = rng.uniform(0, arrival)
        at = arrives + rng.uniform(0, interval)
        beats.append((at, arrives, user))
        if rng.random() < RETRY_SHARE:
            beats.append((at + rng.uniform(0, 5), arrives, user))

    def record(beat: tuple[float, float, str]) -> bool:
        at, _, user = beat
        window = first_window + presence.window_of(at, WINDOW)
        return bool(store.record_presence(space, user, window, expires_at=2e9))

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        counted = sum(pool.map(record, beats))
    elapsed = time.monotonic() - started
    # The windows every viewer's phase falls in (the third only takes late arrivals' phases).
    estimates = [presence.estimate(store.presence_count(space, first_window + w)) for w in (0, 1)]
    designed: Counter[tuple[int, int]] = Counter()
    worst: Counter[tuple[int, int]] = Counter()
    renewals: Counter[tuple[int, int]] = Counter()
    seen: set[str] = set()
    for at, first, user in sorted(beats):
        # Every heartbeat renews the listener entry (two words: two conditional updates).
        renewals[(shard_of(user, AUDIENCE_SHARDS), int(at))] += RENEWALS_PER_BEAT
        if user in seen:
            continue  # a repeat is refused by the marker: no shard write
        seen.add(user)
        shard = shard_of(user, HLS_SHARDS)
        designed[(shard, int(at))] += 1
        worst[(shard, int(first))] += 1
    # Once per (user, slot): a retry that crosses into the next slot counts there (as the viewer's
    # next heartbeat would have).
    slots = {(user, presence.slot_of(presence.window_of(at, WINDOW))) for at, _, user in beats}
    return {
        "viewers": viewers,
        "slots": len(slots),
        "heartbeats": len(beats),
        "counted": counted,
        "estimate_a": estimates[0],
        "estimate_b": estimates[1],
        "error_pct": 100 * max(abs(e - viewers) for e in estimates) / viewers,
        "stated_se_pct": 100 * presence.standard_error(viewers) / viewers,
        "hot_key_designed": max(designed.values()),
        "hot_key_worst": max(worst.values()),
        "hot_audience_shard": max(renewals.values()),
        "calls_per_viewer_minute": 60 / interval,
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
            "| HLS viewers | heartbeats (10 % retried) | counted | estimate, 1st / 2nd window | worst error "
            "| 1 SE | hottest key, design (writes/s) | hottest key, all first beats at arrival "
            "| hottest audience shard, renewals (writes/s) | calls/viewer-min |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for n in args.viewers:
            r = run(store, n, arrival=args.arrival, threads=args.threads, seed=args.seed)
            print(
                f"| {n:,} | {r['heartbeats']:,} | {r['counted']:,} "
                f"| {r['estimate_a']:,} / {r['estimate_b']:,} "
                f"| {r['error_pct']:.2f} % | {r['stated_se_pct']:.2f} % | {r['hot_key_designed']} "
                f"| {r['hot_key_worst']} | {r['hot_audience_shard']} | {r['calls_per_viewer_minute']:.3f} |",
                flush=True,
            )
            assert r["counted"] == r["slots"], "a heartbeat was counted twice in a slot, or lost"
            assert math.isfinite(r["store_seconds"])


if __name__ == "__main__":
    main()
