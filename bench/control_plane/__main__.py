"""python -m bench.control_plane [--runs 12] [--requests 3000] [--no-dynamodb]

Writes docs/bench/control_plane.md (+ control_plane.png) with the command that produced them.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from contract import names
from functions.store.sqlite import SqliteStore

from . import cold_start, token_bench
from .fixture import env, seed

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "bench"
COLD_START_GOAL_MS = 250
TOKEN_P99_GOAL_MS = 5


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.control_plane")
    parser.add_argument("--runs", type=int, default=12, help="cold starts per store (median reported)")
    parser.add_argument("--requests", type=int, default=3000, help="token requests in the in-process bench")
    parser.add_argument("--no-dynamodb", action="store_true", help="skip the DynamoDB Local cold start")
    args = parser.parse_args()
    command = "python -m bench.control_plane " + " ".join(sys.argv[1:])
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="bench-cp-") as tmp:
        db = Path(tmp) / "spaces.sqlite3"
        space_id = seed(SqliteStore(db))
        # Cloud mode, as on Lambda: no dev routes, no static files, identity from the event.
        sqlite_env = env(db, **{names.ENV_MODE: "cloud"})
        print("cold start (SQLite)...", file=sys.stderr)
        colds = [
            cold_start.measure(
                "baseline: one-route FastAPI app", space_id, sqlite_env, args.runs, child=cold_start.BASELINE
            ),
            cold_start.measure("SQLite store", space_id, sqlite_env, args.runs),
        ]
        breakdown = cold_start.import_breakdown(space_id, sqlite_env)
        if not args.no_dynamodb:
            print("cold start (DynamoDB Local)...", file=sys.stderr)
            colds.append(_dynamodb_cold_start(args.runs))
        startup = cold_start.interpreter_startup_ms()
        print("token endpoint...", file=sys.stderr)
        tokens = token_bench.run(Path(tmp) / "tokens.sqlite3", requests=args.requests)

    load = (load_before[0], os.getloadavg()[0])
    report = _report(command, colds, breakdown, startup, tokens, load)
    OUT.mkdir(parents=True, exist_ok=True)
    doc = OUT / "control_plane.md"
    # The page also holds the blocks other benchmarks write (join storm, seat burst), each between
    # `<!-- name:start -->` markers after this report: only this report's part is replaced.
    kept = ""
    if doc.exists():
        old = doc.read_text()
        marker = old.find("\n<!-- ")
        kept = old[marker:] if marker >= 0 else ""
    doc.write_text(report.rstrip("\n") + "\n" + kept if kept else report)
    _plot(colds, tokens)
    print(report)
    return 0


def _dynamodb_cold_start(runs: int) -> cold_start.ColdStart:
    import boto3

    from functions.store.dynamodb import DynamoStore, ensure_table
    from tests.support.dynamodb_local import dynamodb_server

    with dynamodb_server() as endpoint:
        ensure_table(boto3.client("dynamodb", endpoint_url=endpoint.url), "bench-spaces")
        space_id = seed(DynamoStore("bench-spaces", endpoint_url=endpoint.url))
        dyn_env = env(
            **{
                names.ENV_MODE: "cloud",
                names.ENV_STORE: "dynamodb",
                names.ENV_TABLE_NAME: "bench-spaces",
                names.ENV_DYNAMODB_ENDPOINT: endpoint.url,
            }
        )
        return cold_start.measure(f"DynamoDB store ({endpoint.kind})", space_id, dyn_env, runs)


HEADER = """# Control plane benchmarks

Command: `{command}` (also `make bench-api`)
Machine: {machine}; 2 cores shared with four other engineers' builds and tests; {when} UTC.
1-minute load average: {load0:.1f} at the start, {load1:.1f} at the end. Above 2 the cores are
oversubscribed and wall times stretch; the CPU-time columns show what the work itself costs.

## Lambda cold start

A fresh interpreter imports `functions.handler` and serves its first request, an API Gateway HTTP
API v2 event `POST /spaces/{{id}}/token` with JWT authorizer claims, through Mangum, in cloud mode.
`import` + `first request` is what Lambda spends in init + first invoke; `process wall` adds
interpreter start-up and exit (a bare `python -c pass` takes {startup:.0f} ms here).
The baseline row is the floor: a one-route FastAPI app behind Mangum with nothing of ours
(same event, same interpreter). Goal: median <= {goal} ms.

| store | runs | import | 1st request | sum | min / max | CPU time | process wall | heavy imports |
|---|---|---|---|---|---|---|---|---|
"""

BREAKDOWN = """
Medians except min / max; `sum` = import + 1st request (ratio to the goal).

Import-time breakdown of the handler module (SQLite run, `python -X importtime`: each module's own
time, summed by top-level package):

| package | ms |
|---|---|
"""

TOKENS = """
## Token endpoint, in-process

{n} sequential `POST /spaces/{{id}}/token`, each from another listener, through httpx's ASGI
transport (no sockets), SQLite store, local bearer verification, after 200 warm-up requests.
Goal: p99 <= {goal} ms.

| p50 (ms) | p90 | p99 | max | mean | requests/s | CPU ms / request |
|---|---|---|---|---|---|---|
| {p50:.2f} | {p90:.2f} | **{p99:.2f}** ({ratio:.2f}x) | {max:.2f} | {mean:.2f} | {rps:.0f} | {cpu:.2f} |

![distributions](control_plane.png)
"""


def _report(
    command: str,
    colds: list[cold_start.ColdStart],
    breakdown: dict[str, float],
    startup: float,
    tokens: token_bench.TokenBench,
    load: tuple[float, float],
) -> str:
    machine = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    out = HEADER.format(
        command=command.strip(),
        machine=machine,
        when=f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        load0=load[0],
        load1=load[1],
        startup=startup,
        goal=COLD_START_GOAL_MS,
    )
    for c in colds:
        totals = [r["total_ms"] for r in c.runs]
        loaded = ", ".join(sorted({m for r in c.runs for m in r["loaded"]})) or "none"
        total = c.median("total_ms")
        out += (
            f"| {c.label} | {len(c.runs)} | {c.median('import_ms'):.0f} ms "
            f"| {c.median('first_request_ms'):.0f} ms "
            f"| **{total:.0f} ms** ({total / COLD_START_GOAL_MS:.2f}x) "
            f"| {min(totals):.0f} / {max(totals):.0f} ms | {c.median('total_cpu_ms'):.0f} ms "
            f"| {statistics.median(c.process_ms):.0f} ms | {loaded} |\n"
        )
    out += BREAKDOWN
    out += "".join(f"| {name} | {ms:.1f} |\n" for name, ms in list(breakdown.items())[:12])
    t = token_bench.summary(tokens)
    out += TOKENS.format(
        n=len(tokens.latencies_ms), goal=TOKEN_P99_GOAL_MS, ratio=t["p99"] / TOKEN_P99_GOAL_MS, **t
    )
    return out


def _plot(colds: list[cold_start.ColdStart], tokens: token_bench.TokenBench) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.boxplot(
        [[r["total_ms"] for r in c.runs] for c in colds],
        tick_labels=[textwrap.fill(c.label, 20) for c in colds],
    )
    left.axhline(COLD_START_GOAL_MS, color="red", linestyle="--", label="goal")
    left.set_ylabel("import + first token request (ms)")
    left.set_title("Lambda cold start")
    left.legend()
    right.hist(tokens.latencies_ms, bins=80, color="steelblue")
    right.axvline(TOKEN_P99_GOAL_MS, color="red", linestyle="--", label="p99 goal")
    right.axvline(tokens.pct(0.99), color="black", linestyle=":", label="p99")
    right.set_xlabel("latency (ms)")
    right.set_title("token endpoint (ASGI, SQLite)")
    right.legend()
    fig.tight_layout()
    fig.savefig(OUT / "control_plane.png", dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
