"""A composer killed mid-Space is replaced: the playlist continues with a discontinuity, keeps every
earlier segment and the stage history, and closes with ENDLIST when the Space ends."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from composer.hls import Broadcast, BroadcastConfig, BroadcastEnded, DiskSink
from composer.hls.playlist import parse_playlist
from tests.integration.composer.media import Feeder, corrupt_packets, read_segment
from tests.support.eventually import eventually

ROOT = Path(__file__).resolve().parents[3]
LIVE_FEED = "tests.integration.composer.live_feed"
SPACE = "space-r"
CONFIG = BroadcastConfig(width=320, height=180)
FIRST_EPOCH = 1_764_619_200_000
SECOND_EPOCH = FIRST_EPOCH + 60_000


@pytest.fixture
def killed_composer(tmp_path: Path) -> Iterator[Path]:
    """A composer process that published a few segments and a timeline, then was SIGKILLed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", LIVE_FEED, str(tmp_path), SPACE, str(FIRST_EPOCH)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        playlist = tmp_path / SPACE / "index.m3u8"
        timeline = tmp_path / SPACE / "timeline.json"

        def published() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"composer exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            return (
                playlist.exists()
                and timeline.exists()
                and len(parse_playlist(playlist.read_text()).segments) >= 3
            )

        eventually(published, timeout=120, interval=0.1, what="the first composer publishes 3 segments")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        yield tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def test_replacement_composer_continues_the_playlist_after_a_kill(killed_composer: Path) -> None:
    root = killed_composer / SPACE
    before = parse_playlist((root / "index.m3u8").read_text())
    assert not before.ended

    broadcast = Broadcast.resume(CONFIG, DiskSink(killed_composer), space_id=SPACE, epoch_ms=SECOND_EPOCH)
    Feeder(CONFIG).feed(broadcast, 2.0)
    broadcast.record_stage({"spotlight": "bob", "video_spotlight": None, "pinned": None, "names": {"b": "B"}})
    assert broadcast.close(ended=True)

    after = parse_playlist((root / "index.m3u8").read_text())
    assert after.ended
    old, new = after.segments[: len(before.segments)], after.segments[len(before.segments) :]
    assert old == before.segments, "every segment of the killed composer is kept as it was"
    assert all(s.uri.startswith(f"{FIRST_EPOCH}-") for s in old)
    assert [s.uri for s in new] == [f"{SECOND_EPOCH}-0.av.ts", f"{SECOND_EPOCH}-1.av.ts"]
    assert [s.discontinuity for s in after.segments] == [False] * len(old) + [True, False]
    assert (root / "index.m3u8").read_text().count("#EXT-X-DISCONTINUITY") == 1
    assert new[0].program_date_time > old[-1].program_date_time
    for seg in after.segments:
        reading = read_segment((root / seg.uri).read_bytes())
        assert reading.first_packet_is_keyframe and len(reading.video_pts) == 30
    # The new encoder's continuity counters start afresh; its first segment says the jump is meant.
    assert corrupt_packets(str(root / "index.m3u8")) == []

    timeline = json.loads((root / "timeline.json").read_text())
    assert timeline["ended"] is True
    assert [e["spotlight"] for e in timeline["entries"]] == ["alice", "bob"]
    assert timeline["started_at"] == pytest.approx(old[0].program_date_time, abs=0.001)


def test_an_ended_broadcast_is_not_reopened_and_an_epoch_is_never_reused(tmp_path: Path) -> None:
    first = Broadcast(CONFIG, DiskSink(tmp_path), space_id=SPACE, epoch_ms=FIRST_EPOCH)
    Feeder(CONFIG).feed(first, 1.0)
    assert first.close(ended=False)
    with pytest.raises(ValueError, match="already used"):
        Broadcast.resume(CONFIG, DiskSink(tmp_path), space_id=SPACE, epoch_ms=FIRST_EPOCH)

    second = Broadcast.resume(CONFIG, DiskSink(tmp_path), space_id=SPACE, epoch_ms=SECOND_EPOCH)
    Feeder(CONFIG).feed(second, 1.0)
    assert second.close(ended=True)
    with pytest.raises(BroadcastEnded):
        Broadcast.resume(CONFIG, DiskSink(tmp_path), space_id=SPACE, epoch_ms=SECOND_EPOCH + 1)


def test_a_composer_older_than_the_playlists_writer_does_not_resume_it(tmp_path: Path) -> None:
    """A composer that started before the one now writing the playlist (its epoch is older) must
    not write over it even once (docs/broadcast.md, "Two writers")."""
    newer = Broadcast(CONFIG, DiskSink(tmp_path), space_id=SPACE, epoch_ms=SECOND_EPOCH)
    Feeder(CONFIG).feed(newer, 1.0)
    assert newer.close(ended=False)
    with pytest.raises(BroadcastEnded, match="newer composer"):
        Broadcast.resume(CONFIG, DiskSink(tmp_path), space_id=SPACE, epoch_ms=FIRST_EPOCH)


def test_the_newest_composer_behind_its_predecessors_clock_continues_the_playlist(tmp_path: Path) -> None:
    """A predecessor whose host clock ran ahead named its segments with a later epoch than this
    composer's clock gives; the newest composer (still in the room) continues after it, under the
    next epoch, instead of refusing the Space until its clock catches up."""
    ahead = Broadcast(CONFIG, DiskSink(tmp_path), space_id=SPACE, epoch_ms=SECOND_EPOCH)
    Feeder(CONFIG).feed(ahead, 1.0)
    assert ahead.close(ended=False)
    behind = Broadcast.resume(
        CONFIG, DiskSink(tmp_path), space_id=SPACE, epoch_ms=FIRST_EPOCH, newest=lambda: True
    )
    Feeder(CONFIG).feed(behind, 2.0)
    assert behind.close(ended=True)
    playlist = parse_playlist((tmp_path / SPACE / "index.m3u8").read_text())
    assert [(s.uri, s.discontinuity) for s in playlist.segments] == [
        (f"{SECOND_EPOCH}-0.av.ts", False),
        (f"{SECOND_EPOCH + 1}-0.av.ts", True),
        (f"{SECOND_EPOCH + 1}-1.av.ts", False),
    ]
    assert playlist.ended
    assert corrupt_packets(str(tmp_path / SPACE / "index.m3u8")) == []


def test_resume_without_a_playlist_starts_a_new_broadcast(tmp_path: Path) -> None:
    broadcast = Broadcast.resume(CONFIG, DiskSink(tmp_path), space_id=SPACE, epoch_ms=FIRST_EPOCH)
    Feeder(CONFIG).feed(broadcast, 1.0)
    assert broadcast.close(ended=True)
    playlist = parse_playlist((tmp_path / SPACE / "index.m3u8").read_text())
    assert [(s.uri, s.discontinuity) for s in playlist.segments] == [(f"{FIRST_EPOCH}-0.av.ts", False)]
