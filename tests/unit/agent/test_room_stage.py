"""RoomStage (the per-room agent) on a fake room: what it subscribes to, publishes and answers.

The fake stands in for livekit.rtc.Room (events, participants, attributes, RPC); the spotlight
engine is the real one, fed nothing but events here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc

from contract import names
from media_agent.worker import RoomStage
from tests.support.eventually import eventually_async

MIC, CAMERA = rtc.TrackSource.SOURCE_MICROPHONE, rtc.TrackSource.SOURCE_CAMERA


@dataclass
class FakePublication:
    sid: str
    source: int
    muted: bool = False
    subscribed: bool = False

    def set_subscribed(self, subscribed: bool) -> None:
        self.subscribed = subscribed


@dataclass
class FakeParticipant:
    identity: str
    kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
    attributes: dict[str, str] = field(default_factory=dict)
    track_publications: dict[str, FakePublication] = field(default_factory=dict)


@dataclass
class FakeLocalParticipant:
    identity: str = "agent-new"
    attributes: dict[str, str] = field(default_factory=dict)
    rpc: dict[str, Callable[..., Any]] = field(default_factory=dict)

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.attributes.update(attributes)

    def register_rpc_method(self, method: str, handler: Callable[..., Any]) -> None:
        self.rpc[method] = handler

    def unregister_rpc_method(self, method: str) -> None:
        del self.rpc[method]


@dataclass
class FakeRoom:
    name: str = "space-1"
    metadata: str = ""
    remote_participants: dict[str, FakeParticipant] = field(default_factory=dict)
    local_participant: FakeLocalParticipant = field(default_factory=FakeLocalParticipant)
    handlers: dict[str, list[Callable[..., Any]]] = field(default_factory=lambda: defaultdict(list))

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        self.handlers[event].append(handler)

    def off(self, event: str, handler: Callable[..., Any]) -> None:
        self.handlers[event].remove(handler)

    def emit(self, event: str, *args: Any) -> None:
        for handler in list(self.handlers[event]):
            handler(*args)

    def add(self, participant: FakeParticipant) -> FakeParticipant:
        self.remote_participants[participant.identity] = participant
        return participant

    def stage(self) -> dict[str, Any]:
        return dict(json.loads(self.local_participant.attributes[names.STAGE_ATTRIBUTE]))


def speaker(identity: str, *, camera: bool = False) -> FakeParticipant:
    publications = {f"{identity}-mic": FakePublication(f"{identity}-mic", MIC)}
    if camera:
        publications[f"{identity}-cam"] = FakePublication(f"{identity}-cam", CAMERA)
    return FakeParticipant(identity, track_publications=publications)


async def test_start_publishes_the_stage_from_room_state_and_subscribes_to_mics_only() -> None:
    room = FakeRoom(metadata=json.dumps({"pinned": "bob"}))
    alice, bob = room.add(speaker("alice", camera=True)), room.add(speaker("bob"))
    stage = RoomStage(room)  # type: ignore[arg-type]
    await stage.start()
    try:
        published = room.stage()
        assert published["pinned"] == "bob" and published["spotlight"] == "bob"
        assert published["video_on"] == ["alice"]
        assert alice.track_publications["alice-mic"].subscribed
        assert bob.track_publications["bob-mic"].subscribed
        assert not alice.track_publications["alice-cam"].subscribed  # video is never received
        answer = await room.local_participant.rpc[names.STAGE_RPC_METHOD](None)
        assert answer == room.local_participant.attributes[names.STAGE_ATTRIBUTE]
    finally:
        await stage.aclose()


async def test_camera_and_pin_events_reach_the_published_stage() -> None:
    room = FakeRoom()
    alice = room.add(speaker("alice"))
    stage = RoomStage(room)  # type: ignore[arg-type]
    await stage.start()
    try:
        first_seq = room.stage()["seq"]
        camera = FakePublication("alice-cam", CAMERA)
        alice.track_publications[camera.sid] = camera
        room.emit("track_published", camera, alice)
        await eventually_async(lambda: room.stage()["video_on"] == ["alice"], timeout=2, what="camera on")

        camera.muted = True
        room.emit("track_muted", alice, camera)
        await eventually_async(lambda: room.stage()["video_on"] == [], timeout=2, what="camera muted")

        room.emit("room_metadata_changed", "", json.dumps({"pinned": "alice"}))
        await eventually_async(lambda: room.stage()["pinned"] == "alice", timeout=2, what="pinned")
        assert room.stage()["seq"] > first_seq
    finally:
        await stage.aclose()


async def test_a_pinned_screen_share_reaches_the_stage_while_published_and_is_never_received() -> None:
    room = FakeRoom(metadata=json.dumps({"pinned": "host", "pinned_source": "screen_share"}))
    host = room.add(speaker("host", camera=True))
    room.add(speaker("alice"))
    stage = RoomStage(room)  # type: ignore[arg-type]
    await stage.start()
    try:
        # Pinned but not sharing: no screen on the tile.
        assert room.stage()["video_source"] == "camera"
        screen = FakePublication("host-screen", rtc.TrackSource.SOURCE_SCREENSHARE)
        host.track_publications[screen.sid] = screen
        room.emit("track_published", screen, host)

        def shown() -> tuple[object, object]:
            return room.stage()["video_spotlight"], room.stage()["video_source"]

        await eventually_async(lambda: shown() == ("host", "screen_share"), timeout=2, what="screen shown")
        assert not screen.subscribed  # the agent decides from publish state; it never decodes video
        room.emit("track_unpublished", screen, host)
        await eventually_async(lambda: shown() == ("host", "camera"), timeout=2, what="share stopped")
    finally:
        await stage.aclose()


async def test_a_predecessor_is_evicted_and_its_seq_and_spotlight_carry_over() -> None:
    room = FakeRoom()
    room.add(speaker("bob"))
    old_stage = {
        "seq": 9_000_000_000_000,
        "spotlight": "bob",
        "video_spotlight": None,
        "speaking": [],
        "video_on": [],
        "pinned": None,
        "t": 0.0,
    }
    room.add(
        FakeParticipant(
            "agent-old",
            kind=rtc.ParticipantKind.PARTICIPANT_KIND_AGENT,
            attributes={names.STAGE_ATTRIBUTE: json.dumps(old_stage)},
        )
    )
    evicted: list[str] = []

    async def evict(identity: str) -> None:
        evicted.append(identity)

    stage = RoomStage(room, evict=evict)  # type: ignore[arg-type]
    await stage.start()
    try:
        assert evicted == ["agent-old"]
        published = room.stage()
        assert published["seq"] == old_stage["seq"] + 1
        assert published["spotlight"] == "bob"  # the big tile does not go blank after a restart
    finally:
        await stage.aclose()


async def test_aclose_unregisters_every_handler_and_the_rpc() -> None:
    room = FakeRoom()
    stage = RoomStage(room)  # type: ignore[arg-type]
    await stage.start()
    assert any(room.handlers.values())
    await stage.aclose()
    assert not any(room.handlers.values())
    assert names.STAGE_RPC_METHOD not in room.local_participant.rpc


async def test_only_the_stage_members_the_metadata_names_are_heard() -> None:
    """A microphone the SFU still forwards from someone the control plane has moved off the stage
    (a grant not revoked yet, an old token) is not subscribed, and a change subscribes or drops."""
    room = FakeRoom(metadata=json.dumps({"host": "alice", "speakers": ["bob"]}))
    alice, bob, mallory = room.add(speaker("alice")), room.add(speaker("bob")), room.add(speaker("mallory"))
    stage = RoomStage(room)  # type: ignore[arg-type]
    await stage.start()
    try:
        assert alice.track_publications["alice-mic"].subscribed
        assert bob.track_publications["bob-mic"].subscribed
        assert not mallory.track_publications["mallory-mic"].subscribed
        room.emit("room_metadata_changed", "", json.dumps({"host": "alice", "speakers": ["mallory"]}))
        assert mallory.track_publications["mallory-mic"].subscribed
        assert not bob.track_publications["bob-mic"].subscribed
    finally:
        await stage.aclose()


async def test_a_metadata_change_before_start_listens_is_not_missed() -> None:
    room = FakeRoom(metadata=json.dumps({"host": "alice"}))
    bob = room.add(speaker("bob"))
    stage = RoomStage(room)  # type: ignore[arg-type]
    room.metadata = json.dumps({"host": "alice", "speakers": ["bob"]})  # promoted before start()
    await stage.start()
    try:
        assert bob.track_publications["bob-mic"].subscribed
    finally:
        await stage.aclose()


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def _stage_on_talk(room: FakeRoom) -> tuple[RoomStage, _Clock]:
    """A started RoomStage whose audio the test feeds itself (`_talk`), on a clock it moves."""
    clock = _Clock()
    stage = RoomStage(room, clock=clock)  # type: ignore[arg-type]
    await stage.start()
    assert stage._mics is not None
    stage._mics.open = lambda sid, track: None  # type: ignore[method-assign]  # frames come from _talk
    for participant in room.remote_participants.values():
        for publication in participant.track_publications.values():
            if publication.subscribed:
                room.emit("track_subscribed", _AudioTrack(), publication, participant)
    return stage, clock


class _AudioTrack:
    kind = rtc.TrackKind.KIND_AUDIO


async def _talk(stage: RoomStage, clock: _Clock, sid: str, seconds: float) -> dict[str, Any]:
    """`seconds` of a voiced test signal on microphone `sid`, then one second of silence."""
    rate, frame = 48_000, 960
    for n in range(round((seconds + 1.0) * rate / frame)):
        clock.t += frame / rate
        if n * frame < seconds * rate:
            t = np.arange(frame) / rate + n * frame / rate
            pcm = 6000 * np.sign(np.sin(2 * np.pi * 140 * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
            stage._on_frame(sid, pcm.astype(np.int16), rate)
        stage._engine.advance(clock.t)
    await stage._publish_now()
    return stage_state(stage)


def stage_state(stage: RoomStage) -> dict[str, Any]:
    return dict(json.loads(stage.payload or "{}"))


async def test_a_speaker_moved_off_the_stage_loses_the_spotlight_and_is_never_its_fallback() -> None:
    """Demoted (or blocked): the engine forgets them while they are still connected, so the stage
    never shows someone the composer and the web would not draw, and their camera goes with them."""
    metadata = {"host": "h", "speakers": ["alice", "bob"]}
    room = FakeRoom(metadata=json.dumps(metadata))
    room.add(speaker("h"))
    room.add(speaker("alice", camera=True))
    room.add(speaker("bob"))
    stage, clock = await _stage_on_talk(room)
    try:
        assert (await _talk(stage, clock, "alice-mic", 1.5))["spotlight"] == "alice"
        assert (await _talk(stage, clock, "bob-mic", 1.5))["spotlight"] == "bob"
        room.emit("room_metadata_changed", "", json.dumps(dict(metadata, speakers=["bob"])))
        state = await _talk(stage, clock, "bob-mic", 0.0)
        assert state["spotlight"] == "bob" and state["video_on"] == [] and state["video_spotlight"] is None
        bob = room.remote_participants.pop("bob")
        room.emit("participant_disconnected", bob)  # the holder leaves: no fallback to alice
        assert (await _talk(stage, clock, "bob-mic", 0.0))["spotlight"] is None

        room.emit("room_metadata_changed", "", json.dumps(dict(metadata, speakers=["alice"])))
        alice = room.remote_participants["alice"]
        assert alice.track_publications["alice-mic"].subscribed
        room.emit("track_subscribed", _AudioTrack(), alice.track_publications["alice-mic"], alice)
        state = await _talk(stage, clock, "alice-mic", 0.0)
        assert state["video_on"] == ["alice"] and state["video_spotlight"] == "alice"  # back with her camera
        assert (await _talk(stage, clock, "alice-mic", 1.5))["spotlight"] == "alice"
    finally:
        await stage.aclose()


async def test_a_camera_of_someone_not_on_the_stage_is_never_shown() -> None:
    """A blocked user back with an old token that still grants publishing: neither their camera,
    its unmute, nor their screen reaches the stage."""
    room = FakeRoom(metadata=json.dumps({"host": "h", "speakers": ["bob"]}))
    room.add(speaker("h"))
    stage = RoomStage(room)  # type: ignore[arg-type]
    await stage.start()
    try:
        mallory = room.add(speaker("mallory"))
        camera = FakePublication("mallory-cam", CAMERA, muted=True)
        screen = FakePublication("mallory-screen", rtc.TrackSource.SOURCE_SCREENSHARE)
        for publication in (camera, screen, mallory.track_publications["mallory-mic"]):
            mallory.track_publications[publication.sid] = publication
            room.emit("track_published", publication, mallory)
        camera.muted = False
        room.emit("track_unmuted", mallory, camera)
        room.emit(
            "room_metadata_changed", "", json.dumps({"host": "h", "speakers": ["bob"], "pinned": "mallory"})
        )
        await eventually_async(
            lambda: room.stage()["pinned"] == "mallory", timeout=2, what="the pin published"
        )
        state = room.stage()
        assert state["video_on"] == [] and state["video_spotlight"] is None
        assert not mallory.track_publications["mallory-mic"].subscribed
    finally:
        await stage.aclose()


async def test_a_reconnect_takes_the_rooms_metadata_again_and_publishes_the_stage_once_more() -> None:
    """A change made while the connection was away may not have been delivered as an event."""
    room = FakeRoom(metadata=json.dumps({"host": "h", "speakers": ["bob"]}))
    room.add(speaker("h"))
    bob = room.add(speaker("bob"))
    stage = RoomStage(room)  # type: ignore[arg-type]
    await stage.start()
    try:
        seq = room.stage()["seq"]
        room.metadata = json.dumps({"host": "h", "speakers": [], "pinned": "h"})  # no event came
        room.emit("reconnected")
        assert not bob.track_publications["bob-mic"].subscribed
        await eventually_async(lambda: room.stage()["seq"] > seq, timeout=2, what="the stage published again")
        assert room.stage()["pinned"] == "h"
    finally:
        await stage.aclose()


async def test_a_reconnect_publishes_the_stage_again_even_when_nothing_changed() -> None:
    """An attribute update sent while the connection was away may be lost: the same stage goes out
    once more after the reconnect, with a new seq."""
    room = FakeRoom(metadata=json.dumps({"host": "h", "speakers": []}))
    room.add(speaker("h"))
    stage = RoomStage(room)  # type: ignore[arg-type]
    await stage.start()
    try:
        before = room.stage()
        room.emit("reconnected")
        await eventually_async(lambda: room.stage()["seq"] > before["seq"], timeout=2, what="republished")
        assert {k: v for k, v in room.stage().items() if k not in ("seq", "t")} == {
            k: v for k, v in before.items() if k not in ("seq", "t")
        }
    finally:
        await stage.aclose()


async def test_an_agent_back_from_a_lost_connection_stands_down_for_the_one_dispatched_meanwhile() -> None:
    room = FakeRoom(metadata=json.dumps({"host": "h", "speakers": []}))
    room.add(speaker("h"))
    reasons: list[str] = []
    stage = RoomStage(room, stand_down=reasons.append)  # type: ignore[arg-type]
    await stage.start()
    try:
        composer = room.add(FakeParticipant("composer", kind=rtc.ParticipantKind.PARTICIPANT_KIND_AGENT))
        room.emit("reconnected")  # another agent, but not a stage agent (the composer)
        assert reasons == [] and composer.identity in room.remote_participants
        ours = room.stage()
        # An agent whose stage is older than ours (the one that was away, seen from the one that
        # stayed): this one stays, so two agents back from one outage never both stand down.
        older = FakeParticipant("agent-0", kind=rtc.ParticipantKind.PARTICIPANT_KIND_AGENT)
        older.attributes[names.STAGE_ATTRIBUTE] = json.dumps({**ours, "seq": ours["seq"] - 1})
        room.add(older)
        room.emit("reconnected")
        assert reasons == []
        successor = FakeParticipant("agent-2", kind=rtc.ParticipantKind.PARTICIPANT_KIND_AGENT)
        successor.attributes[names.STAGE_ATTRIBUTE] = json.dumps({**ours, "seq": ours["seq"] + 5000})
        room.add(successor)
        room.emit("reconnected")
        assert len(reasons) == 1 and "agent-2" in reasons[0]
    finally:
        await stage.aclose()


class FlakyEngine:
    """The real engine, whose `advance` raises for the passes `failing(n)` names."""

    def __init__(self, failing: Callable[[int], bool]) -> None:
        from media_agent.spotlight.config import EngineConfig
        from media_agent.spotlight.engine import SpotlightEngine

        self._engine = SpotlightEngine(EngineConfig())
        self._failing = failing
        self.passes = 0

    def advance(self, t: float) -> Any:
        self.passes += 1
        if self._failing(self.passes):
            raise RuntimeError(f"engine bug on pass {self.passes} (injected)")
        return self._engine.advance(t)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


async def test_a_failed_engine_pass_is_skipped_and_the_stage_goes_on() -> None:
    room = FakeRoom(metadata=json.dumps({"host": "h", "speakers": []}))
    room.add(speaker("h"))
    engine = FlakyEngine(lambda n: n == 3)
    reasons: list[str] = []
    stage = RoomStage(room, engine=engine, stand_down=reasons.append)  # type: ignore[arg-type]
    await stage.start()
    try:
        await eventually_async(lambda: engine.passes > 10, timeout=5, what="passes after the failed one")
        seq = room.stage()["seq"]
        room.metadata = json.dumps({"host": "h", "speakers": [], "pinned": "h"})
        room.emit("room_metadata_changed", "", room.metadata)
        await eventually_async(lambda: room.stage()["seq"] > seq, timeout=2, what="the stage still published")
        assert room.stage()["pinned"] == "h" and reasons == []
    finally:
        await stage.aclose()


async def test_an_engine_that_fails_every_pass_ends_the_job_for_a_fresh_agent() -> None:
    room = FakeRoom(metadata=json.dumps({"host": "h", "speakers": []}))
    room.add(speaker("h"))
    reasons: list[str] = []
    # Every pass after the first (start() takes one itself, where a failure fails the job at once).
    stage = RoomStage(room, engine=FlakyEngine(lambda n: n > 1), stand_down=reasons.append)  # type: ignore[arg-type]
    await stage.start()
    try:
        await eventually_async(lambda: bool(reasons), timeout=15, what="the agent gives up")
        assert "engine" in reasons[0]
    finally:
        await stage.aclose()


async def test_a_refused_stage_publish_is_tried_again_but_not_every_pass(monkeypatch: Any) -> None:
    from media_agent import worker

    monkeypatch.setattr(worker, "PUBLISH_RETRY_S", 0.3)
    room = FakeRoom(metadata=json.dumps({"host": "h", "speakers": []}))
    room.add(speaker("h"))
    stage = RoomStage(room)  # type: ignore[arg-type]
    await stage.start()
    try:
        seq = room.stage()["seq"]
        refusals = [RuntimeError("engine is closed (injected)")] * 3
        attempts: list[float] = []
        publish = room.local_participant.set_attributes

        async def flaky(attributes: dict[str, str]) -> None:
            attempts.append(time.monotonic())
            if refusals:
                raise refusals.pop()
            await publish(attributes)

        async def talking() -> None:  # a talking room: the engine changes something every pass
            while True:
                stage._dirty.set()  # noqa: SLF001
                await asyncio.sleep(0.04)

        churn = asyncio.ensure_future(talking())
        room.local_participant.set_attributes = flaky  # type: ignore[method-assign]
        room.metadata = json.dumps({"host": "h", "speakers": [], "pinned": "h"})
        room.emit("room_metadata_changed", "", room.metadata)
        await eventually_async(
            lambda: room.stage()["seq"] > seq, timeout=5, what="published after the refusals"
        )
        churn.cancel()
        assert room.stage()["pinned"] == "h" and refusals == []
        # Three refusals, then the publish: each retry waits PUBLISH_RETRY_S, whatever the engine
        # changed meanwhile (an attempt every 40 ms pass would flood the SDK and the log).
        gaps = [b - a for a, b in zip(attempts, attempts[1:4], strict=False)]
        assert len(gaps) == 3 and min(gaps) >= 0.3 * 0.9, gaps
    finally:
        await stage.aclose()


async def test_a_microphone_the_sfu_dropped_is_asked_for_again(monkeypatch: Any) -> None:
    from media_agent import subscriptions

    monkeypatch.setattr(subscriptions, "RESUBSCRIBE_DELAY_S", 0.05)
    room = FakeRoom(metadata=json.dumps({"host": "h", "speakers": ["bob"]}))
    room.add(speaker("h"))
    bob = room.add(speaker("bob"))
    stage = RoomStage(room)  # type: ignore[arg-type]
    await stage.start()
    try:
        mic = bob.track_publications["bob-mic"]
        assert mic.subscribed
        mic.subscribed = False  # the SFU ended the subscription; bob still publishes
        room.emit("track_unsubscribed", object(), mic, bob)
        await eventually_async(lambda: mic.subscribed, timeout=5, what="bob's microphone asked for again")
        mic.subscribed = False
        room.emit("track_subscription_failed", bob, mic.sid, "refused (injected)")
        await eventually_async(lambda: mic.subscribed, timeout=5, what="asked for again after a refusal")
        # Moved off the stage: dropped by the agent itself, never asked for again.
        room.metadata = json.dumps({"host": "h", "speakers": []})
        room.emit("room_metadata_changed", "", room.metadata)
        assert not mic.subscribed
        room.emit("track_unsubscribed", object(), mic, bob)
        await asyncio.sleep(0.2)
        assert not mic.subscribed
    finally:
        await stage.aclose()
