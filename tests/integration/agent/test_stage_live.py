"""The media agent against a real livekit-server: it is dispatched into a room, three espeak-ng
speakers take turns, and a listener watches the agent's `stage` attribute.

The tests share one room (module fixture) and run in file order: turns, RPC, camera, pin, restart.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from livekit import api, rtc

from contract import names
from contract.room_metadata import RoomMetadata
from tests.support.agent_process import AgentProcess, start_agent
from tests.support.eventually import eventually_async
from tests.support.fake_ecs import FakeEcs
from tests.support.synthetic_speakers import SyntheticSpeaker, espeak_clip, join_token, stage_in

# Poll budget for an agent to come up and act: generous, because on a loaded 2-core runner a worker
# takes tens of seconds to accept a job and import its models. How fast it is, is bench/agent's
# business; here it only has to happen.
AGENT_POLL_TIMEOUT_S = 120.0

# A turn must move the spotlight; how fast is measured in bench/agent (no deadline in a pass/fail test).
TURN_FOLLOW_TIMEOUT_S = 15.0
# The pause between turns: a clean handoff. (Shorter gaps are handled as a possible interruption,
# which the engine deliberately answers more slowly; that is the offline benchmark's business.)
TURN_GAP_S = 0.7

VOICES = {
    "alice": ("en-us+f3", "Hello everyone, thanks for joining the space tonight."),
    "bob": ("en-gb+m3", "I think the new release is the best one we have shipped so far."),
    "carol": ("en-gb-scotland+f4", "Can we talk about the roadmap for the next quarter please."),
}


@pytest.fixture(scope="module")
def ecs_agent() -> Iterator[FakeEcs]:
    fake = FakeEcs()
    yield fake
    fake.close()


@dataclass
class Space:
    room: str
    lkapi: api.LiveKitAPI
    endpoint: Any
    agent: AgentProcess
    speakers: dict[str, SyntheticSpeaker]
    clips: dict[str, np.ndarray]
    listener: rtc.Room
    ecs: FakeEcs

    def stage(self) -> dict[str, Any] | None:
        return stage_in(self.listener)

    async def set_pin(self, identity: str | None) -> None:
        metadata = RoomMetadata(space_id=self.room, video="speakers", pinned=identity, title="test").to_json()
        await self.lkapi.room.update_room_metadata(
            api.UpdateRoomMetadataRequest(room=self.room, metadata=metadata)
        )

    async def dispatch(self) -> None:
        await self.lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=names.AGENT_NAME, room=self.room)
        )

    async def wait_stage(self, check: Any, *, timeout: float = 10.0, what: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            stage = self.stage()
            return stage if stage is not None and check(stage) else None

        return await eventually_async(probe, timeout=timeout, what=what)

    async def wait_subscribed(self) -> None:
        """The agent hears every microphone (each speaker sees its track subscribed)."""
        await eventually_async(
            lambda: all(s.mic_subscribed.is_set() for s in self.speakers.values()),
            timeout=15,
            what="the agent subscribes to every microphone",
        )

    async def take_turn(self, identity: str) -> float:
        """Let `identity` speak; return how long until the listener saw them in the spotlight."""
        utterance = self.speakers[identity].say(self.clips[identity])
        started = await utterance.started
        # How fast is the benchmark's business (bench/agent/live_e2e.py); here it must follow the
        # turn at all, on a machine that may be loaded, before the next turn begins.
        await self.wait_stage(
            lambda s: s["spotlight"] == identity,
            timeout=TURN_FOLLOW_TIMEOUT_S,
            what=f"spotlight on {identity} during their turn",
        )
        seen = time.monotonic() - started
        print(f"turn {identity}: spotlight after {seen * 1000:.0f} ms")
        await utterance.done
        return seen


@pytest.fixture(scope="module")
async def space(livekit_server: Any, ecs_agent: FakeEcs) -> AsyncIterator[Space]:
    clips = {identity: espeak_clip(text, voice) for identity, (voice, text) in VOICES.items()}
    lkapi = api.LiveKitAPI(livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret)
    room = f"space-{uuid.uuid4().hex[:8]}"
    await lkapi.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=60))
    agent = start_agent(
        ws_url=livekit_server.ws_url,
        api_key=livekit_server.api_key,
        api_secret=livekit_server.api_secret,
        env=ecs_agent.protection_env(),
    )
    speakers: dict[str, SyntheticSpeaker] = {}
    listener = rtc.Room()
    space = Space(
        room=room,
        lkapi=lkapi,
        endpoint=livekit_server,
        agent=agent,
        speakers=speakers,
        clips=clips,
        listener=listener,
        ecs=ecs_agent,
    )
    try:
        await space.set_pin(None)
        for identity in VOICES:
            token = join_token(
                livekit_server.api_key,
                livekit_server.api_secret,
                room=room,
                identity=identity,
                role="speaker",
            )
            speakers[identity] = await SyntheticSpeaker.join(livekit_server.ws_url, token, identity)
        token = join_token(
            livekit_server.api_key,
            livekit_server.api_secret,
            room=room,
            identity="listener-1",
            role="listener",
        )
        await listener.connect(livekit_server.ws_url, token, rtc.RoomOptions(auto_subscribe=False))
        await space.dispatch()
        await space.wait_stage(
            lambda s: True, timeout=AGENT_POLL_TIMEOUT_S, what="the agent publishes a stage"
        )
        await space.wait_subscribed()
        yield space
    finally:
        await listener.disconnect()
        for speaker in speakers.values():
            await speaker.aclose()
        space.agent.kill()
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
        await lkapi.aclose()


async def test_initial_stage_is_empty_and_shaped_like_the_contract(space: Space) -> None:
    stage = space.stage()
    assert stage is not None
    assert set(stage) == {
        "seq",
        "spotlight",
        "video_spotlight",
        "video_source",
        "speaking",
        "video_on",
        "pinned",
        "t",
    }
    assert stage["video_source"] == "camera"
    assert stage["spotlight"] is None and stage["pinned"] is None and stage["video_on"] == []
    assert abs(stage["t"] - time.time()) < 60
    assert space.agent.active_jobs() == 1


async def test_worker_in_a_room_asks_ecs_for_scale_in_protection(space: Space) -> None:
    await eventually_async(
        lambda: space.ecs.protected() is True,
        timeout=15,
        what="scale-in protection requested while the worker holds a room",
    )
    assert space.ecs.protection_requests[-1] == {"ProtectionEnabled": True, "ExpiresInMinutes": 60}


async def test_stage_follows_the_turns(space: Space) -> None:
    seqs = []
    for identity in ["alice", "bob", "carol", "alice", "carol", "bob"]:
        await space.take_turn(identity)
        seqs.append(space.stage()["seq"])  # type: ignore[index]
        await asyncio.sleep(TURN_GAP_S)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_get_stage_rpc_answers_the_published_stage(space: Space) -> None:
    token = join_token(
        space.endpoint.api_key,
        space.endpoint.api_secret,
        room=space.room,
        identity="late-listener",
        role="listener",
    )
    late = rtc.Room()
    await late.connect(space.endpoint.ws_url, token, rtc.RoomOptions(auto_subscribe=False))
    try:
        agent = next(
            p
            for p in late.remote_participants.values()
            if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        )
        answer = json.loads(
            await late.local_participant.perform_rpc(
                destination_identity=agent.identity, method=names.STAGE_RPC_METHOD, payload=""
            )
        )
        attribute = json.loads(agent.attributes[names.STAGE_ATTRIBUTE])
        assert answer["seq"] >= attribute["seq"]
        if answer["seq"] == attribute["seq"]:
            assert answer == attribute
        assert set(answer) == set(attribute)
    finally:
        await late.disconnect()


async def test_camera_toggle_shows_in_the_stage(space: Space) -> None:
    bob = space.speakers["bob"]
    await bob.publish_camera()
    stage = await space.wait_stage(lambda s: s["video_on"] == ["bob"], what="bob's camera on")
    assert stage["video_spotlight"] == "bob"  # bob holds the spotlight and is the only camera

    bob.set_camera_muted(True)
    stage = await space.wait_stage(lambda s: s["video_on"] == [], what="bob's camera muted")
    assert stage["video_spotlight"] is None

    bob.set_camera_muted(False)
    await space.wait_stage(lambda s: s["video_on"] == ["bob"], what="bob's camera unmuted")
    await bob.unpublish_camera()
    await space.wait_stage(
        lambda s: s["video_on"] == [] and s["video_spotlight"] is None, what="bob's camera unpublished"
    )


async def test_host_pin_holds_the_spotlight(space: Space) -> None:
    await space.set_pin("carol")
    await space.wait_stage(
        lambda s: s["pinned"] == "carol" and s["spotlight"] == "carol", what="pin on carol"
    )
    # alice talks, the pin holds
    utterance = space.speakers["alice"].say(space.clips["alice"])
    await utterance.done
    stage = space.stage()
    assert stage is not None and stage["spotlight"] == "carol"
    assert any(s["identity"] == "alice" for s in stage["speaking"]) or stage["speaking"] == []

    await space.set_pin(None)
    await space.wait_stage(lambda s: s["pinned"] is None, what="unpinned")
    await asyncio.sleep(TURN_GAP_S)
    await space.take_turn("bob")


async def test_killed_agent_is_replaced_and_the_stage_continues(space: Space) -> None:
    await space.speakers["alice"].publish_camera()
    await space.set_pin("carol")
    before = await space.wait_stage(
        lambda s: s["pinned"] == "carol" and s["video_on"] == ["alice"],
        what="pin and camera before the crash",
    )
    old_agents = {
        p.identity
        for p in space.listener.remote_participants.values()
        if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
    }

    space.agent.kill()
    space.agent = start_agent(
        ws_url=space.endpoint.ws_url,
        api_key=space.endpoint.api_key,
        api_secret=space.endpoint.api_secret,
        name="agent-2",
    )
    await space.dispatch()

    def new_agent_stage() -> dict[str, Any] | None:
        for participant in space.listener.remote_participants.values():
            if participant.identity in old_agents:
                continue
            if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                continue
            raw = participant.attributes.get(names.STAGE_ATTRIBUTE)
            if raw:
                return dict(json.loads(raw))
        return None

    after = await eventually_async(
        new_agent_stage, timeout=AGENT_POLL_TIMEOUT_S, what="a new agent publishes a stage"
    )
    assert after["seq"] > before["seq"]
    assert after["pinned"] == "carol" and after["spotlight"] == "carol"
    assert after["video_on"] == ["alice"] and after["video_spotlight"] == "alice"
    # the old agent is gone from the room (evicted by its successor), so clients see one stage
    await eventually_async(
        lambda: not old_agents & set(space.listener.remote_participants),
        timeout=10,
        what="the killed agent leaves the room",
    )

    await space.set_pin(None)
    await space.wait_stage(lambda s: s["pinned"] is None, what="unpinned after restart")
    for identity in ["bob", "alice"]:
        await space.take_turn(identity)
        await asyncio.sleep(TURN_GAP_S)
