"""Someone who may not moderate is refused on one small read of the Space's own fields, never after
the read of every hand and block a moderator-only rule needs (an abuse review found they cost the
service that whole read for free)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from functions.api import deps
from functions.core.config import Settings
from functions.domain.model import Space
from functions.store.base import Snapshot
from functions.store.dynamodb import DynamoStore, _item
from functions.store.sqlite import SqliteStore

from .conftest import auth
from .fakes import FakeGateway
from .test_api import create, live_space, set_role

pytestmark = pytest.mark.unit


class CountingStore(SqliteStore):
    """Counts the whole-Space reads (every hand and block) and the reads of the own fields only."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.whole: list[str] = []
        self.own: list[str] = []

    def get(self, space_id: str, *, member: str | None = None, consistent: bool = True) -> Space | None:
        if member is None:
            self.whole.append(space_id)
        return super().get(space_id, member=member, consistent=consistent)

    def _read(self, space_id: str) -> Snapshot | None:
        self.whole.append(space_id)
        return super()._read(space_id)

    def get_own(self, space_id: str) -> Space | None:
        self.own.append(space_id)
        return super().get_own(space_id)


# (method, path after /spaces/{id}, body, rule of the 403)
MODERATOR_ONLY = [
    ("put", "/roles/bob", {"role": "speaker"}, "moderators_only"),
    ("post", "/participants/co/remove", {"block": True}, "moderators_only"),
    ("post", "/participants/co/mute", None, "moderators_only"),
    ("put", "/spotlight", {"user_id": None}, "only_host_pins"),
    ("post", "/host", {"user_id": "co"}, "only_host_hands_over"),
    ("get", "/listeners", None, "moderators_only"),
    ("post", "/end", None, "only_host_ends"),
]


@pytest.fixture
def counting(app: FastAPI, settings: Settings, client: TestClient) -> CountingStore:
    store = CountingStore(settings.sqlite_path)
    app.dependency_overrides[deps.get_store] = lambda: store
    return store


@pytest.mark.parametrize(("method", "path", "body", "rule"), MODERATOR_ONLY)
@pytest.mark.parametrize("caller", ["nobody", "sp"])
def test_a_caller_who_may_not_moderate_is_refused_before_the_whole_space_is_read(
    client: TestClient,
    counting: CountingStore,
    gateway: FakeGateway,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    rule: str,
    caller: str,
) -> None:
    space_id = live_space(client)
    set_role(client, space_id, "co", "cohost")
    set_role(client, space_id, "sp", "speaker")
    gateway.connected.update({"co", "sp"})
    counting.whole.clear()
    counting.own.clear()
    kwargs: dict[str, Any] = {"headers": auth(caller)} | ({"json": body} if body is not None else {})
    answer = getattr(client, method)(f"/spaces/{space_id}{path}", **kwargs)
    assert answer.status_code == 403, answer.text
    assert answer.json()["rule"] == rule and answer.json()["detail"].startswith("only the host")
    assert counting.own == [space_id]
    assert counting.whole == [], "refused after reading every hand and block"
    assert ("mute", "co") not in gateway.calls and "co" in gateway.connected


def test_only_the_host_starts_and_is_refused_on_the_own_fields(
    client: TestClient, counting: CountingStore
) -> None:
    space_id = create(client)["id"]
    counting.whole.clear()
    answer = client.post(f"/spaces/{space_id}/start", headers=auth("nobody"))
    assert answer.status_code == 403 and answer.json()["rule"] == "only_host_starts"
    assert counting.whole == []


@pytest.mark.parametrize(("method", "path", "body", "rule"), MODERATOR_ONLY)
def test_an_unknown_space_is_still_404(
    client: TestClient, counting: CountingStore, method: str, path: str, body: Any, rule: str
) -> None:
    kwargs: dict[str, Any] = {"headers": auth("nobody")} | ({"json": body} if body is not None else {})
    answer = getattr(client, method)(f"/spaces/{'0' * 32}{path}", **kwargs)
    assert answer.status_code == 404 and answer.json()["rule"] == "space_not_found"


def test_moderators_still_get_the_whole_space_and_its_rules(
    client: TestClient, counting: CountingStore
) -> None:
    space_id = live_space(client)
    client.post(f"/spaces/{space_id}/hand", headers=auth("fan"))
    set_role(client, space_id, "co", "cohost")
    # A co-host passes the role check, then the rule on the whole Space says what is wrong.
    refused = client.put(f"/spaces/{space_id}/roles/x", json={"role": "cohost"}, headers=auth("co"))
    assert refused.status_code == 403 and refused.json()["rule"] == "only_host_assigns_cohosts"
    promoted = set_role(client, space_id, "fan", "speaker", actor="co")
    assert promoted.status_code == 200 and promoted.json()["speakers"] == ["fan"]
    assert counting.whole, "a moderator's change reads the whole Space"


class OneItemClient:
    """A DynamoDB client that answers GetItem from one stored item and refuses anything else."""

    def __init__(self, item: dict[str, Any]) -> None:
        self.item = item
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("get_item", request))
        return {"Item": self.item} if request["Key"] == {k: self.item[k] for k in request["Key"]} else {}

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"get_own must not call {name}")


def test_dynamodb_reads_the_own_fields_as_one_strongly_consistent_get_item() -> None:
    from datetime import UTC, datetime

    from functions.domain.model import SpaceState, VideoPolicy

    space = Space(
        id="a" * 32,
        title="t",
        host="host",
        video=VideoPolicy.OFF,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        state=SpaceState.LIVE,
        cohosts=("co",),
    )
    client = OneItemClient(_item(space))
    store = DynamoStore("t", client=client)
    own = store.get_own(space.id)
    assert own is not None and own.host == "host" and own.cohosts == ("co",)
    assert len(client.calls) == 1 and client.calls[0][1]["ConsistentRead"] is True
    assert store.get_own("b" * 32) is None
