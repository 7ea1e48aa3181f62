"""Hand storm: N listeners raise a hand at once in one live Space ("raise your hand if..." to a large
audience), against DynamoDB Local, with the store before and after the hand count became an
increment, in one run.

    python -m bench.control_plane.hand_storm --raisers 300 1000 --concurrency 64

Each raiser does what `usecases/stage.py` `raise_hand` asks of the store: the queue's count (one
GetItem), and below the limit the raise itself (`store.update` with `stage.raise_hand`: a whole
read of the Space, then a transaction); at the limit the raiser's own read and the refusal. The
hand toggle's rate-limit write and the reconciler's pass after each write are the same in both
designs (one small write, one whole read per raise) and left out. `concurrency` threads stand for
as many API instances (Lambdas) answering at once.

*before* is `functions/store/dynamodb.py` at BEFORE_COMMIT: every hand change set the count with a
compare-and-set on the value it read, so of the raises that read the same count one wins and
every other one reads the whole Space again (n raises at once: O(n^2) whole reads). *after* adds to
the count, conditioned on the queue's limit only; a transaction that collides with another one in
flight is sent again without a new read.

DynamoDB Local applies transactions one at a time, so it never answers `TransactionConflict` as
DynamoDB does to transactions that overlap on an item: the retries that answer causes in the cloud
(cheap, no read) are not measured here. Read units are what DynamoDB Local reports per Query (a
whole read) plus 1 per strongly consistent GetItem.
Results: docs/bench/control_plane.md ("Hand storm") and the summary in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .fixture import live_space
from .result_block import write_block

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "bench" / "control_plane.md"
IMG = ROOT / "docs" / "bench" / "img" / "hand_storm.png"
# The store just before the count became an increment.
BEFORE_COMMIT = "562c456"
DESIGNS = ("before", "after")


class CountingClient:
    """A boto3 DynamoDB client that counts whole reads (Query), small reads, read units and
    transactions (tried, and cancelled by which reason)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.lock = threading.Lock()
        self.queries = 0
        self.get_items = 0
        self.read_units = 0.0
        self.transactions = 0
        self.cancelled: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name == "query":
            return lambda **kw: self._query(attr, kw)
        if name in ("get_item", "batch_get_item"):
            return lambda **kw: self._small(attr, kw)
        if name == "transact_write_items":
            return lambda **kw: self._transact(attr, kw)
        return attr

    def _query(self, call: Any, kw: dict[str, Any]) -> Any:
        result = call(**kw, ReturnConsumedCapacity="TOTAL")
        with self.lock:
            self.queries += 1
            self.read_units += (result.get("ConsumedCapacity") or {}).get("CapacityUnits", 1.0)
        return result

    def _small(self, call: Any, kw: dict[str, Any]) -> Any:
        result = call(**kw)
        keys = len(next(iter(kw["RequestItems"].values()))["Keys"]) if "RequestItems" in kw else 1
        with self.lock:
            self.get_items += keys
            self.read_units += keys
        return result

    def _transact(self, call: Any, kw: dict[str, Any]) -> Any:
        from botocore.exceptions import ClientError

        from functions.store.failures import reasons_of

        with self.lock:
            self.transactions += 1
        try:
            return call(**kw)
        except ClientError as exc:
            codes = {str(r.get("Code")) for r in reasons_of(exc)} - {"None"}
            with self.lock:
                self.cancelled[",".join(sorted(codes)) or exc.response["Error"]["Code"]] += 1
            raise


@dataclass
class Run:
    design: str
    raisers: int
    concurrency: int
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    queries: int = 0
    get_items: int = 0
    read_units: float = 0.0
    transactions: int = 0
    cancelled: Counter[str] = field(default_factory=Counter)
    queue: int = 0  # hands in the queue at the end (the whole read)
    count: int = 0  # the count item at the end

    def pct(self, p: float) -> float:
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(p * len(xs)))]


def before_package(into: Path) -> None:
    """`hands_before_store.dynamodb`: the store at BEFORE_COMMIT, on today's domain and base."""
    package = into / "hands_before_store"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    source = subprocess.run(
        ["git", "show", f"{BEFORE_COMMIT}:functions/store/dynamodb.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    source = source.replace("from ..", "from functions.").replace("from .", "from functions.store.")
    (package / "dynamodb.py").write_text(source)


def open_store(design: str, table: str, client: Any) -> Any:
    if design == "after":
        from functions.store.dynamodb import DynamoStore

        return DynamoStore(table, client=client)
    from hands_before_store.dynamodb import DynamoStore as Before  # type: ignore[import-not-found]

    return Before(table, client=client)


def storm(endpoint: str, table: str, run: Run) -> None:
    import boto3

    from functions.domain import stage
    from functions.domain.errors import Busy, Conflict
    from functions.domain.model import Limits

    limits = Limits()
    raw = boto3.client("dynamodb", endpoint_url=endpoint)
    counting = CountingClient(raw)
    store = open_store(run.design, table, counting)
    space_id = live_space(store)
    counting.queries = counting.get_items = counting.transactions = 0
    counting.read_units = 0.0
    lock = threading.Lock()

    def raise_one(n: int) -> None:
        user = f"listener-{n:06d}"
        began = time.perf_counter()
        try:
            queued = store.queued_hands(space_id)
            if queued >= limits.max_raised_hands:
                seen = store.require(space_id, member=user)
                stage.may_raise(seen, user=user, queued=queued, limits=limits)
                outcome = "already"
            else:
                change = store.update(space_id, lambda s: stage.raise_hand(s, user=user, limits=limits))
                outcome = "raised" if change.changed else "already"
        except Conflict as exc:
            outcome = exc.rule
        except Busy as exc:
            outcome = exc.rule
        took = (time.perf_counter() - began) * 1000
        with lock:
            run.outcomes[outcome] += 1
            run.latencies_ms.append(took)

    began = time.perf_counter()
    with ThreadPoolExecutor(run.concurrency) as pool:
        list(pool.map(raise_one, range(run.raisers)))
    run.wall_s = time.perf_counter() - began
    run.queries, run.get_items, run.read_units = counting.queries, counting.get_items, counting.read_units
    run.transactions, run.cancelled = counting.transactions, Counter(counting.cancelled)
    run.queue = len(store.require(space_id).raised_hands)
    run.count = store.queued_hands(space_id)


def report(command: str, runs: list[Run], load: tuple[float, float]) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Hand storm (listeners raising a hand at once)",
        "",
        f"Command: `{command}`",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores,",
        f"{when}; 1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} at the end",
        "(above the cores at the start: other work shared the machine). DynamoDB Local 2.5.2 (in memory)"
        if load[0] > (os.cpu_count() or 1)
        else "(the machine otherwise idle). DynamoDB Local 2.5.2 (in memory)",
        "and the raisers' threads share the same cores: read the latencies as relative.",
        "",
        "N listeners raise a hand in one live Space at once, through the store calls of",
        "`usecases/stage.py` `raise_hand`, from as many threads as the concurrency (API instances).",
        "The queue holds 200. *before*: the count's compare-and-set; *after*: its increment",
        "(`bench/control_plane/hand_storm.py` says what is left out). *whole reads* are Queries of the",
        "Space's partition; *read units* include the count reads. Left out of both: the reconciler's pass",
        "after each accepted raise (one more whole read each, 200 in all), so end to end the ratio of",
        "whole reads is about half the one below.",
        "",
        "| raisers | design | raised / refused full / busy (503) | queue at the end (count) "
        "| whole reads per raiser | read units | transactions (cancelled) | raise p50 / p90 / p99 (ms) "
        "| wall (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        cancelled = sum(r.cancelled.values())
        lines.append(
            f"| {r.raisers} | {r.design} | {r.outcomes['raised']} / {r.outcomes['hand_queue_full']} / "
            f"{r.outcomes['too_much_contention']} | {r.queue} ({r.count}) | {r.queries / r.raisers:.2f} | "
            f"{r.read_units:,.0f} | {r.transactions} ({cancelled}) | "
            f"{r.pct(0.5):.0f} / {r.pct(0.9):.0f} / {r.pct(0.99):.0f} | {r.wall_s:.1f} |"
        )
    lines += ["", "Ratios, before / after, same run:", ""]
    lines += [
        "| raisers | whole reads | read units | raise p50 | raise p99 | wall |",
        "|---|---|---|---|---|---|",
    ]
    for n in sorted({r.raisers for r in runs}):
        b = next(r for r in runs if r.raisers == n and r.design == "before")
        a = next(r for r in runs if r.raisers == n and r.design == "after")
        lines.append(
            f"| {n} | {b.queries / max(a.queries, 1):.1f}x | {b.read_units / max(a.read_units, 1):.1f}x | "
            f"{b.pct(0.5) / max(a.pct(0.5), 0.001):.1f}x | {b.pct(0.99) / max(a.pct(0.99), 0.001):.1f}x | "
            f"{b.wall_s / max(a.wall_s, 0.001):.1f}x |"
        )
    lines += ["", "![raise latency CDF](img/hand_storm.png)", ""]
    return "\n".join(lines)


def plot(runs: list[Run]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r.raisers for r in runs})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 3.6), squeeze=False)
    for ax, n in zip(axes[0], sizes, strict=True):
        for r in (r for r in runs if r.raisers == n):
            xs = sorted(r.latencies_ms)
            ax.plot(xs, [(i + 1) / len(xs) for i in range(len(xs))], label=r.design)
        ax.set_xscale("log")
        ax.set_xlabel("raise latency (ms, log)")
        ax.set_ylabel("fraction of raisers")
        ax.set_title(f"{n} raisers at once")
        ax.legend()
    fig.tight_layout()
    IMG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMG, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raisers", type=int, nargs="+", default=[300, 1000])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-write", action="store_true", help="print the result block only")
    args = parser.parse_args()
    command = "python -m bench.control_plane.hand_storm " + " ".join(sys.argv[1:])

    import boto3

    from functions.store.dynamodb import ensure_table
    from tests.support.dynamodb_local import dynamodb_server

    load0 = os.getloadavg()[0]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp, dynamodb_server() as endpoint:
        before_package(Path(tmp))
        sys.path.insert(0, tmp)
        table = f"hands-{uuid.uuid4().hex[:8]}"
        ensure_table(boto3.client("dynamodb", endpoint_url=endpoint.url), table)
        for n in args.raisers:
            for design in DESIGNS:
                print(f"hand storm: {n} raisers, {design}...", file=sys.stderr)
                run = Run(design=design, raisers=n, concurrency=args.concurrency)
                storm(endpoint.url, table, run)
                print(
                    f"  {dict(run.outcomes)}, {run.queries} whole reads, {run.wall_s:.1f} s", file=sys.stderr
                )
                runs.append(run)
    block = report(command.strip(), runs, (load0, os.getloadavg()[0]))
    print(block)
    if not args.no_write:
        plot(runs)
        write_block(DOC, "hand-storm", block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
