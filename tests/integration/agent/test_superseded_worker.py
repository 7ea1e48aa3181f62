"""Deploying new worker code while Spaces are live: the old worker keeps its Space and takes no new one.

A real livekit-server and real workers; ECS is played by tests/support/fake_ecs.py (task metadata,
DescribeTasks, DescribeServices and task protection), which the worker reaches through boto3 as it
would in a task. Worker A runs "revision 1"; the service's primary deployment moves to revision 2;
A stands aside (its own /worker endpoint reports load 1.0) and new Spaces go to worker B, while A
keeps its Space and its scale-in protection. A rollback makes A current again. Superseded for
SPACES_HANDOVER_AFTER_S, A hands its Space to B (media_agent/handover.py), so the deployment ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from livekit import api, rtc

from contract import names
from contract.stage import parse_stage
from media_agent import handover
from tests.support.agent_process import start_agent
from tests.support.eventually import eventually, eventually_async
from tests.support.fake_ecs import Deployment, FakeEcs

# Poll budget for an agent to come up and act (see test_drain.py): generous for a loaded runner.
AGENT_POLL_TIMEOUT_S = 120.0
# A dispatch goes to one of the available workers; several make a wrong choice show.
NEW_SPACES = 3


@pytest.fixture
def fake_ecs() -> Iterator[FakeEcs]:
    fake = FakeEcs(own_revision=1)
    yield fake
    fake.close()


async def agent_identities(lkapi: api.LiveKitAPI, room: str) -> set[str]:
    listing = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    return {p.identity for p in listing.participants if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT}


async def test_a_superseded_worker_keeps_its_space_and_takes_no_new_one(
    livekit_server: Any, fake_ecs: FakeEcs
) -> None:
    lkapi = api.LiveKitAPI(livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret)
    endpoint = {
        "ws_url": livekit_server.ws_url,
        "api_key": livekit_server.api_key,
        "api_secret": livekit_server.api_secret,
    }
    old = start_agent(**endpoint, name="agent-old", env=fake_ecs.task_env(check_s=1.0))
    new = None
    rooms: list[str] = []

    async def new_space() -> str:
        room = f"space-deploy-{uuid.uuid4().hex[:8]}"
        rooms.append(room)
        await lkapi.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=120))
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=names.AGENT_NAME, room=room)
        )
        await eventually_async(
            lambda: agent_identities(lkapi, room), timeout=AGENT_POLL_TIMEOUT_S, what=f"an agent joins {room}"
        )
        return room

    try:
        first = await new_space()
        assert old.active_jobs() == 1
        eventually(lambda: fake_ecs.protected() is True, timeout=30, what="the busy worker protects its task")
        assert float(old.worker_info().get("worker_load", 0)) < 0.7

        fake_ecs.primary = Deployment(2, desired=1, running=1)  # the new code is deployed and running
        eventually(
            lambda: float(old.worker_info().get("worker_load", 0)) == 1.0,
            timeout=30,
            what="the superseded worker reports itself full",
        )
        assert "superseded by" in old.log

        new = start_agent(**endpoint, name="agent-new")
        for _ in range(NEW_SPACES):
            await new_space()
        assert old.active_jobs() == 1, "the superseded worker took a new Space"
        assert new.active_jobs() == NEW_SPACES
        assert await agent_identities(lkapi, first), "the superseded worker left its Space"
        assert fake_ecs.protected() is True, "the superseded worker dropped its protection while busy"

        fake_ecs.primary = Deployment(1, desired=1, running=1)  # rolled back
        eventually(
            lambda: float(old.worker_info().get("worker_load", 1)) < 0.7,
            timeout=30,
            what="the rolled-back worker takes jobs again",
        )
        assert "taking jobs again" in old.log
    finally:
        old.kill()
        if new is not None:
            new.kill()
        for room in rooms:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
        await lkapi.aclose()


async def test_a_worker_superseded_long_enough_hands_its_space_to_the_new_deployment(
    livekit_server: Any, fake_ecs: FakeEcs
) -> None:
    """CloudFormation waits about three hours for the service to be stable; a Space may last longer.
    After SPACES_HANDOVER_AFTER_S (3 s here) the superseded worker asks for another agent in its
    room; the new worker's agent joins, evicts the old one, and carries the stage on; the old
    worker, idle, drops its protection (ECS may stop it: the deployment can finish)."""
    lkapi = api.LiveKitAPI(livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret)
    endpoint = {
        "ws_url": livekit_server.ws_url,
        "api_key": livekit_server.api_key,
        "api_secret": livekit_server.api_secret,
    }
    env = {**fake_ecs.task_env(check_s=1.0), handover.AFTER_S_ENV: "3"}
    old = start_agent(**endpoint, name="agent-old", env=env)
    new = None
    room = f"space-handover-{uuid.uuid4().hex[:8]}"
    try:
        await lkapi.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=120))
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=names.AGENT_NAME, room=room)
        )
        first = await eventually_async(
            lambda: agent_identities(lkapi, room),
            timeout=AGENT_POLL_TIMEOUT_S,
            what="the old worker's agent joins",
        )
        assert old.active_jobs() == 1
        eventually(lambda: fake_ecs.protected() is True, timeout=30, what="the busy worker protects its task")
        seq_before = await eventually_async(
            lambda: stage_seq(lkapi, room), timeout=AGENT_POLL_TIMEOUT_S, what="the old agent's stage"
        )

        new = start_agent(**endpoint, name="agent-new")
        fake_ecs.primary = Deployment(2, desired=1, running=1)
        eventually(lambda: "superseded by" in old.log, timeout=30, what="the old worker superseded")
        eventually(
            lambda: new.active_jobs() == 1,
            timeout=AGENT_POLL_TIMEOUT_S,
            what="the new worker takes the Space",
        )
        eventually(lambda: old.active_jobs() == 0, timeout=AGENT_POLL_TIMEOUT_S, what="the old job ends")
        assert "handing " + room in old.log

        async def one_new_agent() -> bool:
            agents = await agent_identities(lkapi, room)
            return len(agents) == 1 and not agents & first

        await eventually_async(
            one_new_agent, timeout=AGENT_POLL_TIMEOUT_S, what="only the new agent in the room"
        )
        # The stage goes on from where the old agent left it (its seq continues).
        await eventually_async(
            lambda: _above(lkapi, room, seq_before), timeout=AGENT_POLL_TIMEOUT_S, what="the stage continues"
        )
        eventually(
            lambda: fake_ecs.protected() is False, timeout=60, what="the idle old worker drops its protection"
        )
    finally:
        old.kill()
        if new is not None:
            new.kill()
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
        await lkapi.aclose()


async def stage_seq(lkapi: api.LiveKitAPI, room: str) -> int:
    """The seq of the stage the room's agent publishes (0 before it has published one)."""
    listing = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    seqs = [
        parsed.seq
        for p in listing.participants
        if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        and (parsed := parse_stage(p.attributes.get(names.STAGE_ATTRIBUTE))) is not None
    ]
    return max(seqs, default=0)


async def _above(lkapi: api.LiveKitAPI, room: str, seq: int) -> bool:
    return await stage_seq(lkapi, room) >= seq > 0
