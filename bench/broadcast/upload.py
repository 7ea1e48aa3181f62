"""The composer's uploads against a slow sink: each write in turn, against a pass's writes at once.

A video Space with both renditions writes seven objects per 1 s segment: the segment and its two
twins (the 360p picture and the sound alone), the full playlist, then the three live windows
(composer/hls/publisher.py). The publisher used to write them one after another; it now writes the
writes that no rule orders at once (`Publisher(parallel=True)`): a segment reaches the main window
in three round trips in a row instead of five, the renditions' windows in four instead of seven.

Both publishers are fed the same work, in one run, side by side: a triple every second for
`--seconds` (segment-sized bytes: ~310 KB, ~90 KB and ~11 KB, as the composer's 720p, 360p and AAC
give), written to a real directory (composer.hls.DiskSink) through a sink that first waits a drawn
latency per PUT: lognormal around a median (sigma 0.5: a tenth of the PUTs take 1.9x the median or
more, one in a hundred 3.2x), from what same-region object storage answers in to where writing one
at a time falls behind. What is measured is what a viewer sees: when each segment is first named by
`live.m3u8` (and `live-audio.m3u8`) after it was handed over, the longest time `live.m3u8` named
no new segment, and the segments dropped, while segments come. S3's own latency is not measured
here (no AWS from this machine); the rows bracket it. The model is simple: a PUT's latency does not
depend on its size, and PUTs at once do not share a bandwidth.

    python -m bench.broadcast.upload --seconds 60

Result: the `upload` block of docs/bench/broadcast.md and docs/bench/img/broadcast-upload.png.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.broadcast.report import IMG, OUT, machine_note, pct, update_section
from composer.hls.config import RetryPolicy
from composer.hls.continuity import PACKET
from composer.hls.playlist import MediaPlaylist, audio_twin, parse_playlist
from composer.hls.publisher import Publisher as HlsPublisher
from composer.hls.publisher import ReadySegment
from composer.hls.sinks import DiskSink
from composer.hls.stats import StatsRecorder
from contract.names import BROADCAST_AUDIO_LIVE_PLAYLIST, BROADCAST_LIVE_PLAYLIST

MEDIANS_S = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)
SIGMA = 0.5
SIZES = {"main": 310_000, "low": 90_000, "audio": 11_000}  # bytes per 1 s segment
SPACE = "space-upload"
EPOCH_MS = 1_000
# The composer's own settings (composer/hls/config.py, broadcast.py): 30 segments queued at most,
# the playlists written at least every 2 segments during a backlog.
MAX_PENDING = 30
PLAYLIST_EVERY_S = 2.0


class SlowSink(DiskSink):
    """A DiskSink whose every write first waits a lognormal latency around `median_s`."""

    def __init__(self, root: Path, median_s: float, seed: int) -> None:
        super().__init__(root)
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._median_s = median_s
        self.named_at: dict[str, float] = {}  # segment -> when live.m3u8 first named it
        self.audio_named_at: dict[str, float] = {}  # its sound alone -> when live-audio.m3u8 did

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        with self._rng_lock:
            delay = self._rng.lognormvariate(math.log(self._median_s), SIGMA)
        time.sleep(delay)
        super().write(key, data, content_type=content_type, cache_control=cache_control)
        named = {BROADCAST_LIVE_PLAYLIST: self.named_at, BROADCAST_AUDIO_LIVE_PLAYLIST: self.audio_named_at}
        seen = named.get(key.rsplit("/", 1)[-1])
        if seen is not None:
            now = time.monotonic()
            for seg in parse_playlist(data.decode()).segments:
                seen.setdefault(seg.uri, now)


@dataclass
class Row:
    median_s: float
    parallel: bool
    sink: SlowSink
    publisher: HlsPublisher
    stats: StatsRecorder
    submitted_at: dict[str, float] = field(default_factory=dict)
    fed_until: float = math.inf  # the measurement's end: a segment duration after the last one
    dropped_while_fed: int = 0


def _triple(n: int, rng: random.Random) -> ReadySegment:
    def ts(size: int) -> bytes:
        # Whole MPEG-TS packets (sync byte, PID 0x100, payload only) of random bytes, the first
        # with an adaptation field: what the publisher's discontinuity marking reads after a drop.
        count = size // PACKET
        body = bytearray(rng.randbytes(count * PACKET))
        for k in range(count):
            body[k * PACKET : k * PACKET + 4] = bytes([0x47, 0x01, 0x00, 0x10])
        body[:6] = bytes([0x47, 0x41, 0x00, 0x30, 1, 0x40])
        return bytes(body)

    return ReadySegment(
        f"{EPOCH_MS}-{n}.av.ts",
        ts(SIZES["main"]),
        1.0,
        1_764_619_200.0 + n,
        low=ts(SIZES["low"]),
        audio=ts(SIZES["audio"]),
    )


def _row(root: Path, median_s: float, parallel: bool) -> Row:
    name = f"{'parallel' if parallel else 'serial'}-{median_s}"
    sink = SlowSink(root / name, median_s, seed=round(median_s * 1000))
    stats = StatsRecorder()
    publisher = HlsPublisher(
        sink,
        space_id=SPACE,
        epoch_ms=EPOCH_MS,
        playlist=MediaPlaylist(),
        playlist_version=None,
        retry=RetryPolicy(),
        max_pending=MAX_PENDING,
        stats=stats,
        playlist_every_s=PLAYLIST_EVERY_S,
        parallel=parallel,
    )
    publisher.set_variants(b"#EXTM3U\n", b"#EXTM3U\n", audio=True)
    return Row(median_s, parallel, sink, publisher, stats)


def run(seconds: int) -> list[dict[str, Any]]:
    rng = random.Random(1)
    segments = [_triple(n, rng) for n in range(seconds)]
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        rows = [_row(Path(tmp), m, p) for m in MEDIANS_S for p in (False, True)]
        start = time.monotonic()
        for n, seg in enumerate(segments):
            time.sleep(max(0.0, start + n - time.monotonic()))
            for row in rows:  # the same segment to every publisher at the same moment
                row.submitted_at[seg.name] = time.monotonic()
                row.publisher.submit(seg)
        # What viewers see while the Space goes on: up to a segment after the last one. What a
        # backlogged publisher still names after that (closing, it drops what is queued) is not.
        time.sleep(max(0.0, start + len(segments) - time.monotonic()))
        for row in rows:
            row.fed_until = time.monotonic()
            row.dropped_while_fed = row.stats.snapshot(0).segments_dropped
        # Closed together: a slow row's close must not make a quicker one's last write look late.
        close = {"ended": True, "timeout": 30}
        closing = [threading.Thread(target=row.publisher.close, kwargs=close) for row in rows]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join()
        return [_result(row) for row in rows]


def _delays(row: Row, named_at: dict[str, float], twin: Callable[[str], str]) -> list[float]:
    """Handed over -> named, for the segments named while the Space went on."""
    return sorted(
        named_at[twin(name)] - at
        for name, at in row.submitted_at.items()
        if named_at.get(twin(name), math.inf) <= row.fed_until
    )


def _result(row: Row) -> dict[str, Any]:
    delays = _delays(row, row.sink.named_at, lambda name: name)
    # The live window's updates that named a new segment, while the Space went on.
    news = sorted(t for t in set(row.sink.named_at.values()) if t <= row.fed_until)
    gaps = [b - a for a, b in zip(news, news[1:], strict=False)]
    stats = row.stats.snapshot(0)
    return {
        "median_put_s": row.median_s,
        "parallel": row.parallel,
        "segments": len(row.submitted_at),
        "dropped_while_fed": row.dropped_while_fed,
        "behind_at_end": len(row.submitted_at) - len(delays) - row.dropped_while_fed,
        "delay_s": delays,
        "audio_delay_s": _delays(row, row.sink.audio_named_at, audio_twin),
        "longest_gap_s": max(gaps, default=math.nan),
        "puts": stats.stages["upload"].calls,
    }


def _body(results: list[dict[str, Any]], seconds: int, note: str) -> str:
    lines = [
        f"Command: `python -m bench.broadcast.upload --seconds {seconds}` ({note}). Both publishers "
        "of a row got the same triples at the same moments and drew their PUT latencies from the "
        f"same lognormal (sigma {SIGMA}). Main = a segment handed over → the first `live.m3u8` that "
        "names it; sound = the same for `live-audio.m3u8` (a renditions' window). Only what happens "
        "while segments come counts (up to a second after the last): dropped = segments dropped "
        "from a full queue meanwhile, behind = segments still unnamed then. Gap = the longest time "
        "`live.m3u8` named no new segment (a player ~1.5 s behind the edge stalls past ~1.5 s).",
        "",
        "| median PUT | one at a time: main p50 / p90 | sound p50 | gap | dropped / behind | "
        "at once: main p50 / p90 | sound p50 | gap | dropped / behind | main p50 ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    by = {(r["median_put_s"], r["parallel"]): r for r in results}

    def cells(r: dict[str, Any]) -> str:
        d, a = r["delay_s"], r["audio_delay_s"]
        return (
            f"{pct(d, 50):.2f} / {pct(d, 90):.2f} s | {pct(a, 50):.2f} s | {r['longest_gap_s']:.2f} s | "
            f"{r['dropped_while_fed']} / {r['behind_at_end']} of {r['segments']}"
        )

    for median in MEDIANS_S:
        serial, parallel = by[(median, False)], by[(median, True)]
        ratio = pct(serial["delay_s"], 50) / pct(parallel["delay_s"], 50)
        lines.append(f"| {median * 1000:.0f} ms | {cells(serial)} | **{cells(parallel)}** | {ratio:.1f}× |")
    return "\n".join(lines)


def _plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for parallel, colour, label in ((False, "tab:red", "one at a time"), (True, "tab:blue", "at once")):
        rows = [r for r in results if r["parallel"] == parallel]
        x = [r["median_put_s"] * 1000 for r in rows]
        ax.plot(x, [pct(r["delay_s"], 50) for r in rows], "o-", color=colour, label=f"{label}: p50")
        ax.plot(x, [pct(r["delay_s"], 90) for r in rows], "s--", color=colour, label=f"{label}: p90")
    ax.axhline(1.5, color="grey", lw=0.8, ls=":")
    ax.text(20, 1.6, "the page's hold-back (1.5 s)", color="grey", fontsize=8)
    ax.set_xlabel("median latency of one PUT (ms), lognormal, sigma 0.5")
    ax.set_ylabel("segment handed over → named by live.m3u8 (s)")
    ax.set_yscale("log")
    ax.set_title("A video Space's uploads: 7 objects per 1 s segment")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=int, default=60, help="segments fed to each publisher (one a second)")
    ap.add_argument("--no-doc", action="store_true", help="print the table, leave the docs alone")
    args = ap.parse_args()
    results = run(args.seconds)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "upload.json").write_text(json.dumps(results, indent=1))
    body = _body(results, args.seconds, machine_note())
    print(body)
    if not args.no_doc:
        _plot(results, IMG / "broadcast-upload.png")
        update_section("upload", body + "\n\n![upload delay](img/broadcast-upload.png)")


if __name__ == "__main__":
    main()
