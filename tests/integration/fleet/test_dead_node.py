"""A node of the fleet dies (SIGKILL: no drain, no webhook) holding a live Space's room, and nobody
rejoins: the reconciler, reaching the fleet through a surviving node, places the room again on a
live node without the dead node's participants (in the room or in the listener count), dispatches
the stage agent again, and the host who did not come back counts as away, so the Space ends after
the grace period instead of staying live forever. Real livekit-servers sharing a real Redis; the
control plane's reconciler and store run in this process (docs/infrastructure.md, "A node that
dies").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contract import names
from devstack.livekit import LiveKitServer
from functions.core.config import Settings
from functions.domain.model import VideoPolicy
from functions.livekit_edge.gateway import ObservedRoom, StrandedRoom
from functions.reconcile.diff import Timing
from functions.usecases import spaces
from functions.usecases.context import Context
from tests.support import in_process
from tests.support.eventually import eventually_async
from tests.support.in_process import connect

from . import nodes as fleet_nodes
from . import redis_tls

# A host missing from the room counts as away at once, and the Space ends a minute later.
TIMING = Timing(host_join_window=0.0, host_grace=60.0)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[redis_tls.LocalRedis]:
    folder = tmp_path / "redis"
    folder.mkdir()
    server = redis_tls.start(folder)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def started() -> Iterator[list[LiveKitServer]]:
    servers: list[LiveKitServer] = []
    try:
        yield servers
    finally:
        for server in servers:
            server.process.kill()
            server.config_path.unlink(missing_ok=True)


def context(tmp_path: Path, node: LiveKitServer) -> Context:
    """The control plane reaching the fleet through `node` (in the cloud: the load balancer)."""
    env: dict[str, Any] = {
        names.ENV_MODE: "local",
        names.ENV_LIVEKIT_URL: node.ws_url,
        names.ENV_LIVEKIT_API_KEY: fleet_nodes.API_KEY,
        names.ENV_LIVEKIT_API_SECRET: fleet_nodes.API_SECRET,
        names.ENV_SQLITE_PATH: str(tmp_path / "spaces.sqlite3"),
        names.ENV_RECONCILE_INTERVAL_SECONDS: 0,
        "SPACES_WEB_DIST": str(tmp_path / "no-web"),
    }
    return in_process.context(Settings.model_validate(env), timing=TIMING)


async def test_a_room_whose_node_died_is_placed_again_without_its_ghosts(
    tmp_path: Path, redis: redis_tls.LocalRedis, started: list[LiveKitServer]
) -> None:
    # Node A alone takes the Space's room; node B joins the fleet afterwards.
    started.append(fleet_nodes.start("livekit-a", redis, 41400))
    on_a = context(tmp_path, started[0])
    space = spaces.create(
        on_a,
        actor="host",
        title="dead node",
        video=VideoPolicy.SPEAKERS,
        scheduled_start=None,
        idempotency_key=None,
    )
    await spaces.start(on_a, actor="host", space_id=space.id)
    room_name = f"space-{space.id}"
    host = await connect(on_a, space.id, "host")
    listener = await connect(on_a, space.id, "listener-1")

    started.append(fleet_nodes.start("livekit-b", redis, 41400 + fleet_nodes.PORT_RANGE_SIZE))
    on_b = context(tmp_path, started[1])

    async def listed_through_b() -> set[str] | None:
        room = await on_b.gateway.observe(room_name)
        return {p.identity for p in room.participants} if isinstance(room, ObservedRoom) else None

    assert await eventually_async(listed_through_b, timeout=20, what="B lists A's room") >= {
        "host",
        "listener-1",
    }

    # The listener's join webhook counted them (these nodes' webhooks go nowhere: stored as it would).
    on_a.store.adjust_listeners(space.id, 1, event_id="participant_joined:listener-1")
    started[0].process.kill()  # SIGKILL: no drain, no participant_left, no room_finished
    await host.disconnect()  # their clients would retry A forever; they are not coming back here
    await listener.disconnect()

    # Nobody answers for the room any more: the observation says so instead of failing.
    stranded = await on_b.gateway.observe(room_name)
    assert isinstance(stranded, StrandedRoom), stranded

    async def host_counted_away() -> bool:
        await on_b.reconciler.reconcile(space.id, budget=10.0)
        stored = on_b.store.get(space.id)
        assert stored is not None
        return stored.host_away_since is not None

    await eventually_async(host_counted_away, timeout=60, what="the host who never came back counts as away")

    # The room is on B now: readable, empty (no ghosts of A's participants), the stage agent
    # dispatched again, the Space's metadata set.
    room = await on_b.gateway.observe(room_name)
    assert isinstance(room, ObservedRoom), room
    assert [p.identity for p in room.participants if not p.is_agent] == []
    assert names.AGENT_NAME in {d.agent_name for d in room.dispatches}
    stored = on_b.store.get(space.id)
    assert stored is not None and stored.state.value == "live"
    # The dead node's listener left the count (no leave webhook ever comes): rejoining pages get
    # WebRTC seats again instead of all being sent to the broadcast.
    assert stored.listener_count == 0

    # The host rejoins through the surviving node and is back.
    back = await connect(on_b, space.id, "host")
    try:

        async def host_back() -> bool:
            await on_b.reconciler.reconcile(space.id, budget=10.0)
            stored = on_b.store.get(space.id)
            return stored is not None and stored.host_away_since is None

        await eventually_async(host_back, timeout=30, what="the host is back")
    finally:
        await back.disconnect()
