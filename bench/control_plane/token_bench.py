"""The token endpoint in-process: ASGI (no sockets), SQLite store, sequential requests."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from functions.api.main import create_app
from functions.core.config import Settings
from functions.dev_token import dev_token
from functions.store.sqlite import SqliteStore

from .fixture import LISTENER, env, seed


@dataclass
class TokenBench:
    latencies_ms: list[float]
    wall_s: float
    cpu_s: float

    @property
    def cpu_per_request_ms(self) -> float:
        return self.cpu_s / len(self.latencies_ms) * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.wall_s

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _run(db: Path, requests: int, warmup: int) -> TokenBench:
    settings = Settings(**env(db))
    space_id = seed(SqliteStore(db))
    app = create_app(settings)
    # Each request from another listener, as in a join storm: one listener asking again and again
    # would meet the join limit (domain/stage.py JOIN_LIMIT) after its tenth request.
    bearers = [
        {"Authorization": f"Bearer {dev_token(f'{LISTENER}-{i}', secret=settings.dev_jwt_secret)}"}
        for i in range(warmup + requests)
    ]
    transport = httpx.ASGITransport(app=app)
    latencies = []
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for headers in bearers[:warmup]:
            (await client.post(f"/spaces/{space_id}/token", headers=headers)).raise_for_status()
        start, cpu = time.perf_counter(), time.process_time()
        for headers in bearers[warmup:]:
            t = time.perf_counter()
            response = await client.post(f"/spaces/{space_id}/token", headers=headers)
            latencies.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return TokenBench(latencies, wall, cpu)


def run(db: Path, *, requests: int = 3000, warmup: int = 200) -> TokenBench:
    return asyncio.run(_run(db, requests, warmup))


def summary(b: TokenBench) -> dict[str, float]:
    return {
        "p50": b.pct(0.50),
        "p90": b.pct(0.90),
        "p99": b.pct(0.99),
        "max": max(b.latencies_ms),
        "mean": statistics.fmean(b.latencies_ms),
        "rps": b.rps,
        "cpu": b.cpu_per_request_ms,
    }
