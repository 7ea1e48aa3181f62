"""What rendering the whole playlist costs as a Space grows, with the per-segment cache and without.

    python -m bench.broadcast.playlist_render

The composer renders `index.m3u8` after every segment (docs/broadcast.md, "Playlist"). Both ways
render the same synthetic playlist of 1 s segments (a discontinuity every 500) in one run, and
must give identical bytes; the result is the median of 30 renders after a warm-up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from composer.hls import playlist as module
from composer.hls.playlist import MediaPlaylist, Segment

HOURS = (1, 3, 6)
RUNS = 30


def _median_ms(render: Callable[[], str]) -> float:
    render()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        render()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    cached = module._segment_text
    print("| Space length | segments | playlist | render, uncached | render, cached | ratio |")
    print("|---|---|---|---|---|---|")
    for hours in HOURS:
        n = hours * 3600
        segments = tuple(
            Segment(f"1764619200000-{i}.ts", 1.0, 1_764_619_200.0 + i, i % 500 == 0) for i in range(n)
        )
        playlist = MediaPlaylist(segments=segments)
        module._segment_text = cached.__wrapped__  # type: ignore[assignment]  # the cache's own function
        try:
            plain = playlist.render()
            uncached = _median_ms(playlist.render)
        finally:
            module._segment_text = cached
        assert playlist.render() == plain, "the cache changed the bytes"
        with_cache = _median_ms(playlist.render)
        print(
            f"| {hours} h | {n:,} | {len(plain) / 1e6:.2f} MB | {uncached:.1f} ms | {with_cache:.1f} ms "
            f"| {uncached / with_cache:.0f}x |"
        )


if __name__ == "__main__":
    main()
