"""A video broadcast's two renditions, encoded with the real codecs and read back with FFmpeg: each
low segment is the same media as its main twin at half the size, the windows line up, and a
replacement composer with or without the low rendition keeps both windows playable."""

from __future__ import annotations

import io
import re
from pathlib import Path

import av
import pytest

from composer.hls import Broadcast, BroadcastConfig, DiskSink
from composer.hls.playlist import low_twin
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
    assert [s.uri for s in main.segments] == [f"{EPOCH}-{n}.hi.ts" for n in range(4)]
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
    ]
    assert corrupt_packets(str(root / names.BROADCAST_LOW_PLAYLIST)) == []


def test_the_variants_name_both_windows_with_the_codecs_the_encoders_chose(tmp_path: Path) -> None:
    _broadcast(tmp_path, BroadcastConfig(), EPOCH, 1.5, ended=False)
    root = tmp_path / SPACE
    text = (root / names.BROADCAST_LIVE_VARIANTS).read_text()
    streams = re.findall(r"#EXT-X-STREAM-INF:(.*)\n(.*)\n", text)
    assert [uri for _, uri in streams] == [names.BROADCAST_LOW_LIVE_PLAYLIST, names.BROADCAST_LIVE_PLAYLIST]
    for attributes, uri in streams:
        window = read_playlist((root / uri).read_text())
        with av.open(str(root / window.segments[0].uri)) as container:
            ctx = container.streams.video[0].codec_context
            expected = {"High": 0x64}[str(ctx.profile)], ctx.level, ctx.width, ctx.height
        codec = re.search(r'CODECS="avc1\.([0-9a-f]{2})[0-9a-f]{2}([0-9a-f]{2}),mp4a\.40\.2"', attributes)
        size = re.search(r"RESOLUTION=(\d+)x(\d+)", attributes)
        assert codec and size, attributes
        assert (int(codec[1], 16), int(codec[2], 16), int(size[1]), int(size[2])) == expected


@pytest.mark.parametrize("successor_has_low", [True, False])
def test_a_replacement_keeps_both_windows_playable_across_a_deploy(
    tmp_path: Path, successor_has_low: bool
) -> None:
    # A composer of one version follows one of the other (a rolling deploy): every file a window
    # names is there, the two windows stay in step, and the low one plays through FFmpeg.
    one = BroadcastConfig(width=320, height=180, low_rendition=None)
    two = BroadcastConfig(width=320, height=180)
    first, second = (one, two) if successor_has_low else (two, one)
    _broadcast(tmp_path, first, EPOCH, 2.0, ended=False)
    _broadcast(tmp_path, second, LATER, 2.0, ended=True)
    root = tmp_path / SPACE
    main = read_playlist((root / names.BROADCAST_LIVE_PLAYLIST).read_text())
    low = read_playlist((root / names.BROADCAST_LOW_LIVE_PLAYLIST).read_text())
    assert [low_twin(s.uri) for s in main.segments] == [s.uri for s in low.segments]
    assert [s.discontinuity for s in low.segments] == [s.discontinuity for s in main.segments]
    assert all((root / s.uri).is_file() for s in (*main.segments, *low.segments))
    low_sizes = {read_segment((root / s.uri).read_bytes()).height for s in low.segments}
    assert low_sizes == {90, 180}  # the version without twins is named at its own size
    assert corrupt_packets(str(root / names.BROADCAST_LOW_LIVE_PLAYLIST)) == []
    assert (root / names.BROADCAST_LIVE_VARIANTS).is_file()
    # The recording's renditions come from the composer that ended the Space, if it had them.
    assert (root / names.BROADCAST_VARIANTS).is_file() == successor_has_low
    if successor_has_low:
        recording = read_playlist((root / names.BROADCAST_LOW_PLAYLIST).read_text())
        assert [s.uri for s in recording.segments] == [
            low_twin(s.uri) for s in read_playlist((root / names.BROADCAST_PLAYLIST).read_text()).segments
        ]
        assert corrupt_packets(str(root / names.BROADCAST_LOW_PLAYLIST)) == []


def test_an_audio_only_broadcast_has_one_rendition(tmp_path: Path) -> None:
    _broadcast(tmp_path, BroadcastConfig(video=False), EPOCH, 1.5, ended=True)
    files = {p.name for p in (tmp_path / SPACE).iterdir()}
    assert names.BROADCAST_LOW_LIVE_PLAYLIST not in files and names.BROADCAST_LIVE_VARIANTS not in files
    assert not any(name.endswith((".hi.ts", ".lo.ts")) for name in files)
    assert all(
        name.endswith("-0.ts") or name.endswith("-1.ts") for name in files if name.startswith(str(EPOCH))
    )
