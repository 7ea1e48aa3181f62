"""Write a broadcast's objects to its sink on a background thread, in an order viewers can trust.

Rules (docs/broadcast.md, "Encoding and segments"):
- a segment is written before any playlist names it; the playlist only ever grows by segments whose
  write succeeded, so it never names a missing or partial segment;
- the full playlist (the recording) is written before the live window, which names only segments
  the full one names; both after the segment, the timeline after both;
- a segment with twins (the low rendition's, the audio rendition's) is named only once all of its
  files are written; the renditions' windows (derived from the full playlist) go with the main
  window, except until the multivariant playlist is written: that is written once, after the
  renditions' windows and before the main window that follows them, so a player that finds the main
  window finds the variants of a video Space and every window they name;
- writes that no rule orders (a segment and its twins; the live windows after the full playlist)
  go out at once (`parallel`), each retried on its own, and a pass waits for all of them: a
  segment costs the sink three round trips in a row (its files, the full playlist, the windows)
  whatever its renditions, where one write at a time took five to the main window and seven;
- every write is retried with capped exponential backoff; a segment that still fails, or that
  waited too long in a full queue, is dropped and the next segment carries #EXT-X-DISCONTINUITY;
- the encoder hands segments over and never waits: the queue is bounded by dropping the oldest;
- during a backlog (a sink slower than the encoder) the playlists are written after the last
  queued segment, and at least every `playlist_every_s` while segments keep coming, so viewers
  never wait on a queue that does not empty;
- `close` keeps the last FINAL_WRITE_RESERVE_S (at most half) of its budget for the final playlist
  and timeline: segments still queued, and any earlier write still being retried, then stop, so a
  slow sink costs the recording its last seconds rather than its #EXT-X-ENDLIST;
- while the playlists are held (`hold_playlists`: the composer lost its room, and a replacement may
  take the Space over), segments are still written but no playlist or timeline is, and a write of
  one already retrying stops at its next attempt; on release the next pass writes them;
- the full playlist and every live window are written conditionally (`Sink.write_if`, on the
  version this publisher last read or wrote), the fence between two composers of one Space
  (docs/broadcast.md, "Two writers"): a window that a newer composer wrote, or closed, is never
  written over, whichever window finds it.
  A conflict is resolved by reading the playlist back: our own write whose answer was lost is
  adopted; a predecessor's late write gets our segments appended after it (`rebase`); a newer
  composer's segments, or an ENDLIST, mean this publisher is superseded: it holds its playlists and
  timeline for good (`superseded`), and the composer ends its job.
- the timeline is written conditionally too. A conflict reads it back: a stored timeline closed
  (`ended`) while ours is not, or a playlist holding a newer composer's segments or an ENDLIST,
  means this publisher is superseded; otherwise the stored entries this publisher lacks (a
  predecessor's late ones, or those of a newer composer with no segment yet) are merged into every
  later write of its, so no writer's entry is dropped.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from composer.hls.config import RetryPolicy
from composer.hls.continuity import mark_discontinuity
from composer.hls.headers import cache_headers
from composer.hls.playlist import (
    MAIN_SUFFIX,
    MediaPlaylist,
    Segment,
    audio_twin,
    has_low_twin,
    low_twin,
    newer_writer,
    parse_playlist,
    rebase,
)
from composer.hls.sinks import Sink, WriteConflict
from composer.hls.stats import StatsRecorder
from composer.hls.timeline import foreign_to, merge_entries, parse_timeline, timeline_json
from contract.broadcast import BroadcastTimeline, TimelineEntry
from contract.names import (
    BROADCAST_AUDIO_LIVE_PLAYLIST,
    BROADCAST_AUDIO_PLAYLIST,
    BROADCAST_LIVE_PLAYLIST,
    BROADCAST_LIVE_VARIANTS,
    BROADCAST_LIVE_WINDOW_SEGMENTS,
    BROADCAST_LOW_LIVE_PLAYLIST,
    BROADCAST_LOW_PLAYLIST,
    BROADCAST_PLAYLIST,
    BROADCAST_TIMELINE,
    BROADCAST_VARIANTS,
)

log = logging.getLogger(__name__)

# The part of `close`'s budget kept for the final playlist, live windows, timeline and the recording's
# renditions (three to eight small writes, each retried with backoff): segments still queued when it
# starts are dropped.
FINAL_WRITE_RESERVE_S = 6.0
# Conflicts resolved by a rebase in one pass before the pass gives up (the next one tries again): a
# predecessor writes at most once or twice after its successor read the playlist.
MAX_REBASES = 3


@dataclass(frozen=True)
class _Rendition:
    """A rendition derived from the main playlist by naming each segment's twin."""

    twin: Callable[[str], str]
    live: str  # its live window, in step with the main one
    recording: str  # its whole playlist, written when the Space ends


_LOW = _Rendition(low_twin, BROADCAST_LOW_LIVE_PLAYLIST, BROADCAST_LOW_PLAYLIST)
_AUDIO = _Rendition(audio_twin, BROADCAST_AUDIO_LIVE_PLAYLIST, BROADCAST_AUDIO_PLAYLIST)


@dataclass(frozen=True)
class ReadySegment:
    name: str  # "<epoch_ms>-<n>.ts"; with twins "<epoch_ms>-<n>.av.ts" (low and audio) or ".hi.ts" (low)
    data: bytes
    duration_s: float
    program_date_time: float  # epoch seconds
    low: bytes | None = None  # the low rendition's twin, written as low_twin(name)
    audio: bytes | None = None  # the audio rendition's twin (its sound alone), as audio_twin(name)

    @property
    def twins(self) -> tuple[tuple[_Rendition, bytes], ...]:
        """Its renditions' files, in the order they are written (the low one first)."""
        return tuple((r, data) for r, data in ((_LOW, self.low), (_AUDIO, self.audio)) if data is not None)


@dataclass
class _Job:
    segment: ReadySegment
    after_gap: bool = False  # an earlier segment was dropped: mark a discontinuity


class Publisher:
    def __init__(
        self,
        sink: Sink,
        *,
        space_id: str,
        epoch_ms: int,
        playlist: MediaPlaylist,
        playlist_version: str | None,
        retry: RetryPolicy,
        live_version: str | None = None,
        timeline_version: str | None = None,
        max_pending: int,
        stats: StatsRecorder,
        playlist_every_s: float,
        parallel: bool = True,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._parallel = parallel
        self._space_id = space_id
        self._epoch_ms = epoch_ms
        # The full playlist's, the live windows' and the timeline's versions in the sink as this
        # publisher last read or wrote them (None: there was none): their writes are conditional on
        # them. The renditions' windows start unknown: a continuing composer's first write of one
        # meets its predecessor's, reads it back and writes over it.
        self._versions: dict[str, str | None] = {
            BROADCAST_PLAYLIST: playlist_version,
            BROADCAST_LIVE_PLAYLIST: live_version,
            BROADCAST_TIMELINE: timeline_version,
        }
        # Timeline entries another writer stored that ours lacks, kept in every later write.
        self._foreign_entries: tuple[TimelineEntry, ...] = ()
        self._superseded = False  # a newer composer writes the playlist: held for good
        self._retry = retry
        self._max_pending = max_pending
        self._stats = stats
        self._jitter = jitter
        self._clock = clock
        self._playlist_every_s = playlist_every_s
        self._playlist_tried_at = clock()  # the last attempt to write the playlists
        self._cond = threading.Condition()
        self._abort = threading.Event()
        # Set when close's budget is down to its reserve (and by an abort): segment writes stop.
        self._hurry = threading.Event()
        self._pending: collections.deque[_Job] = collections.deque()
        self._gap_next = False  # the next submitted segment follows a dropped one
        # A continued playlist (replacement composer) starts its own part with a discontinuity.
        self._discontinuity_next = bool(playlist.segments)
        self._playlist = playlist
        # The renditions whose windows are written (low, then audio): each once any segment of the
        # playlist has its twin, also by a composer without that rendition that continues one with
        # it, whose viewers on its window would otherwise wait on it for good (its own segments are
        # named there by what they have: `low_twin`, `audio_twin`).
        self._renditions: list[_Rendition] = []
        self._add_renditions_of(s.uri for s in playlist.segments)
        self._variants: bytes | None = None  # the live windows' multivariant playlist, until written
        self._recording_variants: bytes | None = None  # the recording's, written when the Space ends
        self._recording_pending = False  # the recording's renditions or variants failed
        self._playlist_dirty = False
        self._playlist_published = bool(playlist.segments)
        self._timeline: BroadcastTimeline | None = None
        self._timeline_dirty = False
        self._closing = False
        self._ended = False
        self._held = False  # playlists and timeline are not written (hold_playlists)
        self._released = False  # a hold just ended: write what it held back
        self._finished_clean = False
        self._thread = threading.Thread(target=self._run, name=f"broadcast-upload-{space_id}", daemon=True)
        self._thread.start()

    # -- called by the encoding thread -----------------------------------------------------------

    def submit(self, segment: ReadySegment) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("the publisher is closed")
            job = _Job(segment, after_gap=self._gap_next)
            self._gap_next = False
            self._pending.append(job)
            while len(self._pending) > self._max_pending:
                dropped = self._pending.popleft()
                log.error(
                    "broadcast %s: upload queue full, dropping %s", self._space_id, dropped.segment.name
                )
                self._stats.count(segments_dropped=1)
                self._pending[0].after_gap = True
            self._cond.notify()

    def set_variants(self, live: bytes, recording: bytes, *, audio: bool) -> None:
        """The multivariant playlists: the live windows' (written once, before the next main window)
        and the recording's (written with the recording's renditions when the Space ends). They name
        the low rendition, and the audio one if `audio`: those windows are written from now on, even
        before a segment with their twins is (its first one dropped, they name what holds each
        segment's picture or sound: `low_twin`, `audio_twin`)."""
        with self._cond:
            self._variants = live
            self._recording_variants = recording
            self._add_renditions(low=True, audio=audio)

    def set_timeline(self, timeline: BroadcastTimeline) -> None:
        with self._cond:
            self._timeline = timeline
            self._timeline_dirty = True
            self._cond.notify()

    def hold_playlists(self, held: bool) -> None:
        """Stop (True) or resume (False) writing the playlists and the timeline; any thread."""
        with self._cond:
            held = held or self._superseded
            self._released = self._released or (self._held and not held)
            self._held = held
            self._cond.notify()

    @property
    def superseded(self) -> bool:
        """A newer composer writes this Space's playlist; this one writes none from now on."""
        with self._cond:
            return self._superseded

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    @property
    def playlist(self) -> MediaPlaylist:
        """What the sink holds (or is about to hold) as the playlist."""
        with self._cond:
            return self._playlist

    def close(self, *, ended: bool, timeout: float | None) -> bool:
        """Write what is queued, then the final playlist (with ENDLIST if `ended`) and timeline.

        Returns False if that did not finish within `timeout` (the rest is abandoned; the
        playlist in the sink still names only written segments).
        """
        with self._cond:
            self._closing = True
            self._ended = ended
            self._cond.notify()
        if timeout is None:
            self._thread.join()
            return self._finished_clean
        # A short budget (an evicted composer's) keeps half of it for the final writes.
        reserve = min(FINAL_WRITE_RESERVE_S, timeout / 2)
        self._thread.join(max(0.0, timeout - reserve))
        if self._thread.is_alive():
            with self._cond:
                dropped = len(self._pending)
                self._pending.clear()
                if dropped:
                    self._gap_next = True
            log.error(
                "broadcast %s: closing late, dropping %d queued segments to write the final playlist",
                self._space_id,
                dropped,
            )
            self._stats.count(segments_dropped=dropped)
            self._hurry.set()
            self._thread.join(reserve)
        if self._thread.is_alive():
            self._abort.set()
            self._hurry.set()
            self._thread.join()
            return False
        return self._finished_clean

    # -- the upload thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._abort.is_set():
            with self._cond:
                while not (self._pending or self._closing or self._timeline_due() or self._released):
                    self._cond.wait()
                self._released = False
                job = self._pending.popleft() if self._pending else None
                more = bool(self._pending)
                final = self._closing and not self._pending
            if job is not None:
                self._publish_segment(job)
            if final:
                self._finish()
                return
            if self._playlist_dirty and (not more or self._playlist_overdue()):
                # During a backlog the playlist is written after the last queued segment, or when
                # viewers have waited `playlist_every_s` for it.
                self._write_playlist()
            if self._timeline_dirty and self._playlist_published and not more:
                self._write_timeline()

    def _playlist_overdue(self) -> bool:
        return self._clock() - self._playlist_tried_at >= self._playlist_every_s

    def _timeline_due(self) -> bool:
        return self._timeline_dirty and self._playlist_published and not self._held

    def _is_held(self) -> bool:
        with self._cond:
            return self._held

    def _publish_segment(self, job: _Job) -> None:
        seg = job.segment
        discontinuity = self._discontinuity_next or job.after_gap
        # After a dropped segment the stream's continuity counters jump: say it is meant.
        data = mark_discontinuity(seg.data) if job.after_gap else seg.data
        files = [(seg.name, data)] + [
            (rendition.twin(seg.name), mark_discontinuity(twin) if job.after_gap else twin)
            for rendition, twin in seg.twins
        ]
        # The main segment's name is what the playlists go by, and a segment is named only once all
        # of its files are there: a twin that fails drops them all (those written are never named).
        written = self._together([self._writer(name, body, closed=False) for name, body in files])
        if not all(written):
            log.error("broadcast %s: giving up on segment %s", self._space_id, seg.name)
            self._stats.count(segments_dropped=1)
            with self._cond:
                if self._pending:
                    self._pending[0].after_gap = True
                else:
                    self._gap_next = True
            return
        self._discontinuity_next = False
        self._add_renditions_of((seg.name,))
        entry = Segment(seg.name, seg.duration_s, seg.program_date_time, discontinuity)
        with self._cond:
            self._playlist = self._playlist.append(entry)
        self._playlist_dirty = True
        self._stats.count(segments_written=1)

    def _add_renditions(self, *, low: bool, audio: bool) -> None:
        with self._cond:  # the encoding thread adds them too (set_variants)
            low = low or _LOW in self._renditions
            audio = audio or _AUDIO in self._renditions
            self._renditions = [r for r, on in ((_LOW, low), (_AUDIO, audio)) if on]

    def _add_renditions_of(self, uris: Iterable[str]) -> None:
        """Those whose twins the named segments have."""
        names = tuple(uris)
        low = any(has_low_twin(uri) for uri in names)
        self._add_renditions(low=low, audio=any(uri.endswith(MAIN_SUFFIX) for uri in names))

    def _finish(self) -> None:
        if self._ended and self._playlist.segments:
            with self._cond:
                self._playlist = self._playlist.close()
            self._playlist_dirty = True
        if self._playlist_dirty:
            self._write_playlist(final=True)
        if self._timeline is not None and self._playlist_published:
            with self._cond:
                if self._ended and not self._timeline.ended:
                    self._timeline = replace(self._timeline, ended=True)
                    self._timeline_dirty = True
        if self._timeline_dirty and self._playlist_published:
            self._write_timeline(final=True)
        if self._playlist.ended and not self._playlist_dirty:
            self._write_recording_renditions()
        timeline_pending = self._timeline_dirty and self._playlist_published
        self._finished_clean = not (
            self._playlist_dirty or timeline_pending or self._gap_next or self._recording_pending
        )

    def _write_recording_renditions(self) -> None:
        """The ended recording's renditions' playlists, then its multivariant playlist (the replay
        plays that when it is there): last of all, so that they never hold back the closing window
        or timeline. A composer without renditions writes neither (it has no variants to name)."""
        with self._cond:
            variants = self._recording_variants
        if variants is None or not self._renditions:
            return
        playlists = [
            self._writer(r.recording, self._playlist.render(r.twin).encode(), closed=True, final=True)
            for r in self._renditions
        ]
        written = all(self._together(playlists))
        if written:
            written = self._write(BROADCAST_VARIANTS, variants, closed=True, holdable=True, final=True)
        self._recording_pending = not written

    def _write_playlist(self, *, final: bool = False) -> None:
        if not self._playlist.segments or self._is_held():
            return
        self._playlist_tried_at = self._clock()
        playlist = self._write_full(final=final)
        if playlist is None:
            return
        self._playlist_published = True
        with self._cond:
            variants_due = self._variants is not None
        windows = self._rendition_windows(playlist, final=final)
        windows_first = bool(windows) and variants_due
        if windows_first:
            if all(self._together(windows)):
                self._write_variants()
            else:
                self._playlist_dirty = True  # the next pass writes it again (the closing one counts)
            windows = []
        live = playlist.render_window(BROADCAST_LIVE_WINDOW_SEGMENTS).encode()

        def write_live() -> bool:
            return self._write_window(BROADCAST_LIVE_PLAYLIST, live, closed=playlist.ended, final=final)

        # The main window with the renditions' (once the variants are out), each whatever becomes of
        # the others: a slow rendition's write never holds the main one back.
        live_written, *windows_written = self._together([write_live, *windows])
        if live_written:
            self._stats.count(playlists_written=1)
            if playlist is self._playlist:
                self._playlist_dirty = False
        if not all(windows_written):
            self._playlist_dirty = True  # the next pass writes them (with the others: they are derived)

    def _rendition_windows(self, playlist: MediaPlaylist, *, final: bool) -> list[Callable[[], bool]]:
        """The writes of the renditions' windows, from the full playlist just written, each fenced
        like the main window (`_write_window`)."""

        def writer(rendition: _Rendition) -> Callable[[], bool]:
            window = playlist.render_window(BROADCAST_LIVE_WINDOW_SEGMENTS, rendition.twin).encode()
            return lambda: self._write_window(rendition.live, window, closed=playlist.ended, final=final)

        return [writer(r) for r in self._renditions]

    def _writer(self, name: str, data: bytes, *, closed: bool, final: bool = False) -> Callable[[], bool]:
        """One unconditional write, to be run by `_together`: a playlist (any `.m3u8`) is holdable."""
        holdable = name.endswith(".m3u8")

        def write() -> bool:
            return self._write(name, data, closed=closed, holdable=holdable, final=final)

        return write

    def _together(self, writes: Sequence[Callable[[], bool]]) -> list[bool]:
        """Run writes that no rule orders, each with its own retries, and wait for them all: at once
        (the first on this thread, each other on a daemon thread of its own, which an exiting
        process does not wait for), or one after another. Their results, in order."""
        if not self._parallel or len(writes) < 2:
            return [write() for write in writes]
        results: list[bool] = [False] * len(writes)
        failures: list[BaseException] = []

        def run(index: int) -> None:
            try:
                results[index] = writes[index]()
            except BaseException as exc:  # re-raised on the upload thread, as one write there would
                failures.append(exc)

        others = [
            threading.Thread(target=run, args=(i,), name=f"broadcast-write-{self._space_id}", daemon=True)
            for i in range(1, len(writes))
        ]
        for thread in others:
            thread.start()
        run(0)
        for thread in others:
            thread.join()  # a pass never ends with a write of its still out
        if failures:
            raise failures[0]
        return results

    def _write_variants(self) -> None:
        with self._cond:
            variants = self._variants
        if variants is not None and self._write(
            BROADCAST_LIVE_VARIANTS, variants, closed=False, holdable=True
        ):
            with self._cond:
                if self._variants is variants:
                    self._variants = None

    def _write_full(self, *, final: bool) -> MediaPlaylist | None:
        """Write the full playlist over the version we know; the playlist written, or None."""
        for _ in range(MAX_REBASES + 1):
            if self._abort.is_set():  # close's budget is spent
                return None
            playlist = self._playlist
            full = playlist.render().encode()
            try:
                written = self._write(
                    BROADCAST_PLAYLIST,
                    full,
                    closed=playlist.ended,
                    holdable=True,
                    final=final,
                    conditional=True,
                )
            except WriteConflict:
                outcome = self._resolve_conflict(full)
                if outcome == "ours":
                    return playlist
                if outcome == "rebased":
                    continue
                return None
            return playlist if written else None
        return None

    def _write_window(self, name: str, window: bytes, *, closed: bool, final: bool) -> bool:
        """Write a live window (the main one or a rendition's) over the version we know. A conflict
        means another composer wrote it: a newer one (its segments are in it) supersedes this one;
        an older one's late write (or, for a continuing composer's first write of a window, the
        window it took over) is written over: this publisher just passed the full playlist's fence.
        Any thread (`_together`): each window's version is only touched by its own write."""
        for _ in range(MAX_REBASES + 1):
            if self._abort.is_set():
                return False
            outcome, stored = self._write_or_read_back(name, window, closed=closed, final=final)
            if outcome != "conflict":
                return outcome == "written"
            if stored is None:
                continue
            if stored == window:
                return True
            try:
                theirs: MediaPlaylist | None = parse_playlist(stored.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                theirs = None  # not a window a newer composer wrote: ours replaces it
            if theirs is not None and self._taken_over(theirs):
                # A newer composer's window, or a closed one (a newer composer that resumed and
                # ended the Space before its first segment): never reopened by ours.
                self._supersede(f"a newer composer writes {name}, or closed it")
                return False
        return False

    def _newer_playlist(self) -> bool:
        """Whether the stored full playlist is a newer composer's or closed: who wrote a timeline
        that conflicts with ours (a newer composer writes its playlist before its timeline, unless
        it has no segment of its own yet). An unreadable one says nothing (the playlist's own next
        write finds out)."""
        try:
            stored = self._sink.read(f"{self._space_id}/{BROADCAST_PLAYLIST}")
            playlist = None if stored is None else parse_playlist(stored.decode("utf-8"))
        except Exception as exc:  # the playlist's own next write meets whatever it is
            log.warning("broadcast %s: reading the playlist after a conflict failed: %s", self._space_id, exc)
            return False
        return playlist is not None and self._taken_over(playlist)

    def _taken_over(self, stored: MediaPlaylist) -> bool:
        """A stored playlist or window that a newer composer wrote (its epoch's segments), or that
        is closed: this publisher must never write over it."""
        return stored.ended or newer_writer(stored, self._epoch_ms)

    def _resolve_conflict(self, ours: bytes) -> str:
        """The full playlist changed under us: "ours" (our own write landed, its answer was lost),
        "rebased" (write again over the version read: an earlier write of ours landed unanswered, or
        a predecessor wrote late and our segments now follow its), or "stop"."""
        self._stats.count(playlist_conflicts=1)
        try:
            stored = self._sink.read_versioned(f"{self._space_id}/{BROADCAST_PLAYLIST}")
        except Exception as exc:  # the next pass conflicts again and reads again
            log.warning("broadcast %s: reading the playlist after a conflict failed: %s", self._space_id, exc)
            return "stop"
        if stored is None:  # removed under us: write ours as the first version again
            self._versions[BROADCAST_PLAYLIST] = None
            return "rebased"
        data, version = stored
        if data == ours:
            self._versions[BROADCAST_PLAYLIST] = version
            return "ours"
        try:
            playlist = parse_playlist(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            self._supersede(f"the stored playlist is unreadable ({exc})")
            return "stop"
        if self._taken_over(playlist):
            self._supersede("a newer composer writes it" if not playlist.ended else "it is closed")
            return "stop"
        if playlist.segments == self._playlist.segments[: len(playlist.segments)]:
            # An earlier version of our own: a write of ours landed, its answer was lost, and its
            # retry never ran (a hold, a hurried close). Nothing to keep from it.
            self._versions[BROADCAST_PLAYLIST] = version
            return "rebased"
        log.warning("broadcast %s: a predecessor wrote the playlist late; ours follows it", self._space_id)
        with self._cond:
            self._playlist = rebase(playlist, self._playlist, self._epoch_ms)
        # A predecessor with renditions whose first segments landed late: its viewers on their
        # windows are kept, as when they were there at the start.
        self._add_renditions_of(s.uri for s in playlist.segments)
        self._versions[BROADCAST_PLAYLIST] = version
        return "rebased"

    def _supersede(self, why: str) -> None:
        log.error("broadcast %s: not writing the playlist any more: %s", self._space_id, why)
        with self._cond:
            self._superseded = True
            self._held = True

    def _write_timeline(self, *, final: bool = False) -> None:
        with self._cond:
            if self._held:
                return
            timeline = self._timeline
            self._timeline_dirty = False
        if timeline is None:
            return
        if not self._write_timeline_over(timeline, final=final):
            with self._cond:
                self._timeline_dirty = True

    def _write_timeline_over(self, timeline: BroadcastTimeline, *, final: bool) -> bool:
        """Write the timeline over the version we know. A conflict reads the stored one back: its
        entries that ours lacks are merged into ours from then on (whoever wrote them), and a
        stored timeline closed while ours is open means a newer composer ended the Space."""
        for _ in range(MAX_REBASES + 1):
            if self._abort.is_set():
                return False
            merged = replace(timeline, entries=merge_entries(timeline.entries, self._foreign_entries))
            body = timeline_json(merged).encode()
            outcome, stored = self._write_or_read_back(
                BROADCAST_TIMELINE, body, closed=timeline.ended, final=final
            )
            if outcome != "conflict":
                return outcome == "written"
            if stored is None:
                continue
            if stored == body:
                return True
            try:
                theirs: BroadcastTimeline | None = parse_timeline(stored.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                theirs = None  # nothing to keep from it: ours replaces it
            if theirs is None:
                continue
            if theirs.ended and not timeline.ended:
                self._supersede("a newer composer closed the timeline")
                return False
            if self._newer_playlist():
                self._supersede("a newer composer writes the playlist")
                return False
            log.warning(
                "broadcast %s: another composer wrote the timeline; keeping its entries", self._space_id
            )
            self._foreign_entries = merge_entries(
                self._foreign_entries, foreign_to(theirs.entries, timeline.entries)
            )
        return False

    def _write_or_read_back(
        self, name: str, data: bytes, *, closed: bool, final: bool
    ) -> tuple[Literal["written", "failed", "conflict"], bytes | None]:
        """One conditional write of `name` over the version we know: "written"; "failed" (retries
        spent, held, hurried, or the read-back failed: the next pass tries again); or "conflict"
        with what the sink holds now (None: nothing), our known version moved to it."""
        try:
            written = self._write(name, data, closed=closed, holdable=True, final=final, conditional=True)
            return ("written" if written else "failed"), None
        except WriteConflict:
            self._stats.count(playlist_conflicts=1)
        try:
            stored = self._sink.read_versioned(f"{self._space_id}/{name}")
        except Exception as exc:  # the next pass conflicts again and reads again
            log.warning("broadcast %s: reading %s after a conflict failed: %s", self._space_id, name, exc)
            return "failed", None
        self._versions[name] = None if stored is None else stored[1]
        return "conflict", None if stored is None else stored[0]

    def _write(
        self,
        name: str,
        data: bytes,
        *,
        closed: bool,
        holdable: bool = False,
        final: bool = False,
        conditional: bool = False,
    ) -> bool:
        """Write with retries; a `holdable` object (playlist, timeline) is not tried while held.

        Once closing hurries, only the `final` writes (the closing playlist and timeline) go on: a
        segment or an earlier playlist still being retried would spend the reserve they need. A
        `conditional` write goes over the object's known version only (`_versions`) and raises
        WriteConflict (not retried)."""
        headers = cache_headers(name, closed)
        key = f"{self._space_id}/{name}"
        for attempt in range(1, self._retry.attempts + 1):
            if holdable and self._is_held():
                return False
            if not final and self._hurry.is_set():
                return False  # closing: the final playlist goes first
            try:
                with self._stats.stage("upload"):
                    if conditional:
                        self._versions[name] = self._sink.write_if(
                            key,
                            data,
                            version=self._versions.get(name),
                            content_type=headers["Content-Type"],
                            cache_control=headers["Cache-Control"],
                        )
                    else:
                        self._sink.write(
                            key,
                            data,
                            content_type=headers["Content-Type"],
                            cache_control=headers["Cache-Control"],
                        )
            except WriteConflict:
                raise
            except Exception as exc:  # any sink failure is retried; the sink's own type is unknown
                self._stats.count(write_errors=1)
                log.warning(
                    "broadcast %s: write %s failed (attempt %d): %s", self._space_id, name, attempt, exc
                )
                if attempt == self._retry.attempts:
                    return False
                # Equal jitter: half the backoff fixed, half random, so composers do not retry in step.
                delay = self._retry.delay(attempt) * (0.5 + 0.5 * self._jitter())
                # Retries stop when closing hurries (set by an abort too), but the final writes'.
                if (self._abort if final else self._hurry).wait(delay):
                    return False
                continue
            self._stats.count(bytes_written=len(data))
            return True
        return False
