"""A throttled table gives no seat (the listener gets the broadcast), not a 500: DynamoStore's seat
claim against a client that refuses every call as DynamoDB does when a partition is over its rate."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.domain.broadcast import SeatClaim
from functions.store.dynamodb import DynamoStore

pytestmark = pytest.mark.unit


class Throttled:
    def __init__(self, code: str) -> None:
        self.code = code
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def call(**_: Any) -> Any:
            self.calls.append(name)
            raise ClientError({"Error": {"Code": self.code, "Message": "slow down"}}, name)

        return call


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_a_throttled_claim_is_no_seat(code: str) -> None:
    client = Throttled(code)
    store = DynamoStore("t", client=client)
    assert store.claim_seat("s" * 32, SeatClaim(user="u", bucket=7, capacity=3)) is None
    assert client.calls == ["batch_get_item"]


def test_any_other_error_is_raised() -> None:
    store = DynamoStore("t", client=Throttled("ResourceNotFoundException"))
    with pytest.raises(ClientError):
        store.claim_seat("s" * 32, SeatClaim(user="u", bucket=7, capacity=3))
