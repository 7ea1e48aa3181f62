"""A stage agent that dies is replaced without anyone asking: the SFU reports the agent's departure
in a webhook and the control plane dispatches a new one (livekit-server does not re-dispatch).

Real parts only: livekit-server, the API on the webhook port, agent workers as processes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from livekit import rtc

from contract import names
from tests.support.agent_process import AgentProcess, start_agent
from tests.support.api_server import ApiServer, api_server
from tests.support.eventually import eventually_async
from tests.support.synthetic_speakers import stage_in

# Poll budget for an agent to come up and act: generous, because on a loaded 2-core runner a worker
# takes tens of seconds to accept a job and import its models. How fast it is, is bench/agent's
# business; here it only has to happen.
AGENT_POLL_TIMEOUT_S = 120.0
# The SFU holds a vanished participant for its reconnect window before the departure webhook; then
# the webhook's pass, or the next scheduled one, dispatches (again, if the first dispatch found no
# worker registered yet).
REPLACED_WITHIN_S = 180.0


@pytest.fixture(scope="module")
def api(livekit_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with api_server(
        port=livekit_server.webhook_port,
        livekit=livekit_server,
        workdir=tmp_path_factory.mktemp("api-redispatch"),
        reuse_running=True,
        # The host acts through the API and never joins the room; re-dispatch may take minutes on
        # a busy machine, longer than the host grace period (docs/control-plane.md, "The host").
        env={names.ENV_HOST_GRACE_SECONDS: "3600"},
    ) as server:
        yield server


def _agents(room: rtc.Room) -> set[str]:
    return {
        p.identity
        for p in room.remote_participants.values()
        if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
    }


@pytest.fixture
def workers(livekit_server: Any) -> Iterator[list[AgentProcess]]:
    """Agent workers started by the test; the first is up before the Space starts (the dispatch that
    `start` creates goes to a worker registered at that moment)."""
    started: list[AgentProcess] = []

    def start(name: str) -> None:
        started.append(
            start_agent(
                ws_url=livekit_server.ws_url,
                api_key=livekit_server.api_key,
                api_secret=livekit_server.api_secret,
                name=name,
            )
        )

    start("agent-a")
    try:
        yield started
    finally:
        for worker in started:
            worker.kill()


@pytest.fixture
async def listener_in_live_space(
    api: ApiServer, livekit_server: Any, workers: list[AgentProcess]
) -> AsyncIterator[rtc.Room]:
    async with httpx.AsyncClient(base_url=api.url, timeout=20) as http:
        created = await http.post("/spaces", json={"title": "Agent crash"}, headers=api.auth("hana"))
        assert created.status_code == 201, created.text
        space_id = created.json()["id"]
        started = await http.post(f"/spaces/{space_id}/start", headers=api.auth("hana"))
        assert started.status_code == 200, started.text
        token = await http.post(f"/spaces/{space_id}/token", headers=api.auth("lena"))
        assert token.status_code == 200, token.text
    room = rtc.Room()
    await room.connect(livekit_server.ws_url, token.json()["token"], rtc.RoomOptions(auto_subscribe=False))
    try:
        yield room
    finally:
        await room.disconnect()
        async with httpx.AsyncClient(base_url=api.url, timeout=20) as http:
            await http.post(f"/spaces/{space_id}/end", headers=api.auth("hana"))


async def test_a_crashed_agent_is_replaced_and_the_stage_sequence_continues(
    livekit_server: Any, listener_in_live_space: rtc.Room, workers: list[AgentProcess]
) -> None:
    room = listener_in_live_space
    stage = await eventually_async(
        lambda: stage_in(room), timeout=AGENT_POLL_TIMEOUT_S, what="the dispatched agent's stage"
    )
    (crashed,) = _agents(room)
    workers[0].kill()
    workers.append(
        start_agent(
            ws_url=livekit_server.ws_url,
            api_key=livekit_server.api_key,
            api_secret=livekit_server.api_secret,
            name="agent-b",
        )
    )

    def replaced() -> dict[str, Any] | None:
        agents = _agents(room)
        new = stage_in(room)
        return new if agents and crashed not in agents and new is not None else None

    new_stage = await eventually_async(
        replaced, timeout=REPLACED_WITHIN_S, what="a new agent dispatched by the control plane"
    )
    assert new_stage["seq"] > stage["seq"]
