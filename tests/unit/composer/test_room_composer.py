"""RoomComposer against a fake room: what it subscribes to, when it switches, what it records.

The room, its participants and publications are fakes with the SDK's shape (events through
`on`/`off`, `set_subscribed` recorded, an unsubscribe firing track_unsubscribed at once as the SDK
does); the broadcast is a fake that keeps what it was fed. The real SDK and encoder are exercised
in tests/integration/composer/test_composer_live.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from composer import settings, watchdog, worker
from composer.hls import BroadcastConfig, BroadcastStats
from composer.hls.playlist import parse_playlist
from composer.hls.timeline import parse_timeline
from composer.layout import BigTile, card_for
from composer.worker import CAMERA_STALE_S, RoomComposer, _Camera, big_tile_picture
from contract import names
from contract.reactions import FEED_SECONDS, ReactionBurst, ReactionFeed, parse_reaction_feed
from contract.room_metadata import RoomMetadata
from media_agent import subscriptions
from tests.support.eventually import eventually_async
from tests.unit.composer.fakes import MemorySink

ENV = {"SPACES_COMPOSER_WIDTH": "320", "SPACES_COMPOSER_HEIGHT": "180", "SPACES_COMPOSER_FPS": "10"}
MIC = rtc.TrackSource.SOURCE_MICROPHONE
CAMERA = rtc.TrackSource.SOURCE_CAMERA
SCREEN = rtc.TrackSource.SOURCE_SCREENSHARE
AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
STANDARD = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD


@dataclass
class FakePublication:
    sid: str
    source: int
    muted: bool = False
    subscribed: bool = False
    log: list[tuple[str, bool]] = field(default_factory=list)
    simulcasted: bool = False
    height: int = 36  # the top layer's (FakeVideoFrame's default: a full picture)
    track: Any = None  # set by subscribe_video, as the SDK sets it once subscribed
    qualities: list[int] = field(default_factory=list)  # every layer asked for, in order
    room: Any = None  # the FakeRoom and FakeParticipant it belongs to (FakeRoom.join)
    participant: Any = None

    def set_subscribed(self, subscribed: bool) -> None:
        self.subscribed = subscribed
        self.log.append((self.sid, subscribed))
        if not subscribed and self.track is not None and self.room is not None:
            # As the SDK does: it drops the track and fires track_unsubscribed itself, before the
            # request has even left (rust-sdks, RemoteTrackPublication: set_track(None) first). The
            # event says nothing of what the SFU has done.
            track, self.track = self.track, None
            self.room.emit("track_unsubscribed", track, self, self.participant)

    def set_video_quality(self, quality: int) -> None:
        assert self.simulcasted, "the SDK refuses a layer for a track without simulcast"
        self.qualities.append(quality)


@dataclass
class FakeParticipant:
    identity: str
    kind: int = STANDARD
    name: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    track_publications: dict[str, FakePublication] = field(default_factory=dict)


class FakeRoom:
    def __init__(self, metadata: str, log: list[tuple[str, bool]]) -> None:
        self.name = "space-room"
        self.metadata = metadata
        self.remote_participants: dict[str, FakeParticipant] = {}
        self.local_participant = FakeParticipant("composer", kind=AGENT)
        self._handlers: dict[str, list[Callable[..., Any]]] = {}
        self.log = log

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        self._handlers.setdefault(event, []).append(handler)

    def off(self, event: str, handler: Callable[..., Any]) -> None:
        self._handlers[event].remove(handler)

    def emit(self, event: str, *args: Any) -> None:
        for handler in list(self._handlers.get(event, [])):
            handler(*args)

    def join(
        self,
        identity: str,
        *,
        role: str = "speaker",
        camera: bool = False,
        screen: bool = False,
        kind: int = STANDARD,
        simulcast: bool = False,
    ) -> None:
        p = FakeParticipant(
            identity, kind=kind, name=identity.title(), attributes={names.ROLE_ATTRIBUTE: role}
        )
        publications = [FakePublication(f"mic-{identity}", MIC, log=self.log)]
        if camera:
            publications.append(
                FakePublication(f"cam-{identity}", CAMERA, log=self.log, simulcasted=simulcast)
            )
        if screen:
            publications.append(FakePublication(f"screen-{identity}", SCREEN, log=self.log))
        self.remote_participants[identity] = p
        self.emit("participant_connected", p)
        for pub in publications:
            pub.room, pub.participant = self, p
            p.track_publications[pub.sid] = pub
            self.emit("track_published", pub, p)

    def publish_stage(self, seq: int, *, from_identity: str = "stage-agent", **stage: Any) -> None:
        if from_identity not in self.remote_participants:
            self.remote_participants[from_identity] = FakeParticipant(from_identity, kind=AGENT)
        agent = self.remote_participants[from_identity]
        doc = {
            "seq": seq,
            "spotlight": None,
            "video_spotlight": None,
            "speaking": [],
            "video_on": [],
            "pinned": None,
            "t": 0.0,
            **stage,
        }
        agent.attributes[names.STAGE_ATTRIBUTE] = json.dumps(doc)
        self.emit("participant_attributes_changed", {names.STAGE_ATTRIBUTE: ""}, agent)


class FakeBroadcast:
    def __init__(self, config: BroadcastConfig, space_id: str) -> None:
        self.config = config
        self.space_id = space_id
        self.video: list[np.ndarray] = []
        self.audio: list[np.ndarray] = []
        self.stages: list[dict[str, Any]] = []
        self.skipped: list[float] = []
        self.closed: bool | None = None
        self.playlists_written = 0  # what the watchdog reads through `stats`; tests move it on
        self.held = False
        self.held_at_close: bool | None = None
        self.close_timeout: float | None = None
        self.superseded = False  # a newer composer writes the playlist (the sink's fence said so)

    def push_video(self, rgb: np.ndarray) -> None:
        self.video.append(rgb)

    def push_audio(self, pcm: np.ndarray) -> None:
        self.audio.append(pcm)

    def record_stage(self, entry: Mapping[str, Any]) -> None:
        self.stages.append(dict(entry))

    def skip(self, seconds: float) -> None:
        self.skipped.append(seconds)

    def close(self, ended: bool = False, *, timeout: float | None = 30.0) -> bool:
        self.closed = ended
        self.close_timeout = timeout
        self.held_at_close = self.held
        return True

    def hold_playlists(self, held: bool) -> None:
        self.held = held

    @property
    def stats(self) -> BroadcastStats:
        return BroadcastStats(playlists_written=self.playlists_written)


class FakeMics:
    def __init__(self, sink: Callable[[str, np.ndarray, int], None], sample_rate: int) -> None:
        self.sink = sink
        self.sample_rate = sample_rate
        self.open_keys: set[str] = set()

    def open(self, key: str, track: Any) -> None:
        self.open_keys.add(key)

    def close(self, key: str) -> None:
        self.open_keys.discard(key)

    async def aclose(self) -> None:
        self.open_keys.clear()


@dataclass
class Harness:
    room: FakeRoom
    composer: RoomComposer
    broadcasts: list[FakeBroadcast]
    mics: list[FakeMics]
    subscriptions: list[tuple[str, bool]]

    @property
    def broadcast(self) -> FakeBroadcast:
        return self.broadcasts[0]


def make(
    video: str = "speakers",
    room_exists: Callable[[], Any] | None = None,
    on_failure: Callable[[str], None] | None = None,
    state_sink: Any = None,
    clock: Callable[[], float] = time.monotonic,
    host: str = "",
    env: Mapping[str, str] = ENV,
    record: bool = True,
) -> Harness:
    log: list[tuple[str, bool]] = []
    metadata = RoomMetadata(
        space_id="s1", video=video, pinned=None, title="Harness", host=host, record=record
    )  # type: ignore[arg-type]
    room = FakeRoom(metadata.to_json(), log)
    broadcasts: list[FakeBroadcast] = []
    mics: list[FakeMics] = []

    def open_broadcast(config: BroadcastConfig, space_id: str, epoch_ms: int) -> FakeBroadcast:
        broadcasts.append(FakeBroadcast(config, space_id))
        return broadcasts[-1]

    def microphones(sink: Any, sample_rate: int) -> FakeMics:
        mics.append(FakeMics(sink, sample_rate))
        return mics[-1]

    composer = RoomComposer(
        room,  # type: ignore[arg-type]  # the fake stands in for rtc.Room
        open_broadcast=open_broadcast,
        env=env,
        microphones=microphones,  # type: ignore[arg-type]
        room_exists=room_exists,
        on_failure=on_failure,
        state_sink=state_sink,
        clock=clock,
    )
    return Harness(room, composer, broadcasts, mics, log)


def cameras_subscribed(h: Harness) -> set[str]:
    """Every video track held (cameras and screen shares)."""
    return {
        pub.sid
        for p in h.room.remote_participants.values()
        for pub in p.track_publications.values()
        if pub.source in (CAMERA, SCREEN) and pub.subscribed
    }


async def test_all_microphones_and_no_camera_without_a_stage() -> None:
    h = make()
    h.room.join("alice", camera=True)
    await h.composer.start()
    h.room.join("bob", camera=True)
    h.room.join("helper", kind=AGENT)
    try:
        mics = {
            pub.sid
            for p in h.room.remote_participants.values()
            for pub in p.track_publications.values()
            if pub.source == MIC and pub.subscribed
        }
        assert mics == {"mic-alice", "mic-bob"}  # not the agent's
        assert cameras_subscribed(h) == set()
        assert h.broadcast.space_id == "s1" and h.broadcast.config.video
    finally:
        await h.composer.aclose()


def _subscribed_mics(h: Harness) -> set[str]:
    return {
        pub.sid
        for p in h.room.remote_participants.values()
        for pub in p.track_publications.values()
        if pub.source == MIC and pub.subscribed
    }


def _set_metadata(h: Harness, **fields: Any) -> None:
    old = h.room.metadata
    h.room.metadata = RoomMetadata(space_id="s1", video="speakers", title="Harness", **fields).to_json()
    h.room.emit("room_metadata_changed", old, h.room.metadata)


async def test_only_stage_members_of_the_room_metadata_are_heard_and_drawn() -> None:
    """Someone publishing a microphone whom the control plane does not put on stage (a blocked or
    demoted speaker whose grant is not revoked yet, one back with an old token) is neither mixed
    nor drawn; the metadata's changes add and drop microphones."""
    h = make()
    await h.composer.start()
    try:
        _set_metadata(h, host="alice", speakers=("bob",))
        h.room.join("alice", role="host", camera=True)
        h.room.join("bob")
        h.room.join("mallory", role="speaker", camera=True)  # says speaker; the metadata says not
        assert _subscribed_mics(h) == {"mic-alice", "mic-bob"}
        assert {s.identity for s in h.composer._speakers()} == {"alice", "bob"}
        h.room.publish_stage(1, spotlight="mallory", video_spotlight="mallory")
        assert cameras_subscribed(h) == set()  # not on stage: no camera either
        _set_metadata(h, host="alice", speakers=("bob", "mallory"))  # promoted after all
        assert _subscribed_mics(h) == {"mic-alice", "mic-bob", "mic-mallory"}
        assert cameras_subscribed(h) == {"cam-mallory"}
        h.mics[0].open_keys.update({"mic-bob", "mic-mallory"})
        _set_metadata(h, host="alice", speakers=("mallory",))  # bob is moved off the stage
        assert _subscribed_mics(h) == {"mic-alice", "mic-mallory"}
        assert "mic-bob" not in h.mics[0].open_keys
        assert {s.identity for s in h.composer._speakers()} == {"alice", "mallory"}
    finally:
        await h.composer.aclose()


async def test_only_the_video_spotlight_camera_and_the_old_one_goes_first() -> None:
    h = make()
    await h.composer.start()
    for identity in ("alice", "bob", "carol"):
        h.room.join(identity, camera=True)
    try:
        h.room.publish_stage(
            1, spotlight="alice", video_spotlight="alice", video_on=["alice", "bob", "carol"]
        )
        assert cameras_subscribed(h) == {"cam-alice"}
        h.subscriptions.clear()
        h.room.publish_stage(2, spotlight="bob", video_spotlight="bob", video_on=["alice", "bob", "carol"])
        assert cameras_subscribed(h) == {"cam-bob"}
        assert [entry for entry in h.subscriptions if entry[0].startswith("cam-")] == [
            ("cam-alice", False),
            ("cam-bob", True),
        ]
    finally:
        await h.composer.aclose()


class FakeVideoTrack:
    """A subscribed video track: the pictures it will deliver are put on its queue."""

    kind = rtc.TrackKind.KIND_VIDEO

    def __init__(self) -> None:
        self.pictures: asyncio.Queue[FakeVideoFrame] = asyncio.Queue()


@dataclass
class FakeVideoFrame:
    colour: tuple[int, int, int]
    width: int = 64
    height: int = 36

    def convert(self, kind: int) -> Any:
        rgb = np.empty((self.height, self.width, 3), dtype=np.uint8)
        rgb[:] = self.colour
        return type("Converted", (), {"data": rgb.tobytes(), "width": self.width, "height": self.height})


class FakeVideoStream:
    """rtc.VideoStream over a FakeVideoTrack."""

    def __init__(self, track: FakeVideoTrack, capacity: int = 0) -> None:
        self.track = track

    def __aiter__(self) -> FakeVideoStream:
        return self

    async def __anext__(self) -> Any:
        return type("Event", (), {"frame": await self.track.pictures.get()})

    async def aclose(self) -> None:
        pass


def subscribe_video(h: Harness, sid: str) -> FakeVideoTrack:
    """The SFU's answer to a video subscription the composer asked for."""
    for participant in h.room.remote_participants.values():
        publication = participant.track_publications.get(sid)
        if publication is not None:
            assert publication.subscribed, f"{sid} was not asked for"
            track = FakeVideoTrack()
            publication.track = track
            h.room.emit("track_subscribed", track, publication, participant)
            return track
    raise AssertionError(f"no publication {sid}")


def big_tile_colour(h: Harness) -> tuple[int, int, int]:
    frame = h.composer._frame()
    x, y = h.composer._geometry.big.centre
    return tuple(int(c) for c in frame[y, x])  # type: ignore[return-value]


async def with_cameras(
    monkeypatch: pytest.MonkeyPatch, *identities: str, env: Mapping[str, str] = ENV
) -> Harness:
    """A started composer whose room has these people, each with a simulcast camera, and whose
    video tracks are read through FakeVideoStream."""
    monkeypatch.setattr(worker.rtc, "VideoStream", FakeVideoStream)
    h = make(env=env)
    await h.composer.start()
    for identity in identities:
        h.room.join(identity, camera=True, simulcast=True)
    return h


def _publication(h: Harness, sid: str) -> FakePublication:
    return next(
        p.track_publications[sid] for p in h.room.remote_participants.values() if sid in p.track_publications
    )


HIGH, LOW = rtc.VideoQuality.VIDEO_QUALITY_HIGH, rtc.VideoQuality.VIDEO_QUALITY_LOW
RED, BLUE = (220, 40, 40), (40, 70, 220)


async def test_warm_cameras_are_held_low_and_a_switch_draws_the_new_one_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every stage member's simulcast camera is held at its lowest layer; a switch asks the SFU for
    the new one's top layer and the old one's lowest, holds on to both, and the next frame of the
    broadcast already shows the newest picture the new camera sent before the switch."""
    h = await with_cameras(monkeypatch, "alice", "bob", "carol")
    try:
        on = ["alice", "bob", "carol"]
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice", video_on=on)
        assert cameras_subscribed(h) == {"cam-alice", "cam-bob", "cam-carol"}
        tracks = {identity: subscribe_video(h, f"cam-{identity}") for identity in on}
        # Asked with the subscription (before the stage: all warm) and again once subscribed.
        assert _publication(h, "cam-alice").qualities == [LOW, HIGH, HIGH]
        assert _publication(h, "cam-bob").qualities == [LOW, LOW]
        tracks["alice"].pictures.put_nowait(FakeVideoFrame(RED, height=72, width=128))
        tracks["bob"].pictures.put_nowait(FakeVideoFrame(BLUE))
        await eventually_async(lambda: big_tile_colour(h) == RED, what="alice's picture in the big tile")
        await eventually_async(
            lambda: h.composer._held["cam-bob"].latest is not None, what="bob's warm picture received"
        )
        assert big_tile_colour(h) == RED
        assert h.composer._held["cam-bob"].frame is None  # bob's picture is kept, not converted
        h.subscriptions.clear()
        h.room.publish_stage(2, spotlight="bob", video_spotlight="bob", video_on=on)
        assert h.subscriptions == []  # nothing let go, nothing new asked for: only the layers
        assert _publication(h, "cam-bob").qualities[-1] == HIGH
        assert _publication(h, "cam-alice").qualities[-1] == LOW
        # No picture from bob since the switch: the one he sent before is drawn.
        await eventually_async(lambda: big_tile_colour(h) == BLUE, what="bob's warm picture in the big tile")
    finally:
        await h.composer.aclose()


async def test_cold_cameras_wait_for_the_subscription(monkeypatch: pytest.MonkeyPatch) -> None:
    """SPACES_COMPOSER_WARM_CAMERAS=0: only the shown camera is held; after a switch the card is
    drawn until the new subscription delivers a picture."""
    h = await with_cameras(monkeypatch, "alice", "bob", env={**ENV, "SPACES_COMPOSER_WARM_CAMERAS": "0"})
    try:
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice", video_on=["alice", "bob"])
        assert cameras_subscribed(h) == {"cam-alice"}
        subscribe_video(h, "cam-alice").pictures.put_nowait(FakeVideoFrame(RED))
        await eventually_async(lambda: big_tile_colour(h) == RED, what="alice's picture in the big tile")
        h.room.publish_stage(2, spotlight="bob", video_spotlight="bob", video_on=["alice", "bob"])
        assert cameras_subscribed(h) == {"cam-bob"}
        assert big_tile_colour(h) not in (RED, BLUE)  # bob's card
        subscribe_video(h, "cam-bob").pictures.put_nowait(FakeVideoFrame(BLUE))
        await eventually_async(lambda: big_tile_colour(h) == BLUE, what="bob's picture in the big tile")
    finally:
        await h.composer.aclose()


async def test_a_warm_camera_of_someone_moved_off_the_stage_is_let_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker.rtc, "VideoStream", FakeVideoStream)
    h = make()
    await h.composer.start()
    try:
        _set_metadata(h, host="alice", speakers=("bob",))
        h.room.join("alice", role="host", camera=True, simulcast=True)
        h.room.join("bob", camera=True, simulcast=True)
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice", video_on=["alice", "bob"])
        subscribe_video(h, "cam-bob")
        assert cameras_subscribed(h) == {"cam-alice", "cam-bob"} and "cam-bob" in h.composer._held
        _set_metadata(h, host="alice", speakers=())
        assert cameras_subscribed(h) == {"cam-alice"}
        assert "cam-bob" not in h.composer._held
    finally:
        await h.composer.aclose()


def _participant(h: Harness, identity: str) -> FakeParticipant:
    return h.room.remote_participants[identity]


async def test_a_shown_camera_left_at_its_lowest_layer_is_subscribed_to_afresh_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SFU may not move a warm subscription to its top layer (a downlink it judges deficient):
    SPACES_COMPOSER_FULL_PICTURE_WAIT_S after the switch the camera is unsubscribed and,
    RESUBSCRIBE_GAP_S later, subscribed again, its last picture staying in the big tile until the
    new subscription's first; once a switch."""
    monkeypatch.setattr(worker, "RESUBSCRIBE_GAP_S", 0.2)
    h = await with_cameras(monkeypatch, "alice", "bob", env={**ENV, settings.FULL_PICTURE_WAIT_ENV: "0.05"})
    try:
        on = ["alice", "bob"]
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice", video_on=on)
        alice, bob = subscribe_video(h, "cam-alice"), subscribe_video(h, "cam-bob")
        alice.pictures.put_nowait(FakeVideoFrame(RED))
        bob.pictures.put_nowait(FakeVideoFrame(BLUE, width=32, height=18))  # its lowest layer
        await eventually_async(
            lambda: h.composer._held["cam-bob"].latest is not None, what="bob's warm picture"
        )
        h.subscriptions.clear()
        h.room.publish_stage(2, spotlight="bob", video_spotlight="bob", video_on=on)
        await eventually_async(lambda: big_tile_colour(h) == BLUE, what="bob's warm picture drawn")
        await eventually_async(
            lambda: ("cam-bob", False) in h.subscriptions, what="bob's camera let go to renew"
        )
        publication = _publication(h, "cam-bob")
        assert h.subscriptions[-1] == ("cam-bob", False)  # not at once: the SFU would change nothing
        await eventually_async(lambda: h.subscriptions[-1] == ("cam-bob", True), what="bob asked for again")
        assert publication.qualities[-1] == HIGH
        assert big_tile_colour(h) == BLUE  # the last picture stays meanwhile
        fresh = subscribe_video(h, "cam-bob")
        assert big_tile_colour(h) == BLUE
        # Still short of its top layer after the renewal: not renewed again within the same switch.
        fresh.pictures.put_nowait(FakeVideoFrame((230, 200, 20), width=32, height=18))
        await eventually_async(
            lambda: big_tile_colour(h) == (230, 200, 20), what="the new subscription's picture"
        )
        await asyncio.sleep(0.3)
        assert h.subscriptions.count(("cam-bob", False)) == 1
    finally:
        await h.composer.aclose()


async def test_a_camera_shown_again_starts_from_its_newest_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Alice, then bob, then alice again: her picture drawn before is dropped when she is hidden, and
    the one she sent while warm is what comes back, not the older one."""
    h = await with_cameras(monkeypatch, "alice", "bob")
    try:
        on = ["alice", "bob"]
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice", video_on=on)
        alice, bob = subscribe_video(h, "cam-alice"), subscribe_video(h, "cam-bob")
        alice.pictures.put_nowait(FakeVideoFrame(RED))
        bob.pictures.put_nowait(FakeVideoFrame(BLUE))
        await eventually_async(lambda: big_tile_colour(h) == RED, what="alice drawn")
        h.room.publish_stage(2, spotlight="bob", video_spotlight="bob", video_on=on)
        assert h.composer._held["cam-alice"].frame is None
        await eventually_async(lambda: big_tile_colour(h) == BLUE, what="bob drawn")
        green = (40, 200, 60)
        alice.pictures.put_nowait(FakeVideoFrame(green))
        await eventually_async(
            lambda: (
                h.composer._held["cam-alice"].latest is not None
                and h.composer._held["cam-alice"].latest.colour == green
            ),
            what="alice's newer warm picture",
        )
        h.room.publish_stage(3, spotlight="alice", video_spotlight="alice", video_on=on)
        colours = set()
        for _ in range(20):
            colours.add(big_tile_colour(h))
            await asyncio.sleep(0.01)
        assert RED not in colours and green in colours
    finally:
        await h.composer.aclose()


async def test_after_a_reconnection_the_cameras_follow_the_room_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A change of the stage members made while the composer was away is read on its return: the
    cameras follow it as the microphones do (bob's warm camera goes, carol's comes)."""
    h = make()
    await h.composer.start()
    try:
        _set_metadata(h, host="alice", speakers=("bob",))
        for identity in ("alice", "bob", "carol"):
            h.room.join(identity, camera=True, simulcast=True)
        assert cameras_subscribed(h) == {"cam-alice", "cam-bob"}
        h.room.metadata = RoomMetadata(
            space_id="s1", video="speakers", title="Harness", host="alice", speakers=("carol",)
        ).to_json()  # changed while away: no event
        h.room.emit("reconnecting")
        h.room.emit("reconnected")
        assert cameras_subscribed(h) == {"cam-alice", "cam-carol"}
    finally:
        await h.composer.aclose()


async def test_a_renewal_the_sfu_does_not_answer_is_given_up_and_the_camera_asked_for_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No new subscription SUBSCRIPTION_DEADLINE_S after a renewal began (the SFU took the unsubscribe
    and the subscribe as no change): the camera is asked for as after a drop, never left wedged."""
    monkeypatch.setattr(worker, "RESUBSCRIBE_GAP_S", 0.01)
    monkeypatch.setattr(worker, "SUBSCRIPTION_DEADLINE_S", 0.2)
    monkeypatch.setattr(worker, "RECOVERY_GAP_S", 0.05)
    h = await with_cameras(monkeypatch, "alice", "bob", env={**ENV, settings.FULL_PICTURE_WAIT_ENV: "0.05"})
    try:
        on = ["alice", "bob"]
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice", video_on=on)
        subscribe_video(h, "cam-alice").pictures.put_nowait(FakeVideoFrame(RED))
        bob = subscribe_video(h, "cam-bob")
        bob.pictures.put_nowait(FakeVideoFrame(BLUE, width=32, height=18))
        await eventually_async(lambda: h.composer._held["cam-bob"].latest is not None, what="bob warm")
        h.room.publish_stage(2, spotlight="bob", video_spotlight="bob", video_on=on)
        await eventually_async(lambda: ("cam-bob", False) in h.subscriptions, what="the renewal")
        await eventually_async(lambda: h.subscriptions[-1] == ("cam-bob", True), what="the resubscribe")
        asked = len(h.subscriptions)
        # ... and no track_subscribed ever comes: let go (the SFU may count it subscribed), then asked for.
        await eventually_async(
            lambda: (
                h.composer._renewing == {}
                and h.subscriptions[asked:] == [("cam-bob", False), ("cam-bob", True)]
            ),
            what="the renewal given up, bob's camera let go and asked for again",
        )
        assert _publication(h, "cam-bob").qualities[-1] == HIGH
        subscribe_video(h, "cam-bob").pictures.put_nowait(FakeVideoFrame(BLUE))
        await eventually_async(lambda: big_tile_colour(h) == BLUE, what="bob's camera back")
    finally:
        await h.composer.aclose()


ON = ["alice", "bob"]


async def _show_bob_warm(h: Harness, seq: int) -> None:
    """Alice shown with a picture, bob warm at his lowest layer with one: then bob shown."""
    h.room.publish_stage(seq, spotlight="alice", video_spotlight="alice", video_on=ON)
    subscribe_video(h, "cam-alice").pictures.put_nowait(FakeVideoFrame(RED))
    subscribe_video(h, "cam-bob").pictures.put_nowait(FakeVideoFrame(BLUE, width=32, height=18))
    await eventually_async(lambda: h.composer._held["cam-bob"].latest is not None, what="bob warm")
    h.room.publish_stage(seq + 1, spotlight="bob", video_spotlight="bob", video_on=ON)


async def test_a_camera_given_up_is_not_asked_for_again_before_the_recovery_gap_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A renewal given up lets the camera go for RECOVERY_GAP_S: a stage update meanwhile (one may
    come every 0.5 s) does not subscribe to it at once, which could reach the SFU before it acted
    on the unsubscribe and so change nothing; it is asked for when the gap ends."""
    monkeypatch.setattr(worker, "RESUBSCRIBE_GAP_S", 0.01)
    monkeypatch.setattr(worker, "SUBSCRIPTION_DEADLINE_S", 0.2)
    monkeypatch.setattr(worker, "RECOVERY_GAP_S", 2.0)  # wide: the checks below run inside it
    h = await with_cameras(monkeypatch, "alice", "bob", env={**ENV, settings.FULL_PICTURE_WAIT_ENV: "0.05"})
    try:
        await _show_bob_warm(h, 1)
        await eventually_async(lambda: "cam-bob" in h.composer._renewing, what="the renewal")
        await eventually_async(lambda: h.subscriptions[-1] == ("cam-bob", True), what="the resubscribe")
        # No track_subscribed: given up, bob's camera let go for RECOVERY_GAP_S.
        await eventually_async(lambda: h.composer._renewing == {}, what="the renewal given up")
        assert h.subscriptions[-1] == ("cam-bob", False)
        asked = len(h.subscriptions)
        h.room.publish_stage(3, spotlight="alice", video_spotlight="bob", video_on=ON)  # the voice moves
        assert h.subscriptions[asked:] == [], "bob asked for again inside the recovery gap"
        await eventually_async(
            lambda: h.subscriptions[asked:] == [("cam-bob", True)], what="bob asked for after the gap"
        )
        assert _publication(h, "cam-bob").qualities[-1] == HIGH
    finally:
        await h.composer.aclose()


async def test_a_camera_given_up_is_logged_as_let_go(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The composer's log says every track it lets go, a given-up subscription's too: the live tests
    and the benchmark replay the held tracks from it, and a stage that moved on to another camera
    during the recovery gap must not read as two cameras held at the top layer."""
    monkeypatch.setattr(worker, "SUBSCRIPTION_DEADLINE_S", 0.1)
    monkeypatch.setattr(worker, "RECOVERY_GAP_S", 2.0)  # wide: the stage moves on inside it
    caplog.set_level(logging.INFO, logger=worker.logger.name)
    h = await with_cameras(monkeypatch, "alice", "bob", env={**ENV, "SPACES_COMPOSER_WARM_CAMERAS": "0"})
    try:
        h.room.publish_stage(1, spotlight="bob", video_spotlight="bob", video_on=ON)
        await eventually_async(lambda: h.subscriptions[-1:] == [("cam-bob", False)], what="bob given up")
        h.room.publish_stage(2, spotlight="alice", video_spotlight="alice", video_on=ON)  # in the gap
        await eventually_async(lambda: ("cam-alice", True) in h.subscriptions, what="alice asked for")
        held: dict[str, str] = {}
        for record in caplog.records:
            words = record.getMessage().split()
            if len(words) >= 3 and words[0] == "camera" and words[1] in ("subscribe", "unsubscribe", "layer"):
                if words[1] == "unsubscribe":
                    held.pop(words[2], None)
                elif words[1] == "layer":
                    held[words[2]] = words[3]
        assert held == {"alice": "high"}
    finally:
        await h.composer.aclose()


async def test_a_shown_camera_whose_subscription_brings_nothing_is_asked_for_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not only a renewal: a subscription of the shown video with no track SUBSCRIPTION_DEADLINE_S
    after it was asked (a subscribe the SFU took as no change, after a quick unsubscribe) is let go
    and asked for again RECOVERY_GAP_S later, instead of the card for the whole turn."""
    monkeypatch.setattr(worker, "SUBSCRIPTION_DEADLINE_S", 0.2)
    monkeypatch.setattr(worker, "RECOVERY_GAP_S", 0.05)
    h = await with_cameras(monkeypatch, "alice", "bob", env={**ENV, "SPACES_COMPOSER_WARM_CAMERAS": "0"})
    try:
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice", video_on=ON)
        asked = len(h.subscriptions)
        await eventually_async(
            lambda: h.subscriptions[asked:] == [("cam-alice", False), ("cam-alice", True)],
            what="alice's camera let go and asked for again",
        )
        subscribe_video(h, "cam-alice").pictures.put_nowait(FakeVideoFrame(RED))
        await eventually_async(lambda: big_tile_colour(h) == RED, what="alice's camera drawn")
        await asyncio.sleep(0.3)  # answered: nothing more
        assert h.subscriptions[asked:] == [("cam-alice", False), ("cam-alice", True)]
    finally:
        await h.composer.aclose()


async def test_a_slow_subscription_gets_a_longer_deadline_each_time_it_is_given_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A subscription that is only slow (a loaded SFU) is not cut off every SUBSCRIPTION_DEADLINE_S
    for a whole turn: each give-up in a row doubles the next deadline, up to the maximum (read from
    the warnings, which name the deadline each one waited)."""
    monkeypatch.setattr(worker, "SUBSCRIPTION_DEADLINE_S", 0.1)
    monkeypatch.setattr(worker, "SUBSCRIPTION_DEADLINE_MAX_S", 0.4)
    monkeypatch.setattr(worker, "RECOVERY_GAP_S", 0.01)
    caplog.set_level(logging.WARNING, logger=worker.logger.name)

    def waited() -> list[str]:
        found = (re.search(r"brought nothing in ([0-9.]+) s", r.getMessage()) for r in caplog.records)
        return [m.group(1) for m in found if m is not None]

    h = await with_cameras(monkeypatch, "alice", "bob", env={**ENV, "SPACES_COMPOSER_WARM_CAMERAS": "0"})
    try:
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice", video_on=ON)
        await eventually_async(lambda: len(waited()) >= 4, what="four give-ups of alice's subscription")
        assert waited()[:4] == ["0.1", "0.2", "0.4", "0.4"]
        # Her track comes (while she is asked for, not in a recovery gap): the count starts afresh.
        composer = h.composer
        await eventually_async(
            lambda: "cam-alice" in composer._camera_wanted and "cam-alice" not in composer._cooling,
            what="alice asked for",
        )
        subscribe_video(h, "cam-alice").pictures.put_nowait(FakeVideoFrame(RED))
        await eventually_async(lambda: big_tile_colour(h) == RED, what="alice's camera drawn")
        assert "cam-alice" not in h.composer._give_ups
    finally:
        await h.composer.aclose()


async def test_a_camera_shown_before_its_first_warm_picture_is_renewed_from_that_picture(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shown while its warm subscription has delivered nothing yet (a camera turned on and
    spotlighted at once): its first picture is at its warm layer too, so the full-picture wait
    counts from that picture, and a camera still at that layer then is subscribed to afresh."""
    monkeypatch.setattr(worker, "RESUBSCRIBE_GAP_S", 0.01)
    h = await with_cameras(monkeypatch, "alice", "bob", env={**ENV, settings.FULL_PICTURE_WAIT_ENV: "0.3"})
    try:
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice", video_on=ON)
        subscribe_video(h, "cam-alice").pictures.put_nowait(FakeVideoFrame(RED))
        bob = subscribe_video(h, "cam-bob")  # warm: subscribed at the lowest layer, no picture yet
        h.room.publish_stage(2, spotlight="bob", video_spotlight="bob", video_on=ON)
        await asyncio.sleep(0.4)  # past the wait, counted from the switch
        bob.pictures.put_nowait(FakeVideoFrame(BLUE, width=32, height=18))
        await eventually_async(lambda: big_tile_colour(h) == BLUE, what="bob drawn (lowest layer)")
        await asyncio.sleep(0.1)
        assert ("cam-bob", False) not in h.subscriptions, "renewed before the wait from his first picture"
        await eventually_async(lambda: ("cam-bob", False) in h.subscriptions, what="bob renewed")
    finally:
        await h.composer.aclose()


async def test_a_finished_renewals_deadline_does_not_give_up_the_next_renewal(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A renewal that brought its new subscription is over: its deadline does not fire on a later
    renewal of the same camera (another switch), which has its own."""
    monkeypatch.setattr(worker, "RESUBSCRIBE_GAP_S", 0.01)
    # Renewal 1's deadline wakes 2 s after it began; renewal 2 begins ~1.1 s after it, so it is in
    # flight then with ~0.9 s to spare either side on a slow machine.
    monkeypatch.setattr(worker, "SUBSCRIPTION_DEADLINE_S", 2.0)
    monkeypatch.setattr(worker, "RECOVERY_GAP_S", 0.05)
    h = await with_cameras(monkeypatch, "alice", "bob", env={**ENV, settings.FULL_PICTURE_WAIT_ENV: "0.05"})
    try:
        loop = asyncio.get_running_loop()
        await _show_bob_warm(h, 1)
        await eventually_async(lambda: "cam-bob" in h.composer._renewing, what="renewal 1")
        first = loop.time()
        await eventually_async(lambda: h.subscriptions[-1] == ("cam-bob", True), what="resubscribe 1")
        subscribe_video(h, "cam-bob").pictures.put_nowait(FakeVideoFrame(BLUE, width=32, height=18))
        assert h.composer._renewing == {}
        await asyncio.sleep(1.0)
        # Away and back, bob still at his lowest layer: renewal 2, in flight when renewal 1's
        # deadline would wake (2.0 s after renewal 1 began).
        h.room.publish_stage(3, spotlight="alice", video_spotlight="alice", video_on=ON)
        h.room.publish_stage(4, spotlight="bob", video_spotlight="bob", video_on=ON)
        await eventually_async(lambda: "cam-bob" in h.composer._renewing, what="renewal 2")
        caplog.set_level(logging.WARNING, logger=worker.logger.name)
        await asyncio.sleep(first + 2.1 - loop.time())
        assert "cam-bob" in h.composer._renewing
        assert not [r for r in caplog.records if "brought nothing" in r.getMessage()]
    finally:
        await h.composer.aclose()


async def test_a_warm_camera_the_sfu_dropped_is_asked_for_again_at_its_lowest_layer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(subscriptions, "RESUBSCRIBE_DELAY_S", 0.05)
    h = await with_cameras(monkeypatch, "alice", "bob")
    try:
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice", video_on=["alice", "bob"])
        bob = subscribe_video(h, "cam-bob")
        publication = _publication(h, "cam-bob")
        asked = len(publication.qualities)
        publication.subscribed = False  # the SFU ended it
        h.room.emit("track_unsubscribed", bob, publication, _participant(h, "bob"))
        await eventually_async(lambda: publication.subscribed, what="bob's camera asked for again")
        assert publication.qualities[asked:] == [LOW]  # with the subscription, not after it
    finally:
        await h.composer.aclose()


def test_the_warm_setting_is_one_or_zero() -> None:
    assert settings.warm_cameras({}) and settings.warm_cameras({settings.WARM_CAMERAS_ENV: "1"})
    assert not settings.warm_cameras({settings.WARM_CAMERAS_ENV: "0"})
    with pytest.raises(settings.SettingsError, match=settings.WARM_CAMERAS_ENV):
        settings.warm_cameras({settings.WARM_CAMERAS_ENV: "yes"})


async def test_a_pinned_screen_share_is_the_one_video_held_and_the_camera_returns_after() -> None:
    h = make()
    await h.composer.start()
    h.room.join("hana", role="host", camera=True, screen=True)
    h.room.join("bob", camera=True)
    try:
        h.room.publish_stage(1, spotlight="bob", video_spotlight="bob", video_on=["bob", "hana"])
        assert cameras_subscribed(h) == {"cam-bob"}
        h.subscriptions.clear()
        h.room.publish_stage(
            2,
            spotlight="hana",
            video_spotlight="hana",
            video_source="screen_share",
            video_on=["bob", "hana"],
            pinned="hana",
        )
        # Hana's screen, not her camera (which the stage lists as on) and not bob's any more.
        assert cameras_subscribed(h) == {"screen-hana"}
        assert h.subscriptions == [("cam-bob", False), ("screen-hana", True)]
        h.room.publish_stage(3, spotlight="hana", video_spotlight="hana", video_on=["bob", "hana"])
        assert cameras_subscribed(h) == {"cam-hana"}
    finally:
        await h.composer.aclose()


async def test_the_stage_is_taken_only_from_agents_and_only_newer() -> None:
    h = make()
    await h.composer.start()
    h.room.join("alice", camera=True)
    h.room.join("mallory", camera=True)
    try:
        h.room.publish_stage(5, spotlight="alice", video_spotlight="alice")
        # A person publishing a stage attribute changes nothing.
        h.room.publish_stage(99, from_identity="mallory", video_spotlight="mallory")
        assert cameras_subscribed(h) == {"cam-alice"}
        # An older stage (a lower seq) from another agent is not newer news.
        h.room.publish_stage(4, from_identity="old-agent", video_spotlight="mallory")
        assert cameras_subscribed(h) == {"cam-alice"}
    finally:
        await h.composer.aclose()


async def test_a_successor_agent_with_a_lower_seq_is_followed_once_its_predecessor_left() -> None:
    """A stage agent that found no predecessor counts its seq from its own clock, which may be
    behind the departed one's: once the agent whose stage the composer shows has left, the agent
    still here is the truth whatever its seq."""
    h = make()
    await h.composer.start()
    h.room.join("alice", camera=True)
    h.room.join("bob", camera=True)
    try:
        h.room.publish_stage(5000, spotlight="alice", video_spotlight="alice")
        assert cameras_subscribed(h) == {"cam-alice"}
        gone = h.room.remote_participants.pop("stage-agent")
        h.room.emit("participant_disconnected", gone)
        h.room.publish_stage(40, from_identity="stage-agent-2", spotlight="bob", video_spotlight="bob")
        assert cameras_subscribed(h) == {"cam-bob"}
    finally:
        await h.composer.aclose()


async def test_a_departed_agents_spotlight_stays_but_nobody_stays_ringed_as_speaking() -> None:
    """The stage agent crashed: until its successor's stage comes (~20 s, docs/agent.md) the big
    tile keeps its holder, but who the agent heard talking is over."""
    h = make()
    await h.composer.start()
    h.room.join("alice", camera=True)
    h.room.join("bob")
    try:
        talking = [{"identity": "alice", "level": 0.8}, {"identity": "bob", "level": 0.4}]
        h.room.publish_stage(7, spotlight="alice", video_spotlight="alice", speaking=talking)
        shown = h.composer.layout
        assert shown is not None and shown.big is not None and shown.big.speaking
        assert [m.speaking for m in shown.strip if m.card.identity == "bob"] == [True]
        gone = h.room.remote_participants.pop("stage-agent")
        h.room.emit("participant_disconnected", gone)
        shown = h.composer.layout
        assert shown is not None and shown.big is not None
        assert shown.big.camera == "alice" and not shown.big.speaking
        assert not any(m.speaking for m in shown.strip)
        assert cameras_subscribed(h) == {"cam-alice"}
    finally:
        await h.composer.aclose()


async def test_timeline_entries_only_when_the_holders_change() -> None:
    h = make()
    await h.composer.start()
    h.room.join("alice")
    h.room.join("bob")
    try:
        h.room.publish_stage(1, spotlight="alice", speaking=[{"identity": "alice", "level": 0.4}])
        h.room.publish_stage(2, spotlight="alice", speaking=[{"identity": "alice", "level": 0.8}])
        h.room.publish_stage(3, spotlight="bob", pinned="bob")
        await eventually_async(lambda: len(h.broadcast.stages) == 2, timeout=5, what="two timeline entries")
        first, second = h.broadcast.stages
        assert (first["spotlight"], first["pinned"]) == ("alice", None)
        assert (second["spotlight"], second["pinned"]) == ("bob", "bob")
        assert second["names"] == {"alice": "Alice", "bob": "Bob"}
    finally:
        await h.composer.aclose()


async def test_state_json_carries_the_recent_stage_changes_for_hls_viewers() -> None:
    """A viewer behind live reads who holds the stage at the moment its player is at: each change
    of holders rewrites state.json with the latest changes, at the times the timeline gives them."""
    sink = MemorySink()
    h = make(state_sink=sink)
    key = f"s1/{names.BROADCAST_STATE}"
    await h.composer.start()
    h.room.join("alice")
    h.room.join("bob")
    try:
        await eventually_async(lambda: sink.objects.get(key), what="state.json at start")
        assert "timeline_recent" not in json.loads(sink.objects[key])
        h.room.publish_stage(1, spotlight="alice")
        h.room.publish_stage(2, spotlight="bob")

        def recent() -> list[tuple[float, str | None]] | None:
            doc = json.loads(sink.objects[key])
            got = [(e["t"], e["spotlight"]) for e in doc.get("timeline_recent", [])]
            return got if [who for _, who in got] == ["alice", "bob"] else None

        got = await eventually_async(recent, timeout=5, what="both changes in state.json")
        assert got == [(s["t"], s["spotlight"]) for s in h.broadcast.stages]
        doc = json.loads(sink.objects[key])
        assert all(e["names"] == {} for e in doc["timeline_recent"])  # the document names the stage
        assert doc["title"] == "Harness"  # still the room's metadata
    finally:
        await h.composer.aclose()


async def test_microphones_are_mixed_and_paced_into_the_broadcast() -> None:
    h = make()
    h.room.join("alice")
    await h.composer.start()
    try:
        tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(960) / 48000)).astype(np.int16)
        for _ in range(10):
            h.mics[0].sink("mic-alice", tone, 48000)
        await eventually_async(
            lambda: sum(len(a) for a in h.broadcast.audio) >= 48000 * 0.3,
            timeout=10,
            what="300 ms of audio fed",
        )
        audio = np.concatenate(h.broadcast.audio)
        assert np.abs(audio).max() > 7000  # the tone went through the mixer
        assert h.broadcast.video and h.broadcast.video[0].shape == (180, 320, 3)
        # Audio and video advance together on the clock (10 fps, 20 ms chunks): within a frame.
        media_audio = sum(len(a) for a in h.broadcast.audio) / 48000
        assert abs(len(h.broadcast.video) / 10 - media_audio) <= 0.2
        # The sound is stamped its jitter hold (60 ms less a 20 ms chunk) later than it arrived, a
        # picture a frame earlier: the broadcast moves the audio by both (test_lip_sync.py).
        assert h.broadcast.config.audio_lag == Fraction(40, 1000) + Fraction(1, 10)
    finally:
        await h.composer.aclose()


async def test_a_starved_pacer_drops_the_span_and_tells_the_broadcast(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stall (process stopped, machine starved) is skipped, not encoded in a burst, and the
    broadcast hears of it so that its PROGRAM-DATE-TIME stays on the wall clock. The operator hears
    of it too, at ERROR (the composer errors alarm counts those), at most every 30 s."""
    stall = [0.0]
    h = make(clock=lambda: time.monotonic() + stall[0])
    h.room.join("alice")
    await h.composer.start()
    try:
        await eventually_async(lambda: len(h.broadcast.audio) >= 5, timeout=10, what="the pacer running")
        fed_before = sum(len(a) for a in h.broadcast.audio)
        with caplog.at_level(logging.ERROR, logger="composer.worker"):
            stall[0] = 5.0  # the clock jumps 5 s ahead of what was fed
            await eventually_async(lambda: bool(h.broadcast.skipped), timeout=10, what="a skip")
            assert sum(h.broadcast.skipped) == pytest.approx(5.0, abs=0.3)
            fed_after = sum(len(a) for a in h.broadcast.audio)
            assert (fed_after - fed_before) / 48000 < 1.0  # the 5 s were not encoded in a burst
            stall[0] = 8.0  # another stall within 30 s: dropped, not reported again
            await eventually_async(lambda: sum(h.broadcast.skipped) > 7.5, timeout=10, what="a second skip")
        starved = [r for r in caplog.records if "starved" in r.getMessage()]
        assert len(starved) == 1 and starved[0].levelno == logging.ERROR
        assert "dropped" in starved[0].getMessage() and "viewers hear cuts" in starved[0].getMessage()
    finally:
        await h.composer.aclose()


async def test_audio_only_space_subscribes_no_camera_and_renders_nothing() -> None:
    h = make(video="off")
    await h.composer.start()
    h.room.join("alice", camera=True)
    h.room.join("bob", camera=True, simulcast=True)  # not even held warm
    try:
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice")
        await eventually_async(lambda: len(h.broadcast.audio) > 5, timeout=10, what="audio fed")
        assert cameras_subscribed(h) == set()
        assert h.broadcast.video == [] and not h.broadcast.config.video
        assert h.broadcast.config.audio_lag == 0  # no pictures to meet
    finally:
        await h.composer.aclose()


async def test_a_deleted_room_ends_the_broadcast() -> None:
    h = make()
    await h.composer.start()
    h.room.emit("disconnected", rtc.DisconnectReason.ROOM_DELETED)
    await h.composer.aclose()
    assert h.broadcast.closed is True


@pytest.mark.parametrize(("answers", "ended"), [([True, True, False], True), ([True] * 100, False)])
async def test_without_the_reason_the_sfu_is_asked_whether_the_room_is_gone(
    answers: list[bool], ended: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("composer.worker.ROOM_GONE_WAIT_S", 0.5)
    monkeypatch.setattr("composer.worker.ROOM_GONE_POLL_S", 0.01)
    remaining = list(answers)

    async def room_exists() -> bool:
        return remaining.pop(0)

    h = make(room_exists=room_exists)
    await h.composer.start()
    h.room.emit("disconnected", rtc.DisconnectReason.CLIENT_INITIATED)
    await h.composer.aclose()
    assert h.broadcast.closed is ended


async def test_an_unanswered_question_leaves_the_playlist_open() -> None:
    async def room_exists() -> bool:
        raise ConnectionError("SFU API unreachable")

    h = make(room_exists=room_exists)
    await h.composer.start()
    await h.composer.aclose()
    assert h.broadcast.closed is False


async def test_an_encoder_fault_ends_the_job() -> None:
    reasons: list[str] = []
    h = make(on_failure=reasons.append)  # the worker wires ctx.shutdown here
    await h.composer.start()

    def broken(rgb: np.ndarray) -> None:
        raise RuntimeError("encoder exploded")

    h.broadcast.push_video = broken  # type: ignore[method-assign]
    try:
        await eventually_async(lambda: reasons, timeout=10, what="the job asked to end")
        assert "encoder exploded" in reasons[0]
    finally:
        await h.composer.aclose()
    # The replacement continues the playlists: the failed broadcast closed without writing them.
    assert h.broadcast.held_at_close is True and h.broadcast.closed is False


async def test_state_json_follows_the_room_metadata_and_says_when_the_space_ended() -> None:
    sink = MemorySink()
    h = make(state_sink=sink, room_exists=_room_gone)
    key = f"s1/{names.BROADCAST_STATE}"
    await h.composer.start()
    await eventually_async(lambda: sink.objects.get(key), what="state.json at start")
    assert json.loads(sink.objects[key])["title"] == "Harness"
    changed = RoomMetadata(
        space_id="s1", video="off", pinned=None, title="Harness", speakers=("leo",), version=3
    )
    # A field from a control plane newer than this composer reaches the viewers' state.json as it came.
    raw = json.dumps({**changed.to_dict(), "newer_field": {"a": [1, 2]}})
    h.room.metadata = raw
    h.room.emit("room_metadata_changed", "", raw)
    await eventually_async(
        lambda: json.loads(sink.objects[key])["speakers"] == ["leo"], what="the change in state.json"
    )
    assert json.loads(sink.objects[key])["newer_field"] == {"a": [1, 2]}
    assert sink.headers[key][1] == "public, max-age=0, s-maxage=1"
    await h.composer.aclose()
    final = json.loads(sink.objects[key])
    assert final["state"] == "ended" and final["speakers"] == ["leo"]
    assert final["newer_field"] == {"a": [1, 2]}
    assert sink.headers[key][1] == "public, max-age=60"


async def _room_gone() -> bool:
    return False


@pytest.mark.parametrize("video", ["speakers", "off"])
async def test_the_end_of_a_space_without_a_recording_leaves_nothing_to_replay(video: str) -> None:
    """Its whole-stream playlists (each rendition the broadcast has) and its timeline become closed
    and empty once the broadcast is closed; a recorded Space's are left as the broadcast wrote them."""
    for record in (False, True):
        sink = MemorySink()
        h = make(video=video, state_sink=sink, room_exists=_room_gone, record=record)
        await h.composer.start()
        await h.composer.aclose()
        written = {key.split("/", 1)[1] for key in sink.objects}
        renditions = {names.BROADCAST_PLAYLIST}
        if video != "off":
            renditions |= {names.BROADCAST_LOW_PLAYLIST, names.BROADCAST_AUDIO_PLAYLIST}
        if record:
            assert not written & (renditions | {names.BROADCAST_TIMELINE}), written
            continue
        assert renditions | {names.BROADCAST_TIMELINE, names.BROADCAST_STATE} <= written
        # No rendition the broadcast does not have.
        assert not written & ({names.BROADCAST_LOW_PLAYLIST, names.BROADCAST_AUDIO_PLAYLIST} - renditions)
        for name in renditions:
            playlist = parse_playlist(sink.objects[f"s1/{name}"].decode())
            assert playlist.ended and playlist.segments == ()
            assert sink.headers[f"s1/{name}"][1] == "public, max-age=60"
        timeline = parse_timeline(sink.objects[f"s1/{names.BROADCAST_TIMELINE}"].decode())
        assert timeline.ended and timeline.entries == () and timeline.space_id == "s1"


class _HeldStateSink(MemorySink):
    """Holds the state.json write that starts while `hold` is set until `release` (a slow S3 PUT)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = threading.Event()
        self.release = threading.Event()
        self.held = threading.Event()
        self.done = threading.Event()

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        if key.endswith(names.BROADCAST_STATE) and self.hold.is_set() and not self.held.is_set():
            self.held.set()
            self.release.wait(10)
            super().write(key, data, content_type=content_type, cache_control=cache_control)
            self.done.set()
            return
        super().write(key, data, content_type=content_type, cache_control=cache_control)


async def test_the_end_in_state_json_stays_when_a_live_write_was_still_under_way() -> None:
    """A change of the stage's holder as the Space ends starts a state.json write; the close
    cancels its task, but its thread goes on. The end, asked for after it, is what stays."""
    sink = _HeldStateSink()
    h = make(state_sink=sink, room_exists=_room_gone)
    key = f"s1/{names.BROADCAST_STATE}"
    await h.composer.start()
    h.room.join("alice")
    await eventually_async(lambda: sink.objects.get(key), what="state.json at start")
    sink.hold.set()
    h.room.publish_stage(1, spotlight="alice")
    await eventually_async(sink.held.is_set, timeout=5, what="the live write under way")
    # Released a moment after the close has asked for the end (which waits for it, not past it).
    threading.Timer(0.3, sink.release.set).start()
    await h.composer.aclose()
    # Once the held write is over, whatever it did: the end is what viewers read.
    await eventually_async(sink.done.is_set, timeout=10, what="the held write over")
    final = json.loads(sink.objects[key])
    assert final["state"] == "ended", final
    assert sink.headers[key][1] == "public, max-age=60"


async def test_reactions_json_keeps_the_rooms_recent_bursts_for_hls_viewers() -> None:
    sink = MemorySink()
    h = make(state_sink=sink, room_exists=_room_gone)
    key = f"s1/{names.BROADCAST_REACTIONS}"

    def feed() -> ReactionFeed | None:
        raw = sink.objects.get(key)
        return None if raw is None else parse_reaction_feed(raw)

    await h.composer.start()
    # Before any reaction, viewers read an empty feed rather than a missing object.
    await eventually_async(lambda: feed() == ReactionFeed(space_id="s1"), what="the empty feed")
    now = time.time()

    def burst(at: float, emoji: str, n: int) -> ReactionBurst:
        window = int(at / 0.5)
        return ReactionBurst(
            space_id="s1", first_window=window, last_window=window, window_seconds=0.5, counts={emoji: n}
        )

    old, recent, latest = burst(now - FEED_SECONDS - 5, "👏", 1), burst(now - 2, "🔥", 3), burst(now, "❤️", 2)
    for b in (old, recent, latest):
        h.room.emit(
            "data_received",
            rtc.DataPacket(data=b.to_json().encode(), kind=1, participant=None, topic=names.REACTIONS_TOPIC),
        )
    # Other topics, garbage on this one and a participant's own packets are not the room's reactions.
    speaker = FakeParticipant("sam", kind=STANDARD)
    h.room.emit(
        "data_received",
        rtc.DataPacket(
            data=latest.to_json().encode(), kind=1, participant=speaker, topic=names.REACTIONS_TOPIC
        ),  # type: ignore[arg-type]
    )
    h.room.emit(
        "data_received", rtc.DataPacket(data=b"{}", kind=1, participant=None, topic=names.REACTIONS_TOPIC)
    )
    h.room.emit(
        "data_received",
        rtc.DataPacket(data=latest.to_json().encode(), kind=1, participant=None, topic="other"),
    )

    await eventually_async(
        lambda: (f := feed()) is not None and f.bursts == (recent, latest), what="the feed"
    )
    assert sink.headers[key] == ("application/json", "public, max-age=0, s-maxage=1")
    # One write per second at most: the empty feed, then three bursts at once in one more write
    # (two if the first landed while the empty one was being written), never one write per burst.
    assert h.composer.reactions is not None and h.composer.reactions.written <= 3
    await h.composer.aclose()


async def test_a_dead_pacer_ends_the_job_instead_of_leaving_a_silent_broadcast() -> None:
    reasons: list[str] = []
    h = make(on_failure=reasons.append)
    await h.composer.start()

    def broken(*_: object) -> np.ndarray:
        raise ValueError("can't measure length of multiline text")  # what drawing a title raised

    # Drawing runs in the pacing task itself (the encoder's faults reach it through the feeder).
    h.composer._renderer.render = broken  # type: ignore[method-assign]  # noqa: SLF001
    try:
        await eventually_async(lambda: reasons, timeout=10, what="the job asked to end")
        assert "multiline" in reasons[0]
    finally:
        await h.composer.aclose()


class Clock:
    """time.monotonic, plus jumps the test makes (the pacer then skips the span, as after a stall)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def _watched(monkeypatch: pytest.MonkeyPatch) -> tuple[Harness, list[str], Clock]:
    """A composer whose watchdog looks every 10 ms on a clock the test moves, and the reasons it
    gave for ending its job."""
    monkeypatch.setattr("composer.worker.CHECK_EVERY_S", 0.01)
    reasons: list[str] = []
    clock = Clock()
    return make(on_failure=reasons.append, clock=clock), reasons, clock


async def _checks(n: int = 5) -> None:
    """Let the watchdog (checking every 10 ms in these tests) look a few times."""
    await asyncio.sleep(n * 0.01 + 0.05)


async def test_a_broadcast_that_publishes_nothing_for_the_stall_limit_ends_the_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h, reasons, clock = _watched(monkeypatch)
    await h.composer.start()
    try:
        limit = watchdog.stall_limit(h.broadcast.config.segment_seconds)
        assert limit == watchdog.MIN_STALL_S  # 1 s segments: 3 of them is under the floor
        clock.offset += limit - 4
        h.broadcast.playlists_written += 1  # progress: the stall counts from here
        await _checks()
        clock.offset += limit - 4  # past the limit since the start, not since the last segment
        await _checks()
        assert reasons == []
        clock.offset += 5
        await eventually_async(lambda: reasons, timeout=5, what="the job asked to end")
        assert reasons[0].startswith("no new segment in the live playlist for")
        assert f"limit {limit:g} s" in reasons[0]
        await _checks()
        assert len(reasons) == 1  # asked once
    finally:
        await h.composer.aclose()
    # A replacement continues the playlists: the stalled composer writes none after giving up.
    assert h.broadcast.held and h.broadcast.held_at_close is True and h.broadcast.closed is False


async def test_reconnecting_holds_the_playlists_and_reconnected_releases_them() -> None:
    h = make()
    await h.composer.start()
    try:
        h.room.emit("reconnecting")
        assert h.broadcast.held
        h.room.emit("reconnected")
        assert not h.broadcast.held
    finally:
        await h.composer.aclose()
    assert h.broadcast.held_at_close is False


async def test_reconnecting_past_the_fence_ends_the_job_and_never_writes_the_playlist_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SFU drops a silent participant after ~20 s and a replacement then continues the
    playlist: this composer ends before that and leaves the playlist to it."""
    h, reasons, clock = _watched(monkeypatch)
    await h.composer.start()
    try:
        h.room.emit("reconnecting")
        clock.offset += watchdog.RECONNECT_FENCE_S - 1
        h.broadcast.playlists_written += 1  # segments are still written while held
        await _checks()
        assert reasons == [] and h.broadcast.held
        clock.offset += 1.5
        h.broadcast.playlists_written += 1
        await eventually_async(lambda: reasons, timeout=5, what="the job asked to end")
        assert reasons[0].startswith("reconnecting for")
        h.room.emit("reconnected")  # too late: the job is ending
        assert h.broadcast.held
    finally:
        await h.composer.aclose()
    assert h.broadcast.held_at_close is True and h.broadcast.closed is False


async def test_the_end_of_the_space_during_a_short_reconnection_still_closes_the_playlist() -> None:
    h = make(room_exists=_room_gone)
    await h.composer.start()
    h.room.emit("reconnecting")
    await h.composer.aclose()
    assert h.broadcast.closed is True and h.broadcast.held_at_close is False


def test_the_watchdog_rules() -> None:
    dog = watchdog.Watchdog(stall_s=10.0, progress_at=100.0)
    assert dog.verdict(109.9) is None
    dog.published(0, 109.9)  # the same count is no progress
    assert dog.verdict(110.0) is not None
    dog.published(1, 110.0)
    assert dog.verdict(119.0) is None
    dog.connection_lost(112.0)
    dog.connection_lost(115.0)  # a second `reconnecting` does not restart the fence
    assert not dog.fenced(121.9) and dog.fenced(122.0)
    dog.connection_restored(123.0)
    assert not dog.fenced(200.0)
    # A reconnection is the fence's business, not a stall: the held playlists are not written.
    dog = watchdog.Watchdog(stall_s=10.0, progress_at=100.0)
    dog.connection_lost(105.0)
    assert dog.verdict(114.9) is None  # 14.9 s since the last playlist, 9.9 s reconnecting
    dog.connection_restored(114.9)
    assert dog.verdict(124.8) is None  # the stall counts from the return
    assert dog.verdict(124.9) is not None
    assert watchdog.stall_limit(1.0) == watchdog.MIN_STALL_S
    assert watchdog.stall_limit(4.0) == 12.0
    assert watchdog.RECONNECT_FENCE_S < 20.0  # the SFU's departure timeout
    dog = watchdog.Watchdog(stall_s=10.0, progress_at=100.0)
    dog.superseded = True
    assert dog.fenced(100.0) and dog.verdict(100.0) is not None


def test_a_camera_that_stopped_sending_gives_the_big_tile_back_to_the_card() -> None:
    picture = np.zeros((4, 4, 3), dtype=np.uint8)
    camera = _Camera(identity="alice", sid="cam-alice", frame=picture, frame_at=100.0)
    big = _big("alice")
    assert big_tile_picture(camera, big, 100.0 + CAMERA_STALE_S) is picture
    assert big_tile_picture(camera, big, 100.0 + CAMERA_STALE_S + 0.1) is None  # the card
    camera.frame_at = 103.0  # frames again
    assert big_tile_picture(camera, big, 103.5) is picture
    # Not the tile's track, or none yet: the card.
    assert big_tile_picture(camera, _big("bob"), 103.5) is None
    assert big_tile_picture(_Camera(identity="alice", sid="c2"), big, 103.5) is None
    assert big_tile_picture(camera, None, 103.5) is None


def test_a_still_screen_share_keeps_its_picture() -> None:
    picture = np.zeros((4, 4, 3), dtype=np.uint8)
    screen = _Camera(identity="hana", sid="s", source="screen_share", frame=picture, frame_at=100.0)
    assert big_tile_picture(screen, _big("hana", source="screen_share"), 160.0) is picture


def _big(identity: str, source: str = "camera") -> BigTile:
    return BigTile(card=card_for(identity, ""), camera=identity, source=source)


async def test_the_close_gets_what_is_left_of_the_shutdown_budget() -> None:
    """The framework kills the job at SHUTDOWN_TIMEOUT_S: a slow question to the SFU leaves the
    broadcast's close less time, so that its final playlist is written before the kill."""
    clock = Clock()

    async def slow_answer() -> bool:
        clock.offset += 15.0  # the SFU took 15 s to answer
        return False

    h = make(room_exists=slow_answer, clock=clock)
    await h.composer.start()
    await h.composer.aclose()
    budget = worker.SHUTDOWN_TIMEOUT_S - worker.SHUTDOWN_MARGIN_S - 15.0
    assert h.broadcast.close_timeout is not None
    assert budget - 1.0 < h.broadcast.close_timeout <= budget


async def test_a_metadata_change_before_the_handlers_are_on_is_not_missed() -> None:
    """A replacement composer reads the metadata, then opens the broadcast (S3 reads) before it
    listens: a promotion in between must still reach the subscriptions."""
    h = make(host="alice")  # read at construction: bob is not on stage
    h.room.join("alice", role="host")
    h.room.join("bob")
    _set_metadata(h, host="alice", speakers=("bob",))  # nobody listens yet: the event is lost
    await h.composer.start()
    try:
        assert _subscribed_mics(h) == {"mic-alice", "mic-bob"}
    finally:
        await h.composer.aclose()


async def test_a_job_that_gave_up_still_closes_the_playlist_when_the_space_ended() -> None:
    """No replacement comes for a deleted room, and none came yet for a job that just gave up (it
    is dispatched 20-30 s after the job left): the end is this job's to write."""
    h = make(room_exists=_room_gone, on_failure=lambda reason: None)
    await h.composer.start()
    h.composer._give_up("stalled, for the test")
    assert h.broadcast.held
    await h.composer.aclose()
    assert h.broadcast.closed is True and h.broadcast.held_at_close is False


async def test_a_composer_superseded_at_the_sink_ends_its_job_and_leaves_the_end_to_the_newer_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The conditional playlist write found a newer composer's segments: this job ends at once and,
    even when the room is then deleted, does not write the closing ENDLIST (the newer one does)."""
    monkeypatch.setattr("composer.worker.CHECK_EVERY_S", 0.01)
    reasons: list[str] = []
    h = make(room_exists=_room_gone, on_failure=reasons.append)
    await h.composer.start()
    try:
        await _checks()
        assert reasons == []
        h.broadcast.superseded = True
        h.broadcast.held = True  # what the publisher does when it sees the newer writer
        await eventually_async(lambda: reasons, timeout=5, what="the job asked to end")
        assert reasons[0].startswith("a newer composer writes the playlist")
    finally:
        await h.composer.aclose()
    assert h.broadcast.held_at_close is True


async def test_an_evicted_composer_closes_within_the_newcomers_grace() -> None:
    asked: list[float] = []

    async def room_still_there() -> bool:
        asked.append(0.0)
        return True

    h = make(room_exists=room_still_there)
    await h.composer.start()
    h.room.emit("disconnected", rtc.DisconnectReason.PARTICIPANT_REMOVED)
    await h.composer.aclose()
    assert h.broadcast.close_timeout is not None
    assert h.broadcast.close_timeout <= worker.EVICTED_CLOSE_S < worker.EVICT_GRACE_S
    # The room goes on after an eviction: asking whether it is gone would spend the grace.
    assert asked == []


async def test_a_microphone_or_camera_the_sfu_dropped_is_asked_for_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without an unpublish (that has its own event), a dropped or refused subscription is requested
    once more: otherwise that speaker stayed silent in the broadcast, or a card, until they
    published anew. What this composer dropped itself is not asked for again."""
    monkeypatch.setattr(subscriptions, "RESUBSCRIBE_DELAY_S", 0.05)
    h = make()
    await h.composer.start()
    h.room.join("alice", camera=True)
    h.room.join("bob", camera=True)
    try:
        h.room.publish_stage(1, spotlight="alice", video_spotlight="alice", video_on=["alice", "bob"])
        alice = h.room.remote_participants["alice"]
        mic, cam = alice.track_publications["mic-alice"], alice.track_publications["cam-alice"]
        assert mic.subscribed and cam.subscribed
        h.subscriptions.clear()
        mic.subscribed = False  # the SFU ended it
        h.room.emit("track_unsubscribed", object(), mic, alice)
        cam.subscribed = False
        h.room.emit("track_subscription_failed", alice, cam.sid, "no such track (injected)")
        await eventually_async(
            lambda: ("mic-alice", True) in h.subscriptions and ("cam-alice", True) in h.subscriptions,
            timeout=5,
            what="both asked for again",
        )
        # The old camera, dropped by the composer itself when the big tile moves, stays dropped.
        h.subscriptions.clear()
        h.room.publish_stage(2, spotlight="bob", video_spotlight="bob", video_on=["alice", "bob"])
        h.room.emit("track_unsubscribed", object(), cam, alice)
        await asyncio.sleep(0.2)
        assert ("cam-alice", True) not in h.subscriptions and cameras_subscribed(h) == {"cam-bob"}
    finally:
        await h.composer.aclose()


async def test_a_state_json_write_that_fails_is_written_again_without_a_metadata_change() -> None:
    """A page on a scheduled Space learns the start from state.json alone: a failed write must not
    wait for the next change of the room metadata, which may never come."""
    key = f"s1/{names.BROADCAST_STATE}"
    sink = MemorySink(fail=lambda name, attempt: name == key and attempt <= 2)
    h = make(state_sink=sink, room_exists=_room_gone)
    await h.composer.start()
    try:
        await eventually_async(
            lambda: sink.objects.get(key), timeout=10, what="state.json after two failed writes"
        )
        assert json.loads(sink.objects[key])["title"] == "Harness"
        assert sink.attempts[key] == 3
    finally:
        await h.composer.aclose()
