"""A broadcast encoded with the real FFmpeg codecs (PyAV) and written to disk, read back with FFmpeg."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from composer.hls import Broadcast, BroadcastConfig, DiskSink
from composer.hls.playlist import is_closed
from tests.integration.composer.media import (
    TONE_HZ,
    Feeder,
    colour_at,
    corrupt_packets,
    near,
    read_playlist,
    read_segment,
    tone,
)

T0 = 1_764_619_200.0
SPACE = "space-1"
EPOCH = 1_764_619_200_000


def _clock() -> float:
    return T0


def test_720p_broadcast_has_one_second_segments_that_decode_with_sound_and_the_right_colours(
    tmp_path: Path,
) -> None:
    config = BroadcastConfig()  # 1280x720 at 30 fps, 1 s segments
    broadcast = Broadcast(config, DiskSink(tmp_path), space_id=SPACE, epoch_ms=EPOCH, clock=_clock)
    Feeder(config).feed(broadcast, 3.5)
    broadcast.record_stage(
        {"spotlight": "alice", "video_spotlight": "alice", "pinned": None, "names": {"alice": "Alice"}}
    )
    assert broadcast.close(ended=True)

    root = tmp_path / SPACE
    text = (root / "index.m3u8").read_text()
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text and "#EXT-X-MEDIA-SEQUENCE:0" in text
    assert is_closed(text)
    playlist = read_playlist(text)
    assert [s.uri for s in playlist.segments] == [f"{EPOCH}-{n}.av.ts" for n in range(4)]
    assert [s.duration for s in playlist.segments] == pytest.approx([1.0, 1.0, 1.0, 0.5], abs=0.03)
    assert text.count("#EXT-X-PROGRAM-DATE-TIME:") == 4
    assert [s.program_date_time for s in playlist.segments] == pytest.approx([T0, T0 + 1, T0 + 2, T0 + 3])
    assert not any(s.discontinuity for s in playlist.segments)

    readings = [read_segment((root / s.uri).read_bytes()) for s in playlist.segments]
    for n, reading in enumerate(readings):
        assert reading.streams == ("h264", "aac")
        assert (reading.width, reading.height) == (1280, 720)
        assert reading.first_packet_is_keyframe, f"segment {n} must start with a keyframe"
        assert (reading.audio_rate, reading.audio_channels) == (48000, 1)
        assert reading.mean_rgb is not None and near(reading.mean_rgb, colour_at(n)), (n, reading.mean_rgb)
        assert float((reading.audio**2).mean() ** 0.5) > 0.1, f"segment {n} has no sound"
        assert reading.tone_hz() == pytest.approx(TONE_HZ, abs=5)
    assert [len(r.video_pts) for r in readings] == [30, 30, 30, 15]
    # Continuous timestamps: each segment starts one frame after the previous one ended.
    for prev, cur in zip(readings, readings[1:], strict=False):
        assert cur.video_pts[0] - prev.video_pts[-1] == 3000
        assert cur.audio_pts[0] > prev.audio_pts[-1]
        assert abs((cur.video_pts[0] - prev.video_pts[0]) / 90000 - 1.0) < 1e-9
    # Audio and video start together in every full segment (within one AAC frame, 21 ms).
    for reading in readings[1:]:
        assert abs(reading.audio_pts[0] - reading.video_pts[0]) <= 1920
    # Read as one stream (a player's or recorder's demuxer), no packet is flagged: the continuity
    # counters run on across segments (before, each segment's keyframe was flagged corrupt).
    assert corrupt_packets(str(root / "index.m3u8")) == []

    timeline = (root / "timeline.json").read_text()
    assert '"ended":true' in timeline and '"alice":"Alice"' in timeline
    assert not list(root.glob(".*.tmp")), "no temporary files left behind"


def test_audio_only_broadcast_has_aac_segments_and_no_video_stream(tmp_path: Path) -> None:
    config = BroadcastConfig(video=False)
    broadcast = Broadcast(config, DiskSink(tmp_path), space_id=SPACE, epoch_ms=EPOCH, clock=_clock)
    Feeder(config).feed(broadcast, 3.0)
    with pytest.raises(ValueError, match="audio-only"):
        broadcast.push_video(np.zeros((720, 1280, 3), dtype=np.uint8))
    assert broadcast.close(ended=True)

    root = tmp_path / SPACE
    playlist = read_playlist((root / "index.m3u8").read_bytes())
    assert playlist.ended
    assert len(playlist.segments) == 3
    assert [s.duration for s in playlist.segments[:2]] == pytest.approx([1.0, 1.0], abs=0.03)
    assert sum(s.duration for s in playlist.segments) == pytest.approx(3.0, abs=0.05)
    for seg in playlist.segments:
        reading = read_segment((root / seg.uri).read_bytes())
        assert reading.streams == ("aac",)
        assert reading.video_pts == ()
        assert reading.tone_hz() == pytest.approx(TONE_HZ, abs=5)
    assert corrupt_packets(str(root / "index.m3u8")) == []
    sizes = [(root / s.uri).stat().st_size for s in playlist.segments[:2]]
    # 64 kb/s AAC is 8 kB a second; MPEG-TS packing must not double it (one PES per AAC frame would).
    assert max(sizes) < 12_000


def test_live_playlist_has_no_endlist_until_the_space_ends(tmp_path: Path) -> None:
    config = BroadcastConfig(width=320, height=180)
    broadcast = Broadcast(config, DiskSink(tmp_path), space_id=SPACE, epoch_ms=EPOCH, clock=_clock)
    Feeder(config).feed(broadcast, 2.0)
    assert broadcast.close(ended=False)
    text = (tmp_path / SPACE / "index.m3u8").read_text()
    assert not is_closed(text)
    assert len(read_playlist(text).segments) == 2


def test_wrong_input_is_refused_with_what_was_expected(tmp_path: Path) -> None:
    config = BroadcastConfig(width=320, height=180)
    broadcast = Broadcast(config, DiskSink(tmp_path), space_id=SPACE, epoch_ms=EPOCH, clock=_clock)
    with pytest.raises(ValueError, match=r"\(180, 320, 3\)"):
        broadcast.push_video(np.zeros((720, 1280, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="mono int16"):
        broadcast.push_audio(np.zeros((2, 480), dtype=np.int16))
    with pytest.raises(ValueError, match="mono int16"):
        broadcast.push_audio(np.zeros(480, dtype=np.float32))
    with pytest.raises(ValueError, match="names"):
        broadcast.record_stage({"spotlight": "a", "names": ["a"]})
    assert broadcast.close(ended=True)
    assert not (tmp_path / SPACE / "index.m3u8").exists(), "nothing was pushed, nothing published"
    with pytest.raises(RuntimeError, match="closed"):
        broadcast.push_audio(np.zeros(480, dtype=np.int16))


def test_audio_arriving_half_a_segment_late_still_lands_in_its_own_segment(tmp_path: Path) -> None:
    config = BroadcastConfig(width=320, height=180)
    broadcast = Broadcast(config, DiskSink(tmp_path), space_id=SPACE, epoch_ms=EPOCH, clock=_clock)
    lag = config.fps // 2  # audio for frame i arrives with frame i + 15
    per_frame = config.sample_rate // config.fps
    frame = np.empty((180, 320, 3), dtype=np.uint8)
    for i in range(3 * config.fps + lag):
        if i < 3 * config.fps:
            frame[:] = colour_at(i // config.fps)
            broadcast.push_video(frame)
        if i >= lag:
            broadcast.push_audio(tone((i - lag) * per_frame, per_frame, config.sample_rate))
    assert broadcast.close(ended=True)

    playlist = read_playlist((tmp_path / SPACE / "index.m3u8").read_bytes())
    readings = [read_segment((tmp_path / SPACE / s.uri).read_bytes()) for s in playlist.segments]
    assert [len(r.video_pts) for r in readings] == [30, 30, 30]
    for reading in readings:
        # Each segment holds its own second of audio: 47 AAC frames (48 in the first, with priming),
        # starting with its video.
        assert len(reading.audio_pts) in (46, 47, 48)
        assert abs(reading.audio_pts[0] - reading.video_pts[0]) <= 1920


def test_a_skipped_span_moves_program_date_time_on_and_keeps_the_media_continuous(tmp_path: Path) -> None:
    """The composer drops a span it could not encode in time (a starved machine): the segments
    after it carry the wall-clock time of their first sample, the media timestamps run on."""
    config = BroadcastConfig(width=320, height=180)
    broadcast = Broadcast(config, DiskSink(tmp_path), space_id=SPACE, epoch_ms=EPOCH, clock=_clock)
    feeder = Feeder(config)
    feeder.feed(broadcast, 1.5)
    broadcast.skip(5.0)  # mid-segment: the segment in progress keeps its start time
    feeder.feed(broadcast, 1.5)
    assert broadcast.close(ended=True)

    root = tmp_path / SPACE
    playlist = read_playlist((root / "index.m3u8").read_text())
    assert [s.program_date_time for s in playlist.segments] == pytest.approx([T0, T0 + 1, T0 + 7])
    assert not any(s.discontinuity for s in playlist.segments)
    readings = [read_segment((root / s.uri).read_bytes()) for s in playlist.segments]
    frame_ticks = 90_000 // config.fps
    video = [pts for r in readings for pts in r.video_pts]
    assert all(b - a == frame_ticks for a, b in zip(video, video[1:], strict=False)), "video PTS must run on"


def test_skips_reported_all_along_keep_every_segment_on_the_wall_clock_in_bounded_memory(
    tmp_path: Path,
) -> None:
    """A starved composer reports a skip every pacer tick, for as long as the Space lasts: only
    the skips a segment still to come can need are kept, and every segment's time stays right."""
    config = BroadcastConfig(width=320, height=180, fps=10)
    broadcast = Broadcast(config, DiskSink(tmp_path), space_id=SPACE, epoch_ms=EPOCH, clock=_clock)
    feeder = Feeder(config)
    kept = []
    for _ in range(6 * config.fps):  # 6 s of media, one 0.1 s skip per frame
        feeder.feed(broadcast, 1 / config.fps)
        broadcast.skip(0.1)
        kept.append(len(broadcast._skips))  # noqa: SLF001
    assert broadcast.close(ended=True)

    assert max(kept) <= 2 * config.fps + 1  # a segment's skips (and one more), not the Space's
    playlist = read_playlist((tmp_path / SPACE / "index.m3u8").read_text())
    # Segment n starts at media time n: its skips are those reported before it (10 a second).
    assert [s.program_date_time for s in playlist.segments] == pytest.approx(
        [T0 + n + n for n in range(6)], abs=0.15
    )


def test_audio_that_ran_ahead_of_the_pictures_never_raises_the_target_duration(tmp_path: Path) -> None:
    # A starved feeder: 1.5 s of pictures but 4 s of sound. The playlist's target duration may never
    # change (RFC 8216 6.2.1), so the last segment ends at most one segment after it started.
    config = BroadcastConfig(width=320, height=180)
    broadcast = Broadcast(config, DiskSink(tmp_path), space_id=SPACE, epoch_ms=EPOCH, clock=_clock)
    frame = np.zeros((180, 320, 3), dtype=np.uint8)
    for _ in range(int(1.5 * config.fps)):
        broadcast.push_video(frame)
    broadcast.push_audio(tone(0, 4 * config.sample_rate, config.sample_rate))
    assert broadcast.close(ended=True)

    text = (tmp_path / SPACE / "index.m3u8").read_text()
    playlist = read_playlist(text)
    assert playlist.target_duration == 1
    assert all(round(s.duration) <= 1 for s in playlist.segments)
    last = read_segment((tmp_path / SPACE / playlist.segments[-1].uri).read_bytes())
    assert last.audio_pts, "the last segment keeps the sound that belongs to its pictures"


def test_an_encoder_fault_at_the_flush_still_ends_the_recording_and_reports_an_incomplete_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = BroadcastConfig(width=320, height=180)
    broadcast = Broadcast(config, DiskSink(tmp_path), space_id=SPACE, epoch_ms=EPOCH, clock=_clock)
    Feeder(config).feed(broadcast, 2.5)
    broadcast.record_stage({"spotlight": "alice", "video_spotlight": None, "pinned": None, "names": {}})

    def broken_flush() -> list[object]:
        raise RuntimeError("encoder fault during flush (injected)")

    monkeypatch.setattr(broadcast._encoder, "flush", broken_flush)  # noqa: SLF001
    assert broadcast.close(ended=True) is False, "the last segment is lost: not a complete close"
    assert broadcast.close(ended=True) is False, "a second close says the same, not True"
    text = (tmp_path / SPACE / "index.m3u8").read_text()
    assert is_closed(text), "the recording still gets its end"
    assert [s.uri for s in read_playlist(text).segments] == [f"{EPOCH}-0.av.ts", f"{EPOCH}-1.av.ts"]
    assert '"ended":true' in (tmp_path / SPACE / "timeline.json").read_text()
