"""The ICE servers a real livekit-server, booted with the fleet's own livekit.yaml, hands a client.

livekit-server v1.13.5 advertises TURN/TLS as `turns:<turn.domain>:443` whatever `turn.tls_port` is,
and TURN/UDP as `turn:<node ip>:<udp_port>`. The fleet puts its TURN domain on a load balancer of its
own whose 443 forwards to `tls_port` with TLS terminated (tests/infra: the listener and the DNS
record); here, the join response must name that domain and 443, and behind them the node must answer
TURN in plain TCP on `tls_port` (what the load balancer forwards) and TURN/UDP on `udp_port`.

The config is `render_node_config`'s output, the text the CDK puts in the user data; only what
cannot exist here is replaced: the secrets, Redis (a local TLS redis-server), loopback addresses,
free ports instead of the fixed ones.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from livekit import api as lkapi
from livekit.protocol import rtc as signal

from devstack.livekit import find_binary
from devstack.ports import free_port
from devstack.processes import ManagedProcess, http_ok
from infrastructure.constructs import livekit_fleet

from . import redis_tls

API_KEY = "turn-test-key"
API_SECRET = "turn-test-secret-only-for-this-test-0123456789"
TURN_DOMAIN = "turn.spaces.test"
STUN_COOKIE = 0x2112A442


@dataclass
class Node:
    port: int
    turn_udp_port: int
    turn_tls_port: int
    config: dict[str, Any]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    redis = redis_tls.start(Path(tmp_path_factory.mktemp("redis")))
    config = json.loads(
        livekit_fleet.render_node_config(
            webhook_url="http://127.0.0.1:9/livekit/webhook", turn_domain=TURN_DOMAIN, redis_address="unused"
        )
    )
    port, udp, tls = free_port(), free_port(), free_port()
    config["keys"] = {API_KEY: API_SECRET}
    config["webhook"]["api_key"] = API_KEY
    config["redis"].update(address=redis.address, password=redis.password)
    config["redis"]["tls"]["ca_cert_file"] = str(redis.ca_file)
    config.update(port=port, bind_addresses=["127.0.0.1"])
    config["rtc"].update(
        tcp_port=free_port(), use_external_ip=False, node_ip="127.0.0.1", udp_port=free_port()
    )
    config["rtc"].pop("port_range_start")
    config["rtc"].pop("port_range_end")
    config["turn"].update(udp_port=udp, tls_port=tls, bind_addresses=["127.0.0.1"])
    fd, path = tempfile.mkstemp(prefix="livekit-turn-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        json.dump(config, f)
    process = ManagedProcess("livekit-turn", [find_binary(), "--config", path])
    try:
        process.wait_until(http_ok(f"http://127.0.0.1:{port}"), timeout=30, what="answering GET /")
        yield Node(port=port, turn_udp_port=udp, turn_tls_port=tls, config=config)
    finally:
        process.stop(grace=1.0)
        Path(path).unlink(missing_ok=True)
        redis.stop()


async def _join_response(node: Node, room: str, identity: str) -> signal.JoinResponse:
    """The signal protocol's first message to a joining client, read off the raw websocket."""
    http = f"http://127.0.0.1:{node.port}"
    async with lkapi.LiveKitAPI(http, API_KEY, API_SECRET) as client:
        await client.room.create_room(lkapi.CreateRoomRequest(name=room))
    token = (
        lkapi.AccessToken(API_KEY, API_SECRET)
        .with_identity(identity)
        .with_grants(lkapi.VideoGrants(room_join=True, room=room))
        .to_jwt()
    )
    url = f"ws://127.0.0.1:{node.port}/rtc?access_token={token}&protocol=16&auto_subscribe=1&sdk=python"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        while True:
            message = await asyncio.wait_for(ws.receive(), 20)
            assert message.type == aiohttp.WSMsgType.BINARY, message
            response = signal.SignalResponse.FromString(message.data)
            if response.WhichOneof("message") == "join":
                return response.join


def _stun_request(method: int, attributes: bytes = b"") -> tuple[bytes, bytes]:
    transaction = secrets.token_bytes(12)
    header = struct.pack("!HHI", method, len(attributes), STUN_COOKIE) + transaction
    return header + attributes, transaction


def _stun_attributes(message: bytes) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    at = 20
    while at + 4 <= len(message):
        kind, length = struct.unpack("!HH", message[at : at + 4])
        found[kind] = message[at + 4 : at + 4 + length]
        at += 4 + length + (-length % 4)
    return found


async def test_clients_are_told_turns_on_the_turn_domain_port_443_and_udp_turn_on_the_node(
    node: Node,
) -> None:
    join = await _join_response(node, "turn-room", "client-a")
    turn_servers = [s for s in join.ice_servers if any(u.startswith("turn") for u in s.urls)]
    assert len(turn_servers) == 1, join.ice_servers
    (server,) = turn_servers
    assert list(server.urls) == [
        f"turn:127.0.0.1:{node.turn_udp_port}?transport=udp",
        f"turns:{TURN_DOMAIN}:443?transport=tcp",
    ]
    # Short-lived credentials for this participant, checked by the node's TURN server.
    assert server.username and server.credential
    assert node.config["turn"]["external_tls"] is True  # the TURN load balancer terminates TLS


async def test_the_turn_port_behind_the_load_balancer_answers_turn_in_plain_tcp(node: Node) -> None:
    """What the TURN load balancer forwards to after TLS: an Allocate without credentials gets the
    TURN server's 401 challenge with LiveKit's realm."""
    requested_transport_udp = struct.pack("!HHI", 0x0019, 4, 17 << 24)
    request, transaction = _stun_request(0x0003, requested_transport_udp)  # Allocate
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", node.turn_tls_port), 10)
    try:
        writer.write(request)
        await writer.drain()
        header = await asyncio.wait_for(reader.readexactly(20), 10)
        kind, length, cookie = struct.unpack("!HHI", header[:8])
        body = await asyncio.wait_for(reader.readexactly(length), 10)
    finally:
        writer.close()
    assert (kind, cookie, header[8:20]) == (0x0113, STUN_COOKIE, transaction)  # Allocate error response
    attributes = _stun_attributes(header + body)
    error = attributes[0x0009]  # ERROR-CODE: class * 100 + number
    assert error[2] * 100 + error[3] == 401
    assert attributes[0x0014] == b"livekit"  # REALM


async def test_udp_turn_answers_on_the_advertised_port(node: Node) -> None:
    request, transaction = _stun_request(0x0001)  # Binding: TURN/UDP is the clients' STUN server too
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", node.turn_udp_port))
        await loop.sock_sendall(sock, request)
        answer = await asyncio.wait_for(loop.sock_recv(sock, 2048), 10)
    kind, _, cookie = struct.unpack("!HHI", answer[:8])
    assert (kind, cookie, answer[8:20]) == (0x0101, STUN_COOKIE, transaction)  # Binding success
    assert 0x0020 in _stun_attributes(answer)  # XOR-MAPPED-ADDRESS
