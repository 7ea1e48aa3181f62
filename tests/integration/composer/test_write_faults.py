"""Disk write failures during a real broadcast: retried, and the playlist never names a missing or
partial segment (checked after every single write, as a viewer polling the playlist would see it)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from composer.hls import Broadcast, BroadcastConfig, DiskSink, RetryPolicy
from composer.hls.playlist import parse_playlist
from tests.integration.composer.media import Feeder, corrupt_packets, read_segment

SPACE = "space-f"
EPOCH = 1_764_619_200_000
FAST_RETRY = RetryPolicy(attempts=6, initial_delay_s=0.001, max_delay_s=0.01)
CONFIG = BroadcastConfig(width=320, height=180, retry=FAST_RETRY)


class CheckedDiskSink(DiskSink):
    """A DiskSink that, after every successful write, checks what is on disk like a viewer would."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.intended: dict[str, bytes] = {}  # what each object should contain
        self.calls = 0
        self.failures = 0
        self.checks = 0
        self.violations: list[str] = []
        self._lock = threading.Lock()

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        with self._lock:
            self.calls += 1
            self.intended[key] = data
        super().write(key, data, content_type=content_type, cache_control=cache_control)
        self.check()

    def check(self) -> None:
        self.checks += 1
        playlist_path = self.root / SPACE / "index.m3u8"
        if not playlist_path.exists():
            return
        for seg in parse_playlist(playlist_path.read_text()).segments:
            path = self.root / SPACE / seg.uri
            if not path.exists():
                self.violations.append(f"playlist names missing {seg.uri}")
            elif path.read_bytes() != self.intended.get(f"{SPACE}/{seg.uri}"):
                self.violations.append(f"playlist names partial or wrong {seg.uri}")
            else:
                try:
                    read_segment(path.read_bytes())
                except Exception as exc:  # FFmpeg's error type varies; any failure to decode counts
                    self.violations.append(f"{seg.uri} does not decode: {exc}")


class EveryOtherWriteFails(CheckedDiskSink):
    attempts = 0

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        with self._lock:
            self.attempts += 1
            fail = self.attempts % 2 == 1
            if fail:
                self.failures += 1
        if fail:
            raise OSError(f"injected: write attempt {self.attempts} ({key}) refused")
        super().write(key, data, content_type=content_type, cache_control=cache_control)


class TornWrites(CheckedDiskSink):
    """The first attempt at every object dies half-way through writing its bytes (disk full)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.torn: set[str] = set()
        self._current = ""

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        self._current = key
        super().write(key, data, content_type=content_type, cache_control=cache_control)

    def _write_bytes(self, fh: Any, data: bytes) -> None:
        if self._current not in self.torn:
            self.torn.add(self._current)
            fh.write(data[: len(data) // 2])
            fh.flush()
            self.failures += 1
            self.check()  # mid-write, the half-written bytes must be invisible
            raise OSError(f"injected: no space left writing {self._current}")
        fh.write(data)


def _run(sink: CheckedDiskSink, seconds: float) -> Broadcast:
    broadcast = Broadcast(CONFIG, sink, space_id=SPACE, epoch_ms=EPOCH)
    feeder = Feeder(CONFIG)
    feeder.feed(broadcast, seconds / 2)
    broadcast.record_stage({"spotlight": "a", "video_spotlight": None, "pinned": None, "names": {"a": "A"}})
    feeder.feed(broadcast, seconds / 2)
    assert broadcast.close(ended=True)
    return broadcast


def _assert_complete(sink: CheckedDiskSink, segments: int) -> None:
    playlist = parse_playlist((sink.root / SPACE / "index.m3u8").read_text())
    assert playlist.ended
    assert [s.uri for s in playlist.segments] == [f"{EPOCH}-{n}.av.ts" for n in range(segments)]
    assert not any(s.discontinuity for s in playlist.segments), "retries lost nothing"
    assert (sink.root / SPACE / "timeline.json").exists()
    # No temporary file is left behind; the dot-files kept are the locks of the conditional writes
    # (DiskSink.write_if): the whole playlist, every live window and the timeline.
    assert sorted(p.name for p in (sink.root / SPACE).glob(".*")) == [
        ".index.m3u8.lock",
        ".live-audio.m3u8.lock",
        ".live-lo.m3u8.lock",
        ".live.m3u8.lock",
        ".timeline.json.lock",
    ]


def test_every_other_write_failing_is_retried_and_the_playlist_stays_valid(tmp_path: Path) -> None:
    sink = EveryOtherWriteFails(tmp_path)
    broadcast = _run(sink, 4.0)
    assert sink.violations == []
    assert sink.failures >= 8
    assert broadcast.stats.write_errors == sink.failures
    assert broadcast.stats.segments_dropped == 0
    _assert_complete(sink, 4)


def test_a_write_torn_half_way_is_never_visible_and_is_retried(tmp_path: Path) -> None:
    sink = TornWrites(tmp_path)
    broadcast = _run(sink, 3.0)
    assert sink.violations == []
    assert sink.failures == len(sink.torn) >= 5  # 3 segments, playlist, timeline: each torn once
    assert broadcast.stats.segments_dropped == 0
    _assert_complete(sink, 3)
    assert sink.checks == sink.calls  # every attempt checked: after its write, or mid-write when torn


class OneSegmentNeverWrites(DiskSink):
    def write(self, key: str, data: bytes, **kwargs: Any) -> None:
        if key.endswith(f"{EPOCH}-2.av.ts"):
            raise OSError("disk full (injected)")
        super().write(key, data, **kwargs)


def test_a_dropped_segment_leaves_a_gap_that_a_demuxer_reads_as_meant(tmp_path: Path) -> None:
    """The encoder's continuity counters ran on through the dropped segment: the one after it says
    the jump is meant, as its playlist entry does, so FFmpeg reading the playlist as one stream
    flags no packet (before, the keyframe after the gap was flagged corrupt)."""
    config = BroadcastConfig(width=320, height=180, retry=RetryPolicy(attempts=1))
    broadcast = Broadcast(config, OneSegmentNeverWrites(tmp_path), space_id=SPACE, epoch_ms=EPOCH)
    Feeder(config).feed(broadcast, 4.0)
    assert broadcast.close(ended=True)

    playlist = parse_playlist((tmp_path / SPACE / "index.m3u8").read_text())
    assert [(s.uri, s.discontinuity) for s in playlist.segments] == [
        (f"{EPOCH}-0.av.ts", False),
        (f"{EPOCH}-1.av.ts", False),
        (f"{EPOCH}-3.av.ts", True),
    ]
    assert broadcast.stats.segments_dropped == 1
    assert corrupt_packets(str(tmp_path / SPACE / "index.m3u8")) == []
