"""The control plane's side of the broadcast tier on real parts: a livekit-server of this module's own
(its webhooks go to this module's API), DynamoDB Local as the store, real agent workers and real
participants.

- Starting a Space dispatches the stage agent and the composer (the SFU's own dispatch list).
- A composer that dies is replaced through the SFU's real departure webhook, by agent name, while
  the stage agent's dispatch is left alone.
- A WebRTC listener's token takes a seat that the real join webhook carries back and frees as it
  counts the listener.
- Listeners switch to HLS once the real webhooks have counted the room's WebRTC audience up to the
  limit; an HLS listener raises a hand and, once promoted, gets WebRTC; the playlist URL handed out
  is served by the same API over HTTP with the cache headers, and no request escapes the directory.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from livekit import api as lkapi
from livekit import rtc

from contract import names
from devstack.processes import ManagedProcess
from functions.domain import presence
from tests.conftest import LiveKitEndpoint
from tests.support.api_server import ApiServer
from tests.support.dynamodb_local import DynamoEndpoint
from tests.support.eventually import eventually_async
from tests.support.stand_in_agent import start_stand_in

from .conftest import app_on_dynamodb
from .livekit_helpers import live_space, post

LIMIT = 1
# The SFU holds a vanished participant for its reconnect window before the departure webhook.
REPLACED_WITHIN_S = 90.0


@dataclass
class Stack:
    livekit: LiveKitEndpoint
    api: ApiServer
    broadcast_dir: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    dynamodb: DynamoEndpoint = request.getfixturevalue("dynamodb")
    broadcast_dir = tmp_path_factory.mktemp("broadcast")
    with app_on_dynamodb(
        dynamodb, name="livekit-broadcast", broadcast_dir=broadcast_dir, webrtc_listener_limit=LIMIT
    ) as (endpoint, api):
        yield Stack(livekit=endpoint, api=api, broadcast_dir=broadcast_dir)


def server_api(endpoint: LiveKitEndpoint) -> lkapi.LiveKitAPI:
    return lkapi.LiveKitAPI(endpoint.http_url, endpoint.api_key, endpoint.api_secret)


async def dispatched(endpoint: LiveKitEndpoint, room: str) -> list[str]:
    client = server_api(endpoint)
    try:
        return sorted(d.agent_name for d in await client.agent_dispatch.list_dispatch(room_name=room))
    finally:
        await client.aclose()


async def agents_in(endpoint: LiveKitEndpoint, room: str) -> dict[str, str]:
    """identity -> lk.agent.name of the agent participants connected now."""
    client = server_api(endpoint)
    try:
        response = await client.room.list_participants(lkapi.ListParticipantsRequest(room=room))
    finally:
        await client.aclose()
    return {
        p.identity: p.attributes.get(names.AGENT_NAME_ATTRIBUTE, "")
        for p in response.participants
        if p.kind == lkapi.ParticipantInfo.Kind.AGENT
    }


async def test_starting_a_space_dispatches_the_stage_agent_and_the_composer(stack: Stack) -> None:
    space = live_space(stack.api, "host-d", title="Both agents")
    assert sorted(await dispatched(stack.livekit, space["room_name"])) == sorted(
        [names.AGENT_NAME, names.COMPOSER_AGENT_NAME]
    )
    assert space["broadcast"] == {
        "playlist_url": f"{stack.api.url}/broadcast/{space['id']}/{names.BROADCAST_PLAYLIST}",
        "live_playlist_url": f"{stack.api.url}/broadcast/{space['id']}/{names.BROADCAST_LIVE_PLAYLIST}",
        "timeline_url": f"{stack.api.url}/broadcast/{space['id']}/{names.BROADCAST_TIMELINE}",
    }


async def test_a_scheduled_space_names_where_its_start_will_show(stack: Stack) -> None:
    """Before the start: the state.json of its broadcast-to-be, not there yet (the page watching the
    link reads it, not the API: web/src/start_watch.ts); once live, no start signal."""
    created = post(stack.api, "/spaces", "host-s", json={"title": "Later", "video": "speakers"})
    assert created.status_code == 201, created.text
    space = created.json()
    url = f"{stack.api.url}/broadcast/{space['id']}/{names.BROADCAST_STATE}"
    assert space["state"] == "scheduled" and space["start_signal_url"] == url
    assert space["broadcast"] is None
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 404
    started = post(stack.api, f"/spaces/{space['id']}/start", "host-s")
    assert started.status_code == 200, started.text
    assert started.json()["start_signal_url"] is None


async def test_without_a_broadcast_only_the_stage_agent_is_dispatched(
    api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    # The package's API (on the session server) runs without broadcast settings.
    space = live_space(api, "host-n", title="Stage only")
    assert await dispatched(livekit_server, space["room_name"]) == [names.AGENT_NAME]
    assert space["broadcast"] is None


@pytest.fixture
def composers(stack: Stack) -> Iterator[list[ManagedProcess]]:
    started: list[ManagedProcess] = []
    try:
        started.append(start_stand_in(stack.livekit, agent_name=names.COMPOSER_AGENT_NAME))
        yield started
    finally:
        for worker in started:
            worker.kill()


async def test_a_dead_composer_is_replaced(stack: Stack, composers: list[ManagedProcess]) -> None:
    space = live_space(stack.api, "host-r", title="Composer crash")
    room = space["room_name"]

    async def first_composer() -> str:
        present = await agents_in(stack.livekit, room)
        joined = [i for i, name in present.items() if name == names.COMPOSER_AGENT_NAME]
        assert joined, present
        return joined[0]

    first = await eventually_async(first_composer, timeout=60, interval=0.5, what="composer joined")
    # A second worker takes the replacement dispatch; then the first one crashes.
    composers.append(start_stand_in(stack.livekit, agent_name=names.COMPOSER_AGENT_NAME))
    composers[0].kill()

    async def replaced() -> bool:
        present = await agents_in(stack.livekit, room)
        assert first not in present, present
        assert [n for n in present.values() if n == names.COMPOSER_AGENT_NAME], present
        return True

    await eventually_async(replaced, timeout=REPLACED_WITHIN_S, interval=0.5, what="composer replaced")
    # The composer was dispatched again. (No stage agent worker runs here, so the reconciler also
    # repeats the stage agent's dispatch every dispatch_grace: the repair of a dispatch no worker
    # took, not a reaction to the composer's crash; tests/unit/control_plane covers that rule.)
    after = await dispatched(stack.livekit, room)
    assert after.count(names.COMPOSER_AGENT_NAME) >= 2, after
    assert names.AGENT_NAME in after, after


@pytest.fixture
async def first_listener(stack: Stack) -> AsyncIterator[tuple[dict[str, Any], rtc.Room]]:
    space = live_space(stack.api, "host-h", title="Full room")
    grant = post(stack.api, f"/spaces/{space['id']}/token", "early")
    assert grant.status_code == 200 and grant.json()["mode"] == "webrtc", grant.text
    room = rtc.Room()
    await room.connect(grant.json()["url"], grant.json()["token"], rtc.RoomOptions(auto_subscribe=False))
    try:
        yield space, room
    finally:
        await room.disconnect()


async def test_listeners_beyond_the_limit_get_the_broadcast_and_a_promotion_brings_webrtc(
    stack: Stack, first_listener: tuple[dict[str, Any], rtc.Room]
) -> None:
    space, _ = first_listener
    space_id = space["id"]

    async def counted() -> bool:
        current = post(stack.api, f"/spaces/{space_id}", "x", method="GET").json()
        assert current["listener_count"] == LIMIT, current
        return True

    # The SFU's participant_joined webhook is what counts the WebRTC listener.
    await eventually_async(counted, timeout=30, interval=0.2, what="listener counted")
    late = post(stack.api, f"/spaces/{space_id}/token", "late")
    assert late.status_code == 200, late.text
    # The live window: what a live viewer plays (the whole playlist is the recording).
    playlist_url = f"{stack.api.url}/broadcast/{space_id}/{names.BROADCAST_LIVE_PLAYLIST}"
    answer = late.json()
    assert datetime.fromisoformat(answer.pop("issued_at")).tzinfo is not None
    # Where state.json would tell this viewer of a removal (domain/viewers.py).
    tag = answer.pop("viewer_tag")
    assert isinstance(tag, str) and len(tag) == 8, tag
    # What its heartbeats name: an HLS answer's own tag, not the viewer tag (domain/viewers.py).
    presence_tag = answer.pop("presence_tag")
    assert isinstance(presence_tag, str) and len(presence_tag) == 8 and presence_tag != tag, presence_tag
    assert answer == {
        "mode": "hls",
        "playlist_url": playlist_url,
        "identity": "late",
        "role": "listener",
        "expires_at": None,
        # A sampled HLS viewer sends presence heartbeats once per window (docs/control-plane.md,
        # "Listener count"); the stack keeps the default window.
        "presence_interval_seconds": presence.WINDOW_SECONDS if presence.sampled("late") else None,
    }
    # The host is on stage: always WebRTC.
    assert post(stack.api, f"/spaces/{space_id}/token", "host-h").json()["mode"] == "webrtc"

    # The broadcast URL handed out is served by the API from the composer's directory.
    folder = stack.broadcast_dir / space_id
    folder.mkdir()
    (folder / names.BROADCAST_LIVE_PLAYLIST).write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n1-0.ts\n"
    )
    (folder / "1-0.ts").write_bytes(b"\x47" * 188)
    served = httpx.get(playlist_url, headers={"Origin": "http://localhost:8000"}, timeout=10)
    assert served.status_code == 200 and served.text.startswith("#EXTM3U")
    assert served.headers["cache-control"] == "public, max-age=0, s-maxage=1"
    assert served.headers["access-control-allow-origin"] == "http://localhost:8000"
    segment = httpx.get(f"{stack.api.url}/broadcast/{space_id}/1-0.ts", timeout=10)
    assert segment.headers["cache-control"] == "public, max-age=31536000, immutable"

    # The HLS listener is not in the room, yet raises a hand; promoted, the next token is WebRTC.
    hand = post(stack.api, f"/spaces/{space_id}/hand", "late")
    assert hand.status_code == 200 and hand.json()["raised_hands"] == ["late"]
    promoted = post(
        stack.api, f"/spaces/{space_id}/roles/late", "host-h", method="PUT", json={"role": "speaker"}
    )
    assert promoted.status_code == 200, promoted.text
    again = post(stack.api, f"/spaces/{space_id}/token", "late").json()
    assert again["mode"] == "webrtc" and again["role"] == "speaker"
    room = rtc.Room()
    await room.connect(again["url"], again["token"], rtc.RoomOptions(auto_subscribe=False))
    try:
        assert room.local_participant.permissions.can_publish
    finally:
        await room.disconnect()


async def test_the_real_join_webhook_frees_the_seat_its_token_took(stack: Stack) -> None:
    import boto3

    from functions.store.dynamodb import seat_key

    space = live_space(stack.api, "host-s", title="Seats")
    grant = post(stack.api, f"/spaces/{space['id']}/token", "seated")
    assert grant.status_code == 200 and grant.json()["mode"] == "webrtc", grant.text
    claims = lkapi.TokenVerifier(names.DEV_API_KEY, names.DEV_API_SECRET).verify(grant.json()["token"])
    bucket = int(claims.attributes[names.SEAT_ATTRIBUTE])
    dynamo = boto3.client("dynamodb", endpoint_url=stack.api.env[names.ENV_DYNAMODB_ENDPOINT])

    def seats() -> int:
        item = dynamo.get_item(
            TableName=stack.api.env[names.ENV_TABLE_NAME],
            Key=seat_key(space["id"], bucket),
            ConsistentRead=True,
        ).get("Item", {})
        return int(item["n"]["N"]) if "n" in item else 0

    assert seats() == 1  # taken with the token, before anyone joined
    room = rtc.Room()
    await room.connect(grant.json()["url"], grant.json()["token"], rtc.RoomOptions(auto_subscribe=False))
    try:
        await eventually_async(
            lambda: seats() == 0 or None, timeout=30, interval=0.2, what="the seat freed by the join webhook"
        )
        # A listener's read of the Space is eventually consistent and shares the Space's items
        # within a process for a second (docs/control-plane.md, "Reads"): the count follows.
        await eventually_async(
            lambda: (
                post(stack.api, f"/spaces/{space['id']}", "x", method="GET").json()["listener_count"] == 1
                or None
            ),
            timeout=10,
            what="the joined listener counted",
        )
    finally:
        await room.disconnect()


def raw_get(port: int, target: str) -> bytes:
    """One HTTP request with the target exactly as written (clients normalise `..` before sending)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_the_served_directory_cannot_be_left_over_http(stack: Stack, tmp_path: Path) -> None:
    secret = b"not a broadcast"
    (stack.broadcast_dir.parent / "secret.ts").write_bytes(secret)
    space_id = "ab" * 16
    (stack.broadcast_dir / space_id).mkdir(exist_ok=True)
    port = int(stack.api.url.rsplit(":", 1)[1])
    for target in (
        f"/broadcast/{space_id}/../../secret.ts",
        f"/broadcast/{space_id}/..%2F..%2Fsecret.ts",
        "/broadcast/../secret.ts",
        "/broadcast/%2e%2e/secret.ts",
        f"/broadcast/{space_id}/",
        "/broadcast/",
    ):
        answer = await asyncio.to_thread(raw_get, port, target)
        status = answer.split(b"\r\n", 1)[0]
        assert status.startswith(b"HTTP/1.1 404") or status.startswith(b"HTTP/1.1 400"), (target, status)
        assert secret not in answer, target
