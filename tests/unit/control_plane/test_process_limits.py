"""Join tokens (per user) and presence heartbeats (per user and Space) are limited in each API
process's memory (store/process_limits.py): each request reads the store, and a client that loops
them must not spend its Space's reads without bound. The limit is checked before the store is read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from contract import names
from functions.api import deps
from functions.api.main import create_app
from functions.core.config import Settings
from functions.domain import presence
from functions.domain.stage import JOIN_LIMIT
from functions.livekit_edge.gateway import RoomGateway
from functions.store.base import SpaceStore
from functions.store.process_limits import ProcessLimits
from functions.store.sqlite import SqliteStore
from functions.usecases.context import Context

from .conftest import auth
from .fakes import FakeGateway
from .test_api import live_space
from .test_presence import SAMPLED, beat

pytestmark = pytest.mark.unit

# Early in a 10-s window of the join limit, so every request of a test falls into it.
FROZEN = datetime.fromtimestamp(1_800_000_000.5, UTC)


def test_a_burst_then_a_wait_until_the_next_window_per_limit_space_and_user() -> None:
    limits = ProcessLimits()
    t = FROZEN.timestamp()
    for _ in range(JOIN_LIMIT.burst):
        assert limits.accept("s1", "ann", t, limit=JOIN_LIMIT) == 0.0
    assert limits.accept("s1", "ann", t + 1, limit=JOIN_LIMIT) == pytest.approx(8.5)
    # Someone else, another Space, another limit: each counted on its own.
    assert limits.accept("s1", "bob", t, limit=JOIN_LIMIT) == 0.0
    assert limits.accept("s2", "ann", t, limit=JOIN_LIMIT) == 0.0
    assert limits.accept("s1", "ann", t, limit=presence.heartbeat_limit(300)) == 0.0
    # A refusal counted nothing: the next window lets the whole burst through again.
    assert limits.accept("s1", "ann", t + 9.5, limit=JOIN_LIMIT) == 0.0


def test_it_forgets_the_least_recently_seen_caller_beyond_its_bound() -> None:
    limits = ProcessLimits(max_callers=2)
    t = FROZEN.timestamp()
    for _ in range(JOIN_LIMIT.burst):
        assert limits.accept("s1", "ann", t, limit=JOIN_LIMIT) == 0.0
    assert limits.accept("s1", "ann", t, limit=JOIN_LIMIT) > 0
    limits.accept("s1", "bob", t, limit=JOIN_LIMIT)
    limits.accept("s1", "cat", t, limit=JOIN_LIMIT)  # ann is forgotten: a fresh bucket
    assert limits.accept("s1", "ann", t, limit=JOIN_LIMIT) == 0.0


def test_the_heartbeat_limit_follows_the_window() -> None:
    limit = presence.heartbeat_limit(300)
    assert (limit.burst, limit.burst_seconds) == (presence.HEARTBEATS_PER_WINDOW, 300.0)
    assert presence.heartbeat_limit(5).burst_seconds == 5.0


@pytest.fixture
def frozen_app(settings: Settings, gateway: FakeGateway) -> FastAPI:
    """The app with its clock at FROZEN and every listener sent to the broadcast (heartbeats)."""
    app = create_app(
        settings.model_copy(
            update={"broadcast_base_url": "https://cdn.example/b", "webrtc_listener_limit": 0}
        )
    )
    app.dependency_overrides[deps.get_gateway] = lambda: gateway

    async def frozen(
        request: Request,
        settings: deps.SettingsDep,
        store: Annotated[SpaceStore, Depends(deps.get_store)],
        gateway: Annotated[RoomGateway, Depends(deps.get_gateway)],
    ) -> Context:
        ctx = await deps.get_context(request, settings, store, gateway)
        ctx.clock = lambda: FROZEN
        return ctx

    app.dependency_overrides[deps.get_context] = frozen
    return app


@pytest.fixture
def client(frozen_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(frozen_app, base_url="http://127.0.0.1") as c:
        yield c


def test_a_looping_token_client_gets_429_naming_the_rule_and_when_to_come_back(
    client: TestClient, frozen_app: FastAPI
) -> None:
    space_id = live_space(client)
    for _ in range(JOIN_LIMIT.burst):
        assert client.post(f"/spaces/{space_id}/token", headers=auth("lena")).status_code == 200
    answer = client.post(f"/spaces/{space_id}/token", headers=auth("lena"))
    assert answer.status_code == 429, answer.text
    assert answer.json()["rule"] == names.TOKEN_RATE_LIMITED_RULE
    assert "10 in each 10 s window" in answer.json()["detail"]
    assert int(answer.headers["retry-after"]) >= 9
    # Others are not held back by one caller's loop; another Space's id does not open a new bucket.
    assert client.post(f"/spaces/{space_id}/token", headers=auth("omar")).status_code == 200
    other = live_space(client)
    assert client.post(f"/spaces/{other}/token", headers=auth("lena")).status_code == 429
    assert client.post(f"/spaces/{'0' * 32}/token", headers=auth("lena")).status_code == 429


def test_the_token_limit_is_checked_before_the_store_is_read(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    space_id = live_space(client)
    for _ in range(JOIN_LIMIT.burst):
        client.post(f"/spaces/{space_id}/token", headers=auth("lena"))

    def unread(*args: object, **kwargs: object) -> object:
        raise AssertionError("the store was read after the limit refused")

    monkeypatch.setattr(SqliteStore, "require", unread)
    assert client.post(f"/spaces/{space_id}/token", headers=auth("lena")).status_code == 429


def test_a_looping_heartbeat_gets_429_after_a_few_per_window(client: TestClient) -> None:
    space_id = live_space(client)
    user = SAMPLED[0]
    for _ in range(presence.HEARTBEATS_PER_WINDOW):
        assert beat(client, space_id, user)[0] == 204
    status, body = beat(client, space_id, user)
    assert status == 429 and body["rule"] == "presence_rate_limited", body
    assert beat(client, space_id, SAMPLED[1])[0] == 204
