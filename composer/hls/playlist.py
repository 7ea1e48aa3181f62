"""The HLS media playlist of a broadcast, as plain data: render it, parse it back.

Pure text in, text out (RFC 8216). One EVENT playlist per Space keeps every segment from the start,
so it becomes the recording once it is closed with #EXT-X-ENDLIST; live viewers play a sliding
window of its last segments (`render_window`), which stays small however long the Space lasts.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

# EXTINF is written with microsecond precision: players build the timeline by adding the durations,
# and millisecond rounding of ~1.0027 s audio-only segments would drift ~1 s per hour.
_DURATION_DECIMALS = 6
_VERSION = 3  # decimal EXTINF durations


@dataclass(frozen=True)
class Segment:
    uri: str
    duration: float  # seconds
    program_date_time: float  # epoch seconds of the segment's first sample
    discontinuity: bool = False


@dataclass(frozen=True)
class MediaPlaylist:
    segments: tuple[Segment, ...] = ()
    target_duration: int = 1
    ended: bool = False

    def append(self, segment: Segment) -> MediaPlaylist:
        if self.ended:
            raise ValueError("cannot append to a playlist that is closed with #EXT-X-ENDLIST")
        return replace(
            self,
            segments=(*self.segments, segment),
            target_duration=max(self.target_duration, target_duration_for(segment.duration)),
        )

    def close(self) -> MediaPlaylist:
        return replace(self, ended=True)

    def render(self, uri: Callable[[str], str] | None = None) -> str:
        """The whole playlist; `uri` names its segments another way (`low_twin`), which formats
        every segment again (~50 ms at 3 hours): for a playlist written once, the recording's."""
        header = [
            "#EXTM3U",
            f"#EXT-X-VERSION:{_VERSION}",
            "#EXT-X-PLAYLIST-TYPE:EVENT",
            f"#EXT-X-TARGETDURATION:{self.target_duration}",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        segments = self.segments if uri is None else tuple(replace(s, uri=uri(s.uri)) for s in self.segments)
        return self._text(header, segments)

    def render_window(self, size: int, uri: Callable[[str], str] | None = None) -> str:
        """The last `size` segments as a live playlist (no PLAYLIST-TYPE: segments leave it); `uri`
        names each of them another way (`low_twin`: the low rendition's window, in step with this one).

        MEDIA-SEQUENCE is the first segment's index in the whole stream and DISCONTINUITY-SEQUENCE
        the number of discontinuities before it (RFC 8216 6.2.1), so both only grow from one
        rendering to the next and a player can line consecutive windows up. Closed with ENDLIST
        when the stream is, so live viewers see the end too.
        """
        if size < 3:
            raise ValueError(f"a live window needs at least 3 segments (RFC 8216 6.2.2), got {size}")
        first = max(0, len(self.segments) - size)
        window = self.segments[first:]
        if uri is not None:
            window = tuple(replace(s, uri=uri(s.uri)) for s in window)
        lines = [
            "#EXTM3U",
            f"#EXT-X-VERSION:{_VERSION}",
            f"#EXT-X-TARGETDURATION:{self.target_duration}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{sum(s.discontinuity for s in self.segments[:first])}",
            "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        return self._text(lines, window)

    def _text(self, header: list[str], segments: tuple[Segment, ...]) -> str:
        parts = ["\n".join(header), "\n", *map(_segment_text, segments)]
        if self.ended:
            parts.append("#EXT-X-ENDLIST\n")
        return "".join(parts)


# The full playlist is rendered again for every segment (one a second), and a segment's lines never
# change: each is formatted once (mostly its PROGRAM-DATE-TIME) and joined after. At 3 hours, 10,800
# segments, a render went from 40 ms to 3 ms (docs/benchmarks.md). One Space per job process, so the
# cache holds one Space's segments; 2^18 of them is 72 hours of 1 s segments (a render goes through
# them in order, so a longer playlist would miss every time: it stays correct, only slower).
@functools.lru_cache(maxsize=1 << 18)
def _segment_text(seg: Segment) -> str:
    lines = ["#EXT-X-DISCONTINUITY"] if seg.discontinuity else []
    lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_program_date_time(seg.program_date_time)}")
    lines.append(f"#EXTINF:{seg.duration:.{_DURATION_DECIMALS}f},")
    lines.append(seg.uri)
    return "\n".join(lines) + "\n"


# A video broadcast with renditions writes each segment three times: "<epoch>-<n>.av.ts" is named by
# the main playlists, its twin "<epoch>-<n>.lo.ts" (the same media, smaller) by the low rendition's,
# and "<epoch>-<n>.au.ts" (its sound alone) by the audio rendition's. A composer with the low
# rendition only (this release without the audio one, and the release before it) names its main
# segments "<epoch>-<n>.hi.ts", so a name says which twins exist. A segment of a broadcast with one
# rendition (audio-only, or a composer without renditions) is "<epoch>-<n>.ts".
MAIN_SUFFIX = ".av.ts"
HIGH_SUFFIX = ".hi.ts"
LOW_SUFFIX = ".lo.ts"
AUDIO_SUFFIX = ".au.ts"
# AAC-LC, the audio of every rendition (RFC 6381).
AAC_LC_CODEC = "mp4a.40.2"


def _with_suffix(uri: str, old: str, new: str) -> str:
    return uri[: -len(old)] + new


def has_low_twin(uri: str) -> bool:
    return uri.endswith((MAIN_SUFFIX, HIGH_SUFFIX))


def low_twin(uri: str) -> str:
    """The low rendition's segment of the same media: the twin of a ".av.ts" or ".hi.ts" segment, or
    the segment itself when it has none (a predecessor composer without the low rendition wrote it)."""
    if not has_low_twin(uri):
        return uri
    return _with_suffix(uri, MAIN_SUFFIX if uri.endswith(MAIN_SUFFIX) else HIGH_SUFFIX, LOW_SUFFIX)


def audio_twin(uri: str) -> str:
    """The audio rendition's segment of the same media: the ".au.ts" twin of a ".av.ts" segment;
    for a segment without one (a predecessor without the audio rendition wrote it), the smallest
    file that holds its sound, with pictures a player that is only heard may not expect
    (docs/broadcast.md, "Deploys"): its low twin, or the segment itself."""
    return _with_suffix(uri, MAIN_SUFFIX, AUDIO_SUFFIX) if uri.endswith(MAIN_SUFFIX) else low_twin(uri)


@dataclass(frozen=True)
class Variant:
    """One rendition in a multivariant playlist (RFC 8216 4.3.4.2)."""

    uri: str
    bandwidth: int  # bits per second a player must sustain (see `variant_bandwidths`)
    average_bandwidth: int
    codecs: str | None  # RFC 6381, e.g. "avc1.64001f,mp4a.40.2"; None leaves it to the player
    # The picture, or None for an audio-only rendition (no RESOLUTION or FRAME-RATE then).
    width: int | None = None
    height: int | None = None
    frame_rate: int | None = None


def variant_bandwidths(video_bitrate: int, audio_bitrate: int) -> tuple[int, int]:
    """(BANDWIDTH, AVERAGE-BANDWIDTH) of a rendition from its encoders' targets.

    AVERAGE-BANDWIDTH carries the MPEG-TS overhead as measured: +4.6 % at 720p and +11 % at 360p,
    where the audio's PES and PSI packets weigh more (64 kb/s of AAC is ~83 kb/s of TS alone), and
    the low encoder runs a few % over its target on busy pictures: video x 1.12 + audio x 1.4 is at
    or above both (2.89 Mb/s against 2.68-2.70 measured, 0.76 against 0.75-0.76). BANDWIDTH is the
    targets plus 20 %, not the strict peak: a segment right after a still picture can carry up to
    twice the target (the encoder's VBV), and declared as the peak it would keep players on the
    low rendition on links that follow the main one (hls.js compares it with its estimate)."""
    average = round(video_bitrate * 1.12 + audio_bitrate * 1.4)
    return max(average, round((video_bitrate + audio_bitrate) * 1.2)), average


def render_variants(variants: tuple[Variant, ...]) -> str:
    """The multivariant playlist: the first variant is where a player without an estimate starts."""
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{_VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in variants:
        attributes = [f"BANDWIDTH={v.bandwidth}", f"AVERAGE-BANDWIDTH={v.average_bandwidth}"]
        if v.codecs:
            attributes.append(f'CODECS="{v.codecs}"')
        if v.width is not None and v.height is not None:
            attributes.append(f"RESOLUTION={v.width}x{v.height}")
        if v.frame_rate is not None:
            attributes.append(f"FRAME-RATE={v.frame_rate:.3f}")
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attributes))
        lines.append(v.uri)
    return "\n".join(lines) + "\n"


def avc_codec(annex_b: bytes) -> str | None:
    """RFC 6381's "avc1.PPCCLL" of the first sequence parameter set in an H.264 Annex B stream
    (profile, constraint flags and level, as the encoder chose them), or None without one."""
    start = 0
    while (at := annex_b.find(b"\x00\x00\x01", start)) >= 0:
        nal = annex_b[at + 3 : at + 7]
        if len(nal) == 4 and nal[0] & 0x1F == 7:
            return f"avc1.{nal[1]:02x}{nal[2]:02x}{nal[3]:02x}"
        start = at + 3
    return None


def target_duration_for(duration: float) -> int:
    """RFC 8216 4.3.3.1: every EXTINF rounded to the nearest integer must be <= the target."""
    return max(1, math.floor(duration + 0.5))


def format_program_date_time(epoch_s: float) -> str:
    stamp = datetime.fromtimestamp(round(epoch_s, 3), tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def parse_program_date_time(value: str) -> float:
    stamp = datetime.fromisoformat(value)
    if stamp.tzinfo is None:
        raise ValueError(f"PROGRAM-DATE-TIME without a time zone: {value!r}")
    return stamp.timestamp()


def is_closed(text: str) -> bool:
    """True when the playlist text ends the stream (#EXT-X-ENDLIST)."""
    return any(line.strip() == "#EXT-X-ENDLIST" for line in text.splitlines())


def parse_playlist(text: str) -> MediaPlaylist:
    """Read back a playlist this module rendered (unknown tags are ignored); ValueError if malformed."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an HLS playlist: the first line is not #EXTM3U")
    segments: list[Segment] = []
    target = 1
    ended = False
    duration: float | None = None
    pdt: float | None = None
    discontinuity = False
    for number, line in enumerate(lines[1:], start=2):
        try:
            if line.startswith("#EXT-X-TARGETDURATION:"):
                target = int(line.partition(":")[2])
            elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                pdt = parse_program_date_time(line.partition(":")[2])
            elif line.startswith("#EXTINF:"):
                duration = float(line.partition(":")[2].partition(",")[0])
            elif line == "#EXT-X-DISCONTINUITY":
                discontinuity = True
            elif line == "#EXT-X-ENDLIST":
                ended = True
            elif line.startswith("#"):
                continue
            else:
                if duration is None or pdt is None:
                    raise ValueError("segment without #EXTINF and #EXT-X-PROGRAM-DATE-TIME")
                segments.append(Segment(line, duration, pdt, discontinuity))
                duration, pdt, discontinuity = None, None, False
        except ValueError as exc:
            raise ValueError(f"playlist line {number} ({line!r}): {exc}") from exc
    return MediaPlaylist(segments=tuple(segments), target_duration=target, ended=ended)


def segment_epoch(uri: str) -> int | None:
    """The epoch (the writing composer's start, in ms) a segment is named with: "<epoch_ms>-<n>.ts"."""
    head, dash, _ = uri.partition("-")
    return int(head) if dash and head.isdigit() else None


def newer_writer(stored: MediaPlaylist, epoch_ms: int) -> bool:
    """True when a composer that started after `epoch_ms` has written to `stored`: it is the
    playlist's writer now (the newest composer of a Space evicts the others)."""
    return any((segment_epoch(s.uri) or 0) > epoch_ms for s in stored.segments)


def rebase(stored: MediaPlaylist, ours: MediaPlaylist, epoch_ms: int) -> MediaPlaylist:
    """Our segments (those of `epoch_ms`) after what an older writer stored since we read it.

    For a composer whose conditional write found the playlist changed by its predecessor (whose
    last write landed after this one read it): the predecessor's segments stay, ours follow, the
    first of ours after a discontinuity."""
    prefix = f"{epoch_ms}-"
    stored_uris = {s.uri for s in stored.segments}
    mine = [s for s in ours.segments if s.uri.startswith(prefix) and s.uri not in stored_uris]
    result = replace(stored, target_duration=max(stored.target_duration, ours.target_duration), ended=False)
    after_others = bool(stored.segments) and not stored.segments[-1].uri.startswith(prefix)
    for i, seg in enumerate(mine):
        first_after_others = i == 0 and after_others
        result = result.append(replace(seg, discontinuity=seg.discontinuity or first_after_others))
    return replace(result, ended=ours.ended)
