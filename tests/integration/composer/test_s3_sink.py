"""The S3 sink over real HTTP against moto's S3 server: objects, their headers, and write order."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from composer.hls import Broadcast, BroadcastConfig, S3Sink, WriteConflict
from composer.hls.playlist import parse_playlist
from composer.hls.timeline import parse_timeline
from composer.settings import S3_READ_TIMEOUT_S, s3_client_config
from composer.worker import kept_or_discarded
from contract import names
from contract.room_metadata import RoomMetadata
from devstack.ports import free_port
from tests.integration.composer.media import Feeder, read_segment
from tests.support.eventually import eventually

BUCKET = "spaces-broadcasts"
PREFIX = "broadcasts/"
SPACE = "space-s3"
EPOCH = 1_764_619_200_000
CONFIG = BroadcastConfig(width=320, height=180)


@dataclass
class S3:
    endpoint: str
    client: Any


@pytest.fixture
def s3() -> Iterator[S3]:
    """A fresh moto S3 server (its state lives in this process, so it is reset on the way out)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket=BUCKET)
        yield S3(endpoint, client)
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
        server.stop()


class PutRecorder:
    """Every PutObject the sink's client sends, in order, seen through botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.puts: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        client.meta.events.register("provide-client-params.s3.PutObject", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.puts.append((params["Key"], bytes(params["Body"])))


def _key(name: str) -> str:
    return f"{PREFIX}{SPACE}/{name}"


def _signed_url(s3: S3, name: str) -> str:
    url: str = s3.client.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": _key(name)}, ExpiresIn=60
    )
    return url


def _tags(s3: S3, key: str) -> dict[str, str]:
    tagging = s3.client.get_object_tagging(Bucket=BUCKET, Key=key)
    return {t["Key"]: t["Value"] for t in tagging["TagSet"]}


def test_a_space_without_a_recording_tags_every_object_for_the_buckets_deletion_rule(s3: S3) -> None:
    """Space.record false: the composer writes through `kept_or_discarded`, and every object of the
    broadcast (segments, playlists written plainly and conditionally, the timeline, state.json)
    carries the tag the bucket's lifecycle rule deletes after a day. A kept Space's carry none."""
    sink = S3Sink(BUCKET, PREFIX, s3.client)
    kept = kept_or_discarded(sink, RoomMetadata(space_id="kept"))
    discarded = kept_or_discarded(sink, RoomMetadata(space_id=SPACE, record=False))
    assert kept is sink and isinstance(discarded, S3Sink) and discarded.discard
    for space, target in (("kept", kept), (SPACE, discarded)):
        first = Broadcast(CONFIG, target, space_id=space, epoch_ms=EPOCH)
        Feeder(CONFIG).feed(first, 1.5)
        assert first.close(ended=False)
        # A composer that replaces another resumes the playlist (a conditional write) and tags too.
        second = Broadcast.resume(CONFIG, target, space_id=space, epoch_ms=EPOCH + 60_000)
        feeder = Feeder(CONFIG)
        feeder.feed(second, 1.5)
        second.record_stage({"spotlight": "a", "video_spotlight": "a", "pinned": None, "names": {}})
        feeder.feed(second, 1.5)
        assert second.close(ended=True)
        target.write(f"{space}/state.json", b"{}", content_type="application/json", cache_control="no-cache")

    listed = [o["Key"] for o in s3.client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]]
    ours = [key for key in listed if key.startswith(_key(""))]
    theirs = [key for key in listed if key.startswith(f"{PREFIX}kept/")]
    assert {_key("index.m3u8"), _key("timeline.json"), _key("state.json")} <= set(ours)
    assert len(theirs) == len(ours) > 10
    tag = {names.BROADCAST_DISCARD_TAG_KEY: names.BROADCAST_DISCARD_TAG_VALUE}
    assert [key for key in ours if _tags(s3, key) != tag] == []
    assert [key for key in theirs if _tags(s3, key)] == []


def test_broadcast_to_s3_puts_segments_before_the_playlist_with_cache_headers(s3: S3) -> None:
    recorder = PutRecorder(s3.client)
    broadcast = Broadcast(CONFIG, S3Sink(BUCKET, PREFIX, s3.client), space_id=SPACE, epoch_ms=EPOCH)
    feeder = Feeder(CONFIG)
    feeder.feed(broadcast, 1.5)
    broadcast.record_stage({"spotlight": "a", "video_spotlight": "a", "pinned": None, "names": {"a": "A"}})
    feeder.feed(broadcast, 1.5)
    assert broadcast.close(ended=True)

    # Order: a playlist only names segments PUT before it; the timeline follows a playlist.
    written: set[str] = set()
    playlists_seen = 0
    for key, body in recorder.puts:
        if key.endswith("variants.m3u8"):
            for window in (line for line in body.decode().splitlines() if line.endswith(".m3u8")):
                assert _key(window) in written or window == "live.m3u8", f"variants PUT before {window}"
        elif key.endswith(".m3u8"):
            playlists_seen += 1
            for seg in parse_playlist(body.decode()).segments:
                assert _key(seg.uri) in written, f"playlist PUT before its segment {seg.uri}"
        elif key.endswith(".json"):
            assert playlists_seen, "timeline PUT before any playlist"
        written.add(key)
    # The whole playlist, then the live windows (which name nothing the whole one does not; PUT at
    # once, in any order among themselves), the timeline, and last the recording's renditions (at
    # once too) and its variants.
    last = [key for key, _ in recorder.puts[-8:]]
    assert [last[0], set(last[1:4]), last[4], set(last[5:7]), last[7]] == [
        _key("index.m3u8"),
        {_key("live.m3u8"), _key("live-lo.m3u8"), _key("live-audio.m3u8")},
        _key("timeline.json"),
        {_key("index-lo.m3u8"), _key("index-audio.m3u8")},
        _key("index-variants.m3u8"),
    ]

    listed = {o["Key"] for o in s3.client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]}
    segments = [f"{EPOCH}-{n}.{rendition}.ts" for n in range(3) for rendition in ("av", "lo", "au")]
    playlists = [
        "index.m3u8",
        "live.m3u8",
        "live-lo.m3u8",
        "live-audio.m3u8",
        "live-variants.m3u8",
        "index-lo.m3u8",
        "index-audio.m3u8",
        "index-variants.m3u8",
    ]
    assert listed == {_key(n) for n in [*segments, *playlists, "timeline.json"]}

    def head(name: str) -> tuple[str, str]:
        meta = s3.client.head_object(Bucket=BUCKET, Key=_key(name))
        return meta["ContentType"], meta["CacheControl"]

    for name in segments:
        assert head(name) == ("video/mp2t", "public, max-age=31536000, immutable")
    assert head("index.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=60")
    assert head("live.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=60")
    assert head("live-lo.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=60")
    assert head("live-audio.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=60")
    assert head("live-variants.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=0, s-maxage=1")
    assert head("timeline.json") == ("application/json", "public, max-age=60")

    # What a signed origin fetch (the CDN's) gets over plain HTTP: the closed playlist and segments
    # that decode, each with its stored headers.
    with urllib.request.urlopen(_signed_url(s3, "index.m3u8")) as resp:
        assert resp.headers["Cache-Control"] == "public, max-age=60"
        playlist = parse_playlist(resp.read().decode())
    assert playlist.ended and [s.uri for s in playlist.segments] == [
        n for n in segments if n.endswith(".av.ts")
    ]
    for name in segments:
        with urllib.request.urlopen(_signed_url(s3, name)) as resp:
            assert resp.headers["Content-Type"] == "video/mp2t"
            streams = ("aac",) if name.endswith(".au.ts") else ("h264", "aac")
            assert read_segment(resp.read()).streams == streams


def test_live_playlist_on_s3_is_short_lived_and_a_replacement_continues_it(s3: S3) -> None:
    sink = S3Sink(BUCKET, PREFIX, s3.client)
    assert sink.read(f"{SPACE}/index.m3u8") is None
    first = Broadcast(CONFIG, sink, space_id=SPACE, epoch_ms=EPOCH)
    Feeder(CONFIG).feed(first, 2.0)
    assert first.close(ended=False)
    meta = s3.client.head_object(Bucket=BUCKET, Key=_key("index.m3u8"))
    assert meta["CacheControl"] == "public, max-age=0, s-maxage=1"

    second = Broadcast.resume(CONFIG, sink, space_id=SPACE, epoch_ms=EPOCH + 5000)
    Feeder(CONFIG).feed(second, 1.0)
    assert second.close(ended=True)
    body = s3.client.get_object(Bucket=BUCKET, Key=_key("index.m3u8"))["Body"].read().decode()
    playlist = parse_playlist(body)
    assert [(s.uri, s.discontinuity) for s in playlist.segments] == [
        (f"{EPOCH}-0.av.ts", False),
        (f"{EPOCH}-1.av.ts", False),
        (f"{EPOCH + 5000}-0.av.ts", True),
    ]
    assert playlist.ended


def test_two_composers_of_one_space_on_s3_never_both_write_the_playlist(s3: S3) -> None:
    """The fence is S3's conditional PUT: the newcomer keeps what its predecessor wrote after the
    newcomer read the playlist, and the predecessor's next write fails on the newcomer's version,
    so it stops writing the playlist for good (docs/broadcast.md, "Two writers")."""
    sink = S3Sink(BUCKET, PREFIX, s3.client)

    def stored() -> list[str]:
        raw = sink.read(f"{SPACE}/index.m3u8")
        return [] if raw is None else [seg.uri for seg in parse_playlist(raw.decode()).segments]

    def spotlights() -> list[str | None]:
        raw = sink.read(f"{SPACE}/timeline.json")
        return [] if raw is None else [e.spotlight for e in parse_timeline(raw.decode()).entries]

    def stage(who: str, t: float) -> dict[str, object]:
        return {"t": t, "spotlight": who, "video_spotlight": None, "pinned": None, "names": {}}

    old_feed, new_feed = Feeder(CONFIG), Feeder(CONFIG)
    old = Broadcast(CONFIG, sink, space_id=SPACE, epoch_ms=EPOCH)
    old.record_stage(stage("first", 1.0))
    old_feed.feed(old, 2.5)
    eventually(lambda: len(stored()) >= 2 and spotlights() == ["first"], what="the first composer's playlist")
    new = Broadcast.resume(CONFIG, sink, space_id=SPACE, epoch_ms=EPOCH + 5000)
    read = len(stored())
    old.record_stage(stage("late", 2.0))
    old_feed.feed(old, 1.0)  # its late writes, after the newcomer read the playlist and timeline
    eventually(
        lambda: len(stored()) > read and spotlights() == ["first", "late"],
        what="the first composer writes after the read",
    )
    new.record_stage(stage("newcomer", 3.0))
    new_feed.feed(new, 2.5)
    eventually(
        lambda: any(uri.startswith(f"{EPOCH + 5000}-") for uri in stored()), what="the newcomer's first write"
    )
    old.record_stage(stage("superseded", 4.0))
    old_feed.feed(old, 2.0)
    assert not old.close(ended=True)  # its playlist was never finished: another composer writes it
    assert old.superseded and not new.superseded
    assert new.close(ended=True)

    raw = sink.read(f"{SPACE}/index.m3u8")
    assert raw is not None
    playlist = parse_playlist(raw.decode())
    epochs = [seg.uri.split("-")[0] for seg in playlist.segments]
    first_new = epochs.index(str(EPOCH + 5000))
    assert set(epochs[:first_new]) == {str(EPOCH)} and set(epochs[first_new:]) == {str(EPOCH + 5000)}
    assert first_new >= read + 1  # the predecessor's late segments were kept
    assert playlist.segments[first_new].discontinuity and playlist.ended
    assert old.stats.playlist_conflicts >= 1 and new.stats.playlist_conflicts >= 1
    # The timeline keeps the predecessor's late entry; the superseded one's later entry never lands.
    assert spotlights() == ["first", "late", "newcomer"]


def test_a_conditional_write_over_a_playlist_that_is_gone_is_a_conflict(s3: S3) -> None:
    """S3 answers an If-Match on a missing object with 404 NoSuchKey, not 412: still a conflict."""
    sink = S3Sink(BUCKET, PREFIX, s3.client)
    key = f"{SPACE}/index.m3u8"
    version = sink.write_if(key, b"#EXTM3U\n", version=None, content_type="x", cache_control="y")
    with pytest.raises(WriteConflict):
        sink.write_if(key, b"#EXTM3U\n#A\n", version=None, content_type="x", cache_control="y")
    s3.client.delete_object(Bucket=BUCKET, Key=_key("index.m3u8"))
    with pytest.raises(WriteConflict):
        sink.write_if(key, b"#EXTM3U\n#B\n", version=version, content_type="x", cache_control="y")
    assert sink.read_versioned(key) is None


class HangFirstConnection:
    """A TCP proxy to `upstream` that swallows its first connection (a PUT that hangs: accepted,
    read, never answered) and forwards every later one."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            if self.accepted == 1:
                self.held.append(conn)  # kept open, never answered
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=_pipe, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=_pipe, args=(upstream, conn), daemon=True).start()

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def test_a_hung_put_costs_the_read_timeout_then_the_client_retries_on_a_new_connection(s3: S3) -> None:
    """With botocore's defaults this PUT would wait 60 s, and the live playlist behind it too."""
    proxy = HangFirstConnection(int(s3.endpoint.rsplit(":", 1)[1]))
    try:
        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{proxy.port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=s3_client_config(),
        )
        sink = S3Sink(BUCKET, PREFIX, client)
        started = time.monotonic()
        sink.write(f"{SPACE}/live.m3u8", b"#EXTM3U\n", content_type="x", cache_control="y")
        took = time.monotonic() - started
    finally:
        proxy.close()
    assert proxy.accepted == 2
    assert S3_READ_TIMEOUT_S <= took < S3_READ_TIMEOUT_S + 3.0
    assert s3.client.get_object(Bucket=BUCKET, Key=_key("live.m3u8"))["Body"].read() == b"#EXTM3U\n"
