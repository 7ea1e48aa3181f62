"""Hand raises and lowers are limited per user (the reactions' limiter): each one reads the Space,
runs a reconciler pass and sends the moderators a hands message, so a script toggling its hand
must not make the service do that without bound."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from functions.api import deps
from functions.core.config import Settings
from functions.domain import reactions as rx
from functions.domain.model import Limits
from functions.domain.stage import HAND_LIMIT
from functions.livekit_edge.gateway import RoomGateway
from functions.store.base import Snapshot
from functions.store.sqlite import SqliteReactions, SqliteStore
from functions.usecases.context import Context

from .conftest import auth
from .test_api import live_space

pytestmark = pytest.mark.unit

# Early in a 5-s bucket of the hand limit, so every toggle of a test falls into it.
FROZEN = datetime.fromtimestamp(1_800_000_000.5, UTC)


def test_a_burst_of_toggles_then_a_wait_until_the_next_bucket() -> None:
    state = None
    t = 1000.0
    for i in range(HAND_LIMIT.burst):
        assert rx.retry_after(state, t + i * 0.01, HAND_LIMIT) == 0.0  # a mis-tap and its undo pass
        state = rx.after_accept(state, t + i * 0.01, HAND_LIMIT)
    assert rx.retry_after(state, t + 1.0, HAND_LIMIT) == pytest.approx(4.0)
    assert rx.retry_after(state, t + 5.0, HAND_LIMIT) == 0.0
    assert HAND_LIMIT.describe() == "at most 5 in each 5 s window of the clock"


def test_without_a_min_interval_an_earlier_request_stored_second_is_not_refused() -> None:
    # Two toggles of one user at t=100.2 and t=100.1: the later-stamped one was stored first.
    assert HAND_LIMIT.min_interval == 0
    later = rx.after_accept(None, 100.2, HAND_LIMIT)
    assert rx.retry_after(later, 100.1, HAND_LIMIT) == 0.0
    # The burst still counts, whatever the order.
    state = later
    for i in range(HAND_LIMIT.burst - 1):
        state = rx.after_accept(state, 100.3 + i * 0.01, HAND_LIMIT)
    assert rx.retry_after(state, 100.1, HAND_LIMIT) == pytest.approx(5.0 - 0.1)
    # A spacing of its own (reactions: 1 s) still refuses a request within it, in either order.
    one = rx.after_accept(None, 100.2)
    assert rx.LIMIT.min_interval > 0
    assert rx.retry_after(one, 100.1) == pytest.approx(rx.LIMIT.min_interval + 0.1)


def test_the_hand_limit_is_kept_apart_from_the_reactions_limit(tmp_path: Path) -> None:
    limits = SqliteReactions(tmp_path / "spaces.sqlite3")
    assert limits.accept("s", "u", 1000.0) == 0.0  # a reaction
    for _ in range(HAND_LIMIT.burst):
        assert limits.accept("s", "u", 1000.0, limit=HAND_LIMIT) == 0.0
    assert limits.accept("s", "u", 1000.0, limit=HAND_LIMIT) == pytest.approx(5.0)
    assert limits.accept("s", "v", 1000.0, limit=HAND_LIMIT) == 0.0  # per user
    assert limits.accept("s2", "u", 1000.0, limit=HAND_LIMIT) == 0.0  # per Space
    state = limits.limit_state("s", "u")
    assert state is not None and state.count == 1


class CountingStore(SqliteStore):
    reads = 0

    def _read(self, space_id: str) -> Snapshot | None:
        self.reads += 1
        return super()._read(space_id)


@pytest.fixture
def frozen(app: FastAPI, settings: Settings) -> CountingStore:
    """The API with its clock stopped at FROZEN, on a store that counts whole-Space reads."""
    store = CountingStore(settings.sqlite_path)

    async def context(
        request: Request,
        settings: deps.SettingsDep,
        gateway: Annotated[RoomGateway, Depends(deps.get_gateway)],
    ) -> Context:
        ctx = await deps.get_context(request, settings, store, gateway)
        ctx.clock = lambda: FROZEN
        return ctx

    app.dependency_overrides[deps.get_store] = lambda: store
    app.dependency_overrides[deps.get_context] = context
    return store


def test_toggling_a_hand_too_often_is_a_429_naming_the_limit_before_the_space_is_read(
    client: TestClient, frozen: CountingStore
) -> None:
    space_id = live_space(client)
    for i in range(HAND_LIMIT.burst):
        method = client.post if i % 2 == 0 else client.delete
        assert method(f"/spaces/{space_id}/hand", headers=auth("fan")).status_code == 200
    reads = frozen.reads
    limited = client.post(f"/spaces/{space_id}/hand", headers=auth("fan"))
    assert limited.status_code == 429, limited.text
    assert limited.json()["rule"] == "hand_rate_limited"
    assert "at most 5 in each 5 s window of the clock" in limited.json()["detail"]
    assert 1 <= int(limited.headers["Retry-After"]) <= 5
    assert frozen.reads == reads, "a limited toggle read the Space"
    # The limited raise changed nothing; someone else's hand is not limited by it.
    assert client.delete(f"/spaces/{space_id}/hand", headers=auth("fan")).status_code == 429
    assert client.post(f"/spaces/{space_id}/hand", headers=auth("other")).status_code == 200


# --- a full queue is refused before the whole Space is read ----------------------------------------


def fill_the_queue(store: CountingStore, space_id: str, *, except_for: int = 0) -> None:
    queue = tuple(f"queued{i}" for i in range(Limits().max_raised_hands - except_for))
    store.update(space_id, lambda s: s.replace(raised_hands=queue))
    assert len(store.require(space_id).raised_hands) == len(queue)


def test_a_raise_into_a_full_queue_is_the_same_409_without_the_whole_read(
    client: TestClient, frozen: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    space_id = live_space(client)
    fill_the_queue(frozen, space_id)
    reads = frozen.reads
    refused = client.post(f"/spaces/{space_id}/hand", headers=auth("late"))
    assert refused.status_code == 409, refused.text
    assert refused.json()["rule"] == "hand_queue_full"
    assert frozen.reads == reads, "a raise into a full queue read the whole Space"
    # The answer the whole read gives (the count read apart says nothing: the old path).
    monkeypatch.setattr(frozen, "queued_hands", lambda space_id: 0)
    whole = client.post(f"/spaces/{space_id}/hand", headers=auth("late2"))
    assert frozen.reads > reads
    assert (whole.status_code, whole.json()) == (409, refused.json())


def test_a_full_queue_keeps_every_other_answer_of_a_raise(client: TestClient, frozen: CountingStore) -> None:
    space_id = live_space(client)
    fill_the_queue(frozen, space_id, except_for=1)
    assert client.post(f"/spaces/{space_id}/hand", headers=auth("last")).status_code == 200  # the last place
    # Already raised: still the 200 that changes nothing.
    again = client.post(f"/spaces/{space_id}/hand", headers=auth("last"))
    assert again.status_code == 200 and "last" in again.json()["raised_hands"]
    # On stage: still 409 already_on_stage, not hand_queue_full.
    host = client.post(f"/spaces/{space_id}/hand", headers=auth("host"))
    assert (host.status_code, host.json()["rule"]) == (409, "already_on_stage")
