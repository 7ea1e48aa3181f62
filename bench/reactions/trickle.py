"""What a trickle of reactions costs a Space in DynamoDB: counter items written per reaction, and
how long the reacting request waits for its flush.

A Space whose audience reacts now and then (1 every `--periods` seconds) pays the publication of
every window since the last one. The real use case (`ReactionService.react`, its rate limit off:
one user per reaction) runs against DynamoDB Local in real time; every `UpdateItem` and
`BatchGetItem` on a reaction counter is counted from botocore's own events.

    python -m bench.reactions.trickle                 # 1, 5 and 12 s apart, 36 s each
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections import Counter
from typing import Any

import boto3

from bench.reactions import live_space
from functions.store.dynamodb import DynamoReactions, DynamoStore, ensure_table
from functions.usecases.reactions import ReactionService
from tests.support.dynamodb_local import dynamodb_server


class Room:
    async def send_data(self, room: str, payload: bytes, *, topic: str) -> None:
        return None


def count_counter_calls(client: Any, calls: Counter[str]) -> Any:
    """Counts the calls on reaction counters into `calls`; returns the handler (to unregister)."""

    def seen(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "UpdateItem" and params["Key"]["pk"]["S"].startswith("REACT#"):
            calls["counter writes"] += 1
        elif model.name == "BatchGetItem":
            calls["counter reads"] += sum(len(v["Keys"]) for v in params["RequestItems"].values())

    client.meta.events.register("provide-client-params.dynamodb.*", seen)
    return seen


async def trickle(client: Any, table: str, period: float, seconds: float) -> dict[str, float]:
    spaces = DynamoStore(table, client=client)
    store = DynamoReactions(table, client=client)
    space = live_space(spaces)
    service = ReactionService(spaces=spaces, store=store, gateway=Room())  # type: ignore[arg-type]
    calls: Counter[str] = Counter()
    handler = count_counter_calls(client, calls)
    waits: list[float] = []
    sent = 0
    end = time.time() + seconds
    while time.time() < end:
        started = time.perf_counter()
        await service.react(actor=f"listener{sent}", space_id=space.id, emoji="👏")
        waits.append(time.perf_counter() - started)
        sent += 1
        await asyncio.sleep(period)
    client.meta.events.unregister("provide-client-params.dynamodb.*", handler)
    return {
        "reactions": sent,
        "writes per reaction": calls["counter writes"] / sent,
        "reads per reaction": calls["counter reads"] / sent,
        "writes per hour": calls["counter writes"] / seconds * 3600,
        "request median ms": statistics.median(waits) * 1000,
        "request max ms": max(waits) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--periods", type=float, nargs="+", default=[1.0, 5.0, 12.0])
    parser.add_argument("--seconds", type=float, default=36.0)
    args = parser.parse_args()
    with dynamodb_server() as dynamodb:
        client = boto3.client("dynamodb", endpoint_url=dynamodb.url, region_name="us-east-1")
        table = f"trickle-{uuid.uuid4().hex[:8]}"
        ensure_table(client, table)
        print(
            "| one reaction every | reactions | counter writes / reaction | counter reads / reaction "
            "| writes an hour | request median / max (ms) |"
        )
        print("|---|---|---|---|---|---|")
        for period in args.periods:
            r = asyncio.run(trickle(client, table, period, args.seconds))
            print(
                f"| {period:g} s | {r['reactions']:.0f} | {r['writes per reaction']:.1f} "
                f"| {r['reads per reaction']:.0f} "
                f"| {r['writes per hour']:,.0f} | {r['request median ms']:.0f} / {r['request max ms']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
