"""Deploying new worker code while Spaces are live: the old worker keeps its Space and takes no new one.

A real livekit-server and real workers; ECS is played by tests/support/fake_ecs.py (task metadata,
DescribeTasks, DescribeServices and task protection), which the worker reaches through boto3 as it
would in a task. Worker A runs "revision 1"; the service's primary deployment moves to revision 2;
A stands aside (its own /worker endpoint reports load 1.0) and new Spaces go to worker B, while A
keeps its Space and its scale-in protection. A rollback makes A current again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from livekit import api, rtc

from contract import names
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
