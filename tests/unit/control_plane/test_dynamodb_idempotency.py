"""DynamoDB's transaction cancellations on concurrent creates and changes, which DynamoDB Local does not
reproduce (it serializes transactions): scripted with botocore's Stubber on a real client."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from functions.domain import lifecycle
from functions.domain.model import Space, VideoPolicy
from functions.store.base import IdempotencyKey
from functions.store.dynamodb import DynamoStore, _item


def new_space() -> Space:
    return lifecycle.new_space(
        space_id=uuid.uuid4().hex,
        title="t",
        host="alice",
        video=VideoPolicy.OFF,
        now=datetime(2026, 11, 20, tzinfo=UTC),
        scheduled_start=None,
    )


def cancelled(*codes: str) -> dict[str, object]:
    return {
        "service_error_code": "TransactionCanceledException",
        "service_message": "Transaction cancelled",
        "response_meta": {},
        "modeled_fields": {"CancellationReasons": [{"Code": c} for c in codes]},
    }


def test_a_create_that_collides_with_a_concurrent_one_replays_the_winner() -> None:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    store = DynamoStore("spaces", client=client)
    winner, mine = new_space(), new_space()
    idem = {
        "pk": {"S": "IDEMP#alice#k"},
        "sk": {"S": "IDEMP"},
        "space_id": {"S": winner.id},
        "fingerprint": {"S": "f"},
        "ttl": {"N": str(int(time.time()) + 3600)},
    }
    with Stubber(client) as stub:
        # Both transactions touched the key at once: DynamoDB cancels with TransactionConflict.
        stub.add_client_error("transact_write_items", **cancelled("TransactionConflict", "None"))
        # The retry finds the winner's key.
        stub.add_client_error("transact_write_items", **cancelled("ConditionalCheckFailed", "None"))
        stub.add_response("get_item", {"Item": idem})
        # The winner's Space: its partition, then its listener count shards (none yet).
        stub.add_response("query", {"Items": [_item(winner)]})
        stub.add_response("batch_get_item", {"Responses": {"spaces": []}})
        got = store.create(mine, idempotency=IdempotencyKey("alice", "k", "f"))
        stub.assert_no_pending_responses()
    assert got.id == winner.id


def test_an_unrelated_transaction_error_is_not_swallowed() -> None:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    store = DynamoStore("spaces", client=client)
    space = new_space()
    with Stubber(client) as stub:
        stub.add_client_error("transact_write_items", service_error_code="ValidationException")
        with pytest.raises(ClientError) as err:
            store.create(space, idempotency=IdempotencyKey("alice", "k", "f"))
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_a_change_cancelled_by_a_concurrent_transaction_is_retried_not_failed() -> None:
    """Two hand raises in one Space both write its hand count: DynamoDB cancels one with
    TransactionConflict (DynamoDB Local serializes instead). The loser reads again and wins."""
    from functions.domain import stage
    from functions.domain.model import Limits, SpaceState

    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    store = DynamoStore("spaces", client=client)
    space = new_space().replace(state=SpaceState.LIVE, started_at=datetime(2026, 11, 20, tzinfo=UTC))
    partition = {"Items": [_item(space)]}
    no_shards = {"Responses": {"spaces": []}}
    with Stubber(client) as stub:
        stub.add_response("query", partition)
        stub.add_response("batch_get_item", no_shards)
        stub.add_client_error("transact_write_items", **cancelled("None", "None", "TransactionConflict"))
        stub.add_response("query", partition)
        stub.add_response("batch_get_item", no_shards)
        stub.add_response("transact_write_items", {})
        change = store.update(space.id, lambda s: stage.raise_hand(s, user="bob", limits=Limits()))
        stub.assert_no_pending_responses()
    assert change.after.raised_hands == ("bob",) and change.after.version == space.version


def test_a_change_refused_for_another_reason_is_not_retried() -> None:
    from functions.domain import stage
    from functions.domain.model import Limits, SpaceState

    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    store = DynamoStore("spaces", client=client)
    space = new_space().replace(state=SpaceState.LIVE, started_at=datetime(2026, 11, 20, tzinfo=UTC))
    with Stubber(client) as stub:
        stub.add_response("query", {"Items": [_item(space)]})
        stub.add_response("batch_get_item", {"Responses": {"spaces": []}})
        stub.add_client_error("transact_write_items", service_error_code="ValidationException")
        with pytest.raises(ClientError):
            store.update(space.id, lambda s: stage.raise_hand(s, user="bob", limits=Limits()))


def test_a_create_without_a_key_that_meets_the_same_hosts_concurrent_create_is_tried_again() -> None:
    """Both touched the host's scheduled-Spaces item: DynamoDB cancels one of them (a conflict, not
    the quota), which is tried again instead of answering 503."""
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    store = DynamoStore("spaces", client=client)
    space = new_space()
    with Stubber(client) as stub:
        stub.add_client_error("transact_write_items", **cancelled("None", "TransactionConflict"))
        stub.add_response("transact_write_items", {})
        assert store.create(space) == space
        stub.assert_no_pending_responses()
