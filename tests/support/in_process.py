"""The control plane's use cases in the test's own process, against real servers: one API
instance (its own reconciler memory) and real SDK clients joining through its tokens."""

from __future__ import annotations

from livekit import rtc

from contract import names
from functions.core.config import Settings
from functions.livekit_edge.gateway import LiveKitGateway, RoomGateway
from functions.reconcile.diff import Timing
from functions.reconcile.runner import Memory, Reconciler
from functions.reconcile.wiring import reactions_store_for, store_for
from functions.usecases import join
from functions.usecases.context import Context


def context(
    settings: Settings, *, timing: Timing | None = None, gateway: RoomGateway | None = None
) -> Context:
    """One API instance: no locks shared with another. `gateway`: the real one unless given (a
    fault injector around it, say)."""
    store = store_for(settings)
    gateway = gateway or LiveKitGateway(settings)
    reconciler = Reconciler(
        store=store, gateway=gateway, agents=(names.AGENT_NAME,), memory=Memory(), timing=timing
    )
    return Context(
        store=store,
        gateway=gateway,
        reconciler=reconciler,
        settings=settings,
        rate_limits=reactions_store_for(settings),
    )


async def connect(ctx: Context, space_id: str, user: str) -> rtc.Room:
    """`user` joins the Space's room with the token the API would give them."""
    grant = join.join(ctx, actor=user, space_id=space_id)
    assert isinstance(grant, join.JoinGrant)
    room = rtc.Room()
    await room.connect(ctx.settings.livekit_url, grant.token, rtc.RoomOptions(auto_subscribe=False))
    return room
