"""The listener list's entries expire unless the reconciler sees their owner connected, against a
real livekit-server on both stores: a connected listener stays listed past their entry's first
expiry, one whose leave never arrived (here: who took a token and never connected) drops off.

The reconciler's and the API's clock are moved forward instead of sleeping through the expiry."""

from __future__ import annotations

from datetime import timedelta

from livekit import rtc

from functions.core.config import Settings
from functions.domain.audience import AUDIENCE_RENEW_SECONDS, WEBRTC_ENTRY_TTL_SECONDS
from functions.domain.model import SpaceState
from functions.usecases import audience, join
from functions.usecases.context import Context
from tests.conftest import LiveKitEndpoint
from tests.support.eventually import eventually_async
from tests.support.in_process import connect

from .livekit_helpers import connected
from .test_host import Clock, host_context, people  # noqa: F401 - `people` is a fixture
from .test_reconciler import live_space, settings  # noqa: F401 - `settings` is a fixture

PEOPLE = {"ar-rita": "Rita Renewed", "ar-gus": "Gus Gone"}


def listed(ctx: Context, space_id: str) -> list[str]:
    page = audience.list_listeners(ctx, actor="ar-host", space_id=space_id, query=None, limit=50, cursor=None)
    return [item.listener.name for item in page.items]


async def test_connected_listeners_are_renewed_and_a_lost_leave_expires(
    settings: Settings,  # noqa: F811 - the fixture
    livekit_server: LiveKitEndpoint,
    people: list[rtc.Room],  # noqa: F811 - the fixture
) -> None:
    clock = Clock()
    ctx = host_context(settings, clock)
    space_id = await live_space(ctx, host="ar-host")
    # The host is in the room: the clock moves past the host grace period below, and a Space whose
    # host is gone that long ends (and an ended Space lists nobody).
    people.append(await connect(ctx, space_id, "ar-host"))
    grants = {user: join.join(ctx, actor=user, space_id=space_id, name=name) for user, name in PEOPLE.items()}
    rita = grants["ar-rita"]
    assert isinstance(rita, join.JoinGrant)
    room = rtc.Room()
    await room.connect(settings.livekit_url, rita.token, rtc.RoomOptions(auto_subscribe=False))
    people.append(room)

    async def rita_connected() -> bool:
        return "ar-rita" in await connected(livekit_server, f"space-{space_id}")

    await eventually_async(rita_connected, timeout=30, what="Rita connected at the SFU")
    assert listed(ctx, space_id) == ["Gus Gone", "Rita Renewed"]

    # Passes within AUDIENCE_RENEW_SECONDS of each other renew once; each later one renews again.
    for _ in range(3):
        clock.skipped += timedelta(seconds=WEBRTC_ENTRY_TTL_SECONDS / 3)
        await ctx.reconciler.reconcile(space_id, budget=10)
        clock.skipped += timedelta(seconds=AUDIENCE_RENEW_SECONDS / 2)
        await ctx.reconciler.reconcile(space_id, budget=10)
    # Past both tokens' entries' first expiry: Gus, never seen in the room, is gone; Rita is listed.
    assert ctx.store.require(space_id).state is SpaceState.LIVE
    assert listed(ctx, space_id) == ["Rita Renewed"]

    # Rita leaves and her leave webhook is lost too: her entry ends one TTL after the last renewal.
    await room.disconnect()
    people.remove(room)

    async def rita_gone() -> bool:
        return "ar-rita" not in await connected(livekit_server, f"space-{space_id}")

    await eventually_async(rita_gone, timeout=30, what="Rita's departure at the SFU")
    clock.skipped += timedelta(seconds=AUDIENCE_RENEW_SECONDS)
    await ctx.reconciler.reconcile(space_id, budget=10)
    assert listed(ctx, space_id) == ["Rita Renewed"]
    clock.skipped += timedelta(seconds=WEBRTC_ENTRY_TTL_SECONDS)
    assert ctx.store.require(space_id).state is SpaceState.LIVE
    assert listed(ctx, space_id) == []
