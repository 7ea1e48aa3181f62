"""Join tokens (per user) and presence heartbeats (per user and Space) are limited in each API
process's memory (store/process_limits.py): each request reads the store, and a client that loops
them must not spend its Space's reads without bound. The limit is checked before the store is read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from contract import names
from functions.domain import presence
from functions.domain.stage import JOIN_LIMIT
from functions.store.process_limits import ProcessLimits
from functions.store.sqlite import SqliteStore

from .conftest import auth
from .test_api import live_space
from .test_presence import SAMPLED, beat

pytestmark = pytest.mark.unit

# Early in a 10-s window of the join limit, so every request of a test falls into it (the HLS app,
# pclient, is at HLS_NOW: the start of one).
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


def test_a_looping_token_client_gets_429_naming_the_rule_and_when_to_come_back(pclient: TestClient) -> None:
    space_id = live_space(pclient)
    for _ in range(JOIN_LIMIT.burst):
        assert pclient.post(f"/spaces/{space_id}/token", headers=auth("lena")).status_code == 200
    answer = pclient.post(f"/spaces/{space_id}/token", headers=auth("lena"))
    assert answer.status_code == 429, answer.text
    assert answer.json()["rule"] == names.TOKEN_RATE_LIMITED_RULE
    assert "10 in each 10 s window" in answer.json()["detail"]
    assert int(answer.headers["retry-after"]) >= 9
    # Others are not held back by one caller's loop; another Space's id does not open a new bucket.
    assert pclient.post(f"/spaces/{space_id}/token", headers=auth("omar")).status_code == 200
    other = live_space(pclient)
    assert pclient.post(f"/spaces/{other}/token", headers=auth("lena")).status_code == 429
    assert pclient.post(f"/spaces/{'0' * 32}/token", headers=auth("lena")).status_code == 429


def test_the_token_limit_is_checked_before_the_store_is_read(
    pclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    space_id = live_space(pclient)
    for _ in range(JOIN_LIMIT.burst):
        pclient.post(f"/spaces/{space_id}/token", headers=auth("lena"))

    def unread(*args: object, **kwargs: object) -> object:
        raise AssertionError("the store was read after the limit refused")

    monkeypatch.setattr(SqliteStore, "require", unread)
    assert pclient.post(f"/spaces/{space_id}/token", headers=auth("lena")).status_code == 429


def test_a_looping_heartbeat_gets_429_after_a_few_per_window(pclient: TestClient) -> None:
    space_id = live_space(pclient)
    user = SAMPLED[0]
    for _ in range(presence.HEARTBEATS_PER_WINDOW):
        assert beat(pclient, space_id, user)[0] == 204
    status, body = beat(pclient, space_id, user)
    assert status == 429 and body["rule"] == "presence_rate_limited", body
    assert beat(pclient, space_id, SAMPLED[1])[0] == 204
