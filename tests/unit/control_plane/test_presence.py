"""HLS viewers in the listener count: the sampling rule, the estimate's arithmetic, the heartbeat
route's answers, and the reconciler folding a complete window into the published count (SQLite,
fake SFU)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from contract.room_metadata import parse_room_metadata
from functions.api import deps
from functions.api.main import create_app
from functions.core.config import Settings
from functions.domain import presence
from functions.domain.presence import HlsEstimate
from functions.livekit_edge.gateway import RoomGateway
from functions.reconcile.wiring import reconciler_for, store_for
from functions.store.base import SpaceStore
from functions.usecases.context import Context

from .conftest import auth
from .fakes import FakeGateway
from .test_api import create, live_space, set_role

WINDOW = 300
# The middle of a window: a test's requests never straddle two.
NOW = datetime.fromtimestamp(1_800_000_000 // WINDOW * WINDOW + WINDOW / 2, UTC)
VIEWERS = [f"viewer-{n}" for n in range(10)]


# --- the rule -------------------------------------------------------------------------------------
def test_every_viewer_calls_once_per_two_windows_within_the_idle_call_budget() -> None:
    assert presence.interval(WINDOW) == 2 * WINDOW
    assert presence.rate() == 0.5
    calls_per_minute = 60 / presence.interval(presence.WINDOW_SECONDS)
    assert calls_per_minute <= 0.1


def test_windows_slots_and_the_estimate() -> None:
    assert presence.window_of(599.9, 300) == 1 and presence.window_of(600, 300) == 2
    assert presence.last_complete(600, 300) == 1
    # Two windows to a slot: a viewer counts once in windows 4 and 5 together, once in 6 and 7.
    assert [presence.slot_of(w) for w in (4, 5, 6, 7)] == [2, 2, 3, 3]
    assert presence.estimate(0) == 0 and presence.estimate(7) == 14 and presence.estimate(-3) == 0
    assert presence.due(None, 900, 300) == 2
    assert presence.due(HlsEstimate(window=2, viewers=10), 1199, 300) is None
    assert presence.due(HlsEstimate(window=2, viewers=10), 1200, 300) == 3
    assert presence.standard_error(0) == 0
    assert presence.standard_error(10_000) == pytest.approx(100)


def test_the_estimate_of_a_simulated_audience_is_within_its_stated_error() -> None:
    """Each page draws its phase (heartbeat.ts: the first call at a uniformly random moment of the
    first interval): a window counts the viewers whose phase falls in it, in both windows of a slot."""
    rng = random.Random(7)
    for viewers in (1_000, 10_000, 100_000):
        phases = [rng.uniform(0, presence.interval(WINDOW)) for _ in range(viewers)]
        for window in (0, 1):
            counted = sum(presence.window_of(phase, WINDOW) == window for phase in phases)
            error = abs(presence.estimate(counted) - viewers)
            assert error <= 3 * presence.standard_error(viewers), (viewers, window, error)


# --- through the app ------------------------------------------------------------------------------
@pytest.fixture
def papp(settings: Settings, gateway: FakeGateway) -> FastAPI:
    app = create_app(
        settings.model_copy(
            update={"broadcast_base_url": "https://cdn.example/b", "webrtc_listener_limit": 0}
        )
    )
    app.dependency_overrides[deps.get_gateway] = lambda: gateway

    async def at_now(
        request: Request,
        settings: deps.SettingsDep,
        store: Annotated[SpaceStore, Depends(deps.get_store)],
        gateway: Annotated[RoomGateway, Depends(deps.get_gateway)],
    ) -> Context:
        ctx = await deps.get_context(request, settings, store, gateway)
        now: datetime = request.app.state.test_now
        ctx.clock = lambda: now
        return ctx

    # The requests' clock: NOW unless a test moves it.
    app.state.test_now = NOW
    app.dependency_overrides[deps.get_context] = at_now
    return app


@pytest.fixture
def pclient(papp: FastAPI) -> Iterator[TestClient]:
    with TestClient(papp) as c:
        yield c


def beat(client: TestClient, space_id: str, user: str) -> tuple[int, dict[str, str]]:
    resp = client.post(f"/spaces/{space_id}/presence", headers=auth(user))
    return resp.status_code, (resp.json() if resp.content else {})


def test_the_hls_answer_tells_every_viewer_how_often_to_send_heartbeats(pclient: TestClient) -> None:
    space_id = live_space(pclient)
    for user in VIEWERS[:4]:
        answer = pclient.post(f"/spaces/{space_id}/token", headers=auth(user)).json()
        assert answer["mode"] == "hls" and answer["presence_interval_seconds"] == 2 * WINDOW


def test_a_heartbeat_counts_once_per_slot(pclient: TestClient, papp: FastAPI) -> None:
    space_id = live_space(pclient)
    store = store_for(papp.state.settings)
    window = presence.window_of(NOW.timestamp(), WINDOW)
    for user in VIEWERS[:3]:
        assert beat(pclient, space_id, user) == (204, {})
    assert beat(pclient, space_id, VIEWERS[0]) == (204, {})  # a repeat (a retry, a reload)
    assert store.presence_count(space_id, window) == 3
    # The other window of the slot does not count them again (a page that calls every window
    # weighs no more than one that calls every interval); the next slot does.
    other = window + 1 if presence.slot_of(window + 1) == presence.slot_of(window) else window - 1
    assert not store.record_presence(space_id, VIEWERS[0], other, expires_at=2e9)
    assert store.presence_count(space_id, other) == 0
    later = (presence.slot_of(window) + 1) * presence.HEARTBEAT_WINDOWS
    assert store.record_presence(space_id, VIEWERS[0], later, expires_at=2e9)
    assert store.presence_count(space_id, later) == 1


def test_a_heartbeat_keeps_the_viewer_listed(pclient: TestClient, papp: FastAPI) -> None:
    """HLS viewers send no leave: their entry lives an hour from their token, and each heartbeat
    extends it, so someone watching for hours stays listed; one who is removed is not relisted."""
    space_id = live_space(pclient)
    store = store_for(papp.state.settings)
    for user in VIEWERS[:2]:
        assert pclient.post(f"/spaces/{space_id}/token", headers=auth(user)).json()["mode"] == "hls"
    listed = store.listed(space_id, VIEWERS[0])
    assert listed is not None and listed.expires_at is not None
    # Fifty minutes on, still watching: the heartbeat carries the entry past its first hour.
    later = NOW + timedelta(minutes=50)
    papp.state.test_now = later
    assert beat(pclient, space_id, VIEWERS[0])[0] == 204
    renewed = store.listed(space_id, VIEWERS[0])
    assert renewed is not None and renewed.expires_at is not None
    assert renewed.expires_at > listed.expires_at
    assert renewed.expires_at >= later + timedelta(seconds=3 * presence.interval(WINDOW))
    removed = pclient.post(
        f"/spaces/{space_id}/participants/{VIEWERS[1]}/remove", json={"block": False}, headers=auth("host")
    )
    assert removed.status_code in (200, 202)
    assert store.listed(space_id, VIEWERS[1]) is None
    assert beat(pclient, space_id, VIEWERS[1])[0] == 204  # still watching, still counted
    assert store.listed(space_id, VIEWERS[1]) is None


def test_heartbeats_that_must_not_count_are_refused_naming_the_rule(
    pclient: TestClient, papp: FastAPI
) -> None:
    store = store_for(papp.state.settings)
    scheduled = create(pclient)["id"]
    assert beat(pclient, scheduled, VIEWERS[0])[0] == 409
    assert beat(pclient, scheduled, VIEWERS[0])[1]["rule"] == "space_not_live"
    space_id = live_space(pclient)
    unknown = "0" * 32
    assert beat(pclient, unknown, VIEWERS[0])[0] == 404
    assert beat(pclient, "not-an-id", VIEWERS[0])[0] == 422
    assert pclient.post(f"/spaces/{space_id}/presence").status_code == 401
    # The stage is refused (it is in the room, counted there).
    status, body = beat(pclient, space_id, "host")
    assert status == 409 and body["rule"] == "presence_on_stage"
    set_role(pclient, space_id, VIEWERS[1], "speaker")
    status, body = beat(pclient, space_id, VIEWERS[1])
    assert status == 409 and body["rule"] == "presence_on_stage"
    removed = pclient.post(
        f"/spaces/{space_id}/participants/{VIEWERS[2]}/remove", json={"block": True}, headers=auth("host")
    )
    assert removed.status_code in (200, 202)
    status, body = beat(pclient, space_id, VIEWERS[2])
    assert status == 403 and body["rule"] == "blocked"
    assert store.presence_count(space_id, presence.window_of(NOW.timestamp(), WINDOW)) == 0


def fold(app: FastAPI, gateway: FakeGateway, at: datetime) -> None:
    """The schedule's sweep, at `at`."""
    reconciler = reconciler_for(app.state.settings, memory=app.state.reconcile_memory, gateway=gateway)
    reconciler.clock = lambda: at
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(reconciler.sweep(budget_per_space=5))
    finally:
        loop.close()


def test_the_reconciler_adds_the_last_complete_window_to_the_published_count(
    pclient: TestClient, papp: FastAPI, gateway: FakeGateway
) -> None:
    space_id = live_space(pclient)
    for user in VIEWERS[:5]:
        assert beat(pclient, space_id, user)[0] == 204
    # Still inside the window: nothing is estimated from it yet.
    fold(papp, gateway, NOW)
    assert pclient.get(f"/spaces/{space_id}", headers=auth("host")).json()["listener_count"] == 0
    # The window is complete: 5 viewers counted in it are 10 viewers (the other half falls into the
    # other window of the slot).
    fold(papp, gateway, NOW + timedelta(seconds=WINDOW))
    assert pclient.get(f"/spaces/{space_id}", headers=auth("host")).json()["listener_count"] == 10
    assert parse_room_metadata(gateway.rooms[f"space-{space_id}"].encode()).listener_count == 10
    # The WebRTC limit still counts the WebRTC audience only (the exact part).
    store = store_for(papp.state.settings)
    space = store.require(space_id)
    assert space.listener_count == 0 and space.audience_count == 10
    # Nobody beat in the next window: the count falls back.
    fold(papp, gateway, NOW + timedelta(seconds=2 * WINDOW))
    assert pclient.get(f"/spaces/{space_id}", headers=auth("host")).json()["listener_count"] == 0
