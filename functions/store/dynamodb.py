"""DynamoDB: one table, key names from contract.names (the CDK state construct creates the same shape).

Items:
  pk=SPACE#<id>            sk=META    the Space; gsi1pk=STATE#<state>, gsi1sk=<discovery key>;
                                      listener_count is ADDed by webhooks outside the version check
  pk=EVENT#<webhook id>    sk=EVENT   webhook dedupe, expires through ttl
  pk=IDEMP#<owner>#<key>   sk=IDEMP   Idempotency-Key -> Space id, expires through ttl
Every Space change is an UpdateItem conditioned on the version read (base.SpaceStore.update).
"""

from __future__ import annotations

import random
import time
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from contract import names

from ..domain.errors import Conflict
from ..domain.model import Space, SpaceState
from .base import (
    DEDUPE_TTL,
    IdempotencyKey,
    InvalidCursor,
    SpaceStore,
    discovery_key,
    from_record,
    newest_first,
    to_record,
)

PK, SK = names.TABLE_PK, names.TABLE_SK
GSI1, GSI1_PK, GSI1_SK = names.TABLE_GSI1, names.TABLE_GSI1_PK, names.TABLE_GSI1_SK
TTL = names.TABLE_TTL_ATTRIBUTE
META, EVENT, IDEMP = "META", "EVENT", "IDEMP"
# A transaction that collides with another one on the same item is cancelled, not queued.
TRANSACTION_ATTEMPTS = 8

_ser = TypeSerializer()
_de = TypeDeserializer()


def space_key(space_id: str) -> dict[str, Any]:
    return {PK: {"S": f"SPACE#{space_id}"}, SK: {"S": META}}


class DynamoStore(SpaceStore):
    def __init__(self, table_name: str, *, endpoint_url: str | None = None, client: Any = None) -> None:
        self.table = table_name
        self.client: Any = client or boto3.client(
            "dynamodb",
            endpoint_url=endpoint_url,
            # Fail fast: a Lambda has seconds, and the caller retries a 5xx anyway.
            config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}),
        )

    # --- reads --------------------------------------------------------------------------------
    def get(self, space_id: str) -> Space | None:
        item = self.client.get_item(TableName=self.table, Key=space_key(space_id), ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else _space(item)

    def _page(self, state: SpaceState, *, limit: int, after: str | None) -> tuple[list[Space], str | None]:
        partition = f"STATE#{state.value}"
        query: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": GSI1,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": GSI1_PK},
            "ExpressionAttributeValues": {":p": {"S": partition}},
            "ScanIndexForward": not newest_first(state),
            "Limit": limit,
        }
        if after is not None:
            # The index's start key: the position (GSI key) plus the table key of the item there.
            space_id = after.rsplit("#", 1)[1]
            query["ExclusiveStartKey"] = {
                **space_key(space_id),
                GSI1_PK: {"S": partition},
                GSI1_SK: {"S": after},
            }
        try:
            result = self.client.query(**query)
        except ClientError as exc:
            # Kept as a guard: a start key DynamoDB refuses came from the client, not from us.
            if after is not None and exc.response["Error"]["Code"] == "ValidationException":
                raise InvalidCursor("cursor is not one this API returned") from exc
            raise
        last = result.get("LastEvaluatedKey")
        return [_space(i) for i in result["Items"]], (str(last[GSI1_SK]["S"]) if last else None)

    # --- writes -------------------------------------------------------------------------------
    def _insert(self, space: Space, idempotency: IdempotencyKey | None) -> Space:
        put = {
            "TableName": self.table,
            "Item": _item(space),
            "ConditionExpression": f"attribute_not_exists({PK})",
        }
        if idempotency is None:
            self.client.put_item(**put)
            return space
        key = {PK: {"S": f"IDEMP#{idempotency.owner}#{idempotency.key}"}, SK: {"S": IDEMP}}
        # Concurrent creates with one key collide in the transaction (cancelled, not queued): retry,
        # and the retry sees the winner's key and replays its Space.
        for _ in range(TRANSACTION_ATTEMPTS):
            now = int(time.time())
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": {
                                    **key,
                                    "space_id": {"S": space.id},
                                    "fingerprint": {"S": idempotency.fingerprint},
                                    TTL: {"N": str(now + DEDUPE_TTL)},
                                },
                                # DynamoDB deletes expired items lazily (up to days later): an
                                # expired key is free again, as in SQLite (`expires > now`).
                                "ConditionExpression": f"attribute_not_exists({PK}) OR #ttl < :now",
                                "ExpressionAttributeNames": {"#ttl": TTL},
                                "ExpressionAttributeValues": {":now": {"N": str(now)}},
                            }
                        },
                        {"Put": put},
                    ]
                )
                return space
            except ClientError as exc:
                if _cancelled_by_condition(exc, index=0):
                    earlier = self._live_idempotency_item(key)
                    if earlier is not None:
                        if earlier["fingerprint"]["S"] != idempotency.fingerprint:
                            raise Conflict(
                                "idempotency_key_reused",
                                "this Idempotency-Key was used for a different request",
                            ) from exc
                        return self.require(earlier["space_id"]["S"])
                    # It expired between the write and the read: the key is free, try again.
                elif not _cancelled_by_conflict(exc):
                    raise
            time.sleep(random.uniform(0.005, 0.05))
        raise Conflict("too_much_contention", "too many concurrent creates with this Idempotency-Key; retry")

    def _live_idempotency_item(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table, Key=key, ConsistentRead=True
        ).get("Item")
        if item is None or int(item[TTL]["N"]) < int(time.time()):
            return None
        return item

    def _compare_and_set(self, space: Space, *, expected_version: int) -> bool:
        fields = {**_record_attributes(space)}
        names_ = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        sets = ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        try:
            self.client.update_item(
                TableName=self.table,
                Key=space_key(space.id),
                UpdateExpression=f"SET {sets}",
                ConditionExpression="#v = :expected",
                ExpressionAttributeNames={**names_, "#v": "version"},
                ExpressionAttributeValues={**values, ":expected": {"N": str(expected_version)}},
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def adjust_listeners(self, space_id: str, delta: int, *, event_id: str | None = None) -> bool:
        update = {
            "TableName": self.table,
            "Key": space_key(space_id),
            "UpdateExpression": "ADD listener_count :d",
            "ConditionExpression": f"attribute_exists({PK})",
            "ExpressionAttributeValues": {":d": {"N": str(delta)}},
        }
        if event_id is None:
            try:
                self.client.update_item(**update)
                return True
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    return False
                raise
        for _ in range(TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(
                    TransactItems=[{"Put": self._event_put(event_id)}, {"Update": update}]
                )
                return True
            except ClientError as exc:
                if _cancelled_by_condition(exc, index=0) or _cancelled_by_condition(exc, index=1):
                    return False  # seen before, or no such Space: nothing to count
                if not _cancelled_by_conflict(exc):
                    raise
            time.sleep(0.01)
        raise Conflict("too_much_contention", "listener count busy; the webhook will be retried")

    def claim_event(self, event_id: str) -> bool:
        try:
            self.client.put_item(**self._event_put(event_id))
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def _event_put(self, event_id: str) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "Item": {
                PK: {"S": f"EVENT#{event_id}"},
                SK: {"S": EVENT},
                TTL: {"N": str(int(time.time()) + DEDUPE_TTL)},
            },
            "ConditionExpression": f"attribute_not_exists({PK})",
        }


def ensure_table(client: Any, table_name: str) -> None:
    """Create the table the way the CDK state construct does (local servers and tests only)."""
    try:
        client.create_table(
            TableName=table_name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": "S"} for n in (PK, SK, GSI1_PK, GSI1_SK)
            ],
            KeySchema=[{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": GSI1,
                    "KeySchema": [
                        {"AttributeName": GSI1_PK, "KeyType": "HASH"},
                        {"AttributeName": GSI1_SK, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=table_name)


def _record_attributes(space: Space) -> dict[str, Any]:
    attrs = {k: _ser.serialize(v) for k, v in to_record(space).items()}
    attrs[GSI1_PK] = {"S": f"STATE#{space.state.value}"}
    attrs[GSI1_SK] = {"S": discovery_key(space)}
    return attrs


def _item(space: Space) -> dict[str, Any]:
    return {**space_key(space.id), **_record_attributes(space), "listener_count": {"N": "0"}}


def _space(item: dict[str, Any]) -> Space:
    plain = {k: _de.deserialize(v) for k, v in item.items()}
    return from_record(plain, listener_count=int(plain.get("listener_count", 0)))


def _reasons(exc: ClientError) -> list[dict[str, Any]]:
    if exc.response["Error"]["Code"] != "TransactionCanceledException":
        return []
    reasons: list[dict[str, Any]] = exc.response.get("CancellationReasons", [])  # type: ignore[assignment]
    return reasons


def _cancelled_by_condition(exc: ClientError, *, index: int) -> bool:
    reasons = _reasons(exc)
    return len(reasons) > index and reasons[index].get("Code") == "ConditionalCheckFailed"


def _cancelled_by_conflict(exc: ClientError) -> bool:
    if exc.response["Error"]["Code"] == "TransactionConflictException":
        return True
    return any(r.get("Code") == "TransactionConflict" for r in _reasons(exc))
