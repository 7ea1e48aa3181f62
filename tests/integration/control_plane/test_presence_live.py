"""HLS viewers in the published listener count, through the real app (uvicorn, DynamoDB Local) and
a livekit-server of this module's own whose webhooks reach that app: one real WebRTC listener is
in the room (counted exactly, by its join webhook), the room is then full (limit 1), and many HLS
viewers' heartbeats go through `POST /spaces/{id}/presence` as the web client sends them (sampled
viewers only, again every window). The room metadata the reconciler publishes, and the API, show
the WebRTC listener plus the last complete window's sampled viewers / sampling rate."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from livekit import api as lkapi
from livekit import rtc

from contract import names
from contract.room_metadata import parse_room_metadata
from functions.domain import presence
from functions.domain.pushed import rounded_listener_count
from tests.conftest import LiveKitEndpoint
from tests.support.api_server import ApiServer
from tests.support.dynamodb_local import DynamoEndpoint
from tests.support.eventually import eventually_async

from .conftest import app_on_dynamodb
from .livekit_helpers import live_space, post

VIEWERS = 100
# Short windows so the test sees several complete ones; the web client's cadence is the window.
WINDOW_S = 4
BEAT_EVERY_S = 1.5
COUNTED_WITHIN_S = 60.0


@dataclass
class Stack:
    livekit: LiveKitEndpoint
    api: ApiServer


@pytest.fixture
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    dynamodb: DynamoEndpoint = request.getfixturevalue("dynamodb")
    env = {
        names.ENV_PRESENCE_WINDOW_SECONDS: str(WINDOW_S),
        names.ENV_RECONCILE_INTERVAL_SECONDS: "1",
    }
    # Limit 1: the first listener joins the room, everyone after gets the broadcast.
    with app_on_dynamodb(
        dynamodb,
        name="livekit-presence",
        env=env,
        workdir=tmp_path,
        broadcast_dir=tmp_path / "broadcast",
        webrtc_listener_limit=1,
    ) as (endpoint, api):
        yield Stack(livekit=endpoint, api=api)


async def room_count(livekit: LiveKitEndpoint, room: str) -> int | None:
    async with lkapi.LiveKitAPI(livekit.http_url, livekit.api_key, livekit.api_secret) as lk:
        rooms = (await lk.room.list_rooms(lkapi.ListRoomsRequest(names=[room]))).rooms
    if not rooms or not rooms[0].metadata:
        return None
    return parse_room_metadata(rooms[0].metadata.encode()).listener_count


async def test_room_metadata_and_the_api_count_webrtc_exactly_plus_the_hls_estimate(stack: Stack) -> None:
    hls_api, livekit_server = stack.api, stack.livekit
    space = live_space(hls_api, "host")
    space_id, room = space["id"], space["room_name"]
    grant = post(hls_api, f"/spaces/{space_id}/token", "webrtc-listener").json()
    assert grant["mode"] == "webrtc", grant
    listener = rtc.Room()
    await listener.connect(grant["url"], grant["token"], rtc.RoomOptions(auto_subscribe=False))
    try:
        await watch_on_hls(hls_api, livekit_server, space_id, room)
    finally:
        await listener.disconnect()


def shown(api: ApiServer, space_id: str) -> int:
    count: int = post(api, f"/spaces/{space_id}", "host", method="GET").json()["listener_count"]
    return count


async def watch_on_hls(hls_api: ApiServer, livekit_server: LiveKitEndpoint, space_id: str, room: str) -> None:
    # The WebRTC listener is counted by its join webhook (exact) before the room counts as full.
    await eventually_async(
        lambda: asyncio.to_thread(lambda: shown(hls_api, space_id) == 1), timeout=30, what="WebRTC count"
    )
    viewers = [f"hls-viewer-{n}" for n in range(VIEWERS)]
    sampled: list[str] = []
    tags: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=hls_api.url, timeout=30) as client:
        for user in viewers:
            grant = (await client.post(f"/spaces/{space_id}/token", headers=hls_api.auth(user))).json()
            assert grant["mode"] == "hls", grant
            tags[user] = grant["presence_tag"]
            if grant["presence_interval_seconds"] is not None:
                assert grant["presence_interval_seconds"] == WINDOW_S
                sampled.append(user)
        assert sampled == [u for u in viewers if presence.sampled(u)]
        # Not sampled: refused, so the estimate is never inflated.
        other = next(u for u in viewers if u not in sampled)
        refused = await client.post(
            f"/spaces/{space_id}/presence", params={"presence_tag": tags[other]}, headers=hls_api.auth(other)
        )
        assert refused.status_code == 409 and refused.json()["rule"] == "presence_not_sampled"

        limit = asyncio.Semaphore(8)

        async def beat(user: str) -> None:
            async with limit:
                resp = await client.post(
                    f"/spaces/{space_id}/presence",
                    params={"presence_tag": tags[user]},
                    headers=hls_api.auth(user),
                )
                assert resp.status_code == 204, resp.text

        async def keep_watching() -> None:
            while True:
                await asyncio.gather(*(beat(u) for u in sampled))
                await asyncio.sleep(BEAT_EVERY_S)

        watching = asyncio.create_task(keep_watching())
        expected = 1 + presence.estimate(len(sampled))
        try:

            async def published() -> bool:
                return await room_count(livekit_server, room) == rounded_listener_count(expected)

            await eventually_async(published, timeout=COUNTED_WITHIN_S, interval=0.5, what="HLS in metadata")
            assert shown(hls_api, space_id) == expected
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)

    # The HLS viewers stopped watching: the next complete window counts nobody, and the count falls
    # back to the WebRTC listener, who is still in the room.
    async def emptied() -> bool:
        return await room_count(livekit_server, room) == 1

    await eventually_async(emptied, timeout=COUNTED_WITHIN_S, interval=0.5, what="HLS count back to 0")
