"""Which store failures are a 503 (nothing written, worth sending again) and which stay a 500:
functions.store.failures.unavailable on the errors botocore raises once its own retries are spent."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from functions.store.failures import unavailable

from .test_seat_refusals import Throttled

pytestmark = pytest.mark.unit


def client_error(code: str, reasons: list[str] | None = None) -> Exception:
    try:
        Throttled(code).put_item()
    except Exception as exc:  # noqa: BLE001 - the ClientError botocore would raise
        if reasons is not None:
            exc.response["CancellationReasons"] = [{"Code": r} for r in reasons]  # type: ignore[attr-defined]
        return exc
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]
)
def test_a_throttled_request_is_busy(code: str) -> None:
    busy = unavailable(client_error(code))
    assert busy is not None and busy.rule == "store_throttled" and busy.retry_after == 2


@pytest.mark.parametrize(
    ("reasons", "busy"),
    [
        (["None", "ThrottlingError"], True),
        (["TransactionConflict", "None"], True),
        (["ConditionalCheckFailed", "ThrottlingError"], False),  # a rule said no: not transient
        (["ValidationError"], False),
    ],
)
def test_a_cancelled_transaction_is_busy_only_when_nothing_but_load_cancelled_it(
    reasons: list[str], busy: bool
) -> None:
    assert (unavailable(client_error("TransactionCanceledException", reasons)) is not None) is busy


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
    ],
)
def test_an_unreachable_store_is_busy(exc: Exception) -> None:
    busy = unavailable(exc)
    assert busy is not None and busy.rule == "store_unreachable" and busy.retry_after == 5


@pytest.mark.parametrize(
    "exc",
    [
        # The request may have been applied: sending it again is the caller's call, not a promise.
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
        client_error("InternalServerError"),
        client_error("ValidationException"),
        client_error("ResourceNotFoundException"),
        ValueError("not a store error"),
    ],
)
def test_anything_else_is_not(exc: Any) -> None:
    assert unavailable(exc) is None
