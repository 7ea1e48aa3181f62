"""The reconciler against a real livekit-server and both stores (SQLite, DynamoDB Local).

The use cases run in this process with the real gateway wrapped in a fault injector
(tests/support/faulty_gateway.py); participants are real SDK clients; webhooks are signed with the
server's key and posted to the real app.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from livekit import api as lkapi
from livekit import rtc

from contract import names
from functions.api.main import create_app
from functions.core.config import Settings
from functions.domain.errors import Forbidden
from functions.domain.grants import participant_attributes, permission_for
from functions.domain.model import Role, VideoPolicy
from functions.livekit_edge import tokens
from functions.livekit_edge.gateway import LiveKitGateway
from functions.reconcile.diff import Timing
from functions.reconcile.loop import patrol
from functions.usecases import join, spaces, stage
from functions.usecases.context import Context
from tests.conftest import LiveKitEndpoint
from tests.support import in_process
from tests.support.dynamodb_local import DynamoEndpoint
from tests.support.eventually import eventually_async
from tests.support.faulty_gateway import FaultyGateway
from tests.support.in_process import connect
from tests.support.stand_in_agent import start_stand_in

from .conftest import STORES, fresh_dynamo_table

# Seconds the tests give the reconciler to converge (a few passes on a busy shared machine).
CONVERGE_WITHIN = 30.0


@pytest.fixture(params=STORES)
def settings(request: pytest.FixtureRequest, tmp_path: Path, livekit_server: LiveKitEndpoint) -> Settings:
    env: dict[str, Any] = {
        names.ENV_MODE: "local",
        names.ENV_LIVEKIT_URL: livekit_server.ws_url,
        names.ENV_LIVEKIT_API_KEY: livekit_server.api_key,
        names.ENV_LIVEKIT_API_SECRET: livekit_server.api_secret,
        names.ENV_SQLITE_PATH: str(tmp_path / "spaces.sqlite3"),
        names.ENV_RECONCILE_INTERVAL_SECONDS: 0,
        "SPACES_WEB_DIST": str(tmp_path / "no-web"),
    }
    if request.param == "dynamodb":
        dynamodb: DynamoEndpoint = request.getfixturevalue("dynamodb")
        env |= {
            names.ENV_STORE: "dynamodb",
            names.ENV_TABLE_NAME: fresh_dynamo_table(dynamodb),
            names.ENV_DYNAMODB_ENDPOINT: dynamodb.url,
        }
    return Settings.model_validate(env)


def context(settings: Settings, *, timing: Timing | None = None) -> Context:
    """One API instance, its SFU calls through a fault injector."""
    return in_process.context(settings, timing=timing, gateway=FaultyGateway(LiveKitGateway(settings)))


def faults(ctx: Context) -> FaultyGateway:
    assert isinstance(ctx.gateway, FaultyGateway)
    return ctx.gateway


async def live_space(ctx: Context, host: str = "host") -> str:
    space = spaces.create(
        ctx,
        actor=host,
        title="reconciler",
        video=VideoPolicy.SPEAKERS,
        scheduled_start=None,
        idempotency_key=None,
    )
    await spaces.start(ctx, actor=host, space_id=space.id)
    return space.id


async def sfu_participant(
    livekit: LiveKitEndpoint, space_id: str, identity: str
) -> lkapi.ParticipantInfo | None:
    async with lkapi.LiveKitAPI(livekit.http_url, livekit.api_key, livekit.api_secret) as client:
        try:
            return await client.room.get_participant(
                lkapi.RoomParticipantIdentity(room=f"space-{space_id}", identity=identity)
            )
        except lkapi.TwirpError as exc:
            if exc.code == "not_found":
                return None
            raise


@pytest.fixture
async def rooms() -> AsyncIterator[list[rtc.Room]]:
    opened: list[rtc.Room] = []
    yield opened
    for room in opened:
        await room.disconnect()


async def test_a_promote_racing_a_demote_ends_with_the_sfu_holding_the_stored_role(
    settings: Settings, livekit_server: LiveKitEndpoint, rooms: list[rtc.Room]
) -> None:
    first, second = context(settings), context(settings)  # two API instances
    space_id = await live_space(first)
    rooms.append(await connect(first, space_id, "uma"))
    # The promotion's SFU call is held back until after the demotion has been stored and applied.
    faults(first).delay("update_participant", 2.0, times=1)
    promote = asyncio.create_task(
        stage.change_role(first, actor="host", space_id=space_id, target="uma", role=Role.SPEAKER)
    )
    await eventually_async(
        lambda: "update_participant" in faults(first).calls, what="the promotion's SFU call"
    )
    demoted = await stage.change_role(
        second, actor="host", space_id=space_id, target="uma", role=Role.LISTENER
    )
    assert demoted.space.role_of("uma") is Role.LISTENER
    await promote

    async def holds_the_stored_role() -> bool:
        stored = first.store.require(space_id).role_of("uma")
        info = await sfu_participant(livekit_server, space_id, "uma")
        assert info is not None
        return (
            stored is Role.LISTENER
            and info.attributes.get(names.ROLE_ATTRIBUTE) == stored.value
            and not info.permission.can_publish
        )

    await eventually_async(
        holds_the_stored_role, timeout=CONVERGE_WITHIN, what="SFU permission == stored role"
    )


async def test_a_failed_removal_keeps_the_block_and_the_reconciler_finishes_it(
    settings: Settings, livekit_server: LiveKitEndpoint, rooms: list[rtc.Room]
) -> None:
    ctx = context(settings)
    space_id = await live_space(ctx)
    rooms.append(await connect(ctx, space_id, "troll"))
    # The pass reads the room (the first SFU call), then the removal (the second) fails.
    faults(ctx).fail("remove_participant")
    accepted = await stage.remove(ctx, actor="host", space_id=space_id, target="troll", block=True)
    assert accepted.converged is False and "troll" in accepted.space.blocked
    assert "troll" in ctx.store.require(space_id).blocked  # not undone
    with pytest.raises(Forbidden):
        join.join(ctx, actor="troll", space_id=space_id)
    assert await sfu_participant(livekit_server, space_id, "troll") is not None
    faults(ctx).heal()
    loop = asyncio.create_task(
        patrol(ctx.reconciler, None, sweep_every=0.5, budget_per_space=5, sweep_first=False)
    )
    try:

        async def removed() -> bool:
            return await sfu_participant(livekit_server, space_id, "troll") is None

        await eventually_async(
            removed, timeout=CONVERGE_WITHIN, what="the blocked user removed by a later pass"
        )
    finally:
        loop.cancel()


def _signed(event: lkapi.WebhookEvent, livekit: LiveKitEndpoint) -> tuple[bytes, dict[str, str]]:
    import base64
    import hashlib

    from google.protobuf.json_format import MessageToJson

    body = MessageToJson(event).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = lkapi.AccessToken(livekit.api_key, livekit.api_secret).with_sha256(digest).to_jwt()
    return body, {"Authorization": token, "Content-Type": "application/webhook+json"}


async def test_a_webhook_delivered_three_times_out_of_order_changes_nothing_after_the_first(
    settings: Settings, livekit_server: LiveKitEndpoint, rooms: list[rtc.Room]
) -> None:
    ctx = context(settings)
    space_id = await live_space(ctx)
    room = f"space-{space_id}"
    await stage.change_role(ctx, actor="host", space_id=space_id, target="ex", role=Role.SPEAKER)
    await stage.change_role(ctx, actor="host", space_id=space_id, target="ex", role=Role.LISTENER)
    # `ex` joins with a speaker token minted before the demotion (tokens cannot be revoked).
    creds = settings.livekit_credentials()
    stale = tokens.mint(
        api_key=creds.api_key,
        api_secret=creds.api_secret,
        room=room,
        identity="ex",
        permission=permission_for(Role.SPEAKER, VideoPolicy.SPEAKERS),
        attributes=participant_attributes(Role.SPEAKER),
        ttl=timedelta(minutes=5),
    )
    ex = rtc.Room()
    await ex.connect(settings.livekit_url, stale.token, rtc.RoomOptions(auto_subscribe=False))
    rooms.append(ex)
    rooms.append(await connect(ctx, space_id, "lou"))

    def participant(identity: str, role: str) -> lkapi.ParticipantInfo:
        return lkapi.ParticipantInfo(identity=identity, sid=f"PA_{identity}", attributes={"role": role})

    events = [
        lkapi.WebhookEvent(
            event="participant_joined",
            id="w-lou",
            room=lkapi.Room(name=room),
            participant=participant("lou", "listener"),
        ),
        lkapi.WebhookEvent(
            event="participant_joined",
            id="w-ex",
            room=lkapi.Room(name=room),
            participant=participant("ex", "speaker"),
        ),
        lkapi.WebhookEvent(
            event="participant_left",
            id="w-gone",
            room=lkapi.Room(name=room),
            participant=participant("gone", "listener"),
        ),
    ]
    app = create_app(settings)
    app.dependency_overrides[__import__("functions.api.deps", fromlist=["get_gateway"]).get_gateway] = (
        lambda: ctx.gateway
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:

        async def deliver(batch: list[lkapi.WebhookEvent]) -> None:
            for event in batch:
                body, headers = _signed(event, livekit_server)
                resp = await http.post("/livekit/webhook", content=body, headers=headers)
                assert resp.status_code == 200, resp.text

        await deliver(events)
        # lou +1, gone -1, ex corrected to listener by the reconciler: +1.
        after_first = ctx.store.require(space_id)
        info = await sfu_participant(livekit_server, space_id, "ex")
        assert info is not None and info.attributes["role"] == "listener" and not info.permission.can_publish
        sfu_calls = len(faults(ctx).calls)
        await deliver(list(reversed(events)))
        shuffled = list(events)
        random.Random(9).shuffle(shuffled)
        await deliver(shuffled)
    after_all = ctx.store.require(space_id)
    assert after_all.listener_count == after_first.listener_count == 1
    assert after_all.version == after_first.version
    # Redeliveries change nothing: at most the reads of the room (observe), no SFU change.
    assert set(faults(ctx).calls[sfu_calls:]) <= {"observe", "set_room_metadata"}
    # (A metadata update held back by the 2 s interval may go out with a later pass: the count in
    # it is the same, so the room's document does not change either.)


@pytest.fixture
def stand_ins(livekit_server: LiveKitEndpoint) -> Iterator[list[Any]]:
    started: list[Any] = []
    yield started
    for process in started:
        process.kill()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_a_live_space_whose_agent_never_came_gets_one(
    settings: Settings, livekit_server: LiveKitEndpoint, rooms: list[rtc.Room], stand_ins: list[Any]
) -> None:
    # A short grace so the test does not wait 20 s for the dropped dispatch to count as lost.
    ctx = context(settings, timing=Timing(dispatch_grace=3.0))
    space_id = await live_space(ctx)  # no worker registered: the start's dispatch goes nowhere
    listener = await connect(ctx, space_id, "lena")
    rooms.append(listener)
    # As the SFU has it: the start's dispatch, which no worker took, and no agent in the room.
    before = await ctx.gateway.observe(f"space-{space_id}")
    assert before is not None
    assert [(d.agent_name, d.jobs) for d in before.dispatches] == [(names.AGENT_NAME, 0)]
    assert not any(p.is_agent for p in before.participants)
    stand_ins.append(start_stand_in(livekit_server, agent_name=names.AGENT_NAME))
    patrol_from = len(faults(ctx).calls)
    loop = asyncio.create_task(
        patrol(ctx.reconciler, None, sweep_every=1.0, budget_per_space=5, sweep_first=False)
    )
    try:

        def agent_present() -> bool:
            return any(
                p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
                for p in listener.remote_participants.values()
            )

        await eventually_async(
            agent_present, timeout=CONVERGE_WITHIN, what="an agent dispatched by the reconciler"
        )
        assert "dispatch_agent" in faults(ctx).calls[patrol_from:]  # by the patrol, not the start
    finally:
        loop.cancel()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_passes_over_a_fresh_space_dispatch_nothing_more(settings: Settings) -> None:
    """The start's own dispatch counts as on its way (the SFU dates it), so passes within the grace
    do not dispatch a second agent."""
    ctx = context(settings)
    space_id = await live_space(ctx)
    room = await ctx.gateway.observe(f"space-{space_id}")
    assert room is not None
    (dispatch,) = room.dispatches
    assert dispatch.agent_name == names.AGENT_NAME
    assert abs(dispatch.created_at - ctx.clock().timestamp()) < 60
    for _ in range(3):
        await ctx.reconciler.reconcile(space_id, budget=5)
    assert "dispatch_agent" not in faults(ctx).calls
