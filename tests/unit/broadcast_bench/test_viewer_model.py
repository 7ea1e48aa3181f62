"""The simulated hls.js viewer (bench/broadcast/clients.py) and the latency matcher: pure parts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.broadcast.clients import Viewer, parse_playlist
from bench.broadcast.latency import Schedule, summarize

PLAYLIST = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXTINF:1.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T20:16:58.064+0000
a-0.ts
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T20:16:59.064Z
#EXTINF:0.96,
a-1.ts
"""


def test_parse_playlist_reads_segments_durations_and_dates() -> None:
    pl = parse_playlist(PLAYLIST)
    assert pl.target == 1.0
    assert [s[0] for s in pl.segments] == ["a-0.ts", "a-1.ts"]
    assert pl.segments[1][1] == pytest.approx(0.96)
    assert pl.segments[1][2] is not None and pl.segments[0][2] is not None
    assert pl.segments[1][2] - pl.segments[0][2] == pytest.approx(1.0)
    assert not pl.ended
    assert parse_playlist(PLAYLIST + "#EXT-X-ENDLIST\n").ended


def test_viewer_without_gaps_never_stalls() -> None:
    v = Viewer()
    for i in range(5):
        v.append(100.0 + i, 1.0)  # one 1 s segment per second, the first at t=100
    v.advance(104.9)
    assert v.stalls == []
    assert v.position == pytest.approx(4.9)


def test_viewer_stalls_when_the_play_head_reaches_the_end_of_the_buffer() -> None:
    v = Viewer()
    v.append(100.0, 1.0)
    v.append(100.5, 1.0)  # 2 s buffered at 100.5
    v.append(103.5, 1.0)  # ran dry at 102.0, resumed at 103.5
    assert v.stalls == [pytest.approx(1.5)]
    assert v.stalled_since is None
    v.advance(104.0)
    assert v.position == pytest.approx(2.5)


def test_viewer_starts_inside_the_first_segment_at_its_hold_back_point() -> None:
    v = Viewer()
    v.append(100.0, 1.0, skip=0.5)  # 1.5 s behind an edge of 2 segments: half of the first skipped
    v.append(100.0, 1.0)
    v.advance(101.4)
    assert v.stalls == [] and v.position == pytest.approx(1.9)
    v.advance(101.6)  # 1.5 s of media were ahead of the play head, not 2
    assert v.stalled_since == pytest.approx(101.5)


def test_the_latency_probe_page_plays_with_the_web_pages_live_settings() -> None:
    """bench/broadcast/latency_page.html mirrors web/src/broadcast.ts LIVE_HLS_CONFIG by hand."""
    root = Path(__file__).resolve().parents[3]
    ts = (root / "web/src/broadcast.ts").read_text()
    page = (root / "bench/broadcast/latency_page.html").read_text()
    start = ts.index("export const LIVE_HLS_CONFIG")
    block = ts[start : ts.index("} as const;", start)]
    settings = dict(re.findall(r"^\s+(live\w+|maxLive\w+|lowLatencyMode): ([\w.]+),", block, re.M))
    assert {"liveSyncDuration", "lowLatencyMode", "maxLiveSyncPlaybackRate"} <= settings.keys()
    for key, value in settings.items():
        assert re.search(rf"^\s+{key}: {re.escape(value)},", page, re.M), (key, value)


def test_latency_matcher_uses_hand_over_times() -> None:
    sched = Schedule(t0=1000.0, period=7.0, count=3)
    assert bool(sched.active(1000.1)) and not bool(sched.active(1000.3)) and not bool(sched.active(999.0))
    emitted = {"hls": {("flash", 0): 1000.0, ("flash", 1): 1007.2}, "webrtc": {("tone", 1): 1007.0}}
    events = [
        {"path": "hls", "kind": "flash", "t": 1003_500},
        {"path": "hls", "kind": "flash", "t": 1010_700},
        {"path": "hls", "kind": "flash", "t": 1010_800},  # the same flash seen twice: first counts
        {"path": "webrtc", "kind": "tone", "t": 1007_300},
        {"path": "webrtc", "kind": "tone", "t": 999_000},  # before anything was sent: stray
    ]
    s = summarize(events, emitted, 7.0, first_k=0)
    assert s["hls/flash"]["values"] == [pytest.approx(3.5), pytest.approx(3.5)]
    assert s["hls/flash"]["missed"] == 0
    assert s["webrtc/tone"]["values"] == [pytest.approx(0.3)]
    assert s["webrtc/tone"]["stray"] == 1
    assert s["webrtc/flash"]["n"] == 0
