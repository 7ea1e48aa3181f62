"""DynamoDB's transaction cancellations on concurrent creates and changes, which DynamoDB Local does not
reproduce (it serializes transactions): scripted with botocore's Stubber on a real client."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from functions.domain import lifecycle, stage
from functions.domain.model import Limits, Space, SpaceState, VideoPolicy
from functions.store.base import IdempotencyKey
from functions.store.dynamodb import COMMIT_SENDS, DynamoStore, _item


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


def _live_store() -> tuple[DynamoStore, Any, Space]:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    space = new_space().replace(state=SpaceState.LIVE, started_at=datetime(2026, 11, 20, tzinfo=UTC))
    return DynamoStore("spaces", client=client), client, space


def _read_of(stub: Stubber, space: Space, *, hands: int | None = None) -> None:
    """One whole read of `space`: its partition (with a hand count of `hands`), then its shards."""
    items = [_item(space)]
    if hands is not None:
        items.append({"pk": {"S": f"SPACE#{space.id}"}, "sk": {"S": "COUNT#HANDS"}, "n": {"N": str(hands)}})
    stub.add_response("query", {"Items": items})
    stub.add_response("batch_get_item", {"Responses": {"spaces": []}})


def _raise(user: str) -> Any:
    return lambda s: stage.raise_hand(s, user=user, limits=Limits())


def test_a_change_cancelled_by_a_concurrent_transaction_is_sent_again_without_a_new_read() -> None:
    """Two hand raises in one Space both add to its hand count: DynamoDB cancels one with
    TransactionConflict (DynamoDB Local serializes instead). Its conditions still say all its read
    assumed, so the loser sends the same transaction again, reading nothing."""
    store, client, space = _live_store()
    with Stubber(client) as stub:
        _read_of(stub, space, hands=3)
        stub.add_client_error("transact_write_items", **cancelled("None", "None", "TransactionConflict"))
        stub.add_client_error("transact_write_items", **cancelled("None", "TransactionConflict", "None"))
        stub.add_response("transact_write_items", {})
        change = store.update(space.id, _raise("bob"))
        stub.assert_no_pending_responses()
    assert change.after.raised_hands == ("bob",) and change.after.version == space.version


def test_a_change_that_keeps_meeting_concurrent_transactions_reads_again() -> None:
    store, client, space = _live_store()
    with Stubber(client) as stub:
        _read_of(stub, space, hands=3)
        for _ in range(COMMIT_SENDS):
            stub.add_client_error("transact_write_items", **cancelled("None", "TransactionConflict"))
        _read_of(stub, space, hands=4)
        stub.add_response("transact_write_items", {})
        assert store.update(space.id, _raise("bob")).changed
        stub.assert_no_pending_responses()


def test_a_change_whose_condition_failed_reads_again_at_once() -> None:
    """A failed condition (the queue filled, a role changed) means the read is out of date: no
    resend, even if another item of the same transaction only met a conflict."""
    store, client, space = _live_store()
    with Stubber(client) as stub:
        _read_of(stub, space, hands=3)
        stub.add_client_error(
            "transact_write_items", **cancelled("ConditionalCheckFailed", "TransactionConflict", "None")
        )
        _read_of(stub, space, hands=3)
        stub.add_response("transact_write_items", {})
        assert store.update(space.id, _raise("bob")).changed
        stub.assert_no_pending_responses()


class RecordingClient:
    """Answers a whole read with one live Space and records the transactions it is sent."""

    def __init__(self, space: Space, hands: int) -> None:
        self.space, self.hands = space, hands
        self.sent: list[list[dict[str, Any]]] = []

    def query(self, **_: Any) -> dict[str, Any]:
        count = {
            "pk": {"S": f"SPACE#{self.space.id}"},
            "sk": {"S": "COUNT#HANDS"},
            "n": {"N": str(self.hands)},
        }
        return {"Items": [_item(self.space), count]}

    def batch_get_item(self, **_: Any) -> dict[str, Any]:
        return {"Responses": {"spaces": []}}

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.sent.append(TransactItems)
        return {}


def _count_update(actions: list[dict[str, Any]]) -> dict[str, Any]:
    (update,) = (
        a["Update"] for a in actions if a.get("Update", {}).get("Key", {}).get("sk") == {"S": "COUNT#HANDS"}
    )
    return update


def test_a_raise_adds_to_the_hand_count_on_the_condition_that_the_queue_stays_within_its_cap() -> None:
    """No compare-and-set on the count as read (concurrent raises would fail each other a round at
    a time): an ADD, conditioned on the cap only when it grows; a lowered hand takes 1 off."""
    space = new_space().replace(state=SpaceState.LIVE, started_at=datetime(2026, 11, 20, tzinfo=UTC))
    client = RecordingClient(space, hands=3)
    store = DynamoStore("spaces", client=client)
    store.hand_cap = 7
    store.update(space.id, _raise("bob"))
    raised = _count_update(client.sent[-1])
    assert raised["UpdateExpression"] == "ADD #n :d"
    assert raised["ExpressionAttributeValues"][":d"] == {"N": "1"}
    assert raised["ConditionExpression"] == "#n <= :room"
    assert raised["ExpressionAttributeValues"][":room"] == {"N": "6"}

    client.space = space.replace(raised_hands=("bob",))
    client.query = lambda **_: {  # type: ignore[method-assign]
        "Items": [
            _item(space),
            {
                "pk": {"S": f"SPACE#{space.id}"},
                "sk": {"S": "HAND#bob"},
                "at": {"N": "1"},
                "user": {"S": "bob"},
            },
            {"pk": {"S": f"SPACE#{space.id}"}, "sk": {"S": "COUNT#HANDS"}, "n": {"N": "4"}},
        ]
    }
    store.update(space.id, lambda s: stage.lower_hand(s, user="bob"))
    lowered = _count_update(client.sent[-1])
    assert lowered["UpdateExpression"] == "ADD #n :d"
    assert lowered["ExpressionAttributeValues"][":d"] == {"N": "-1"}
    assert "ConditionExpression" not in lowered


def test_a_change_refused_for_another_reason_is_not_retried() -> None:
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
