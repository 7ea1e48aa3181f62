"""Upload ordering, retry and drop rules of the broadcast publisher, against a failing fake sink."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import pytest

from composer.hls.config import RetryPolicy
from composer.hls.playlist import (
    MediaPlaylist,
    Segment,
    Variant,
    audio_twin,
    is_closed,
    low_twin,
    parse_playlist,
    render_variants,
)
from composer.hls.publisher import Publisher, ReadySegment
from composer.hls.sinks import content_version
from composer.hls.stats import StatsRecorder
from composer.hls.timeline import foreign_to, merge_entries, parse_timeline, timeline_json
from contract.broadcast import BroadcastTimeline, TimelineEntry
from tests.support.eventually import eventually
from tests.unit.composer.fakes import MemorySink

FAST = RetryPolicy(attempts=4, initial_delay_s=0.001, max_delay_s=0.004)
T0 = 1_764_619_200.0
SPACE = "sp"


def _publisher(
    sink: MemorySink,
    *,
    playlist: MediaPlaylist | None = None,
    max_pending: int = 10,
    retry: RetryPolicy = FAST,
    clock: Callable[[], float] = lambda: 0.0,
    epoch_ms: int = 1000,
    version: str | None = None,
    live_version: str | None = None,
    timeline_version: str | None = None,
    parallel: bool = True,
) -> tuple[Publisher, StatsRecorder]:
    stats = StatsRecorder()
    publisher = Publisher(
        sink,
        space_id=SPACE,
        epoch_ms=epoch_ms,
        playlist=playlist or MediaPlaylist(),
        playlist_version=version,
        live_version=live_version,
        timeline_version=timeline_version,
        retry=retry,
        max_pending=max_pending,
        stats=stats,
        playlist_every_s=2.0,
        parallel=parallel,
        jitter=lambda: 0.5,
        clock=clock,
    )
    return publisher, stats


def _segment(n: int, epoch: int = 1000) -> ReadySegment:
    # One MPEG-TS packet (PID 0x100, an adaptation field with the random-access flag, as a
    # keyframe's first packet has), its payload naming the segment.
    header = bytes([0x47, 0x41, 0x00, 0x30, 1, 0x40])
    payload = f"segment {n}".encode()
    return ReadySegment(f"{epoch}-{n}.ts", header + payload.ljust(188 - len(header), b"\xff"), 1.0, T0 + n)


def _pair(n: int, epoch: int = 1000) -> ReadySegment:
    """A segment with its low-rendition twin (a video broadcast's)."""
    main = _segment(n, epoch)
    low = main.data.replace(b"segment", b"twin of")
    return replace(main, name=f"{epoch}-{n}.hi.ts", low=low)


def _triple(n: int, epoch: int = 1000) -> ReadySegment:
    """A segment with its low twin and its sound alone (a video broadcast's of this release)."""
    main = _segment(n, epoch)
    low, audio = main.data.replace(b"segment", b"twin of"), main.data.replace(b"segment", b"soundof")
    return replace(main, name=f"{epoch}-{n}.av.ts", low=low, audio=audio)


def _marked_discontinuous(data: bytes) -> bool:
    return bool(data[5] & 0x80)


def _passes(order: list[str], passes: list[set[str]]) -> None:
    """The writes happened pass by pass: each pass's names (written at once, in any order among
    themselves) all before the next pass's."""
    names = [key.split("/", 1)[1] for key in order]
    got, at = [], 0
    for want in passes:
        got.append(set(names[at : at + len(want)]))
        at += len(want)
    assert (got, len(names)) == (passes, at), names


def _published(sink: MemorySink) -> int:
    with sink.lock:
        raw = sink.objects.get(f"{SPACE}/index.m3u8")
    return len(parse_playlist(raw.decode()).segments) if raw is not None else 0


def _playlist(sink: MemorySink) -> MediaPlaylist:
    return parse_playlist(sink.objects[f"{SPACE}/index.m3u8"].decode())


def test_each_segment_is_written_before_the_playlist_that_names_it() -> None:
    sink = MemorySink()
    publisher, stats = _publisher(sink)
    for n in range(3):
        publisher.submit(_segment(n))
        want = n + 1
        eventually(lambda: _published(sink) == want, what=f"segment {n} published")  # noqa: B023
    assert publisher.close(ended=False, timeout=10)
    assert sink.order == [
        f"{SPACE}/1000-0.ts",
        f"{SPACE}/index.m3u8",
        f"{SPACE}/live.m3u8",
        f"{SPACE}/1000-1.ts",
        f"{SPACE}/index.m3u8",
        f"{SPACE}/live.m3u8",
        f"{SPACE}/1000-2.ts",
        f"{SPACE}/index.m3u8",
        f"{SPACE}/live.m3u8",
    ]
    assert sink.violations == []
    assert [s.uri for s in _playlist(sink).segments] == ["1000-0.ts", "1000-1.ts", "1000-2.ts"]
    assert not any(s.discontinuity for s in _playlist(sink).segments)
    assert stats.segments_written == 3 and stats.segments_dropped == 0


def test_every_other_write_failing_is_retried_and_nothing_is_lost() -> None:
    sink = MemorySink(fail=lambda key, attempt: attempt % 2 == 1)
    publisher, stats = _publisher(sink)
    for n in range(5):
        publisher.submit(_segment(n))
    assert publisher.close(ended=True, timeout=10)
    assert sink.violations == []
    playlist = _playlist(sink)
    assert [s.uri for s in playlist.segments] == [f"1000-{n}.ts" for n in range(5)]
    assert playlist.ended
    assert stats.write_errors >= 6  # five segments and at least one playlist, each failed once
    assert stats.segments_dropped == 0


def test_a_segment_that_never_writes_is_dropped_and_the_next_one_marks_the_gap() -> None:
    sink = MemorySink(fail=lambda key, attempt: key.endswith("1000-1.ts"))
    publisher, stats = _publisher(sink)
    for n in range(3):
        publisher.submit(_segment(n))
    assert publisher.close(ended=False, timeout=10)
    playlist = _playlist(sink)
    assert [(s.uri, s.discontinuity) for s in playlist.segments] == [
        ("1000-0.ts", False),
        ("1000-2.ts", True),
    ]
    assert sink.attempts[f"{SPACE}/1000-1.ts"] == FAST.attempts
    # The stream's continuity counters jump there too: the segment says so (a demuxer would flag
    # its keyframe as corrupt otherwise); the others are written as encoded.
    assert _marked_discontinuous(sink.objects[f"{SPACE}/1000-2.ts"])
    assert sink.objects[f"{SPACE}/1000-0.ts"] == _segment(0).data
    assert stats.segments_dropped == 1
    assert sink.violations == []


def test_a_full_queue_drops_the_oldest_waiting_segment_and_never_blocks_the_encoder() -> None:
    gate = threading.Event()
    entered = threading.Event()

    def hold_first_segment(key: str, attempt: int) -> bool:
        if key.endswith("1000-0.ts"):
            entered.set()
            gate.wait()
        return False

    sink = MemorySink(fail=hold_first_segment)
    publisher, stats = _publisher(sink, max_pending=2)
    publisher.submit(_segment(0))
    eventually(entered.is_set, what="the upload thread is writing segment 0")
    for n in range(1, 5):  # the sink is stuck: these must return at once
        publisher.submit(_segment(n))
    assert publisher.pending == 2
    gate.set()
    assert publisher.close(ended=False, timeout=10)
    assert [(s.uri, s.discontinuity) for s in _playlist(sink).segments] == [
        ("1000-0.ts", False),
        ("1000-3.ts", True),
        ("1000-4.ts", False),
    ]
    assert stats.segments_dropped == 2
    assert sink.violations == []


def test_a_playlist_write_that_keeps_failing_is_retried_after_the_next_segment() -> None:
    failing = {"on": True}
    sink = MemorySink(fail=lambda key, attempt: failing["on"] and key.endswith("index.m3u8"))
    publisher, stats = _publisher(sink)
    publisher.submit(_segment(0))
    eventually(lambda: sink.attempts.get(f"{SPACE}/index.m3u8", 0) >= FAST.attempts, what="retries spent")
    assert f"{SPACE}/index.m3u8" not in sink.objects
    failing["on"] = False
    publisher.submit(_segment(1))
    assert publisher.close(ended=False, timeout=10)
    assert [s.uri for s in _playlist(sink).segments] == ["1000-0.ts", "1000-1.ts"]
    assert stats.segments_dropped == 0


def test_timeline_is_written_after_the_playlist_and_closed_with_it() -> None:
    sink = MemorySink()
    publisher, _ = _publisher(sink)
    timeline = BroadcastTimeline(
        space_id=SPACE,
        started_at=T0,
        entries=(TimelineEntry(t=T0, spotlight="a", video_spotlight=None, pinned=None, names={"a": "A"}),),
    )
    publisher.set_timeline(timeline)  # before any playlist exists: must wait for it
    publisher.submit(_segment(0))
    assert publisher.close(ended=True, timeout=10)
    assert sink.violations == []
    keys = [k.split("/")[1] for k in sink.order]
    assert keys[0] == "1000-0.ts"
    assert keys.index("timeline.json") > keys.index("index.m3u8")
    assert keys[-3:] == ["index.m3u8", "live.m3u8", "timeline.json"]
    assert b'"ended":true' in sink.objects[f"{SPACE}/timeline.json"]
    assert is_closed(sink.objects[f"{SPACE}/index.m3u8"].decode())
    assert is_closed(sink.objects[f"{SPACE}/live.m3u8"].decode())  # live viewers see the end too
    for playlist in ("index.m3u8", "live.m3u8"):
        assert sink.headers[f"{SPACE}/{playlist}"] == ("application/vnd.apple.mpegurl", "public, max-age=60")
    assert sink.headers[f"{SPACE}/timeline.json"] == ("application/json", "public, max-age=60")
    assert sink.headers[f"{SPACE}/1000-0.ts"] == ("video/mp2t", "public, max-age=31536000, immutable")


def test_live_objects_carry_the_short_cache_lifetime() -> None:
    sink = MemorySink()
    publisher, _ = _publisher(sink)
    publisher.submit(_segment(0))
    assert publisher.close(ended=False, timeout=10)
    assert sink.headers[f"{SPACE}/index.m3u8"] == (
        "application/vnd.apple.mpegurl",
        "public, max-age=0, s-maxage=1",
    )
    assert not _playlist(sink).ended


def test_a_continued_playlist_keeps_its_segments_and_marks_the_new_part() -> None:
    old = MediaPlaylist().append(Segment("1000-0.ts", 1.0, T0)).append(Segment("1000-1.ts", 1.0, T0 + 1))
    sink = MemorySink()
    sink.objects[f"{SPACE}/1000-0.ts"] = b"old 0"
    sink.objects[f"{SPACE}/1000-1.ts"] = b"old 1"
    publisher, _ = _publisher(sink, playlist=old, epoch_ms=2000)
    publisher.submit(_segment(0, epoch=2000))
    publisher.submit(_segment(1, epoch=2000))
    assert publisher.close(ended=False, timeout=10)
    assert [(s.uri, s.discontinuity) for s in _playlist(sink).segments] == [
        ("1000-0.ts", False),
        ("1000-1.ts", False),
        ("2000-0.ts", True),
        ("2000-1.ts", False),
    ]


def test_close_gives_up_after_its_timeout_and_leaves_a_playlist_naming_only_written_segments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("composer.hls.publisher.FINAL_WRITE_RESERVE_S", 0.1)
    sink = MemorySink(fail=lambda key, attempt: key.endswith("1000-1.ts"))
    slow = RetryPolicy(attempts=1000, initial_delay_s=0.01, max_delay_s=0.05)
    publisher, _ = _publisher(sink, retry=slow)
    publisher.submit(_segment(0))
    publisher.submit(_segment(1))
    assert publisher.close(ended=True, timeout=0.3) is False
    assert [s.uri for s in _playlist(sink).segments] == ["1000-0.ts"]
    assert sink.violations == []


def test_a_playlist_that_cannot_be_written_either_is_abandoned_at_the_timeout() -> None:
    sink = MemorySink(fail=lambda key, attempt: key.endswith(".m3u8"))
    slow = RetryPolicy(attempts=1000, initial_delay_s=0.01, max_delay_s=0.05)
    publisher, _ = _publisher(sink, retry=slow)
    publisher.submit(_segment(0))
    assert publisher.close(ended=True, timeout=0.3) is False  # returns, does not hang
    assert f"{SPACE}/index.m3u8" not in sink.objects


def test_nothing_is_submitted_after_close() -> None:
    publisher, _ = _publisher(MemorySink())
    assert publisher.close(ended=False, timeout=10)
    with pytest.raises(RuntimeError, match="closed"):
        publisher.submit(_segment(0))


@pytest.mark.parametrize(("failures", "delay"), [(1, 0.1), (2, 0.2), (3, 0.4), (5, 1.6), (6, 2.0), (20, 2.0)])
def test_backoff_doubles_up_to_its_cap(failures: int, delay: float) -> None:
    policy = RetryPolicy(attempts=8, initial_delay_s=0.1, max_delay_s=2.0)
    assert policy.delay(failures) == pytest.approx(delay)


@pytest.mark.parametrize(
    "kwargs", [{"attempts": 0}, {"initial_delay_s": -1.0}, {"initial_delay_s": 3.0, "max_delay_s": 2.0}]
)
def test_a_retry_policy_that_cannot_work_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_held_playlists_name_nothing_new_until_released_and_segments_go_on() -> None:
    """A composer that lost its room holds its playlists (a replacement may continue them): the
    segments are still stored, and named by the first playlist written after the release."""
    sink = MemorySink()
    publisher, stats = _publisher(sink)
    timeline = BroadcastTimeline(space_id=SPACE, started_at=T0)
    publisher.set_timeline(timeline)
    publisher.submit(_segment(0))
    eventually(lambda: f"{SPACE}/timeline.json" in sink.objects, what="segment 0 and the timeline")
    publisher.hold_playlists(True)
    writes = len(sink.order)
    entry = TimelineEntry(t=T0 + 1, spotlight="a", video_spotlight=None, pinned=None, names={"a": "A"})
    publisher.set_timeline(BroadcastTimeline(space_id=SPACE, started_at=T0, entries=(entry,)))
    publisher.submit(_segment(1))
    publisher.submit(_segment(2))
    eventually(lambda: stats.segments_written == 3, what="segments 1 and 2 stored")
    assert _names(sink.order[writes:]) == ["1000-1.ts", "1000-2.ts"]
    assert _published(sink) == 1
    publisher.hold_playlists(False)  # no new segment needed: the release writes what was held
    eventually(lambda: _published(sink) == 3, what="the playlist after the release")
    assert publisher.close(ended=False, timeout=10)
    assert sink.violations == []
    assert _names(sink.order[writes + 2 :]) == ["index.m3u8", "live.m3u8", "timeline.json"]
    assert b'"spotlight":"a"' in sink.objects[f"{SPACE}/timeline.json"]


def _names(keys: list[str]) -> list[str]:
    return [k.split("/")[1] for k in keys]


def test_a_hold_kept_through_close_leaves_the_playlist_as_it_was() -> None:
    sink = MemorySink()
    publisher, _ = _publisher(sink)
    publisher.submit(_segment(0))
    eventually(lambda: _published(sink) == 1, what="segment 0")
    publisher.hold_playlists(True)
    publisher.submit(_segment(1))
    assert publisher.close(ended=True, timeout=10) is False  # the playlist was not written
    assert f"{SPACE}/1000-1.ts" in sink.objects  # stored, never named
    playlist = _playlist(sink)
    assert [s.uri for s in playlist.segments] == ["1000-0.ts"] and not playlist.ended


def test_a_hold_stops_a_playlist_write_that_is_being_retried() -> None:
    sink = MemorySink(fail=lambda key, attempt: key.endswith(".m3u8"))
    slow = RetryPolicy(attempts=1000, initial_delay_s=0.005, max_delay_s=0.01)
    publisher, _ = _publisher(sink, retry=slow)
    publisher.submit(_segment(0))
    eventually(lambda: sink.attempts.get(f"{SPACE}/index.m3u8", 0) >= 3, what="the playlist being retried")
    publisher.hold_playlists(True)
    tried = sink.attempts[f"{SPACE}/index.m3u8"]
    assert publisher.close(ended=False, timeout=10) is False
    assert sink.attempts[f"{SPACE}/index.m3u8"] <= tried + 1  # at most the attempt in flight


def test_a_sink_slower_than_the_encoder_still_gets_the_playlists_every_two_segments() -> None:
    """Each segment write takes a (fake) second and the queue never empties: the playlists are
    written every `playlist_every_s` (2 s) all the same, not once the backlog is gone."""
    now = [0.0]
    all_queued = threading.Event()

    def slow_segments(key: str, attempt: int) -> bool:
        if key.endswith(".ts"):
            all_queued.wait(10)  # the queue is full before the first write ends
            now[0] += 1.0
        return False

    sink = MemorySink(fail=slow_segments)
    named: list[int] = []
    original = sink.write

    def record(key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        original(key, data, content_type=content_type, cache_control=cache_control)
        if key.endswith("/live.m3u8"):
            named.append(len(parse_playlist(data.decode()).segments))

    sink.write = record  # type: ignore[method-assign]
    publisher, stats = _publisher(sink, clock=lambda: now[0], max_pending=20)
    for n in range(10):
        publisher.submit(_segment(n))
    all_queued.set()
    assert publisher.close(ended=False, timeout=10)
    assert sink.violations == []
    assert named[0] < 10, f"the first live playlist came only after the backlog: {named}"
    assert named == sorted(named) and named[-1] == 10
    assert len(named) >= 4 and stats.playlists_written == len(named)


def test_a_close_against_a_failing_sink_keeps_time_for_the_final_playlist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Segments that keep failing do not use up the close's budget: at its reserve they are dropped
    and the final playlist, with #EXT-X-ENDLIST, is written naming what was stored."""
    monkeypatch.setattr("composer.hls.publisher.FINAL_WRITE_RESERVE_S", 0.5)
    sink = MemorySink(fail=lambda key, attempt: key.endswith(".ts") and not key.endswith("-0.ts"))
    slow = RetryPolicy(attempts=1000, initial_delay_s=0.05, max_delay_s=0.1)
    publisher, stats = _publisher(sink, retry=slow)
    publisher.submit(_segment(0))
    eventually(lambda: _published(sink) == 1, what="segment 0 listed")
    for n in (1, 2, 3):
        publisher.submit(_segment(n))
    assert publisher.close(ended=True, timeout=1.5) is False  # not everything was stored
    playlist = _playlist(sink)
    assert playlist.ended and [s.uri for s in playlist.segments] == ["1000-0.ts"]
    assert is_closed(sink.objects[f"{SPACE}/live.m3u8"].decode())
    assert stats.segments_dropped == 3 and sink.violations == []


def test_an_earlier_playlist_write_being_retried_does_not_spend_the_final_playlists_reserve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The playlist written after a segment fails once and waits a long backoff; the close's
    reserve goes to the closing playlist instead, which supersedes it."""
    monkeypatch.setattr("composer.hls.publisher.FINAL_WRITE_RESERVE_S", 1.5)
    sink = MemorySink(fail=lambda key, attempt: key.endswith("/index.m3u8") and attempt == 1)
    long_backoff = RetryPolicy(attempts=5, initial_delay_s=30.0, max_delay_s=30.0)
    publisher, _ = _publisher(sink, retry=long_backoff)
    publisher.submit(_segment(0))
    first_failed = lambda: sink.attempts.get(f"{SPACE}/index.m3u8", 0) == 1  # noqa: E731
    eventually(first_failed, what="the first playlist write failing")
    assert publisher.close(ended=True, timeout=2.0)
    playlist = _playlist(sink)
    assert playlist.ended and [s.uri for s in playlist.segments] == ["1000-0.ts"]


# -- two writers: the conditional playlist write is the fence (docs/broadcast.md, "Two writers") ------


def _stored_playlist(sink: MemorySink, playlist: MediaPlaylist) -> str:
    """Store `playlist` (and its segments) as another composer would; its version."""
    for seg in playlist.segments:
        sink.objects[f"{SPACE}/{seg.uri}"] = seg.uri.encode()
    data = playlist.render().encode()
    sink.objects[f"{SPACE}/index.m3u8"] = data
    return content_version(data)


def _of(*uris: str) -> MediaPlaylist:
    playlist = MediaPlaylist()
    for n, uri in enumerate(uris):
        playlist = playlist.append(Segment(uri, 1.0, T0 + n))
    return playlist


def test_a_predecessors_late_write_is_kept_and_ours_follows_it() -> None:
    sink = MemorySink()
    read = _of("1000-0.ts")
    version = _stored_playlist(sink, read)
    publisher, stats = _publisher(sink, playlist=read, epoch_ms=2000, version=version)
    _stored_playlist(sink, _of("1000-0.ts", "1000-1.ts"))  # the evicted composer's last write lands now
    publisher.submit(_segment(0, epoch=2000))
    publisher.submit(_segment(1, epoch=2000))
    assert publisher.close(ended=True, timeout=10)
    assert [(s.uri, s.discontinuity) for s in _playlist(sink).segments] == [
        ("1000-0.ts", False),
        ("1000-1.ts", False),
        ("2000-0.ts", True),
        ("2000-1.ts", False),
    ]
    assert _playlist(sink).ended and not publisher.superseded
    assert stats.snapshot(0).playlist_conflicts == 1
    live = parse_playlist(sink.objects[f"{SPACE}/live.m3u8"].decode())
    assert [s.uri for s in live.segments][-1] == "2000-1.ts"
    assert sink.violations == []


@pytest.mark.parametrize(
    "newer",
    [_of("1000-0.ts", "3000-0.ts"), _of("1000-0.ts").close()],
    ids=["a newer composer's segments", "an ENDLIST"],
)
def test_a_publisher_that_finds_a_newer_writer_stops_writing_the_playlist_for_good(
    newer: MediaPlaylist,
) -> None:
    sink = MemorySink()
    read = _of("1000-0.ts")
    version = _stored_playlist(sink, read)
    publisher, stats = _publisher(sink, playlist=read, epoch_ms=2000, version=version)
    theirs = _stored_playlist(sink, newer)
    publisher.submit(_segment(0, epoch=2000))
    eventually(lambda: publisher.superseded, what="the publisher sees the newer writer")
    publisher.hold_playlists(False)  # a release (the room came back) does not lift it
    publisher.set_timeline(BroadcastTimeline(space_id=SPACE, started_at=T0))
    publisher.submit(_segment(1, epoch=2000))
    publisher.close(ended=True, timeout=10)
    assert content_version(sink.objects[f"{SPACE}/index.m3u8"]) == theirs
    assert f"{SPACE}/live.m3u8" not in sink.objects and f"{SPACE}/timeline.json" not in sink.objects
    assert f"{SPACE}/2000-1.ts" in sink.objects  # segments are still stored, never named
    assert stats.snapshot(0).playlist_conflicts == 1


class _AnswerLost(MemorySink):
    """The first conditional write of the playlist is stored, but its answer never arrives."""

    lost = False

    def write_if(
        self, key: str, data: bytes, *, version: str | None, content_type: str, cache_control: str
    ) -> str:
        written = super().write_if(
            key, data, version=version, content_type=content_type, cache_control=cache_control
        )
        if not self.lost:
            self.lost = True
            raise TimeoutError("read timed out")
        return written


def test_our_own_write_whose_answer_was_lost_is_not_taken_for_another_writer() -> None:
    sink = _AnswerLost()
    publisher, stats = _publisher(sink)
    for n in range(3):
        publisher.submit(_segment(n))
    assert publisher.close(ended=True, timeout=10)
    assert sink.lost and not publisher.superseded
    assert [s.uri for s in _playlist(sink).segments] == ["1000-0.ts", "1000-1.ts", "1000-2.ts"]
    assert stats.snapshot(0).playlist_conflicts >= 1 and _playlist(sink).ended


def test_the_first_write_does_not_replace_a_playlist_that_appeared_meanwhile() -> None:
    sink = MemorySink()
    publisher, _ = _publisher(sink, epoch_ms=2000)  # read nothing: a new broadcast
    _stored_playlist(sink, _of("3000-0.ts"))  # a newer composer of the Space got there first
    publisher.submit(_segment(0, epoch=2000))
    eventually(lambda: publisher.superseded, what="the publisher sees the newer writer")
    publisher.close(ended=False, timeout=10)
    assert [s.uri for s in _playlist(sink).segments] == ["3000-0.ts"]


class _AnswerLostNoRetry(MemorySink):
    """The second conditional write of the playlist is stored but fails as seen by the writer, and
    the publisher does not retry (one attempt): its next pass finds its own earlier version."""

    conditional = 0

    def write_if(
        self, key: str, data: bytes, *, version: str | None, content_type: str, cache_control: str
    ) -> str:
        written = super().write_if(
            key, data, version=version, content_type=content_type, cache_control=cache_control
        )
        self.conditional += 1
        if self.conditional == 2:
            raise TimeoutError("read timed out")
        return written


def test_an_earlier_version_of_our_own_is_not_taken_for_a_predecessors_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = _AnswerLostNoRetry()
    one_attempt = RetryPolicy(attempts=1, initial_delay_s=0.001, max_delay_s=0.001)
    publisher, stats = _publisher(sink, retry=one_attempt)
    for n in range(4):
        publisher.submit(_segment(n))
        want = n + 1
        eventually(lambda: _published(sink) == want, what=f"segment {n} published")  # noqa: B023
    assert publisher.close(ended=True, timeout=10)
    assert [(s.uri, s.discontinuity) for s in _playlist(sink).segments] == [
        (f"1000-{n}.ts", False) for n in range(4)
    ]
    assert not publisher.superseded and stats.snapshot(0).playlist_conflicts == 1
    assert "predecessor" not in caplog.text


def _stored_live(sink: MemorySink, window: MediaPlaylist) -> str:
    data = window.render_window(12).encode()
    sink.objects[f"{SPACE}/live.m3u8"] = data
    return content_version(data)


def test_a_predecessors_late_playlists_are_kept_and_its_live_window_written_over() -> None:
    """The evicted composer's last write (full playlist, then live window) lands after the newcomer
    read both: the newcomer's part follows it in the recording, and its live window replaces theirs."""
    sink = MemorySink()
    read = _of("1000-0.ts")
    version, live_version = _stored_playlist(sink, read), _stored_live(sink, read)
    publisher, stats = _publisher(
        sink, playlist=read, epoch_ms=2000, version=version, live_version=live_version
    )
    late = _of("1000-0.ts", "1000-1.ts")
    _stored_playlist(sink, late)
    _stored_live(sink, late)
    publisher.submit(_segment(0, epoch=2000))
    assert publisher.close(ended=False, timeout=10)
    live = parse_playlist(sink.objects[f"{SPACE}/live.m3u8"].decode())
    assert [s.uri for s in live.segments] == ["1000-0.ts", "1000-1.ts", "2000-0.ts"]
    assert [s.uri for s in _playlist(sink).segments] == ["1000-0.ts", "1000-1.ts", "2000-0.ts"]
    assert not publisher.superseded and stats.snapshot(0).playlist_conflicts == 2
    assert sink.violations == []


class _AnotherWriterAfter(MemorySink):
    """Right after this publisher's first conditional write of an object named `after` is stored,
    another composer writes (`then`): this publisher's next write of what `then` wrote meets it."""

    def __init__(self, after: str, then: Callable[[MemorySink], object]) -> None:
        super().__init__()
        self.after = after
        self.then = then
        self.done = False

    def write_if(
        self, key: str, data: bytes, *, version: str | None, content_type: str, cache_control: str
    ) -> str:
        written = super().write_if(
            key, data, version=version, content_type=content_type, cache_control=cache_control
        )
        if key.endswith(self.after) and not self.done:
            self.done = True
            self.then(self)  # before this publisher's next write: its windows wait for this one
        return written


def _newer_composer_between(theirs: MediaPlaylist) -> _AnotherWriterAfter:
    """A newer composer writes both of its playlists right after ours is stored (it read ours,
    appended its own part, or closed the Space): our live window write then meets its window."""
    return _AnotherWriterAfter(
        "index.m3u8", lambda sink: (_stored_playlist(sink, theirs), _stored_live(sink, theirs))
    )


@pytest.mark.parametrize(
    "theirs",
    [_of("2000-0.ts", "3000-0.ts"), _of("2000-0.ts").close()],
    ids=["a newer composer's part", "a newer composer that closed the Space at once"],
)
def test_a_newer_composers_live_window_is_never_written_over(theirs: MediaPlaylist) -> None:
    sink = _newer_composer_between(theirs)
    publisher, _ = _publisher(sink, epoch_ms=2000)
    publisher.submit(_segment(0, epoch=2000))
    eventually(lambda: publisher.superseded, what="the publisher sees the newer writer's live window")
    publisher.submit(_segment(1, epoch=2000))
    publisher.close(ended=True, timeout=10)
    stored = theirs.render_window(12).encode()
    assert sink.objects[f"{SPACE}/live.m3u8"] == stored
    assert sink.objects[f"{SPACE}/index.m3u8"] == theirs.render().encode()


def _entry(t: float, who: str) -> TimelineEntry:
    return TimelineEntry(t=t, spotlight=who, video_spotlight=None, pinned=None, names={who: who.upper()})


def _store_timeline(sink: MemorySink, timeline: BroadcastTimeline) -> str:
    data = timeline_json(timeline).encode()
    sink.objects[f"{SPACE}/timeline.json"] = data
    return content_version(data)


def _stored_timeline(sink: MemorySink) -> BroadcastTimeline:
    return parse_timeline(sink.objects[f"{SPACE}/timeline.json"].decode())


def test_a_predecessors_late_timeline_entries_are_kept_in_ours() -> None:
    """The evicted composer's last timeline write lands after the newcomer read the timeline: the
    newcomer's writes keep its entries, in time order, instead of writing over them."""
    sink = MemorySink()
    read = _of("1000-0.ts")
    version = _stored_playlist(sink, read)
    before = BroadcastTimeline(space_id=SPACE, started_at=T0, entries=(_entry(T0, "a"),))
    timeline_version = _store_timeline(sink, before)
    publisher, stats = _publisher(
        sink, playlist=read, epoch_ms=2000, version=version, timeline_version=timeline_version
    )
    _store_timeline(sink, replace(before, entries=(_entry(T0, "a"), _entry(T0 + 1.5, "late"))))
    publisher.set_timeline(replace(before, entries=(_entry(T0, "a"), _entry(T0 + 3, "ours"))))
    publisher.submit(_segment(0, epoch=2000))
    eventually(lambda: len(_stored_timeline(sink).entries) == 3, what="the merged timeline")
    publisher.set_timeline(
        replace(before, entries=(_entry(T0, "a"), _entry(T0 + 3, "ours"), _entry(T0 + 4, "next")))
    )
    assert publisher.close(ended=True, timeout=10)
    stored = _stored_timeline(sink)
    assert [e.spotlight for e in stored.entries] == ["a", "late", "ours", "next"]
    assert stored.ended and not publisher.superseded
    assert stats.snapshot(0).playlist_conflicts == 1
    assert sink.violations == []


def _timeline_between(theirs: BroadcastTimeline) -> _AnotherWriterAfter:
    """Another composer writes its timeline right after our first one is stored."""
    return _AnotherWriterAfter("timeline.json", lambda sink: _store_timeline(sink, theirs))


_OURS = BroadcastTimeline(space_id=SPACE, started_at=T0, entries=(_entry(T0, "a"),))


def _timeline_meets(theirs: BroadcastTimeline) -> tuple[Publisher, _AnotherWriterAfter]:
    """Our first timeline is stored, `theirs` lands over it, then ours gains an entry and a segment."""
    sink = _timeline_between(theirs)
    publisher, _ = _publisher(sink)
    publisher.set_timeline(_OURS)
    publisher.submit(_segment(0))
    eventually(lambda: sink.done, what="the other composer's timeline")
    publisher.set_timeline(replace(_OURS, entries=(_entry(T0, "a"), _entry(T0 + 1, "b"))))
    publisher.submit(_segment(1))
    return publisher, sink


def test_a_newer_composers_timeline_entries_are_never_written_over() -> None:
    theirs = replace(_OURS, entries=(_entry(T0, "a"), _entry(T0 + 2, "theirs")))
    publisher, sink = _timeline_meets(theirs)
    assert publisher.close(ended=False, timeout=10)
    assert [e.spotlight for e in _stored_timeline(sink).entries] == ["a", "b", "theirs"]


def test_a_timeline_closed_by_a_newer_composer_is_never_reopened() -> None:
    theirs = replace(_OURS, ended=True, entries=(_entry(T0, "a"), _entry(T0 + 2, "theirs")))
    publisher, sink = _timeline_meets(theirs)
    eventually(lambda: publisher.superseded, what="the publisher sees the closed timeline")
    publisher.close(ended=False, timeout=10)
    assert sink.objects[f"{SPACE}/timeline.json"] == timeline_json(theirs).encode()


def test_merged_entries_keep_both_sides_in_time_order() -> None:
    ours = (_entry(1, "a"), _entry(3, "c"))
    theirs = (_entry(1, "a"), _entry(2, "b"), _entry(3, "other"))
    assert [e.spotlight for e in merge_entries(ours, theirs)] == ["a", "b", "c", "other"]
    assert merge_entries(ours, ours) is ours
    assert foreign_to(theirs, ours) == (_entry(2, "b"), _entry(3, "other"))


def test_the_backoff_stays_at_its_cap_however_many_failures_came_before() -> None:
    # state.json is retried until written (composer/worker.py): its failure count has no bound.
    policy = RetryPolicy()
    assert policy.delay(1) == policy.initial_delay_s
    assert policy.delay(6) == policy.max_delay_s  # 0.1 s doubled 5 times is past 2 s
    assert policy.delay(2000) == policy.max_delay_s  # 2.0 ** 1999 would overflow


def test_a_pair_goes_before_its_playlist_and_the_low_window_and_variants_before_the_main_window() -> None:
    sink = MemorySink()
    publisher, _ = _publisher(sink)
    publisher.set_variants(b"#EXTM3U\nvariants\n", b"#EXTM3U\nrecording variants\n", audio=False)
    for n in range(2):
        publisher.submit(_pair(n))
        want = n + 1
        eventually(lambda: _published(sink) == want, what=f"pair {n} published")  # noqa: B023
    assert publisher.close(ended=True, timeout=10)
    _passes(
        sink.order,
        [
            {"1000-0.lo.ts", "1000-0.hi.ts"},
            {"index.m3u8"},
            {"live-lo.m3u8"},
            {"live-variants.m3u8"},  # once, before the first main window
            {"live.m3u8"},
            {"1000-1.lo.ts", "1000-1.hi.ts"},
            {"index.m3u8"},
            {"live.m3u8", "live-lo.m3u8"},  # from then on together: a slow low one never holds it
            {"index.m3u8"},  # the closing writes
            {"live.m3u8", "live-lo.m3u8"},
            {"index-lo.m3u8"},  # the recording's renditions, last
            {"index-variants.m3u8"},
        ],
    )
    assert sink.violations == []
    low = parse_playlist(sink.objects[f"{SPACE}/live-lo.m3u8"].decode())
    assert [s.uri for s in low.segments] == ["1000-0.lo.ts", "1000-1.lo.ts"] and low.ended
    recording = parse_playlist(sink.objects[f"{SPACE}/index-lo.m3u8"].decode())
    assert [s.uri for s in recording.segments] == ["1000-0.lo.ts", "1000-1.lo.ts"] and recording.ended
    assert sink.objects[f"{SPACE}/index-variants.m3u8"] == b"#EXTM3U\nrecording variants\n"
    assert sink.objects[f"{SPACE}/1000-1.lo.ts"] == _pair(1).low


def test_a_twin_that_never_writes_drops_the_pair_and_both_windows_mark_the_gap() -> None:
    sink = MemorySink(fail=lambda key, attempt: key.endswith("1000-1.lo.ts"))
    publisher, stats = _publisher(sink)
    publisher.set_variants(b"#EXTM3U\n", b"#EXTM3U\n", audio=False)
    for n in range(3):
        publisher.submit(_pair(n))
    assert publisher.close(ended=False, timeout=10)
    assert sink.violations == []
    assert "1000-1.hi.ts" not in {s.uri for s in _playlist(sink).segments}  # written, never named
    main = parse_playlist(sink.objects[f"{SPACE}/live.m3u8"].decode())
    low = parse_playlist(sink.objects[f"{SPACE}/live-lo.m3u8"].decode())
    assert [(s.uri, s.discontinuity) for s in main.segments] == [
        ("1000-0.hi.ts", False),
        ("1000-2.hi.ts", True),
    ]
    assert [(s.uri, s.discontinuity) for s in low.segments] == [
        ("1000-0.lo.ts", False),
        ("1000-2.lo.ts", True),
    ]
    assert _marked_discontinuous(sink.objects[f"{SPACE}/1000-2.lo.ts"])
    assert _marked_discontinuous(sink.objects[f"{SPACE}/1000-2.hi.ts"])
    assert stats.segments_dropped == 1


def test_a_composer_without_the_low_rendition_keeps_the_low_window_of_the_playlist_it_continues() -> None:
    # Its predecessor wrote pairs and the variants: viewers on the low window must not wait on it
    # for good. The continuing composer's own segments are named there as they are.
    sink = MemorySink()
    before = MediaPlaylist().append(Segment("900-0.hi.ts", 1.0, T0))
    sink.objects[f"{SPACE}/900-0.hi.ts"] = b"x"
    sink.objects[f"{SPACE}/900-0.lo.ts"] = b"x"
    publisher, _ = _publisher(sink, playlist=before)
    publisher.submit(_segment(0))
    assert publisher.close(ended=False, timeout=10)
    assert sink.violations == []
    low = parse_playlist(sink.objects[f"{SPACE}/live-lo.m3u8"].decode())
    assert [(s.uri, s.discontinuity) for s in low.segments] == [("900-0.lo.ts", False), ("1000-0.ts", True)]
    assert f"{SPACE}/live-variants.m3u8" not in sink.objects  # the predecessor's stays as it was


def test_one_rendition_writes_no_low_window_and_no_variants() -> None:
    sink = MemorySink()
    publisher, _ = _publisher(sink)
    publisher.submit(_segment(0))
    assert publisher.close(ended=True, timeout=10)
    assert not any("live-lo" in key or "variants" in key for key in sink.objects)


def test_held_playlists_hold_the_low_window_and_the_variants_too() -> None:
    sink = MemorySink()
    publisher, _ = _publisher(sink)
    publisher.set_variants(b"#EXTM3U\n", b"#EXTM3U\n", audio=False)
    publisher.hold_playlists(True)
    publisher.submit(_pair(0))
    eventually(lambda: f"{SPACE}/1000-0.hi.ts" in sink.objects, what="the pair written while held")
    assert not any(key.endswith(".m3u8") for key in sink.objects)
    publisher.hold_playlists(False)
    eventually(lambda: f"{SPACE}/live.m3u8" in sink.objects, what="the windows written on release")
    assert publisher.close(ended=False, timeout=10)
    assert sink.order.index(f"{SPACE}/live-variants.m3u8") < sink.order.index(f"{SPACE}/live.m3u8")
    assert sink.violations == []


def test_a_predecessors_late_pairs_make_a_composer_without_the_low_rendition_keep_the_low_window() -> None:
    # It read an empty playlist; its predecessor's first pair (and low window) landed after that.
    sink = MemorySink()
    publisher, _ = _publisher(sink, epoch_ms=2000)
    late = _of("1000-0.hi.ts")
    sink.objects[f"{SPACE}/1000-0.hi.ts"] = sink.objects[f"{SPACE}/1000-0.lo.ts"] = b"x"
    _stored_playlist(sink, late)
    sink.objects[f"{SPACE}/live-lo.m3u8"] = late.render_window(12, low_twin).encode()
    for n in range(2):
        publisher.submit(_segment(n, epoch=2000))
    assert publisher.close(ended=False, timeout=10)
    low = parse_playlist(sink.objects[f"{SPACE}/live-lo.m3u8"].decode())
    assert [s.uri for s in low.segments] == ["1000-0.lo.ts", "2000-0.ts", "2000-1.ts"]
    assert sink.violations == []


def test_a_space_that_goes_on_or_a_failed_recording_rendition_writes_no_recording_variants() -> None:
    sink = MemorySink()
    publisher, _ = _publisher(sink)
    publisher.set_variants(b"#EXTM3U\n", b"#EXTM3U\n", audio=False)
    publisher.submit(_pair(0))
    assert publisher.close(ended=False, timeout=10)  # a composer leaving a live Space
    assert f"{SPACE}/index-lo.m3u8" not in sink.objects and f"{SPACE}/index-variants.m3u8" not in sink.objects

    failing = MemorySink(fail=lambda key, attempt: key.endswith("index-lo.m3u8"))
    publisher, _ = _publisher(failing)
    publisher.set_variants(b"#EXTM3U\n", b"#EXTM3U\n", audio=False)
    publisher.submit(_pair(0))
    assert not publisher.close(ended=True, timeout=10), "an incomplete close says so"
    assert f"{SPACE}/index-variants.m3u8" not in failing.objects  # never naming a playlist not there
    assert _playlist(failing).ended


def test_the_sound_alone_goes_with_its_segment_and_has_a_window_and_a_recording() -> None:
    sink = MemorySink()
    publisher, _ = _publisher(sink)
    publisher.set_variants(b"#EXTM3U\nvariants\n", b"#EXTM3U\nrecording variants\n", audio=True)
    for n in range(2):
        publisher.submit(_triple(n))
        want = n + 1
        eventually(lambda: _published(sink) == want, what=f"segment {n} published")  # noqa: B023
    assert publisher.close(ended=True, timeout=10)
    _passes(
        sink.order,
        [
            {"1000-0.lo.ts", "1000-0.au.ts", "1000-0.av.ts"},
            {"index.m3u8"},
            {"live-lo.m3u8", "live-audio.m3u8"},
            {"live-variants.m3u8"},  # once, after every window it names
            {"live.m3u8"},
            {"1000-1.lo.ts", "1000-1.au.ts", "1000-1.av.ts"},
            {"index.m3u8"},
            {"live.m3u8", "live-lo.m3u8", "live-audio.m3u8"},
            {"index.m3u8"},  # the closing writes
            {"live.m3u8", "live-lo.m3u8", "live-audio.m3u8"},
            {"index-lo.m3u8", "index-audio.m3u8"},  # the recording's renditions, last
            {"index-variants.m3u8"},
        ],
    )
    assert sink.violations == []
    window = parse_playlist(sink.objects[f"{SPACE}/live-audio.m3u8"].decode())
    main = parse_playlist(sink.objects[f"{SPACE}/live.m3u8"].decode())
    assert [s.uri for s in window.segments] == ["1000-0.au.ts", "1000-1.au.ts"] and window.ended
    assert [(s.duration, s.program_date_time) for s in window.segments] == [
        (s.duration, s.program_date_time) for s in main.segments
    ]
    recording = parse_playlist(sink.objects[f"{SPACE}/index-audio.m3u8"].decode())
    assert [s.uri for s in recording.segments] == ["1000-0.au.ts", "1000-1.au.ts"] and recording.ended
    assert sink.objects[f"{SPACE}/1000-1.au.ts"] == _triple(1).audio


def test_a_sound_twin_that_never_writes_drops_all_three_and_every_window_marks_the_gap() -> None:
    sink = MemorySink(fail=lambda key, attempt: key.endswith("1000-1.au.ts"))
    publisher, stats = _publisher(sink)
    publisher.set_variants(b"#EXTM3U\n", b"#EXTM3U\n", audio=True)
    for n in range(3):
        publisher.submit(_triple(n))
    assert publisher.close(ended=False, timeout=10)
    assert sink.violations == []
    assert "1000-1.av.ts" not in {s.uri for s in _playlist(sink).segments}  # written, never named
    for name, suffix in (("live.m3u8", "av"), ("live-lo.m3u8", "lo"), ("live-audio.m3u8", "au")):
        window = parse_playlist(sink.objects[f"{SPACE}/{name}"].decode())
        assert [(s.uri, s.discontinuity) for s in window.segments] == [
            (f"1000-0.{suffix}.ts", False),
            (f"1000-2.{suffix}.ts", True),
        ], name
    assert _marked_discontinuous(sink.objects[f"{SPACE}/1000-2.au.ts"])
    assert stats.segments_dropped == 1


def test_a_composer_continuing_without_the_sound_alone_keeps_its_window_with_its_smallest_files() -> None:
    # The predecessor wrote triples; this one pairs (the release before, or its audio rendition off)
    # and then, say, single segments: the audio window goes on naming what holds each one's sound.
    sink = MemorySink()
    before = MediaPlaylist().append(Segment("900-0.av.ts", 1.0, T0))
    for suffix in ("av", "lo", "au"):
        sink.objects[f"{SPACE}/900-0.{suffix}.ts"] = b"x"
    publisher, _ = _publisher(sink, playlist=before)
    publisher.submit(_pair(0))
    publisher.submit(_segment(1))
    assert publisher.close(ended=False, timeout=10)
    assert sink.violations == []
    window = parse_playlist(sink.objects[f"{SPACE}/live-audio.m3u8"].decode())
    assert [s.uri for s in window.segments] == ["900-0.au.ts", "1000-0.lo.ts", "1000-1.ts"]


def test_a_playlist_of_pairs_continued_with_the_sound_alone_names_each_pairs_low_twin_for_it() -> None:
    # The upgrade: a composer of the release before wrote pairs; the audio window, new with this
    # composer, must name files that exist for its segments too.
    sink = MemorySink()
    before = MediaPlaylist().append(Segment("900-0.hi.ts", 1.0, T0))
    sink.objects[f"{SPACE}/900-0.hi.ts"] = sink.objects[f"{SPACE}/900-0.lo.ts"] = b"x"
    publisher, _ = _publisher(sink, playlist=before)
    publisher.set_variants(b"#EXTM3U\n", b"#EXTM3U\n", audio=True)
    publisher.submit(_triple(0))
    assert publisher.close(ended=True, timeout=10)
    assert sink.violations == []
    window = parse_playlist(sink.objects[f"{SPACE}/live-audio.m3u8"].decode())
    assert [s.uri for s in window.segments] == ["900-0.lo.ts", "1000-0.au.ts"]
    recording = parse_playlist(sink.objects[f"{SPACE}/index-audio.m3u8"].decode())
    assert [s.uri for s in recording.segments] == ["900-0.lo.ts", "1000-0.au.ts"]


def test_the_variants_never_name_a_window_that_is_not_written_even_when_the_first_segment_drops() -> None:
    # A composer of this release continues a playlist of pairs; its first segment never writes, and
    # the Space ends: the audio window its variants name is written all the same, from what exists.
    sink = MemorySink(fail=lambda key, attempt: key.endswith("1000-0.au.ts"))
    before = MediaPlaylist().append(Segment("900-0.hi.ts", 1.0, T0))
    sink.objects[f"{SPACE}/900-0.hi.ts"] = sink.objects[f"{SPACE}/900-0.lo.ts"] = b"x"
    publisher, _ = _publisher(sink, playlist=before)

    def variants(*uris: str) -> bytes:
        return render_variants(tuple(Variant(uri, 1, 1, None) for uri in uris)).encode()

    live = variants("live-lo.m3u8", "live.m3u8", "live-audio.m3u8")
    recording = variants("index-lo.m3u8", "index.m3u8", "index-audio.m3u8")
    publisher.set_variants(live, recording, audio=True)
    publisher.submit(_triple(0))
    assert not publisher.close(ended=True, timeout=10)  # its one segment was lost: an incomplete close
    assert sink.violations == []
    assert sink.objects[f"{SPACE}/live-variants.m3u8"] == live
    assert sink.objects[f"{SPACE}/index-variants.m3u8"] == recording
    window = parse_playlist(sink.objects[f"{SPACE}/live-audio.m3u8"].decode())
    assert [s.uri for s in window.segments] == ["900-0.lo.ts"] and window.ended


class _Meeting(MemorySink):
    """A write of a file named in `meet` waits until every file of its group is being written:
    written one after another, the first would wait out the barrier's timeout and fail."""

    def __init__(self) -> None:
        super().__init__()
        self.meet: dict[str, threading.Barrier] = {}
        self.in_flight = self.most_in_flight = 0

    def meet_at_once(self, *names: str) -> None:
        barrier = threading.Barrier(len(names), timeout=10)
        self.meet.update(dict.fromkeys(names, barrier))

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            barrier = self.meet.get(key.split("/", 1)[1])
        try:
            if barrier is not None:
                barrier.wait()
            super().write(key, data, content_type=content_type, cache_control=cache_control)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_a_segments_files_and_then_its_live_windows_are_written_at_once() -> None:
    sink = _Meeting()
    publisher, stats = _publisher(sink)
    publisher.set_variants(b"#EXTM3U\n", b"#EXTM3U\n", audio=True)
    sink.meet_at_once("1000-0.lo.ts", "1000-0.au.ts", "1000-0.av.ts")
    sink.meet_at_once("live-lo.m3u8", "live-audio.m3u8")  # the first pass: before the variants
    publisher.submit(_triple(0))
    eventually(lambda: f"{SPACE}/live.m3u8" in sink.objects, what="the first segment published")
    sink.meet_at_once("1000-1.lo.ts", "1000-1.au.ts", "1000-1.av.ts")
    sink.meet_at_once("live.m3u8", "live-lo.m3u8", "live-audio.m3u8")  # from then on, all three
    publisher.submit(_triple(1))
    assert publisher.close(ended=False, timeout=30)
    assert stats.segments_written == 2 and stats.write_errors == 0, "a write waited alone"
    assert not any(barrier.broken for barrier in sink.meet.values())
    assert sink.most_in_flight == 3 and sink.violations == []
    live = parse_playlist(sink.objects[f"{SPACE}/live-audio.m3u8"].decode())
    assert [s.uri for s in live.segments] == ["1000-0.au.ts", "1000-1.au.ts"]


def test_without_the_pool_every_write_waits_for_the_one_before() -> None:
    sink = _Meeting()
    publisher, stats = _publisher(sink, parallel=False)
    publisher.set_variants(b"#EXTM3U\n", b"#EXTM3U\n", audio=True)
    for n in range(2):
        publisher.submit(_triple(n))
    assert publisher.close(ended=True, timeout=10)
    assert sink.most_in_flight == 1 and sink.violations == []
    assert stats.segments_written == 2 and _playlist(sink).ended


@pytest.mark.parametrize("parallel", [False, True])
def test_no_window_is_written_over_a_newer_composers(parallel: bool) -> None:
    # A newer composer wrote, and closed, every window between our full playlist and our windows.
    def newer_closed(sink: MemorySink) -> None:
        theirs = _of("2000-0.av.ts", "3000-0.av.ts").close()
        _stored_playlist(sink, theirs)
        _stored_live(sink, theirs)
        for name, twin in (("live-lo.m3u8", low_twin), ("live-audio.m3u8", audio_twin)):
            sink.objects[f"{SPACE}/{name}"] = theirs.render_window(12, twin).encode()

    sink = _AnotherWriterAfter("index.m3u8", newer_closed)
    publisher, _ = _publisher(sink, epoch_ms=2000, parallel=parallel)
    publisher.submit(_triple(0, epoch=2000))
    eventually(lambda: publisher.superseded, what="superseded")
    publisher.close(ended=True, timeout=10)
    for name in ("live.m3u8", "live-lo.m3u8", "live-audio.m3u8"):
        window = parse_playlist(sink.objects[f"{SPACE}/{name}"].decode())
        assert window.ended, f"{name} reopened by a superseded publisher: {[s.uri for s in window.segments]}"
