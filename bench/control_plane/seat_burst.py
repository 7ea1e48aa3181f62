"""Seat burst: how many WebRTC listener tokens a burst of token requests gets past the broadcast
threshold, with seats (domain/broadcast.py seat_claim) against the rule before them, in one run.

    python -m bench.control_plane.seat_burst --requests 1000 --rates 20 40 --delays 1 3

One live Space with broadcasting on and the default limit (250), the real app in-process (httpx
ASGI transport) against DynamoDB Local. Listeners ask for a token at a paced rate (open loop), and
each WebRTC grant is followed, `delay` seconds later, by its signed participant_joined webhook:
the time a real client takes to connect plus the SFU's webhook delivery. That webhook is the only
thing the count (and so the rule before seats) sees.

*with seats* is measured. *before* is the rule before seats (`join_mode` on the counted listeners
alone) replayed on the same run's request times: a request got WebRTC when the webhooks of the
WebRTC grants before it, each the run's median measured grant-to-webhook lag after its grant,
counted fewer than the limit.
Results: docs/bench/control_plane.md ("Seat burst") and the summary in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .join_storm import LK_KEY, LK_SECRET, app_without_sfu, bench_settings, seed
from .result_block import write_block

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "bench" / "control_plane.md"
IMG = ROOT / "docs" / "bench" / "img" / "seat_burst.png"
LIMIT = 250
CONCURRENCY = 64


@dataclass
class Scenario:
    rate: float
    delay: float
    # (seconds since the first request, mode) of every token answer, in request order.
    answers: list[tuple[float, str]] = field(default_factory=list)
    # Token latency (ms) of the requests below the counted limit (a seat claimed or refused) and at
    # or above it (no seat I/O).
    claim_ms: list[float] = field(default_factory=list)
    past_ms: list[float] = field(default_factory=list)
    # Seconds from a WebRTC grant to its webhook's answer: the nominal delay plus the app's queue.
    lag_s: list[float] = field(default_factory=list)
    counted: int = 0
    wall_s: float = 0.0

    @property
    def admitted(self) -> int:
        return sum(1 for _, mode in self.answers if mode == "webrtc")

    def replay_before(self) -> list[bool]:
        """The rule before seats on the same request times: WebRTC while the grants' webhooks,
        each the run's median measured lag after its grant, counted fewer than LIMIT."""
        lag = pct(self.lag_s, 0.5)
        grants: list[float] = []
        out = []
        for t, _ in self.answers:
            counted = sum(1 for g in grants if g + lag <= t)
            webrtc = counted < LIMIT
            if webrtc:
                grants.append(t)
            out.append(webrtc)
        return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def signed_join(space_id: str, user: str, token: str) -> tuple[bytes, str]:
    """The webhook the SFU sends when the holder of `token` joins: the participant carries the
    token's attributes (role, and the seat the control plane frees as it counts the join)."""
    from google.protobuf.json_format import MessageToJson
    from livekit import api

    attributes = dict(api.TokenVerifier(LK_KEY, LK_SECRET).verify(token).attributes or {})
    event = api.WebhookEvent(
        event="participant_joined",
        id=f"join-{space_id}-{user}",
        room=api.Room(name=f"space-{space_id}"),
        participant=api.ParticipantInfo(identity=user, attributes=attributes),
    )
    body = MessageToJson(event).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return body, api.AccessToken(LK_KEY, LK_SECRET).with_sha256(digest).to_jwt()


async def burst(endpoint: str, table: str, scenario: Scenario, requests: int) -> None:
    import httpx

    from functions.dev_token import dev_token
    from functions.store.dynamodb import DynamoStore

    settings = bench_settings(
        endpoint,
        table,
        SPACES_BROADCAST_BASE_URL="https://cdn.example/broadcasts",
        SPACES_WEBRTC_LISTENER_LIMIT=str(LIMIT),
    )
    store = DynamoStore(table, endpoint_url=endpoint)
    space_id, _ = seed("after", endpoint, table)  # one live Space, as the join storm's
    app = app_without_sfu(settings, store)
    users = [f"burst-{n:05d}" for n in range(requests)]
    bearers = [f"Bearer {dev_token(u, secret=settings.dev_jwt_secret)}" for u in users]
    answers: list[tuple[float, str] | None] = [None] * requests
    pending: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(CONCURRENCY)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as http:
        delivered = 0

        async def joined(i: int, granted: float, token: str) -> None:
            nonlocal delivered
            await asyncio.sleep(scenario.delay)
            body, signature = signed_join(space_id, users[i], token)
            headers = {"Authorization": signature, "Content-Type": "application/webhook+json"}
            for _ in range(5):
                if (await http.post("/livekit/webhook", content=body, headers=headers)).status_code == 200:
                    delivered += 1
                    scenario.lag_s.append(time.perf_counter() - granted)
                    return

        async def ask(i: int) -> None:
            await asyncio.sleep(max(0.0, t0 + i / scenario.rate - time.perf_counter()))
            async with gate:
                sent = time.perf_counter()
                # Whether the count was below the limit as the request went in (then a seat is read,
                # and maybe taken), for the latency split.
                below = delivered < LIMIT
                resp = await http.post(f"/spaces/{space_id}/token", headers={"Authorization": bearers[i]})
                took = (time.perf_counter() - sent) * 1000
            assert resp.status_code == 200, resp.text
            mode = resp.json()["mode"]
            answers[i] = (sent - t0, mode)
            (scenario.claim_ms if below else scenario.past_ms).append(took)
            if mode == "webrtc":
                pending.append(asyncio.create_task(joined(i, time.perf_counter(), resp.json()["token"])))

        t0 = time.perf_counter()
        await asyncio.gather(*(ask(i) for i in range(requests)))
        scenario.wall_s = time.perf_counter() - t0
        await asyncio.gather(*pending)
    scenario.answers = sorted(a for a in answers if a is not None)
    scenario.counted = store.require(space_id).listener_count


def plot(scenarios: list[Scenario]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(scenarios), figsize=(4.2 * len(scenarios), 3.4), sharey=True, squeeze=False
    )
    for ax, s in zip(axes[0], scenarios, strict=True):
        times = [t for t, _ in s.answers]
        after, before = 0, 0
        ys_after, ys_before = [], []
        for (_, mode), old in zip(s.answers, s.replay_before(), strict=True):
            after += mode == "webrtc"
            before += old
            ys_after.append(after)
            ys_before.append(before)
        ax.plot(times, ys_before, label="before (rule replayed)", color="#d1495b")
        ax.plot(times, ys_after, label="with seats (measured)", color="#2e86ab")
        ax.axhline(LIMIT, color="#555", linestyle=":", label=f"limit ({LIMIT})")
        ax.set_title(f"{s.rate:.0f} requests/s, joins counted {s.delay:g} s later", fontsize=9)
        ax.set_xlabel("seconds since the first request")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("WebRTC listener tokens handed out")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    IMG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMG, dpi=110)


def report(command: str, scenarios: list[Scenario], requests: int, load: tuple[float, float]) -> str:
    head = [
        "## Seat burst (WebRTC or HLS under a burst of token requests)",
        "",
        f"Command: `{command}`",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores,",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; 1-minute load average {load[0]:.1f} at the start,",
        f"{load[1]:.1f} at the end. DynamoDB Local 2.5.2 (in memory) on the same cores.",
        "",
        f"{requests:,} listeners ask for a token in one live Space (limit {LIMIT}), paced at the rate",
        "shown, through the real app in-process. Each WebRTC grant's `participant_joined` webhook is",
        "sent *delay* seconds later (connect + webhook delivery), carrying the token's attributes;",
        "*lag* is when its answer came (the delay plus the app's queue on this box). *with seats* is",
        "measured; *before* is the rule before seats replayed on the same request times with the",
        "median lag (see the module docstring). The ratio is WebRTC tokens handed out over the limit.",
        "",
        "| rate (achieved) | delay | lag p50 / p99 | before: WebRTC tokens (x limit) | with seats (x limit)"
        " | count at the end | token p50 / p99 below the limit (ms) | past it (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for s in scenarios:
        before = sum(s.replay_before())
        achieved = len(s.answers) / s.wall_s if s.wall_s else float("nan")
        rows.append(
            f"| {s.rate:.0f}/s ({achieved:.0f}/s) | {s.delay:g} s |"
            f" {pct(s.lag_s, 0.5):.1f} / {pct(s.lag_s, 0.99):.1f} s | {before:,} ({before / LIMIT:.2f}) |"
            f" **{s.admitted:,} ({s.admitted / LIMIT:.2f})** | {s.counted:,} |"
            f" {pct(s.claim_ms, 0.5):.1f} / {pct(s.claim_ms, 0.99):.1f} |"
            f" {pct(s.past_ms, 0.5):.1f} / {pct(s.past_ms, 0.99):.1f} |"
        )
    tail = ["", "![WebRTC tokens over time](img/seat_burst.png)"]
    return "\n".join(head + rows + tail) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.control_plane.seat_burst")
    parser.add_argument("--requests", type=int, default=1000, help="token requests per scenario")
    parser.add_argument("--rates", type=float, nargs="+", default=[20.0, 40.0], help="requests/s")
    parser.add_argument("--delays", type=float, nargs="+", default=[1.0, 3.0], help="join webhook delay, s")
    parser.add_argument("--no-write", action="store_true", help="print the result block only")
    args = parser.parse_args()
    command = "python -m bench.control_plane.seat_burst " + " ".join(sys.argv[1:])

    import boto3

    from functions.store.dynamodb import ensure_table
    from tests.support.dynamodb_local import dynamodb_server

    load0 = os.getloadavg()[0]
    scenarios = [Scenario(rate=r, delay=d) for r in args.rates for d in args.delays]
    with dynamodb_server() as endpoint:
        table = f"seats-{uuid.uuid4().hex[:8]}"
        ensure_table(boto3.client("dynamodb", endpoint_url=endpoint.url), table)
        for s in scenarios:
            print(f"seat burst: {s.rate:.0f}/s, delay {s.delay:g} s...", file=sys.stderr)
            asyncio.run(burst(endpoint.url, table, s, args.requests))
    block = report(command.strip(), scenarios, args.requests, (load0, os.getloadavg()[0]))
    print(block)
    if not args.no_write:
        plot(scenarios)
        write_block(DOC, "seat-burst", block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
