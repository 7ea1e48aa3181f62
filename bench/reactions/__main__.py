"""Reactions at audience scale: N simulated listeners react in a burst; what does a viewer receive?

    .venv/bin/python -m bench.reactions [--users 10000] [--burst 10] [--concurrency 16]

Real parts: the ReactionService and DynamoReactions against DynamoDB Local (started here). The
room is a recording gateway: every message it is asked to send is what every viewer receives
(SendData to the room). Time is virtual: each reaction carries its scheduled instant (its own
clock), so the message rate is the design's, not this shared machine's throughput; latency is the
wall time of each real use-case call against DynamoDB Local. Results: docs/bench/reactions.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from collections import Counter
from typing import cast

import boto3

from bench.reactions import live_space
from contract.names import REACTION_EMOJI
from contract.reactions import parse_reaction_burst
from functions.domain import reactions as rx
from functions.domain.errors import TooMany
from functions.livekit_edge.gateway import RoomGateway
from functions.store.dynamodb import DynamoReactions, DynamoStore, ensure_table
from functions.usecases.reactions import ReactionService
from tests.support.dynamodb_local import dynamodb_server

T0 = 2_000_000_000.0  # virtual epoch of the burst


class Room:
    """Records what the room is sent, at the virtual instant of the call that sent it."""

    def __init__(self, sent: list[tuple[float, bytes]], now: float) -> None:
        self.sent = sent
        self.now = now

    async def send_data(self, room: str, payload: bytes, *, topic: str) -> None:
        self.sent.append((self.now, payload))


def room(sent: list[tuple[float, bytes]], now: float) -> RoomGateway:
    """Only send_data is used by the reactions."""
    return cast(RoomGateway, Room(sent, now))


class CountingReactions(DynamoReactions):
    """Counts writes per item per virtual second (the hottest item's load)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.writes: Counter[tuple[str, int]] = Counter()
        self.virtual_now = 0.0

    def add(self, space_id: str, window: int, shard: int, code: str) -> int | None:
        self.writes[(f"REACT#{window}#{shard}", int(rx.window_start(window)))] += 1
        return super().add(space_id, window, shard, code)

    def claim(self, space_id: str, through: int) -> tuple[bool, int | None]:
        self.writes[("REACTPUB", int(rx.window_start(through + rx.PUBLISH_LAG_WINDOWS)))] += 1
        return super().claim(space_id, through)


def schedule(users: int, burst: float, seed: int) -> list[tuple[float, str, str]]:
    """Everyone reacts within `burst` seconds; a third tap again soon after (some get limited)."""
    rng = random.Random(seed)
    events = []
    for i in range(users):
        t = rng.uniform(0, burst)
        emoji = rng.choice(REACTION_EMOJI)
        events.append((t, f"listener{i}", emoji))
        if rng.random() < 1 / 3:
            events.append((t + rng.uniform(0.2, 3.0), f"listener{i}", emoji))
    return sorted(events)


async def run(users: int, burst: float, concurrency: int, seed: int) -> dict[str, object]:
    with dynamodb_server() as endpoint:
        client = boto3.client("dynamodb", endpoint_url=endpoint.url)
        table = f"bench-{uuid.uuid4().hex[:8]}"
        ensure_table(client, table)
        spaces = DynamoStore(table, endpoint_url=endpoint.url)
        store = CountingReactions(table, endpoint_url=endpoint.url)
        space = live_space(spaces)
        sent: list[tuple[float, bytes]] = []
        events = schedule(users, burst, seed)
        latencies: list[float] = []
        outcome: Counter[str] = Counter()
        gate = asyncio.Semaphore(concurrency)

        async def one(t: float, user: str, emoji: str) -> None:
            at = T0 + t
            svc = ReactionService(spaces=spaces, store=store, gateway=room(sent, at), clock=lambda: at)
            async with gate:
                start = time.perf_counter()
                try:
                    await svc.react(actor=user, space_id=space.id, emoji=emoji)
                    outcome["accepted"] += 1
                except TooMany:
                    outcome["limited"] += 1
                latencies.append(time.perf_counter() - start)

        wall = time.perf_counter()
        # In virtual-time order, `concurrency` in flight (a request overlaps its neighbours).
        await asyncio.gather(*(one(*e) for e in events))
        wall = time.perf_counter() - wall
        # The reconciler's flush after the burst (trailing windows).
        end = T0 + burst + 5.0
        await ReactionService(spaces=spaces, store=store, gateway=room(sent, end), clock=lambda: end).flush(
            space.id
        )

    bursts = [(t, parse_reaction_burst(p)) for t, p in sent]
    received = sum(b.total for _, b in bursts if b is not None)
    per_second = Counter(int(t - T0) for t, _ in sent)
    span = range(0, int(burst) + 6)
    rates = sorted(per_second.get(s, 0) for s in span)
    hottest_counter = max(
        ((k, v) for k, v in store.writes.items() if k[0] != "REACTPUB"), key=lambda kv: kv[1]
    )
    pub = max(v for k, v in store.writes.items() if k[0] == "REACTPUB")
    lat = sorted(latencies)
    return {
        "users": users,
        "burst_seconds": burst,
        "requests": len(events),
        "accepted": outcome["accepted"],
        "limited": outcome["limited"],
        "received_total": received,
        "messages": len(sent),
        "viewer_messages_per_second": {
            "max": rates[-1],
            "p50": statistics.median(rates),
            "mean": round(len(sent) / len(span), 2),
            "per_second": [per_second.get(s, 0) for s in span],
        },
        "hottest_item_writes_per_second": {
            # A shard item lives one window: its writes over that window, per second.
            "counter_shard": round(hottest_counter[1] / rx.WINDOW_SECONDS),
            "publication_claims": pub,
        },
        "latency_ms": {
            "p50": round(1000 * lat[len(lat) // 2], 2),
            "p99": round(1000 * lat[int(len(lat) * 0.99)], 2),
        },
        "wall_seconds": round(wall, 1),
        "window_seconds": rx.WINDOW_SECONDS,
        "shards": rx.SHARDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--burst", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.users, args.burst, args.concurrency, args.seed)), indent=2))


if __name__ == "__main__":
    main()
