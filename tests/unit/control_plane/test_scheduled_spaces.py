"""Scheduled Spaces in the API: one planned long ago leaves the lobby (discovery) after a grace but
stays readable and startable; a host holds a bounded number of scheduled Spaces (an abuse review
found a Space scheduled for 1971 at the head of the lobby's Scheduled list forever, and no bound
on how many one account could put there)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from fastapi.testclient import TestClient

from functions.api import deps
from functions.api.main import create_app
from functions.core.config import Settings
from functions.domain import lifecycle
from functions.domain.errors import Conflict
from functions.domain.lifecycle import SCHEDULE_GRACE
from functions.domain.model import VideoPolicy
from functions.store.dynamodb import DynamoStore

from .conftest import auth
from .fakes import FakeGateway
from .test_api import create

pytestmark = pytest.mark.unit


def scheduled(client: TestClient, when: datetime, host: str = "host") -> str:
    return str(create(client, host, scheduled_start=when.isoformat())["id"])


def listed(client: TestClient) -> list[str]:
    answer = client.get("/spaces", params={"state": "scheduled", "limit": 100}, headers=auth("viewer"))
    assert answer.status_code == 200, answer.text
    return [s["id"] for s in answer.json()["items"]]


def test_a_scheduled_space_long_past_its_start_leaves_discovery_but_stays_readable_and_startable(
    client: TestClient,
) -> None:
    now = datetime.now(UTC)
    ancient = scheduled(client, datetime(1971, 1, 1, tzinfo=UTC))
    late = scheduled(client, now - SCHEDULE_GRACE - timedelta(hours=1))
    within = scheduled(client, now - SCHEDULE_GRACE + timedelta(hours=1))
    future = scheduled(client, now + timedelta(days=1))
    assert listed(client) == [within, future]
    for space_id in (ancient, late):
        read = client.get(f"/spaces/{space_id}", headers=auth("viewer"))
        assert read.status_code == 200 and read.json()["state"] == "scheduled"
    started = client.post(f"/spaces/{ancient}/start", headers=auth("host"))
    assert started.status_code == 200 and started.json()["state"] == "live"


@pytest.fixture
def capped(settings: Settings, gateway: FakeGateway) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"max_scheduled_per_host": 3}))
    app.dependency_overrides[deps.get_gateway] = lambda: gateway
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def test_a_host_holds_only_so_many_scheduled_spaces(capped: TestClient) -> None:
    held = [create(capped)["id"] for _ in range(3)]
    refused = capped.post("/spaces", json={"title": "one more"}, headers=auth("host"))
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["rule"] == "too_many_scheduled_spaces"
    assert "3 scheduled Spaces" in body["detail"] and all(space_id in body["detail"] for space_id in held)
    # Nothing was stored.
    assert sorted(listed(capped)) == sorted(held)
    # Someone else's quota is their own.
    create(capped, "other")
    # Starting one or cancelling one frees its place.
    assert capped.post(f"/spaces/{held[0]}/start", headers=auth("host")).status_code == 200
    create(capped)
    assert capped.post("/spaces", json={"title": "x"}, headers=auth("host")).status_code == 409
    assert capped.post(f"/spaces/{held[1]}/end", headers=auth("host")).status_code == 200
    create(capped)


def test_a_repeated_create_at_the_quota_replays_the_space_it_created(capped: TestClient) -> None:
    key = {"Idempotency-Key": "k1"}
    first = capped.post("/spaces", json={"title": "t"}, headers={**auth("host"), **key})
    for _ in range(2):
        create(capped)
    again = capped.post("/spaces", json={"title": "t"}, headers={**auth("host"), **key})
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


def test_nobody_is_handed_scheduled_spaces_they_never_joined(capped: TestClient) -> None:
    """Found in a security review: a co-host is made without being asked, and a scheduled Space
    used to be handed to them, so anyone could fill a stranger's quota with Spaces listed in the
    lobby as the stranger's (20 in the cloud, on DynamoDB Local too) and leave them unable to create
    one. A scheduled Space has had nobody in it: it is handed over once it is live."""
    mine = [create(capped, "mallory")["id"] for _ in range(3)]
    for space_id in mine:
        made = capped.put(
            f"/spaces/{space_id}/roles/victim", json={"role": "cohost"}, headers=auth("mallory")
        )
        assert made.status_code == 200, made.text
        refused = capped.post(f"/spaces/{space_id}/host", json={"user_id": "victim"}, headers=auth("mallory"))
        assert refused.status_code == 409 and refused.json()["rule"] == "cohost_not_joined", refused.text
        assert capped.get(f"/spaces/{space_id}", headers=auth("victim")).json()["host"] == "mallory"
    # Their quota is still all theirs.
    for _ in range(3):
        create(capped, "victim")


def test_the_quota_is_20_in_the_cloud_unless_set_and_none_locally(settings: Settings) -> None:
    assert settings.limits.max_scheduled_per_host is None
    cloud = Settings(SPACES_MODE="cloud", LIVEKIT_SECRET_ARN="arn:aws:secretsmanager:eu-west-1:1:secret:lk")
    assert cloud.limits.max_scheduled_per_host == 20
    assert settings.model_copy(update={"max_scheduled_per_host": 5}).limits.max_scheduled_per_host == 5


def test_dynamodb_names_the_spaces_that_fill_the_quota() -> None:
    """DynamoDB refuses the create's transaction on the host's set (`size(ids) < quota`); the
    answer reads the set to name them. Scripted: the condition itself runs on DynamoDB Local in
    the store contract tests."""
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    store = DynamoStore("spaces", client=client)
    store.scheduled_quota = 2
    space = lifecycle.new_space(
        space_id="c" * 32,
        title="t",
        host="alice",
        video=VideoPolicy.OFF,
        now=datetime.now(UTC),
        scheduled_start=None,
    )
    with Stubber(client) as stub:
        stub.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            service_message="Transaction cancelled",
            modeled_fields={"CancellationReasons": [{"Code": "None"}, {"Code": "ConditionalCheckFailed"}]},
        )
        stub.add_response(
            "get_item",
            {
                "Item": {
                    "pk": {"S": "HOST#alice"},
                    "sk": {"S": "SCHEDULED"},
                    "ids": {"SS": ["a" * 32, "b" * 32]},
                }
            },
        )
        with pytest.raises(Conflict) as refused:
            store.create(space)
    assert refused.value.rule == "too_many_scheduled_spaces"
    assert "a" * 32 in refused.value.message and "b" * 32 in refused.value.message


def test_a_planned_start_in_lower_case_t_and_z_is_the_same_time(client: TestClient) -> None:
    """RFC 3339 (5.6) lets the T and the Z be lower case."""
    space_id = create(client, "host", scheduled_start="2027-01-31t18:00:00z")["id"]
    got = client.get(f"/spaces/{space_id}", headers=auth("host")).json()["scheduled_start"]
    assert datetime.fromisoformat(got) == datetime(2027, 1, 31, 18, tzinfo=UTC)


def test_a_planned_start_with_an_offset_is_answered_in_utc_by_the_create_as_by_every_read(
    client: TestClient,
) -> None:
    """Found from outside: the 201 echoed "+02:00" as sent, every later read said the same instant in
    UTC, so a client comparing the two saw two values."""
    created = create(client, "host", scheduled_start="2027-03-01T10:00:00+02:00")
    read = client.get(f"/spaces/{created['id']}", headers=auth("host")).json()
    assert created["scheduled_start"] == read["scheduled_start"]
    assert datetime.fromisoformat(created["scheduled_start"]) == datetime(2027, 3, 1, 8, tzinfo=UTC)
    assert created["scheduled_start"].endswith(("Z", "+00:00"))
