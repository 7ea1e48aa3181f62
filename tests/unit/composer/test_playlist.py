"""The broadcast's HLS playlist text: what players and the replay page rely on."""

from __future__ import annotations

import pytest

from composer.hls.playlist import (
    MediaPlaylist,
    Segment,
    Variant,
    audio_twin,
    avc_codec,
    format_program_date_time,
    is_closed,
    low_twin,
    parse_playlist,
    render_variants,
    target_duration_for,
    variant_bandwidths,
)

T0 = 1_764_619_200.0  # 2025-12-01T20:00:00Z


def _two_segments() -> MediaPlaylist:
    return MediaPlaylist().append(Segment("1000-0.ts", 1.0, T0)).append(Segment("1000-1.ts", 1.0, T0 + 1.0))


def test_event_playlist_header_and_a_program_date_time_on_every_segment() -> None:
    text = _two_segments().render()
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-PROGRAM-DATE-TIME:2025-12-01T20:00:00.000Z",
        "#EXTINF:1.000000,",
        "1000-0.ts",
        "#EXT-X-PROGRAM-DATE-TIME:2025-12-01T20:00:01.000Z",
        "#EXTINF:1.000000,",
        "1000-1.ts",
    ]
    assert text.endswith("\n")
    assert not is_closed(text)


def test_closed_playlist_ends_with_endlist_and_takes_no_more_segments() -> None:
    closed = _two_segments().close()
    text = closed.render()
    assert text.splitlines()[-1] == "#EXT-X-ENDLIST"
    assert is_closed(text)
    with pytest.raises(ValueError, match="ENDLIST"):
        closed.append(Segment("1000-2.ts", 1.0, T0 + 2))


def test_discontinuity_precedes_the_program_date_time_of_its_segment() -> None:
    playlist = _two_segments().append(Segment("2000-0.ts", 1.0, T0 + 30, discontinuity=True))
    lines = playlist.render().splitlines()
    at = lines.index("#EXT-X-DISCONTINUITY")
    assert lines[at + 1 : at + 4] == [
        "#EXT-X-PROGRAM-DATE-TIME:2025-12-01T20:00:30.000Z",
        "#EXTINF:1.000000,",
        "2000-0.ts",
    ]
    assert lines.count("#EXT-X-DISCONTINUITY") == 1


def test_durations_keep_microseconds_so_a_long_recording_does_not_drift() -> None:
    aac_segment = 47 * 1024 / 48000  # 1.002666.. s, an audio-only segment
    playlist = MediaPlaylist().append(Segment("1-0.ts", aac_segment, T0))
    assert "#EXTINF:1.002667," in playlist.render()
    parsed = parse_playlist(playlist.render())
    assert abs(parsed.segments[0].duration - aac_segment) < 1e-6


@pytest.mark.parametrize(("duration", "target"), [(0.2, 1), (1.0, 1), (1.4999, 1), (1.5, 2), (2.6, 3)])
def test_target_duration_is_the_rounded_longest_segment(duration: float, target: int) -> None:
    assert target_duration_for(duration) == target
    assert MediaPlaylist().append(Segment("x.ts", duration, T0)).target_duration == target


def test_target_duration_never_shrinks() -> None:
    playlist = MediaPlaylist(target_duration=2).append(Segment("x.ts", 1.0, T0))
    assert playlist.target_duration == 2


def test_render_then_parse_is_the_same_playlist() -> None:
    playlist = (
        _two_segments()
        .append(Segment("2000-0.ts", 0.5, T0 + 30.123, discontinuity=True))
        .append(Segment("2000-1.ts", 1.0, T0 + 30.623))
        .close()
    )
    assert parse_playlist(playlist.render()) == playlist


def test_program_date_time_is_utc_with_milliseconds() -> None:
    assert format_program_date_time(T0 + 0.0456) == "2025-12-01T20:00:00.046Z"
    assert format_program_date_time(T0 + 59.9996) == "2025-12-01T20:01:00.000Z"


def test_parse_ignores_tags_it_does_not_know() -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-START:TIME-OFFSET=0\n"
        "#EXT-X-PROGRAM-DATE-TIME:2025-12-01T20:00:00.000+00:00\n#EXTINF:1.5,title\na.ts\n"
    )
    parsed = parse_playlist(text)
    assert parsed.target_duration == 2
    assert parsed.segments == (Segment("a.ts", 1.5, T0),)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "#EXTM3U"),
        ("#EXT-X-VERSION:3\n", "#EXTM3U"),
        ("#EXTM3U\n#EXTINF:1.0,\na.ts\n", "PROGRAM-DATE-TIME"),
        ("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:1.0,\na.ts\n", "line 2"),
        ("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2025-12-01T20:00:00\n#EXTINF:1,\na.ts\n", "time zone"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:one\n", "line 2"),
    ],
)
def test_malformed_playlists_are_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_playlist(text)


def _tag(text: str, name: str) -> str:
    (value,) = [line.partition(":")[2] for line in text.splitlines() if line.startswith(f"#EXT-X-{name}:")]
    return value


def _stream(n: int, *, breaks: tuple[int, ...] = ()) -> MediaPlaylist:
    playlist = MediaPlaylist()
    for i in range(n):
        playlist = playlist.append(Segment(f"1000-{i}.ts", 1.0, T0 + i, discontinuity=i in breaks))
    return playlist


def test_the_live_window_holds_the_last_segments_numbered_as_in_the_whole_stream() -> None:
    whole = _stream(100, breaks=(40, 90))
    text = whole.render_window(30)
    window = parse_playlist(text).segments
    assert [s.uri for s in window] == [f"1000-{i}.ts" for i in range(70, 100)]
    assert _tag(text, "MEDIA-SEQUENCE") == "70"
    # One discontinuity (segment 40) left the window; the one at 90 is still in it, as a tag.
    assert _tag(text, "DISCONTINUITY-SEQUENCE") == "1"
    assert [s.uri for s in window if s.discontinuity] == ["1000-90.ts"]
    assert "#EXT-X-PLAYLIST-TYPE" not in text  # segments leave it: not an EVENT playlist
    assert not is_closed(text)
    assert is_closed(whole.close().render_window(30))


def test_the_live_window_stays_small_however_long_the_stream_and_its_numbers_only_grow() -> None:
    short, long = _stream(31), _stream(3 * 3600)
    assert len(long.render_window(30)) < len(short.render_window(30)) + 30 * 10  # longer names only
    assert len(long.render()) > 100 * len(long.render_window(30))
    seqs = [int(_tag(_stream(n).render_window(30), "MEDIA-SEQUENCE")) for n in (1, 29, 30, 31, 60)]
    assert seqs == [0, 0, 0, 1, 30]


def test_a_window_under_three_segments_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        _stream(5).render_window(2)


def test_a_low_twin_is_named_after_its_segment_and_a_segment_without_one_stands_for_itself() -> None:
    assert low_twin("1000-7.hi.ts") == "1000-7.lo.ts"
    assert low_twin("1000-7.ts") == "1000-7.ts"  # audio-only, or a composer without the low rendition
    assert low_twin("1000-7.av.ts") == "1000-7.lo.ts"  # with an audio twin too


def test_an_audio_twin_is_named_after_its_segment_and_one_without_stands_for_its_smallest_file() -> None:
    assert audio_twin("1000-7.av.ts") == "1000-7.au.ts"
    assert audio_twin("1000-7.hi.ts") == "1000-7.lo.ts"  # a pair: the low twin holds the sound
    assert audio_twin("1000-7.ts") == "1000-7.ts"


def test_the_low_window_lines_up_with_the_main_one() -> None:
    playlist = MediaPlaylist()
    for n in range(15):
        name = f"{1000 if n < 9 else 2000}-{n}.{'ts' if n < 9 else 'hi.ts'}"
        playlist = playlist.append(Segment(name, 1.0, T0 + n, discontinuity=n in (4, 9)))
    main = parse_playlist(playlist.render_window(12))
    low_text = playlist.render_window(12, low_twin)
    low = parse_playlist(low_text)
    assert [(s.duration, s.program_date_time, s.discontinuity) for s in low.segments] == [
        (s.duration, s.program_date_time, s.discontinuity) for s in main.segments
    ]
    assert [s.uri for s in low.segments] == [low_twin(s.uri) for s in main.segments]
    assert low.segments[-1].uri == "2000-14.lo.ts" and low.segments[0].uri == "1000-3.ts"
    assert "#EXT-X-MEDIA-SEQUENCE:3\n" in low_text and "#EXT-X-DISCONTINUITY-SEQUENCE:0\n" in low_text


def test_the_variants_name_each_window_with_its_size_rate_and_codecs() -> None:
    peak, average = variant_bandwidths(2_500_000, 64_000)
    assert (peak, average) == (3_076_800, 2_889_600)
    assert variant_bandwidths(600_000, 64_000) == (796_800, 761_600)  # the low rendition's
    text = render_variants(
        (
            Variant("live.m3u8", peak, average, "avc1.64001f,mp4a.40.2", 1280, 720, 30),
            Variant("live-lo.m3u8", 796_800, 761_600, None, 640, 360, 30),
            Variant("live-audio.m3u8", *variant_bandwidths(0, 64_000), "mp4a.40.2"),
        )
    )
    assert text == (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=3076800,AVERAGE-BANDWIDTH=2889600,CODECS="avc1.64001f,mp4a.40.2",'
        "RESOLUTION=1280x720,FRAME-RATE=30.000\nlive.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=796800,AVERAGE-BANDWIDTH=761600,RESOLUTION=640x360,FRAME-RATE=30.000\n"
        "live-lo.m3u8\n"
        # The sound alone: no picture to describe, ~83 kb/s of MPEG-TS measured.
        '#EXT-X-STREAM-INF:BANDWIDTH=89600,AVERAGE-BANDWIDTH=89600,CODECS="mp4a.40.2"\n'
        "live-audio.m3u8\n"
    )


def test_the_codec_string_is_read_from_the_first_sequence_parameter_set() -> None:
    aud = b"\x00\x00\x00\x01\x09\xf0"  # an access unit delimiter first
    sps = b"\x00\x00\x00\x01\x67\x64\x00\x1f\xac\xd9"  # High profile, level 3.1
    assert avc_codec(aud + sps + b"\x00\x00\x01\x68\xeb") == "avc1.64001f"
    assert avc_codec(b"\x00\x00\x01\x65\x88\x84") is None  # a slice, no SPS
    assert avc_codec(b"\x00\x00\x01\x67\x64") is None  # cut short
