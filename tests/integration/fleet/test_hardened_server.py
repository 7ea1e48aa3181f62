"""The SFU binary's hardening (scripts/livekit_hardening.py), against the server the tests build with
it (scripts/install-livekit.sh; the nodes run the same edits, scripts/build-livekit-archive.sh).

An unedited v1.13.5 fails all three tests: a listener's simulated speaker updates each leave a
goroutine sleeping in the server (and send everyone a speaker update), WHIP creates a room that
`room.auto_create: false` says only the control plane may create, and a speaker's token joins a
second time as `<identity>#<x>` with `publish=<x>` (how a blocked speaker came back)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta

import aiohttp
import pytest
from livekit import api as lkapi
from livekit.protocol import rtc as signal

from contract import livekit_config
from devstack import livekit
from devstack.livekit import LiveKitServer
from devstack.ports import free_port
from functions.domain.grants import permission_for
from functions.domain.model import Role, VideoPolicy
from functions.livekit_edge.tokens import mint

KEY = "hardeningkey"
SECRET = "hardening-secret-hardening-secret-0123"
ROOM = "space-hardening"
REQUESTS = 200
# Sent between two answered pings: a flood of requests on a session that is still starting made the
# server close the connection on a loaded CI machine.
BATCH = 20
# An hour's sleep per request on an unedited server: far more than the test takes.
SLEEP_S = 3600


@pytest.fixture
def server() -> Iterator[tuple[LiveKitServer, int]]:
    metrics_port = free_port()

    def configured() -> livekit_config.LiveKitConfig:
        config = livekit_config.local_config(
            api_key=KEY,
            api_secret=SECRET,
            port=free_port(),
            rtc_tcp_port=free_port(),
            rtc_udp_port=free_port(),
            webhook_url=None,
        )
        return dataclasses.replace(config, metrics_port=metrics_port)

    started = livekit.start_on_free_ports(configured)
    try:
        yield started, metrics_port
    finally:
        started.stop()


def _listener_token(room: str, role: Role = Role.LISTENER) -> str:
    return mint(
        api_key=KEY,
        api_secret=SECRET,
        room=room,
        identity="mallory",
        permission=permission_for(role, VideoPolicy.SPEAKERS),
        attributes={},
        ttl=timedelta(minutes=10),
    ).token


async def _goroutines(session: aiohttp.ClientSession, metrics_port: int) -> int:
    async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as response:
        text = await response.text()
    found = re.search(r"^go_goroutines (\S+)$", text, re.M)
    assert found, "the server exports go_goroutines"
    return int(float(found.group(1)))


async def test_a_listeners_simulate_requests_start_nothing(server: tuple[LiveKitServer, int]) -> None:
    sfu, metrics_port = server
    async with lkapi.LiveKitAPI(sfu.http_url, KEY, SECRET) as client:
        await client.room.create_room(lkapi.CreateRoomRequest(name=ROOM))
    url = f"{sfu.ws_url}/rtc?access_token={_listener_token(ROOM)}&protocol=16&sdk=js&version=2.0.0"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            joined = signal.SignalResponse()
            joined.ParseFromString(await ws.receive_bytes())
            assert joined.WhichOneof("message") == "join", joined
            await _round_trip(ws)  # the session is up and reading requests
            before = await _goroutines(session, metrics_port)
            simulate = signal.SignalRequest(simulate=signal.SimulateScenario(speaker_update=SLEEP_S))
            for _ in range(REQUESTS // BATCH):
                for _ in range(BATCH):
                    await ws.send_bytes(simulate.SerializeToString())
                await _round_trip(ws)
            after = await _goroutines(session, metrics_port)
    # An unedited server holds one goroutine per request here (REQUESTS more); the edited one none.
    assert after - before < REQUESTS // 5, (before, after)


async def _round_trip(ws: aiohttp.ClientWebSocketResponse) -> None:
    """A ping answered: the server handles one connection's requests in order, so every request sent
    before it has been handled. No speaker update may come back meanwhile (an unedited server sends
    one per simulated speaker update, to everyone in the room, the sender too)."""
    await ws.send_bytes(signal.SignalRequest(ping_req=signal.Ping(timestamp=1)).SerializeToString())
    while True:
        answer = signal.SignalResponse()
        answer.ParseFromString(await ws.receive_bytes())
        assert answer.WhichOneof("message") != "speakers_changed", answer
        if answer.WhichOneof("message") == "pong_resp":
            return


async def test_whip_creates_no_room(server: tuple[LiveKitServer, int]) -> None:
    sfu, _ = server
    offer = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{sfu.http_url}/whip/v1",
            data=offer,
            headers={
                "Authorization": f"Bearer {_listener_token('space-ended-a-moment-ago')}",
                "Content-Type": "application/sdp",
            },
        ) as response:
            assert response.status == 404, await response.text()
    async with lkapi.LiveKitAPI(sfu.http_url, KEY, SECRET) as client:
        rooms = await client.room.list_rooms(lkapi.ListRoomsRequest())
    assert [room.name for room in rooms.rooms] == []


async def test_a_token_joins_under_its_own_identity_only(server: tuple[LiveKitServer, int]) -> None:
    """`publish=<x>` made any token that may publish a second participant, `mallory#x`, whom the
    control plane never issued a token for and so could neither block nor remove. The same token
    without it joins as itself."""
    sfu, _ = server
    async with lkapi.LiveKitAPI(sfu.http_url, KEY, SECRET) as client:
        await client.room.create_room(lkapi.CreateRoomRequest(name=ROOM))
    token = _listener_token(ROOM, Role.SPEAKER)
    base = f"{sfu.ws_url}/rtc?access_token={token}&protocol=16&sdk=js&version=2.0.0"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with session.ws_connect(f"{base}&publish=x"):
                pass
        assert refused.value.status == 401
        async with session.ws_connect(base) as ws:
            joined = signal.SignalResponse()
            joined.ParseFromString(await ws.receive_bytes())
            assert joined.WhichOneof("message") == "join", joined
            assert joined.join.participant.identity == "mallory"
    async with lkapi.LiveKitAPI(sfu.http_url, KEY, SECRET) as client:
        people = await client.room.list_participants(lkapi.ListParticipantsRequest(room=ROOM))
    assert [p.identity for p in people.participants if "#" in p.identity] == []
