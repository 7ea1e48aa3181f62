"""The host against a real livekit-server: handover changes what the SFU lets both people do, and a
Space whose host is gone longer than the grace period ends (both stores for the grace period).

The grace period is measured on the reconciler's clock; the tests move that clock forward instead
of sleeping through the grace period, so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from livekit import api as lkapi
from livekit import rtc

from contract import names
from functions.api import deps
from functions.api.main import create_app
from functions.core.config import Settings
from functions.domain.model import SpaceState
from functions.livekit_edge.gateway import LiveKitGateway
from functions.reconcile.diff import Timing
from functions.reconcile.runner import Memory, Reconciler
from functions.reconcile.wiring import reactions_store_for, store_for
from functions.usecases.context import Context
from tests.conftest import LiveKitEndpoint
from tests.support.api_server import ApiServer
from tests.support.eventually import eventually_async

from .livekit_helpers import connected, join, post
from .livekit_helpers import live_space as live_space_via_api
from .test_reconciler import _signed, connect, live_space, settings  # noqa: F401 - `settings` is a fixture

# TrackSource in the SFU's permission lists.
CAMERA, MICROPHONE, SCREEN_SHARE = 1, 2, 3  # livekit TrackSource
GRACE = 30.0


class Clock:
    """The real time plus what a test has skipped forward."""

    def __init__(self) -> None:
        self.skipped = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.skipped


def host_context(settings: Settings, clock: Clock) -> Context:  # noqa: F811 - the fixture's value
    store = store_for(settings)
    gateway = LiveKitGateway(settings)
    reconciler = Reconciler(
        store=store,
        gateway=gateway,
        agents=(names.AGENT_NAME,),
        memory=Memory(),
        timing=Timing(host_grace=GRACE),
        clock=clock,
    )
    return Context(
        store=store,
        gateway=gateway,
        reconciler=reconciler,
        settings=settings,
        rate_limits=reactions_store_for(settings),
        clock=clock,
    )


@pytest.fixture
async def people() -> AsyncIterator[list[rtc.Room]]:
    opened: list[rtc.Room] = []
    yield opened
    for room in opened:
        await room.disconnect()


async def sfu_permission(livekit: LiveKitEndpoint, room: str, identity: str) -> lkapi.ParticipantInfo:
    async with lkapi.LiveKitAPI(livekit.http_url, livekit.api_key, livekit.api_secret) as client:
        return await client.room.get_participant(lkapi.RoomParticipantIdentity(room=room, identity=identity))


async def test_handover_changes_the_sfu_permissions_of_both_people(
    api: ApiServer, livekit_server: LiveKitEndpoint, people: list[rtc.Room]
) -> None:
    # Video policy "host": only the host may publish a camera, so the grants differ by role.
    space = live_space_via_api(api, "ho-ann", video="host")
    sid, room = space["id"], space["room_name"]
    made = post(api, f"/spaces/{sid}/roles/ho-cal", "ho-ann", method="PUT", json={"role": "cohost"})
    assert made.status_code == 200, made.text
    ann, cal = await join(api, sid, "ho-ann"), await join(api, sid, "ho-cal")
    people += [ann, cal]

    # The room outlives its last person for the host's whole grace period: a host alone in it (the
    # audience on HLS) who drops gets the grace period, not the SFU's default departure timeout.
    grace = float(api.env.get(names.ENV_HOST_GRACE_SECONDS, "120"))
    async with lkapi.LiveKitAPI(
        livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
    ) as c:
        (sfu_room,) = (await c.room.list_rooms(lkapi.ListRoomsRequest(names=[room]))).rooms
    assert sfu_room.departure_timeout >= grace + 60

    async def grants(identity: str) -> tuple[str, set[int]]:
        info = await sfu_permission(livekit_server, room, identity)
        return info.attributes.get(names.ROLE_ATTRIBUTE, ""), set(info.permission.can_publish_sources)

    # Both moderators may share a screen (docs/screen-share.md); only the host has a camera.
    assert await grants("ho-ann") == ("host", {CAMERA, MICROPHONE, SCREEN_SHARE})
    assert await grants("ho-cal") == ("cohost", {MICROPHONE, SCREEN_SHARE})

    handed = post(api, f"/spaces/{sid}/host", "ho-ann", json={"user_id": "ho-cal"})
    assert handed.status_code in (200, 202), handed.text
    assert handed.json()["host"] == "ho-cal" and handed.json()["cohosts"] == ["ho-ann"]

    async def swapped() -> bool:
        return await grants("ho-cal") == ("host", {CAMERA, MICROPHONE, SCREEN_SHARE}) and await grants(
            "ho-ann"
        ) == ("cohost", {MICROPHONE, SCREEN_SHARE})

    await eventually_async(swapped, timeout=30, what="the new host and the old (co-host) at the SFU")
    # Each person's own client is told too (same connection, no rejoin).
    await eventually_async(
        lambda: (
            set(cal.local_participant.permissions.can_publish_sources) == {CAMERA, MICROPHONE, SCREEN_SHARE}
            and cal.local_participant.attributes.get(names.ROLE_ATTRIBUTE) == "host"
        ),
        timeout=30,
        what="the new host's client holding the host's grants",
    )
    # The old host can no longer act as the host; the new one can.
    assert post(api, f"/spaces/{sid}/host", "ho-ann", json={"user_id": "ho-cal"}).status_code == 403
    refused = post(api, f"/spaces/{sid}/host", "ho-cal", json={"user_id": "ho-nobody"})
    assert refused.status_code == 409 and refused.json()["rule"] == "not_a_cohost"
    assert {"ho-ann", "ho-cal"} <= await connected(livekit_server, room)


async def test_a_host_gone_longer_than_the_grace_period_ends_the_space(
    settings: Settings,  # noqa: F811 - the fixture
    livekit_server: LiveKitEndpoint,
    people: list[rtc.Room],
) -> None:
    clock = Clock()
    ctx = host_context(settings, clock)
    space_id = await live_space(ctx, host="gh-ann")
    host = await connect(ctx, space_id, "gh-ann")
    listener = await connect(ctx, space_id, "gh-lou")
    people.append(listener)
    await ctx.reconciler.reconcile(space_id, budget=10)
    assert ctx.store.require(space_id).host_away_since is None

    await host.disconnect()
    room = f"space-{space_id}"

    async def host_gone_from_the_sfu() -> bool:
        return "gh-ann" not in await connected(livekit_server, room)

    await eventually_async(host_gone_from_the_sfu, timeout=30, what="the host's departure at the SFU")
    # The SFU's participant_left webhook, delivered three times: recorded once, at the first.
    event = lkapi.WebhookEvent(
        event="participant_left",
        id=f"left-{space_id}",
        room=lkapi.Room(name=room),
        participant=lkapi.ParticipantInfo(identity="gh-ann", sid="PA_gh", attributes={"role": "host"}),
    )
    app = create_app(settings)
    app.dependency_overrides[deps.get_context] = lambda: ctx
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        body, headers = _signed(event, livekit_server)
        first = await http.post("/livekit/webhook", content=body, headers=headers)
        assert first.status_code == 200, first.text
        left_at = ctx.store.require(space_id).host_away_since
        assert left_at is not None
        for _ in range(2):
            clock.skipped += timedelta(seconds=5)
            again = await http.post("/livekit/webhook", content=body, headers=headers)
            assert again.status_code == 200 and "duplicate" in again.text
        assert ctx.store.require(space_id).host_away_since == left_at

    # Within the grace period a pass leaves the Space live; after it, a pass ends it.
    await ctx.reconciler.reconcile(space_id, budget=10)
    assert ctx.store.require(space_id).state is SpaceState.LIVE
    clock.skipped += timedelta(seconds=GRACE)
    await ctx.reconciler.reconcile(space_id, budget=10)
    ended = ctx.store.require(space_id)
    assert ended.state is SpaceState.ENDED and ended.ended_at is not None

    async def room_deleted() -> bool:
        async with lkapi.LiveKitAPI(
            livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
        ) as client:
            rooms = await client.room.list_rooms(lkapi.ListRoomsRequest(names=[room]))
            return not rooms.rooms

    await eventually_async(room_deleted, timeout=30, what="the ended Space's room deleted")
    await eventually_async(
        lambda: listener.connection_state == rtc.ConnectionState.CONN_DISCONNECTED,
        timeout=30,
        what="the audience disconnected",
    )


async def test_a_host_back_within_the_grace_period_keeps_the_space_live_even_without_webhooks(
    settings: Settings,  # noqa: F811 - the fixture
    livekit_server: LiveKitEndpoint,
    people: list[rtc.Room],
) -> None:
    clock = Clock()
    ctx = host_context(settings, clock)
    space_id = await live_space(ctx, host="gb-ann")
    room = f"space-{space_id}"
    host = await connect(ctx, space_id, "gb-ann")
    await host.disconnect()

    async def host_gone_from_the_sfu() -> bool:
        return "gb-ann" not in await connected(livekit_server, room)

    await eventually_async(host_gone_from_the_sfu, timeout=30, what="the host's departure at the SFU")
    # No webhook reaches this control plane: the reconciler sees the room without its host (once
    # the start's join window is over).
    clock.skipped += timedelta(seconds=Timing().host_join_window)
    await ctx.reconciler.reconcile(space_id, budget=10)
    assert ctx.store.require(space_id).host_away_since is not None
    clock.skipped += timedelta(seconds=GRACE / 2)

    people.append(await connect(ctx, space_id, "gb-ann"))
    await ctx.reconciler.reconcile(space_id, budget=10)
    assert ctx.store.require(space_id).host_away_since is None
    # Long after the first departure's grace period: the host is here, the Space goes on.
    clock.skipped += timedelta(seconds=10 * GRACE)
    await ctx.reconciler.reconcile(space_id, budget=10)
    space = ctx.store.require(space_id)
    assert space.state is SpaceState.LIVE and space.host_away_since is None
    assert "gb-ann" in await connected(livekit_server, room)
