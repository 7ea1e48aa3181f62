"""Graceful drain: on SIGTERM a `start` worker keeps its rooms until they end, then exits.

This is what ECS relies on when it stops a task (it signals PID 1 only, as here).
"""

from __future__ import annotations

import signal
import uuid
from typing import Any

from livekit import api, rtc

from contract import names
from tests.support.agent_process import start_agent
from tests.support.eventually import eventually, eventually_async

# Poll budget for an agent to come up and act: generous, because on a loaded 2-core runner a worker
# takes tens of seconds to accept a job and import its models. How fast it is, is bench/agent's
# business; here it only has to happen.
AGENT_POLL_TIMEOUT_S = 120.0


async def agent_identities(lkapi: api.LiveKitAPI, room: str) -> set[str]:
    listing = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    return {p.identity for p in listing.participants if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT}


async def test_sigterm_drains_rooms_before_the_worker_exits(livekit_server: Any) -> None:
    lkapi = api.LiveKitAPI(livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret)
    room = f"space-drain-{uuid.uuid4().hex[:8]}"
    agent = start_agent(
        ws_url=livekit_server.ws_url,
        api_key=livekit_server.api_key,
        api_secret=livekit_server.api_secret,
        name="agent-drain",
    )
    try:
        await lkapi.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=60))
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=names.AGENT_NAME, room=room)
        )
        await eventually_async(
            lambda: agent_identities(lkapi, room), timeout=AGENT_POLL_TIMEOUT_S, what="agent joins"
        )
        assert agent.active_jobs() == 1

        agent.process.proc.send_signal(signal.SIGTERM)
        eventually(lambda: "draining worker" in agent.log, timeout=10, what="worker starts draining")
        # Draining, not gone: the worker still answers and its agent is still in the room.
        assert agent.running and agent.active_jobs() == 1
        assert await agent_identities(lkapi, room)

        await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
        eventually(
            lambda: not agent.running, timeout=AGENT_POLL_TIMEOUT_S, what="worker exits once its room ended"
        )
        assert agent.process.proc.returncode == 0
    finally:
        agent.kill()
        await lkapi.aclose()
