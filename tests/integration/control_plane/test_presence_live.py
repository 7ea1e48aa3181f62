"""HLS viewers in the published listener count, through the real app (uvicorn, SQLite) and a real
livekit-server: many HLS viewers' heartbeats go through `POST /spaces/{id}/presence` as the web
client sends them (sampled viewers only, again every window), and the room metadata the reconciler
publishes, and the API, count them: the last complete window's sampled viewers / sampling rate."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from livekit import api as lkapi

from contract import names
from contract.room_metadata import parse_room_metadata
from devstack.ports import free_port
from functions.domain import presence
from functions.domain.pushed import rounded_listener_count
from tests.conftest import LiveKitEndpoint
from tests.support.api_server import ApiServer, api_server
from tests.support.eventually import eventually_async

from .livekit_helpers import live_space, post

VIEWERS = 100
# Short windows so the test sees several complete ones; the web client's cadence is the window.
WINDOW_S = 4
BEAT_EVERY_S = 1.5
COUNTED_WITHIN_S = 60.0


@pytest.fixture
def hls_api(livekit_server: LiveKitEndpoint, tmp_path: Path) -> Iterator[ApiServer]:
    env = {
        names.ENV_PRESENCE_WINDOW_SECONDS: str(WINDOW_S),
        names.ENV_RECONCILE_INTERVAL_SECONDS: "1",
    }
    # Limit 0: every listener gets the broadcast, none joins the room.
    with api_server(
        port=free_port(),
        livekit=livekit_server,
        workdir=tmp_path,
        env=env,
        broadcast_dir=tmp_path / "broadcast",
        webrtc_listener_limit=0,
    ) as api:
        yield api


async def room_count(livekit: LiveKitEndpoint, room: str) -> int | None:
    async with lkapi.LiveKitAPI(livekit.http_url, livekit.api_key, livekit.api_secret) as lk:
        rooms = (await lk.room.list_rooms(lkapi.ListRoomsRequest(names=[room]))).rooms
    if not rooms or not rooms[0].metadata:
        return None
    return parse_room_metadata(rooms[0].metadata.encode()).listener_count


async def test_room_metadata_and_the_api_count_the_hls_viewers(
    hls_api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    space = live_space(hls_api, "host")
    space_id, room = space["id"], space["room_name"]
    viewers = [f"hls-viewer-{n}" for n in range(VIEWERS)]
    sampled: list[str] = []
    async with httpx.AsyncClient(base_url=hls_api.url, timeout=30) as client:
        for user in viewers:
            grant = (await client.post(f"/spaces/{space_id}/token", headers=hls_api.auth(user))).json()
            assert grant["mode"] == "hls", grant
            if grant["presence_interval_seconds"] is not None:
                assert grant["presence_interval_seconds"] == WINDOW_S
                sampled.append(user)
        assert sampled == [u for u in viewers if presence.sampled(u)]
        # Not sampled: refused, so the estimate is never inflated.
        other = next(u for u in viewers if u not in sampled)
        refused = await client.post(f"/spaces/{space_id}/presence", headers=hls_api.auth(other))
        assert refused.status_code == 409 and refused.json()["rule"] == "presence_not_sampled"

        limit = asyncio.Semaphore(8)

        async def beat(user: str) -> None:
            async with limit:
                resp = await client.post(f"/spaces/{space_id}/presence", headers=hls_api.auth(user))
                assert resp.status_code == 204, resp.text

        async def keep_watching() -> None:
            while True:
                await asyncio.gather(*(beat(u) for u in sampled))
                await asyncio.sleep(BEAT_EVERY_S)

        watching = asyncio.create_task(keep_watching())
        expected = presence.estimate(len(sampled))
        try:

            async def published() -> bool:
                return await room_count(livekit_server, room) == rounded_listener_count(expected)

            await eventually_async(published, timeout=COUNTED_WITHIN_S, interval=0.5, what="HLS in metadata")
            shown = post(hls_api, f"/spaces/{space_id}", "host", method="GET").json()
            assert shown["listener_count"] == expected
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)

    # Everyone stopped watching: the next complete window counts nobody, and the count says so.
    async def emptied() -> bool:
        return await room_count(livekit_server, room) == 0

    await eventually_async(emptied, timeout=COUNTED_WITHIN_S, interval=0.5, what="HLS count back to 0")
