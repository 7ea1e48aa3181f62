"""An answer never says "nothing was changed" after something was: a store failure after a removal
was stored, or after a rate limit was spent, says what was done."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from functions.api import deps
from functions.api.routes import reactions as reaction_routes
from functions.core.config import Settings
from functions.store.base import Snapshot
from functions.store.sqlite import SqliteReactions, SqliteStore

from .conftest import auth
from .test_api import live_space, set_role

pytestmark = pytest.mark.unit


def throttled(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, operation)


def test_a_removal_whose_unlisting_is_throttled_is_accepted_not_a_503(
    app: FastAPI, client: TestClient, settings: Settings
) -> None:
    class ThrottledUnlisting(SqliteStore):
        def remove_listener(self, space_id: str, user_id: str, **_: Any) -> int:
            raise throttled("Query")

    space_id = live_space(client)
    set_role(client, space_id, "troll", "speaker")
    app.dependency_overrides[deps.get_store] = lambda: ThrottledUnlisting(settings.sqlite_path)
    answer = client.post(
        f"/spaces/{space_id}/participants/troll/remove", json={"block": True}, headers=auth("host")
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["converged"] is False and answer.json()["speakers"] == []
    del app.dependency_overrides[deps.get_store]
    token = client.post(f"/spaces/{space_id}/token", headers=auth("troll"))
    assert token.status_code == 403 and token.json()["rule"] == "blocked"


def test_a_reaction_whose_count_is_throttled_says_its_limit_was_spent(
    app: FastAPI, client: TestClient, settings: Settings
) -> None:
    class ThrottledCount(SqliteReactions):
        def add(self, space_id: str, window: int, shard: int, code: str) -> int | None:
            raise throttled("UpdateItem")

    space_id = live_space(client)
    app.dependency_overrides[reaction_routes.get_reaction_store] = lambda: ThrottledCount(
        settings.sqlite_path
    )
    answer = client.post(f"/spaces/{space_id}/reactions", json={"emoji": "👏"}, headers=auth("fan"))
    assert answer.status_code == 503, answer.text
    assert answer.json()["rule"] == "store_throttled" and answer.headers["Retry-After"] == "2"
    detail = answer.json()["detail"]
    assert "nothing was changed" not in detail and "not counted" in detail
    assert "at most 10 in each 10 s window of the clock, one per 1 s" in detail


def test_a_hand_whose_write_is_throttled_says_the_toggle_was_spent(
    app: FastAPI, client: TestClient, settings: Settings
) -> None:
    class ThrottledWrite(SqliteStore):
        def _commit(self, read: Snapshot, after: Any) -> Any:
            raise throttled("TransactWriteItems")

    space_id = live_space(client)
    app.dependency_overrides[deps.get_store] = lambda: ThrottledWrite(settings.sqlite_path)
    answer = client.post(f"/spaces/{space_id}/hand", headers=auth("fan"))
    assert answer.status_code == 503, answer.text
    assert answer.json()["rule"] == "store_throttled"
    detail = answer.json()["detail"]
    assert "nothing was changed" not in detail and "the hand was not changed" in detail
    del app.dependency_overrides[deps.get_store]
    assert client.get(f"/spaces/{space_id}", headers=auth("fan")).json()["raised_hands"] == []


def test_a_rule_refusing_a_hand_is_still_its_own_answer(client: TestClient) -> None:
    space_id = live_space(client)
    answer = client.post(f"/spaces/{space_id}/hand", headers=auth("host"))
    assert answer.status_code == 409 and answer.json()["rule"] == "already_on_stage"
