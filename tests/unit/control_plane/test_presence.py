"""HLS viewers in the listener count: the sampling rule, the estimate's arithmetic, the heartbeat
route's answers, and the reconciler folding a complete window into the published count (SQLite,
fake SFU)."""

from __future__ import annotations

import asyncio
import zlib
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contract.room_metadata import parse_room_metadata
from functions.domain import presence
from functions.domain import viewers as viewer_tags
from functions.domain.presence import HlsEstimate
from functions.reconcile.wiring import reconciler_for, store_for

from .conftest import HLS_NOW, auth
from .fakes import FakeGateway
from .test_api import create, live_space, set_role

WINDOW = presence.WINDOW_SECONDS
NOW = HLS_NOW
SAMPLED = [u for u in (f"viewer-{n}" for n in range(40)) if presence.sampled(u)]
UNSAMPLED = [u for u in (f"viewer-{n}" for n in range(40)) if not presence.sampled(u)]


# --- the rule -------------------------------------------------------------------------------------
def test_the_sample_is_deterministic_and_about_half_of_any_large_audience() -> None:
    users = [f"user-{n}" for n in range(100_000)]
    chosen = [u for u in users if presence.sampled(u)]
    assert [u for u in users if presence.sampled(u)] == chosen
    assert abs(len(chosen) / len(users) - presence.rate()) < 0.01
    # Independent of the stores' shard choice (crc32(user) % 16): about half of every shard.
    for shard in range(16):
        in_shard = [u for u in users if zlib.crc32(u.encode()) % 16 == shard]
        share = sum(presence.sampled(u) for u in in_shard) / len(in_shard)
        assert abs(share - presence.rate()) < 0.03, shard


def test_the_average_viewer_stays_within_the_idle_call_budget() -> None:
    calls_per_minute = presence.rate() * 60 / presence.WINDOW_SECONDS
    assert calls_per_minute <= 0.1


def test_windows_and_the_estimate() -> None:
    assert presence.window_of(599.9, 300) == 1 and presence.window_of(600, 300) == 2
    assert presence.last_complete(600, 300) == 1
    assert presence.estimate(0) == 0 and presence.estimate(7) == 14 and presence.estimate(-3) == 0
    assert presence.due(None, 900, 300) == 2
    assert presence.due(HlsEstimate(window=2, viewers=10), 1199, 300) is None
    assert presence.due(HlsEstimate(window=2, viewers=10), 1200, 300) == 3
    assert presence.standard_error(0) == 0
    assert presence.standard_error(10_000) == pytest.approx(100)


def test_the_estimate_of_a_simulated_audience_is_within_its_stated_error() -> None:
    for viewers in (1_000, 10_000, 100_000):
        counted = sum(presence.sampled(f"hls-{n}") for n in range(viewers))
        error = abs(presence.estimate(counted) - viewers)
        assert error <= 3 * presence.standard_error(viewers), (viewers, error)


# --- through the app ------------------------------------------------------------------------------
def tag(client: TestClient, space_id: str, user: str) -> str:
    """`user`'s presence tag in `space_id`, as the API computes it (what their HLS answer carries)."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    return viewer_tags.presence_tag(settings.viewer_tag_key(), space_id, user)


def beat(
    client: TestClient, space_id: str, user: str, presence_tag: str | None = None
) -> tuple[int, dict[str, str]]:
    resp = client.post(
        f"/spaces/{space_id}/presence",
        params={"presence_tag": presence_tag if presence_tag is not None else tag(client, space_id, user)},
        headers=auth(user),
    )
    return resp.status_code, (resp.json() if resp.content else {})


def test_the_hls_answer_says_who_sends_heartbeats_and_how_often(pclient: TestClient) -> None:
    space_id = live_space(pclient)
    for user, interval in ((SAMPLED[0], WINDOW), (UNSAMPLED[0], None)):
        answer = pclient.post(f"/spaces/{space_id}/token", headers=auth(user)).json()
        assert answer["mode"] == "hls" and answer["presence_interval_seconds"] == interval
        # The tag a heartbeat names is the one the answer gave, not the viewer tag.
        assert answer["presence_tag"] == tag(pclient, space_id, user) != answer["viewer_tag"]


def test_only_a_viewer_the_api_sent_to_the_broadcast_counts(pclient: TestClient, papp: FastAPI) -> None:
    """Anyone signed in could otherwise count themselves, or a crowd of accounts, as viewers."""
    store = store_for(papp.state.settings)
    space_id = live_space(pclient)
    other_space = live_space(pclient)
    user = SAMPLED[0]
    settings = papp.state.settings
    # The viewer tag every join answer carries (a WebRTC one too) does not count: an outside review
    # counted 12 accounts as 24 viewers with the tags of WebRTC answers.
    own_viewer_tag = viewer_tags.viewer_tag(settings.viewer_tag_key(), space_id, user)
    for forged in (
        "AAAAAAAA",
        tag(pclient, space_id, SAMPLED[1]),
        tag(pclient, other_space, user),
        own_viewer_tag,
    ):
        status, body = beat(pclient, space_id, user, presence_tag=forged)
        assert status == 403 and body["rule"] == "presence_not_hls", forged
    resp = pclient.post(f"/spaces/{space_id}/presence", headers=auth(user))
    assert resp.status_code == 422 and "presence_tag" in resp.text
    assert beat(pclient, space_id, user, presence_tag="not a tag")[0] == 422
    assert store.presence_count(space_id, presence.window_of(NOW.timestamp(), WINDOW)) == 0
    assert beat(pclient, space_id, user) == (204, {})
    assert store.presence_count(space_id, presence.window_of(NOW.timestamp(), WINDOW)) == 1


def test_a_heartbeat_counts_once_per_window(pclient: TestClient, papp: FastAPI) -> None:
    space_id = live_space(pclient)
    store = store_for(papp.state.settings)
    window = presence.window_of(NOW.timestamp(), WINDOW)
    for user in SAMPLED[:3]:
        assert beat(pclient, space_id, user) == (204, {})
    assert beat(pclient, space_id, SAMPLED[0]) == (204, {})  # a repeat (a retry, a reload)
    assert store.presence_count(space_id, window) == 3


def test_heartbeats_that_must_not_count_are_refused_naming_the_rule(
    pclient: TestClient, papp: FastAPI
) -> None:
    store = store_for(papp.state.settings)
    scheduled = create(pclient)["id"]
    assert beat(pclient, scheduled, SAMPLED[0])[0] == 409
    assert beat(pclient, scheduled, SAMPLED[0])[1]["rule"] == "space_not_live"
    space_id = live_space(pclient)
    unknown = "0" * 32
    assert beat(pclient, unknown, SAMPLED[0])[0] == 404
    assert beat(pclient, "not-an-id", SAMPLED[0])[0] == 422
    assert (
        pclient.post(f"/spaces/{space_id}/presence", params={"presence_tag": "AAAAAAAA"}).status_code == 401
    )
    status, body = beat(pclient, space_id, UNSAMPLED[0])
    assert status == 409 and body["rule"] == "presence_not_sampled"
    # The stage is refused whether or not it is in the sample (it is in the room, counted there).
    status, body = beat(pclient, space_id, "host")
    assert status == 409 and body["rule"] == "presence_on_stage"
    set_role(pclient, space_id, SAMPLED[1], "speaker")
    status, body = beat(pclient, space_id, SAMPLED[1])
    assert status == 409 and body["rule"] == "presence_on_stage"
    removed = pclient.post(
        f"/spaces/{space_id}/participants/{SAMPLED[2]}/remove", json={"block": True}, headers=auth("host")
    )
    assert removed.status_code in (200, 202)
    status, body = beat(pclient, space_id, SAMPLED[2])
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
    for user in SAMPLED[:5]:
        assert beat(pclient, space_id, user)[0] == 204
    # Still inside the window: nothing is estimated from it yet.
    fold(papp, gateway, NOW)
    assert pclient.get(f"/spaces/{space_id}", headers=auth("host")).json()["listener_count"] == 0
    # The window is complete: 5 sampled viewers are 10 viewers.
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
