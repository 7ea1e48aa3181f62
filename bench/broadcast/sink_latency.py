"""How slow a store the composer's uploads keep up with: the whole playlist after every segment
(the rule before) against every FULL_EVERY_SEGMENTS-th segment (now), in one run.

    python -m bench.broadcast.sink_latency [--latencies 0.1 0.3 0.4 0.45 0.5 0.6] [--segments 60]

The real `Publisher` writes to an in-memory sink that sleeps a fixed time per PUT; segments are
handed over one per (scaled) second, as the encoder does. Reported per PUT latency: the longest
gap between two writes of `live.m3u8` (what a viewer's player waits on; the page sits 1.5 s behind
the live edge), how many gaps exceed 1.5 s, how far the newest named segment trails real time at
the end, and the PUTs per segment. Time is scaled by SCALE (a "second" lasts SCALE s) so a run of
60 segments takes 15 s per latency and rule.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from composer.hls import publisher as module
from composer.hls.config import RetryPolicy
from composer.hls.playlist import MediaPlaylist
from composer.hls.publisher import Publisher, ReadySegment
from composer.hls.stats import StatsRecorder
from tests.unit.composer.fakes import MemorySink

SCALE = 0.25
LIVE_BEHIND_S = 1.5  # web/src/hls_player.ts LIVE_HLS_CONFIG.liveSyncDuration


class SlowSink(MemorySink):
    """Every PUT takes `latency` (scaled) seconds; records when each live window lands."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency
        self.started = time.monotonic()
        self.puts = 0
        self.live: list[tuple[float, int]] = []  # (scaled time, segments named up to the window's end)

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        time.sleep(self.latency * SCALE)
        self.puts += 1
        super().write(key, data, content_type=content_type, cache_control=cache_control)
        if key.endswith("/live.m3u8"):
            newest = data.decode().rstrip().rsplit("\n", 1)[-1]
            named = int(newest.rsplit("-", 1)[1].split(".")[0]) + 1 if newest.endswith(".ts") else 0
            self.live.append(((time.monotonic() - self.started) / SCALE, named))


@dataclass(frozen=True)
class Result:
    max_gap_s: float
    gaps_over: int
    trailing_s: float
    puts_per_segment: float


def run(latency: float, segments: int, full_every: int) -> Result:
    module.FULL_EVERY_SEGMENTS = full_every
    sink = SlowSink(latency)
    publisher = Publisher(
        sink,
        space_id="bench",
        epoch_ms=1000,
        playlist=MediaPlaylist(),
        playlist_version=None,
        retry=RetryPolicy(),
        max_pending=30,
        stats=StatsRecorder(),
        playlist_every_s=2 * SCALE,
    )
    for n in range(segments):
        due = sink.started + (n + 1) * SCALE
        while time.monotonic() < due:
            time.sleep(0.001)
        publisher.submit(ReadySegment(f"1000-{n}.ts", b"\0" * 1000, 1.0, 1_764_619_200.0 + n))
    end = (time.monotonic() - sink.started) / SCALE
    publisher.close(ended=True, timeout=60)
    during = [(t, named) for t, named in sink.live if t <= end]
    gaps = [b[0] - a[0] for a, b in zip(during, during[1:], strict=False)]
    trailing = end - during[-1][1] if during else float("inf")
    over = sum(g > LIVE_BEHIND_S for g in gaps)
    return Result(max(gaps, default=0.0), over, trailing, sink.puts / segments)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latencies", type=float, nargs="+", default=[0.1, 0.3, 0.4, 0.45, 0.5, 0.6])
    parser.add_argument("--segments", type=int, default=60)
    args = parser.parse_args(argv)
    shipped = module.FULL_EVERY_SEGMENTS
    rules: list[tuple[str, int]] = [("every segment (before)", 1), (f"every {shipped}th (now)", shipped)]
    print(
        "| PUT latency | whole playlist written | longest live-window gap | gaps > 1.5 s"
        " | newest named trails real time by | PUTs per segment |"
    )
    print("|---|---|---|---|---|---|")
    try:
        for latency in args.latencies:
            for name, every in rules:
                r = run(latency, args.segments, every)
                print(
                    f"| {latency:.2f} s | {name} | {r.max_gap_s:.2f} s | {r.gaps_over} |"
                    f" {r.trailing_s:.1f} s | {r.puts_per_segment:.2f} |",
                    flush=True,
                )
    finally:
        module.FULL_EVERY_SEGMENTS = shipped


if __name__ == "__main__":
    main()
