"""What a failure of the DynamoDB store means for the answer: a 503 worth retrying, or not.

Apart from the store itself (`dynamodb.py`, which pulls in boto3) so that the API can map the
errors botocore raises without importing boto3: the SQLite path (local mode, the benchmarks' cold
start) never needs it, and `botocore.exceptions` alone is a small import.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from ..domain.errors import Busy


def reasons_of(exc: ClientError) -> list[dict[str, Any]]:
    """The per-item reasons of a cancelled transaction (none for any other error)."""
    if exc.response["Error"]["Code"] != "TransactionCanceledException":
        return []
    reasons: list[dict[str, Any]] = exc.response.get("CancellationReasons", [])  # type: ignore[assignment]
    return reasons


# Answers DynamoDB gives, once the SDK's own retries are spent, to a request it did not apply: the
# table or one of its partitions is over its throughput. Same request later: it may pass.
_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# A transaction cancelled only for these reasons ("None" marks the items that were fine) wrote nothing.
_TRANSIENT_REASONS = frozenset(
    {"None", "ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded"}
)


def throttled(done: str = "nothing was changed") -> Busy:
    """The 503 for a request the store refused for its throughput (an error code, or keys a batch
    read left unprocessed attempt after attempt)."""
    return Busy("store_throttled", f"the store is over its throughput; {done}, retry", retry_after=2)


def unavailable(exc: Exception, *, done: str = "nothing was changed") -> Busy | None:
    """The 503 for a store failure that left nothing written and may pass later, or None for any
    other failure (which stays a 500: a read timeout, for one, may have applied a write). `done`:
    what the request had stored or spent before the failure (errors.PartlyDone)."""
    if isinstance(exc, ClientError):
        code = exc.response["Error"]["Code"]
        reasons = {r.get("Code", "None") for r in reasons_of(exc)}
        if code in _THROTTLED or (code == "TransactionCanceledException" and reasons <= _TRANSIENT_REASONS):
            return throttled(done)
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return Busy("store_unreachable", f"the store cannot be reached; {done}, retry", retry_after=5)
    return None
