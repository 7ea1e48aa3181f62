"""Simulated HLS viewers that load a live playlist the way hls.js does, many per process.

Each viewer has its own aiohttp session (its own keep-alive connections, like one browser) and:
- joins at a staggered time, loads the media playlist and starts `holdback` seconds behind the
  live edge it sees (the web page's hls.js `liveSyncDuration`, web/src/broadcast.ts): it fetches
  from the segment that holds that point and starts playing at that point, not at the segment's
  start;
- reloads the playlist every target duration while it changes, every half target duration while it
  does not (hls.js' live reload rule), minus the time the load took;
- fetches every new segment in order, one at a time, as soon as the playlist names it;
- plays: the play head starts when the first segment is in and advances in real time; whenever it
  reaches the end of what was downloaded the viewer stalls until the next segment arrives.

A ticker measures how late this process' event loop wakes up, so that stalls the load generator
caused itself can be told apart from stalls of the edge.

    python -m bench.broadcast.clients --url http://127.0.0.1:8080/live/index.m3u8 --clients 500 \
        --seconds 20 --ramp 5 > out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import uvloop

LIVE_SYNC_S = 1.5  # web/src/broadcast.ts LIVE_HLS_CONFIG.liveSyncDuration
TICK_S = 0.1


@dataclass
class Playlist:
    target: float
    segments: list[tuple[str, float, float | None]]  # (uri, duration, program date time epoch s)
    ended: bool


def parse_playlist(text: str) -> Playlist:
    target = 1.0
    segments: list[tuple[str, float, float | None]] = []
    duration = 0.0
    pdt: float | None = None
    ended = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",", 1)[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = datetime.fromisoformat(line.split(":", 1)[1].replace("+0000", "+00:00")).timestamp()
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line and not line.startswith("#"):
            segments.append((line, duration, pdt))
            pdt = None
    return Playlist(target, segments, ended)


@dataclass
class Viewer:
    joined: float = 0.0
    first_segment_at: float | None = None
    play_start: float | None = None
    position: float = 0.0  # media seconds played
    buffered: float = 0.0  # media seconds downloaded (contiguous from the start segment)
    last: float = 0.0
    stalled_since: float | None = None
    stalls: list[float] = field(default_factory=list)
    segment_ms: list[float] = field(default_factory=list)
    playlist_ms: list[float] = field(default_factory=list)
    behind_live_s: list[float] = field(default_factory=list)  # segment end (PDT) -> downloaded
    segments: list[str] = field(default_factory=list)
    errors: int = 0

    def advance(self, now: float) -> None:
        """Move the play head to `now`; open a stall when it runs out of buffer."""
        if self.play_start is None:
            return
        if self.stalled_since is None:
            self.position += now - self.last
            if self.position > self.buffered:
                self.stalled_since = now - (self.position - self.buffered)
                self.position = self.buffered
        self.last = now

    def append(self, now: float, duration: float, skip: float = 0.0) -> None:
        """A segment is in; `skip`: seconds of the first segment before the start point."""
        self.advance(now)
        self.buffered += duration
        if self.play_start is None:
            self.play_start = self.last = now
            self.first_segment_at = now
            self.position = min(skip, self.buffered)
        elif self.stalled_since is not None:
            if now > self.stalled_since:
                self.stalls.append(now - self.stalled_since)
            self.stalled_since = None
            self.last = now


async def run_viewer(url: str, delay: float, until: float, v: Viewer, holdback: float = LIVE_SYNC_S) -> None:
    await asyncio.sleep(delay)
    base = url.rsplit("/", 1)[0]
    timeout = aiohttp.ClientTimeout(total=15)
    connector = aiohttp.TCPConnector(limit=2)
    v.joined = time.time()
    changed = asyncio.Event()
    state: dict[str, Any] = {"pl": None}

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def load_playlist() -> None:
            previous = None
            while time.time() < until:
                t0 = time.time()
                try:
                    async with http.get(url) as r:
                        text = await r.text()
                        ok = r.status == 200
                except (TimeoutError, aiohttp.ClientError):
                    ok, text = False, ""
                took = time.time() - t0
                if not ok:
                    v.errors += 1
                    await asyncio.sleep(0.5)
                    continue
                v.playlist_ms.append(took * 1000)
                pl = parse_playlist(text)
                fresh = previous is None or len(pl.segments) != previous
                previous = len(pl.segments)
                if fresh:
                    state["pl"] = pl
                    changed.set()
                if pl.ended:
                    return
                interval = pl.target if fresh else pl.target / 2
                await asyncio.sleep(max(0.05, interval - took))

        async def load_segments() -> None:
            index: int | None = None
            while time.time() < until:
                await changed.wait()
                changed.clear()
                pl: Playlist = state["pl"]
                skip = 0.0
                if index is None:
                    # The segment that holds the point `holdback` s before the edge, and how far
                    # into it that point is.
                    index, behind = len(pl.segments), 0.0
                    while index > 0 and behind < holdback:
                        index -= 1
                        behind += pl.segments[index][1]
                    skip = max(0.0, behind - holdback)
                while index < len(pl.segments) and time.time() < until:
                    uri, duration, pdt = pl.segments[index]
                    t0 = time.time()
                    try:
                        async with http.get(f"{base}/{uri}") as r:
                            await r.read()
                            ok = r.status == 200
                    except (TimeoutError, aiohttp.ClientError):
                        ok = False
                    now = time.time()
                    if not ok:
                        v.errors += 1
                        await asyncio.sleep(0.2)
                        continue
                    v.segment_ms.append((now - t0) * 1000)
                    v.segments.append(uri)
                    if pdt is not None:
                        v.behind_live_s.append(now - (pdt + duration))
                    v.append(now, duration, skip)
                    skip = 0.0
                    index += 1

        tasks = [asyncio.create_task(load_playlist()), asyncio.create_task(load_segments())]
        await asyncio.sleep(max(0.0, until - time.time()))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    end = time.time()
    v.advance(end)
    if v.stalled_since is not None:  # a stall still open at the end counts up to the end
        v.stalls.append(end - v.stalled_since)


async def ticker(until: float, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < until - 0.2:
        t0 = loop.time()
        await asyncio.sleep(TICK_S)
        lags.append((loop.time() - t0 - TICK_S) * 1000)


async def run(
    url: str, clients: int, seconds: float, ramp: float, offset: int, of: int, holdback: float = LIVE_SYNC_S
) -> dict[str, Any]:
    start = time.time()
    until = start + ramp + seconds
    viewers = [Viewer() for _ in range(clients)]
    lags: list[float] = []
    # Joins are spread evenly over the ramp across all processes (this one takes every of-th).
    total = clients * of
    delays = [ramp * (offset + i * of) / max(1, total) for i in range(clients)]
    loop_until = asyncio.get_running_loop().time() + ramp + seconds
    await asyncio.gather(
        ticker(loop_until, lags),
        *(run_viewer(url, d, until, v, holdback) for d, v in zip(delays, viewers, strict=True)),
    )
    return {
        "clients": clients,
        "start": start,
        "ramp": ramp,
        "seconds": seconds,
        "loop_lag_ms": lags,
        "viewers": [
            {
                "joined": v.joined,
                "startup_s": None if v.first_segment_at is None else v.first_segment_at - v.joined,
                "stalls_s": v.stalls,
                "segment_ms": v.segment_ms,
                "playlist_ms": v.playlist_ms,
                "behind_live_s": v.behind_live_s,
                "segments": v.segments,
                "errors": v.errors,
            }
            for v in viewers
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=20.0, help="steady state after the ramp")
    ap.add_argument("--ramp", type=float, default=5.0, help="joins spread over this many seconds")
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--of", type=int, default=1)
    ap.add_argument(
        "--holdback", type=float, default=LIVE_SYNC_S, help="seconds behind the live edge at start"
    )
    args = ap.parse_args()
    uvloop.install()  # what a load generator uses; the viewers' behaviour is unchanged
    result = asyncio.run(
        run(args.url, args.clients, args.seconds, args.ramp, args.offset, args.of, args.holdback)
    )
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
