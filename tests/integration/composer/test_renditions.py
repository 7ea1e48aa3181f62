"""A video broadcast's renditions, encoded with the real codecs and read back with FFmpeg: each low
segment is the same media as its main twin at half the size, each audio segment its sound alone,
the windows line up, and a replacement composer with or without renditions keeps every window
playable."""

from __future__ import annotations

import io
import re
from pathlib import Path

import av
import pytest

from composer.hls import Broadcast, BroadcastConfig, DiskSink
from composer.hls.playlist import audio_twin, low_twin
from contract import names
from tests.integration.composer.media import (
    Feeder,
    colour_at,
    corrupt_packets,
    near,
    read_playlist,
    read_segment,
)

T0 = 1_764_619_200.0
SPACE = "space-r"
EPOCH = 1_764_619_200_000
LATER = EPOCH + 60_000


def _audio_payloads(data: bytes) -> list[bytes]:
    with av.open(io.BytesIO(data), "r", format="mpegts") as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def _broadcast(root: Path, config: BroadcastConfig, epoch: int, seconds: float, *, ended: bool) -> None:
    broadcast = Broadcast.resume(config, DiskSink(root), space_id=SPACE, epoch_ms=epoch, clock=lambda: T0)
    Feeder(config).feed(broadcast, seconds)
    assert broadcast.close(ended=ended)


def test_each_low_segment_is_its_twins_media_at_half_the_size(tmp_path: Path) -> None:
    config = BroadcastConfig()  # 1280x720 and 640x360
    _broadcast(tmp_path, config, EPOCH, 3.5, ended=True)
    root = tmp_path / SPACE
    main = read_playlist((root / names.BROADCAST_LIVE_PLAYLIST).read_text())
    low = read_playlist((root / names.BROADCAST_LOW_LIVE_PLAYLIST).read_text())
    assert [s.uri for s in main.segments] == [f"{EPOCH}-{n}.av.ts" for n in range(4)]
    assert [s.uri for s in low.segments] == [f"{EPOCH}-{n}.lo.ts" for n in range(4)]
    assert [(s.duration, s.program_date_time) for s in low.segments] == [
        (s.duration, s.program_date_time) for s in main.segments
    ]
    assert low.ended and main.ended
    for n, seg in enumerate(main.segments):
        big = read_segment((root / seg.uri).read_bytes())
        small_data = (root / low_twin(seg.uri)).read_bytes()
        small = read_segment(small_data)
        assert (big.width, big.height, small.width, small.height) == (1280, 720, 640, 360)
        assert small.first_packet_is_keyframe, f"low segment {n} must start with a keyframe"
        # Cut at the same frame, with the very same audio packets: a player switches at any boundary.
        assert small.video_pts == big.video_pts and small.audio_pts == big.audio_pts
        assert _audio_payloads(small_data) == _audio_payloads((root / seg.uri).read_bytes())
        assert small.mean_rgb is not None and near(small.mean_rgb, colour_at(n)), (n, small.mean_rgb)
    # Read as one stream, as a player or a recorder does, no packet is flagged.
    assert corrupt_packets(str(root / names.BROADCAST_LOW_LIVE_PLAYLIST)) == []
    # The ended recording has both renditions too, for the replay.
    recording = read_playlist((root / names.BROADCAST_LOW_PLAYLIST).read_text())
    assert [s.uri for s in recording.segments] == [s.uri for s in low.segments] and recording.ended
    replay = (root / names.BROADCAST_VARIANTS).read_text()
    assert [line for line in replay.splitlines() if not line.startswith("#")] == [
        names.BROADCAST_LOW_PLAYLIST,
        names.BROADCAST_PLAYLIST,
        names.BROADCAST_AUDIO_PLAYLIST,
    ]
    assert corrupt_packets(str(root / names.BROADCAST_LOW_PLAYLIST)) == []


def _decoded_audio(path: Path) -> list[float]:
    """The stream's sound as a player hears it: every decoded AAC frame's loudness, in order."""
    with av.open(str(path)) as container:
        return [float(abs(frame.to_ndarray()).mean()) for frame in container.decode(audio=0)]


def test_each_audio_segment_is_its_twins_sound_alone_and_plays_as_one_stream(tmp_path: Path) -> None:
    _broadcast(tmp_path, BroadcastConfig(), EPOCH, 3.5, ended=True)
    root = tmp_path / SPACE
    main = read_playlist((root / names.BROADCAST_LIVE_PLAYLIST).read_text())
    sound = read_playlist((root / names.BROADCAST_AUDIO_LIVE_PLAYLIST).read_text())
    assert [s.uri for s in sound.segments] == [f"{EPOCH}-{n}.au.ts" for n in range(4)]
    assert [(s.duration, s.program_date_time, s.discontinuity) for s in sound.segments] == [
        (s.duration, s.program_date_time, s.discontinuity) for s in main.segments
    ]
    assert sound.ended
    for seg in main.segments:
        data = (root / audio_twin(seg.uri)).read_bytes()
        alone, big = read_segment(data), read_segment((root / seg.uri).read_bytes())
        assert alone.streams == ("aac",), "no picture in the sound alone"
        # The very same AAC packets at the same times: a player switches at any boundary.
        assert alone.audio_pts == big.audio_pts
        assert _audio_payloads(data) == _audio_payloads((root / seg.uri).read_bytes())
        assert len(data) < (root / low_twin(seg.uri)).stat().st_size
    assert corrupt_packets(str(root / names.BROADCAST_AUDIO_LIVE_PLAYLIST)) == []
    # Heard through the audio window, the sound is the main window's, frame for frame.
    heard = _decoded_audio(root / names.BROADCAST_AUDIO_LIVE_PLAYLIST)
    assert heard and heard == _decoded_audio(root / names.BROADCAST_LIVE_PLAYLIST)
    recording = read_playlist((root / names.BROADCAST_AUDIO_PLAYLIST).read_text())
    assert [s.uri for s in recording.segments] == [s.uri for s in sound.segments] and recording.ended


def test_the_variants_name_every_window_with_the_codecs_the_encoders_chose(tmp_path: Path) -> None:
    _broadcast(tmp_path, BroadcastConfig(), EPOCH, 1.5, ended=False)
    root = tmp_path / SPACE
    text = (root / names.BROADCAST_LIVE_VARIANTS).read_text()
    streams = re.findall(r"#EXT-X-STREAM-INF:(.*)\n(.*)\n", text)
    assert [uri for _, uri in streams] == [
        names.BROADCAST_LOW_LIVE_PLAYLIST,
        names.BROADCAST_LIVE_PLAYLIST,
        names.BROADCAST_AUDIO_LIVE_PLAYLIST,  # last: no player that shows pictures starts on it
    ]
    sound_attributes, _ = streams.pop()
    assert 'CODECS="mp4a.40.2"' in sound_attributes and "RESOLUTION" not in sound_attributes
    bandwidth = int(re.search(r"AVERAGE-BANDWIDTH=(\d+)", sound_attributes)[1])  # type: ignore[index]
    sound = read_playlist((root / names.BROADCAST_AUDIO_LIVE_PLAYLIST).read_text())
    written = (
        sum((root / s.uri).stat().st_size for s in sound.segments)
        * 8
        / sum(s.duration for s in sound.segments)
    )
    assert written <= bandwidth, "the sound alone's average is at or over what is written"
    for attributes, uri in streams:
        window = read_playlist((root / uri).read_text())
        with av.open(str(root / window.segments[0].uri)) as container:
            ctx = container.streams.video[0].codec_context
            expected = {"High": 0x64}[str(ctx.profile)], ctx.level, ctx.width, ctx.height
        codec = re.search(r'CODECS="avc1\.([0-9a-f]{2})[0-9a-f]{2}([0-9a-f]{2}),mp4a\.40\.2"', attributes)
        size = re.search(r"RESOLUTION=(\d+)x(\d+)", attributes)
        assert codec and size, attributes
        assert (int(codec[1], 16), int(codec[2], 16), int(size[1]), int(size[2])) == expected


_SINGLE = BroadcastConfig(width=320, height=180, low_rendition=None)  # no renditions
_PAIRS = BroadcastConfig(width=320, height=180, audio_rendition=False)  # the release before this one
_ALL = BroadcastConfig(width=320, height=180)


@pytest.mark.parametrize(
    ("first", "second"),
    [(_SINGLE, _ALL), (_ALL, _SINGLE), (_PAIRS, _ALL), (_ALL, _PAIRS)],
    ids=["single-then-all", "all-then-single", "pairs-then-all", "all-then-pairs"],
)
def test_a_replacement_keeps_every_window_playable_across_a_deploy(
    tmp_path: Path, first: BroadcastConfig, second: BroadcastConfig
) -> None:
    # A composer of one version follows one of another (a rolling deploy): every file a window
    # names is there, the windows stay in step, and each plays through FFmpeg.
    _broadcast(tmp_path, first, EPOCH, 2.0, ended=False)
    _broadcast(tmp_path, second, LATER, 2.0, ended=True)
    root = tmp_path / SPACE
    main = read_playlist((root / names.BROADCAST_LIVE_PLAYLIST).read_text())
    for name, twin in (
        (names.BROADCAST_LOW_LIVE_PLAYLIST, low_twin),
        (names.BROADCAST_AUDIO_LIVE_PLAYLIST, audio_twin),
    ):
        window = read_playlist((root / name).read_text())
        assert [twin(s.uri) for s in main.segments] == [s.uri for s in window.segments], name
        assert [s.discontinuity for s in window.segments] == [s.discontinuity for s in main.segments]
        assert all((root / s.uri).is_file() for s in window.segments), name
    assert all((root / s.uri).is_file() for s in main.segments)
    low = read_playlist((root / names.BROADCAST_LOW_LIVE_PLAYLIST).read_text())
    low_sizes = [read_segment((root / s.uri).read_bytes()).height for s in low.segments]
    # A version without twins is named at its own size.
    expected = [90 if c.low is not None else 180 for c in (first, second) for _ in range(2)]
    assert low_sizes == expected
    sound = read_playlist((root / names.BROADCAST_AUDIO_LIVE_PLAYLIST).read_text())
    heard = [read_segment((root / s.uri).read_bytes()).streams for s in sound.segments]
    # The sound alone where its composer wrote it; elsewhere the smallest file that holds it.
    assert heard == [("aac",) if c.audio_twin else ("h264", "aac") for c in (first, second) for _ in range(2)]
    assert corrupt_packets(str(root / names.BROADCAST_LOW_LIVE_PLAYLIST)) == []
    if not first.audio_twin:
        # Pictures that come after the sound alone are a new stream, which FFmpeg's demuxer (and
        # a player that set itself up for sound) cannot take: docs/broadcast.md, "Deploys".
        assert corrupt_packets(str(root / names.BROADCAST_AUDIO_LIVE_PLAYLIST)) == []
    assert (root / names.BROADCAST_LIVE_VARIANTS).is_file()
    # The recording's renditions come from the composer that ended the Space, if it had them.
    assert (root / names.BROADCAST_VARIANTS).is_file() == (second.low is not None)
    whole = read_playlist((root / names.BROADCAST_PLAYLIST).read_text()).segments
    if second.low is not None:
        recording = read_playlist((root / names.BROADCAST_LOW_PLAYLIST).read_text())
        assert [s.uri for s in recording.segments] == [low_twin(s.uri) for s in whole]
        assert corrupt_packets(str(root / names.BROADCAST_LOW_PLAYLIST)) == []
        recording = read_playlist((root / names.BROADCAST_AUDIO_PLAYLIST).read_text())
        assert [s.uri for s in recording.segments] == [audio_twin(s.uri) for s in whole]


def test_an_audio_only_broadcast_has_one_rendition(tmp_path: Path) -> None:
    _broadcast(tmp_path, BroadcastConfig(video=False), EPOCH, 1.5, ended=True)
    files = {p.name for p in (tmp_path / SPACE).iterdir()}
    assert names.BROADCAST_LOW_LIVE_PLAYLIST not in files and names.BROADCAST_LIVE_VARIANTS not in files
    assert names.BROADCAST_AUDIO_LIVE_PLAYLIST not in files
    assert not any(name.endswith((".av.ts", ".hi.ts", ".lo.ts", ".au.ts")) for name in files)
    assert all(
        name.endswith("-0.ts") or name.endswith("-1.ts") for name in files if name.startswith(str(EPOCH))
    )
