"""Reactions end to end on real parts: the app in-process on DynamoDB Local, a real livekit-server,
a real connected participant receiving the aggregates on the data topic."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from livekit import rtc

from contract import names
from contract.reactions import ReactionBurst, parse_reaction_burst
from functions.api.main import create_app
from functions.core.config import Settings
from functions.dev_token import dev_token
from functions.domain import reactions
from functions.livekit_edge.gateway import LiveKitGateway
from functions.reconcile.loop import patrol
from functions.reconcile.runner import Memory
from functions.reconcile.wiring import patrol_for
from functions.store import open_store
from functions.store.reactions import open_reactions
from functions.usecases.reactions import ReactionService
from tests.conftest import LiveKitEndpoint
from tests.support.dynamodb_local import DynamoEndpoint
from tests.support.eventually import eventually_async

from .conftest import fresh_dynamo_table

pytestmark = pytest.mark.integration

USERS = 200


@dataclass(frozen=True)
class Pair:
    """One user's two reactions in a row: the emoji, the two answers, seconds from the first request
    sent to the second answer received."""

    emoji: str
    codes: tuple[int, ...]
    span: float
    retry_after: tuple[str | None, ...]


@pytest.fixture
def settings(livekit_server: LiveKitEndpoint, dynamodb: DynamoEndpoint, tmp_path: Path) -> Settings:
    return Settings(
        SPACES_MODE="local",
        LIVEKIT_URL=livekit_server.ws_url,
        LIVEKIT_API_KEY=livekit_server.api_key,
        LIVEKIT_API_SECRET=livekit_server.api_secret,
        SPACES_STORE="dynamodb",
        SPACES_TABLE_NAME=fresh_dynamo_table(dynamodb),
        SPACES_DYNAMODB_ENDPOINT=dynamodb.url,
        SPACES_WEB_DIST=str(tmp_path / "no-web"),
    )


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as client:
        yield client


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(user, secret=names.DEV_JWT_SECRET)}"}


def flusher(settings: Settings) -> ReactionService:
    """What the reconciler calls for a trailing window: the same use case on the same stores."""
    return ReactionService(
        spaces=open_store(settings), store=open_reactions(settings), gateway=LiveKitGateway(settings)
    )


async def test_many_listeners_react_and_the_room_gets_one_message_per_window(
    app_client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await app_client.post("/spaces", json={"title": "r", "video": "off"}, headers=auth("host"))
    space_id = created.json()["id"]
    assert (await app_client.post(f"/spaces/{space_id}/start", headers=auth("host"))).status_code == 200

    # A listener's token: still no publish right of any kind (a data packet from one listener
    # would fan out to the whole room); the reactions go through the API instead.
    grant = (await app_client.post(f"/spaces/{space_id}/token", headers=auth("viewer"))).json()
    video = jwt.decode(grant["token"], options={"verify_signature": False})["video"]
    assert video.get("canPublish") is False and video.get("canPublishData") is False

    received: list[tuple[str | None, ReactionBurst | None]] = []
    room = rtc.Room()

    @room.on("data_received")
    def on_data(packet: rtc.DataPacket) -> None:
        received.append((packet.topic, parse_reaction_burst(packet.data)))

    await room.connect(grant["url"], grant["token"])
    try:
        # Everyone reacts twice at once. The limit (one per MIN_INTERVAL) refuses a user's second
        # reaction when the server read its clock for both less than MIN_INTERVAL apart; the test
        # knows that much for sure when the pair, from the first request sent to the second answer
        # received, took less (the app runs in this process, on the same clock).
        async def react(user: str, emoji: str) -> Pair:
            answers = []
            started = time.time()
            for _ in range(2):
                answers.append(
                    await app_client.post(
                        f"/spaces/{space_id}/reactions", json={"emoji": emoji}, headers=auth(user)
                    )
                )
            return Pair(
                emoji=emoji,
                codes=tuple(r.status_code for r in answers),
                span=time.time() - started,
                retry_after=tuple(r.headers.get("Retry-After") for r in answers),
            )

        results = list(
            await asyncio.gather(
                *(react(f"l{i}", names.REACTION_EMOJI[i % len(names.REACTION_EMOJI)]) for i in range(USERS))
            )
        )

        # A refusal the test can rely on, whatever the machine's load: one user's two reactions in a
        # row, tried again with another user until a pair takes less than MIN_INTERVAL.
        probes = itertools.count()

        async def quick_pair() -> Pair | None:
            pair = await react(f"probe-{next(probes)}", "🔥")
            results.append(pair)
            return pair if pair.span < reactions.MIN_INTERVAL else None

        probe = await eventually_async(quick_pair, timeout=60, what="two reactions within MIN_INTERVAL")
        assert probe.codes == (202, 429), probe

        for pair in results:
            assert pair.codes[0] == 202, pair  # a user's first reaction is never limited
            assert pair.codes[1] in (202, 429), pair
            if pair.span < reactions.MIN_INTERVAL:
                assert pair.codes[1] == 429, pair
            if pair.codes[1] == 429:
                assert int(pair.retry_after[1] or "0") >= 1, pair
        accepted = sum(pair.codes.count(202) for pair in results)

        # The trailing windows: flushed as the reconciler would, until every reaction arrived.
        reconciler = flusher(settings)

        async def all_counted() -> bool:
            await reconciler.flush(space_id)
            return sum(b.total for _, b in received if b is not None) >= accepted

        await eventually_async(
            all_counted, timeout=60, interval=0.5, what="every accepted reaction in the received aggregates"
        )
    finally:
        await room.disconnect()

    assert all(topic == names.REACTIONS_TOPIC for topic, _ in received)
    bursts = [b for _, b in received if b is not None]
    assert len(bursts) == len(received)
    windows = [w for b in bursts for w in range(b.first_window, b.last_window + 1)]
    assert len(windows) == len(set(windows)), "a window was published twice"
    assert sum(b.total for b in bursts) == accepted
    by_emoji: dict[str, int] = {}
    for b in bursts:
        for e, n in b.counts.items():
            by_emoji[e] = by_emoji.get(e, 0) + n
    expected: dict[str, int] = {}
    for pair in results:
        expected[pair.emoji] = expected.get(pair.emoji, 0) + pair.codes.count(202)
    assert by_emoji == expected


async def test_a_lone_reaction_reaches_the_room_through_the_patrol_alone(
    app_client: httpx.AsyncClient, settings: Settings
) -> None:
    """No later reaction publishes its window and no sweep runs: the patrol's trailing flush (what
    the cloud's reconciler runs every window) sends it."""
    created = await app_client.post("/spaces", json={"title": "r", "video": "off"}, headers=auth("host"))
    space_id = created.json()["id"]
    assert (await app_client.post(f"/spaces/{space_id}/start", headers=auth("host"))).status_code == 200
    grant = (await app_client.post(f"/spaces/{space_id}/token", headers=auth("viewer"))).json()
    received: list[ReactionBurst | None] = []
    room = rtc.Room()

    @room.on("data_received")
    def on_data(packet: rtc.DataPacket) -> None:
        received.append(parse_reaction_burst(packet.data))

    await room.connect(grant["url"], grant["token"])
    reconciler, trailing = patrol_for(settings, memory=Memory())
    task = asyncio.create_task(
        patrol(reconciler, trailing, sweep_every=3600, budget_per_space=5, sweep_first=False)
    )
    try:
        r = await app_client.post(f"/spaces/{space_id}/reactions", json={"emoji": "🔥"}, headers=auth("lone"))
        assert r.status_code == 202, r.text

        async def arrived() -> bool:
            return any(b is not None and b.counts == {"🔥": 1} for b in received)

        await eventually_async(arrived, timeout=30, interval=0.25, what="the lone reaction in the room")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await room.disconnect()
    assert [b.space_id for b in received if b is not None] == [space_id]
