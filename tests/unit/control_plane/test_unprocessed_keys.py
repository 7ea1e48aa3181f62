"""A BatchGetItem that DynamoDB answers only in part (UnprocessedKeys: a throttled partition answers
so instead of raising) is retried a few times with backoff, then refused as the store's 503, not
retried until the Lambda's timeout (a scale review found the loop unbounded)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.domain.broadcast import SeatClaim
from functions.domain.errors import Busy
from functions.store.dynamodb import BATCH_GET_ATTEMPTS, PK, SK, DynamoStore, listener_shard_key

pytestmark = pytest.mark.unit

SPACE = "s" * 32
# Far above any bound the store may choose: the fake fails the test instead of letting it hang.
GUARD = 50


class PartlyThrottled:
    """Answers the first `answered` keys of each request and returns the rest as unprocessed; after
    `throttled_calls` calls it answers everything."""

    def __init__(self, *, answered: int = 0, throttled_calls: int = GUARD) -> None:
        self.answered = answered
        self.throttled_calls = throttled_calls
        self.calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls += 1
        assert self.calls <= GUARD, "unprocessed keys retried without bound"
        (table, request), *_ = RequestItems.items()
        keys = request["Keys"]
        cut = len(keys) if self.calls > self.throttled_calls else self.answered
        answer: dict[str, Any] = {"Responses": {table: [{**k, "n": {"N": "1"}} for k in keys[:cut]]}}
        if keys[cut:]:
            answer["UnprocessedKeys"] = {table: {**request, "Keys": keys[cut:]}}
        return answer


def test_keys_left_unprocessed_every_time_are_a_503_after_a_few_attempts() -> None:
    client = PartlyThrottled(answered=1)
    store = DynamoStore("t", client=client)
    with pytest.raises(Busy) as refused:
        store.presence_count(SPACE, 1)
    assert refused.value.rule == "store_throttled" and refused.value.retry_after > 0
    assert client.calls == BATCH_GET_ATTEMPTS


def test_keys_processed_on_a_later_attempt_are_all_read() -> None:
    client = PartlyThrottled(answered=3, throttled_calls=2)
    store = DynamoStore("t", client=client)
    assert store.presence_count(SPACE, 1) == 16
    assert client.calls == 3


def test_a_member_read_of_a_throttled_space_is_a_503() -> None:
    store = DynamoStore("t", client=PartlyThrottled())
    with pytest.raises(Busy):
        store.get(SPACE, member="u", consistent=False)


def test_a_seat_claim_on_a_throttled_table_is_no_seat() -> None:
    # As a throttling error is (test_seat_refusals.py): the listener gets the broadcast.
    client = PartlyThrottled()
    store = DynamoStore("t", client=client)
    assert store.claim_seat(SPACE, SeatClaim(user="u", bucket=7, capacity=3)) is None
    assert client.calls == BATCH_GET_ATTEMPTS


def test_the_fake_answers_keys_as_dynamodb_does() -> None:
    key = listener_shard_key(SPACE, 0)
    found = PartlyThrottled(throttled_calls=0).batch_get_item(RequestItems={"t": {"Keys": [key]}})
    assert [(i[PK]["S"], i[SK]["S"]) for i in found["Responses"]["t"]] == [(key[PK]["S"], key[SK]["S"])]
