"""One Space's broadcast: frames and samples in, HLS segments, playlist and timeline out."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np

from composer.hls.config import BroadcastConfig
from composer.hls.encoder import EncodedSegment, SegmentEncoder
from composer.hls.playlist import (
    AAC_LC_CODEC,
    HIGH_SUFFIX,
    MAIN_SUFFIX,
    MediaPlaylist,
    Variant,
    newer_writer,
    parse_playlist,
    render_variants,
    segment_epoch,
    target_duration_for,
    variant_bandwidths,
)
from composer.hls.publisher import Publisher, ReadySegment
from composer.hls.sinks import Sink
from composer.hls.stats import BroadcastStats, StatsRecorder
from composer.hls.timeline import append_entry, parse_timeline, timeline_entry
from contract.broadcast import BroadcastTimeline
from contract.names import (
    BROADCAST_AUDIO_LIVE_PLAYLIST,
    BROADCAST_AUDIO_PLAYLIST,
    BROADCAST_LIVE_PLAYLIST,
    BROADCAST_LOW_LIVE_PLAYLIST,
    BROADCAST_LOW_PLAYLIST,
    BROADCAST_PLAYLIST,
    BROADCAST_TIMELINE,
)

log = logging.getLogger(__name__)

Clock = Callable[[], float]
T = TypeVar("T")

# A skip at a segment's first sample counts for that segment (media times are sample counts / rate,
# the segment's start is computed another way: equal values may differ in the last bits).
SKIP_EPSILON_S = 1e-6
# With a backlog of segments to upload, the playlists are still written at least this many segment
# durations apart: a live viewer reloads about once a segment and holds a few in its buffer.
PLAYLIST_EVERY_SEGMENTS = 2


class BroadcastEnded(Exception):
    """The Space's playlist is already closed with #EXT-X-ENDLIST: there is nothing to continue.
    Also raised when a newer composer already writes it (this one started before it)."""


class Broadcast:
    """Encode and publish one Space's broadcast (docs/broadcast.md, "Encoding and segments").

    Feed it from one thread: `push_video` at `config.fps`, `push_audio` continuously (silence
    included), `record_stage` on each stage change, `close` once. Segments are written by a
    background thread, so these calls never wait on the sink. `clock` gives epoch seconds; it
    anchors PROGRAM-DATE-TIME (media time 0 = the clock at the first push) and timeline entries.
    """

    def __init__(
        self,
        config: BroadcastConfig,
        sink: Sink,
        *,
        space_id: str,
        epoch_ms: int,
        clock: Clock = time.time,
    ) -> None:
        empty = MediaPlaylist(target_duration=target_duration_for(config.segment_seconds))
        self._start(config, sink, space_id, epoch_ms, clock, empty, (None, None, None), None)

    @classmethod
    def resume(
        cls,
        config: BroadcastConfig,
        sink: Sink,
        *,
        space_id: str,
        epoch_ms: int,
        clock: Clock = time.time,
        newest: Callable[[], bool] = lambda: False,
    ) -> Broadcast:
        """Continue the Space's existing playlist (a replacement composer), or start a new one.

        The existing segments stay; this composer's first segment carries #EXT-X-DISCONTINUITY and
        its names the new epoch. The timeline keeps its entries. Raises BroadcastEnded when the
        playlist is closed or holds a newer composer's segments, ValueError when `epoch_ms` is
        already used in it, and the sink's error when it cannot be read (never overwrite a
        playlist we could not read).

        `newest`, asked once the playlist is read: whether the caller is the Space's newest
        composer (it is in the room, where the newest evicts the others). A stored epoch above
        `epoch_ms` is then a predecessor whose host clock ran ahead of this one's, not a newer
        writer: this composer takes the next epoch after it instead of refusing (a refusal left
        the stream stalled for as long as the clocks differed, each re-dispatch refusing again).
        """
        stored = _read_with_retry(sink.read_versioned, f"{space_id}/{BROADCAST_PLAYLIST}", config)
        if stored is None:
            return cls(config, sink, space_id=space_id, epoch_ms=epoch_ms, clock=clock)
        raw, version = stored
        playlist = parse_playlist(raw.decode("utf-8"))
        if playlist.ended:
            raise BroadcastEnded(f"the broadcast of Space {space_id} is closed (#EXT-X-ENDLIST)")
        if newer_writer(playlist, epoch_ms) and newest():
            latest = max(segment_epoch(s.uri) or 0 for s in playlist.segments)
            log.warning(
                "broadcast %s: its last writer's epoch %d is ahead of this clock's %d; continuing as %d",
                space_id,
                latest,
                epoch_ms,
                latest + 1,
            )
            epoch_ms = latest + 1
        if newer_writer(playlist, epoch_ms):
            # A composer that started after this one has written it: it is the writer (the newest
            # composer of a Space evicts the others), and this one must not write over it once.
            raise BroadcastEnded(f"the broadcast of Space {space_id} is written by a newer composer")
        if any(seg.uri.startswith(f"{epoch_ms}-") for seg in playlist.segments):
            raise ValueError(f"epoch {epoch_ms} is already used in the playlist of Space {space_id}")
        playlist = replace(
            playlist,
            target_duration=max(playlist.target_duration, target_duration_for(config.segment_seconds)),
        )
        try:
            live = _read_with_retry(sink.read_versioned, f"{space_id}/{BROADCAST_LIVE_PLAYLIST}", config)
        except Exception:  # its version only spares one conflict (and a read-back) on the first write
            log.warning("broadcast %s: live window unreadable; its first write will find it", space_id)
            live = None
        timeline: BroadcastTimeline | None = None
        stored_timeline = _read_with_retry(sink.read_versioned, f"{space_id}/{BROADCAST_TIMELINE}", config)
        if stored_timeline is not None:
            try:
                timeline = replace(parse_timeline(stored_timeline[0].decode("utf-8")), ended=False)
            except (UnicodeDecodeError, ValueError):
                log.exception("broadcast %s: stored timeline unreadable; starting a new one", space_id)
        if timeline is None and playlist.segments:
            timeline = BroadcastTimeline(space_id=space_id, started_at=playlist.segments[0].program_date_time)
        self = cls.__new__(cls)
        versions = (
            version,
            None if live is None else live[1],
            None if stored_timeline is None else stored_timeline[1],
        )
        self._start(config, sink, space_id, epoch_ms, clock, playlist, versions, timeline)
        log.info(
            "broadcast %s: continuing a playlist of %d segments as epoch %d",
            space_id,
            len(playlist.segments),
            epoch_ms,
        )
        return self

    def _start(
        self,
        config: BroadcastConfig,
        sink: Sink,
        space_id: str,
        epoch_ms: int,
        clock: Clock,
        playlist: MediaPlaylist,
        versions: tuple[str | None, str | None, str | None],
        timeline: BroadcastTimeline | None,
    ) -> None:
        """`versions`: of the full playlist, the live window and the timeline as read (None: there
        was none)."""
        if not space_id or "/" in space_id or space_id in (".", ".."):
            raise ValueError(f"space_id must be a non-empty name without '/': {space_id!r}")
        self.config = config
        self.space_id = space_id
        self.epoch_ms = epoch_ms
        self._clock = clock
        self._anchor: float | None = None
        # Wall-clock time that passed without media (spans the feeder dropped to keep up), as
        # (media time at the drop, total skipped so far): PROGRAM-DATE-TIME adds it, so it stays
        # the wall-clock time of a segment's first sample and the timeline's `t` still maps onto it.
        # Only the skips a later segment can still need are kept (`settled_skips`): a starved
        # composer reports one every pacer tick, for as long as the Space lasts.
        self._audio_samples = 0  # pushed, the encoder's dropped `audio_lag` included: the pictures' time
        self._skips: list[tuple[float, float]] = []
        self._timeline = timeline
        self._closed = False
        self._close_result: bool | None = None  # what the first close returned, once it did
        self._lock = threading.Lock()
        self._stats = StatsRecorder()
        self._encoder = SegmentEncoder(config, self._stats)
        self._variants_set = False
        self._publisher = Publisher(
            sink,
            space_id=space_id,
            epoch_ms=epoch_ms,
            playlist=playlist,
            playlist_version=versions[0],
            live_version=versions[1],
            timeline_version=versions[2],
            retry=config.retry,
            max_pending=config.max_pending_segments,
            stats=self._stats,
            playlist_every_s=PLAYLIST_EVERY_SEGMENTS * float(config.segment_seconds),
        )

    # -- input ---------------------------------------------------------------------------------

    def push_video(self, rgb: np.ndarray) -> None:
        """One composed frame, HxWx3 uint8 RGB at the configured size; call it `fps` times a second."""
        self._check_open()
        self._ensure_anchor()
        self._submit(self._encoder.push_video(rgb))

    def push_audio(self, pcm: np.ndarray) -> None:
        """Mono int16 samples at `sample_rate`, any length."""
        self._check_open()
        self._ensure_anchor()
        self._audio_samples += len(pcm)
        self._submit(self._encoder.push_audio(pcm))

    def skip(self, seconds: float) -> None:
        """`seconds` of real time passed that will never be pushed (a starved feeder dropped them).

        The media stays continuous; the PROGRAM-DATE-TIME of every segment that starts after this
        point moves on by `seconds`, so a viewer's "behind live" and the replay's stage timeline
        (epoch `t` mapped through PROGRAM-DATE-TIME) stay on the wall clock.
        """
        self._check_open()
        if not seconds > 0:
            return
        self._ensure_anchor()
        total = (self._skips[-1][1] if self._skips else 0.0) + seconds
        self._skips.append((self._audio_samples / self.config.sample_rate, total))

    def record_stage(self, entry: Mapping[str, Any]) -> None:
        """Append a stage change to timeline.json: {"t"?, "spotlight", "video_spotlight", "pinned", "names"}.

        `t` (epoch seconds) defaults to now. Written after the next playlist.
        """
        self._check_open()
        anchor = self._ensure_anchor()
        parsed = timeline_entry(entry, default_t=self._clock())
        if self._timeline is None:
            self._timeline = BroadcastTimeline(space_id=self.space_id, started_at=anchor)
        self._timeline = append_entry(self._timeline, parsed)
        self._publisher.set_timeline(self._timeline)

    def close(self, ended: bool = False, *, timeout: float | None = 30.0) -> bool:
        """Flush the encoders and write everything; `ended` closes the playlist (#EXT-X-ENDLIST).

        Blocks until the sink has it all, or `timeout` seconds; returns False if it had to give up
        (the sink's playlist then still names only segments that were written) or the encoder failed
        at its flush (the last, partial segment is lost; the playlist is still written and, when
        `ended`, closed). Idempotent: a later call returns what the first returned (False while it
        is still closing).
        """
        with self._lock:
            if self._closed:
                return bool(self._close_result)
            self._closed = True
        flushed = True
        try:
            self._submit(self._encoder.flush())
        except Exception:
            # What was written stays named, and an ended Space's recording still gets its end.
            log.exception(
                "broadcast %s: the encoder failed at its flush; its last segment is lost", self.space_id
            )
            flushed = False
        if ended and self._timeline is not None:
            self._timeline = replace(self._timeline, ended=True)
            self._publisher.set_timeline(self._timeline)
        written = self._publisher.close(ended=ended, timeout=timeout)
        self._close_result = written and flushed
        return self._close_result

    def hold_playlists(self, held: bool) -> None:
        """Stop (True) or resume (False) writing the playlists and timeline; segments go on.

        For a composer that lost its room: a replacement may be about to continue the playlist, and
        two writers would overwrite each other's segments out of it. Held through `close`, nothing
        more of the playlist is written (its segments since the hold stay in storage, unnamed).
        Unlike the feeding calls, safe from any thread.
        """
        self._publisher.hold_playlists(held)

    # -- observation ---------------------------------------------------------------------------

    @property
    def stats(self) -> BroadcastStats:
        """CPU per stage (convert_video, encode_video, encode_audio, mux, upload) and write counters."""
        return self._stats.snapshot(self._publisher.pending)

    @property
    def playlist(self) -> MediaPlaylist:
        """The playlist as published to the sink so far."""
        return self._publisher.playlist

    @property
    def superseded(self) -> bool:
        """A newer composer writes the playlist (its conditional write showed it): this broadcast
        writes no playlist or timeline any more, and its composer should end its job."""
        return self._publisher.superseded

    # -- internals -----------------------------------------------------------------------------

    def _ensure_anchor(self) -> float:
        if self._anchor is None:
            self._anchor = self._clock()
        return self._anchor

    def _submit(self, segments: list[EncodedSegment]) -> None:
        if not segments:
            return
        anchor = self._ensure_anchor()
        if not self._variants_set and segments[0].low is not None:
            # The encoders have chosen their profiles and levels by their first segment.
            self._variants_set = True
            audio = segments[0].audio is not None
            live = self._variants(
                BROADCAST_LIVE_PLAYLIST,
                BROADCAST_LOW_LIVE_PLAYLIST,
                BROADCAST_AUDIO_LIVE_PLAYLIST if audio else None,
            )
            recording = self._variants(
                BROADCAST_PLAYLIST, BROADCAST_LOW_PLAYLIST, BROADCAST_AUDIO_PLAYLIST if audio else None
            )
            self._publisher.set_variants(live.encode(), recording.encode(), audio=audio)
        for seg in segments:
            suffix = MAIN_SUFFIX if seg.audio is not None else HIGH_SUFFIX if seg.low is not None else ".ts"
            self._publisher.submit(
                ReadySegment(
                    name=f"{self.epoch_ms}-{seg.index}{suffix}",
                    data=seg.data,
                    duration_s=seg.duration_s,
                    program_date_time=anchor + seg.start_s + self._skipped_before(seg.start_s),
                    low=seg.low,
                    audio=seg.audio,
                )
            )
            # Segments start in media-time order: no later one starts before this one.
            self._skips = settled_skips(self._skips, seg.start_s)

    def _variants(self, main_uri: str, low_uri: str, audio_uri: str | None) -> str:
        """A multivariant playlist (of the live windows, or of the recording), the low rendition
        first: players start on the first variant (hls.js by default, Safari too) and climb once a
        segment has measured the link, so a phone on a slow link starts within a second instead of
        waiting ~2.5 s on a 720p segment it cannot follow (measured at 1.2 Mb/s,
        tests/e2e/test_hls_renditions.py). The audio rendition comes last: a player that shows
        pictures never starts on it (hls.js drops it; the page plays it itself when only heard)."""
        cfg, low = self.config, self.config.low
        assert low is not None
        renditions = (
            (low_uri, low.width, low.height, low.video_bitrate, self._encoder.low_codec),
            (main_uri, cfg.width, cfg.height, cfg.video_bitrate, self._encoder.video_codec),
        )
        variants = []
        for uri, width, height, bitrate, codec in renditions:
            peak, average = variant_bandwidths(bitrate, cfg.audio_bitrate)
            codecs = f"{codec},{AAC_LC_CODEC}" if codec else None  # unknown: left to the player
            variants.append(Variant(uri, peak, average, codecs, width, height, cfg.fps))
        if audio_uri is not None:
            peak, average = variant_bandwidths(0, cfg.audio_bitrate)
            variants.append(Variant(audio_uri, peak, average, AAC_LC_CODEC))
        return render_variants(tuple(variants))

    def _skipped_before(self, media_s: float) -> float:
        """Real time skipped before media time `media_s` (a segment with an earlier start keeps its
        first sample's time; the skip shows from the next segment on)."""
        skipped = 0.0
        for at, total in self._skips:
            if at > media_s + SKIP_EPSILON_S:
                break
            skipped = total
        return skipped

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the broadcast of Space {self.space_id} is closed")


def settled_skips(skips: list[tuple[float, float]], media_s: float) -> list[tuple[float, float]]:
    """The skips (media time, running total; in media-time order) that can still matter to a
    segment starting at `media_s` or later: those after `media_s`, and the last one at or before it,
    whose running total already counts every earlier skip."""
    keep_from = 0
    for i, (at, _) in enumerate(skips):
        if at > media_s + SKIP_EPSILON_S:
            break
        keep_from = i
    return skips[keep_from:]


def _read_with_retry(read: Callable[[str], T | None], key: str, config: BroadcastConfig) -> T | None:
    policy = config.retry
    for attempt in range(1, policy.attempts + 1):
        try:
            return read(key)
        except Exception as exc:
            if attempt == policy.attempts:
                raise
            log.warning("broadcast: reading %s failed (attempt %d): %s", key, attempt, exc)
            time.sleep(policy.delay(attempt))
    return None
