"""A SQLite database holding one live Space, and the Lambda event asking it for a join token."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contract import names
from functions.domain import lifecycle
from functions.domain.model import VideoPolicy
from functions.store.base import SpaceStore

HOST = "bench-host"
LISTENER = "bench-listener"


def live_space(store: SpaceStore, *, space_id: str | None = None, host: str = "host") -> str:
    """A new Space, started by `host`, in `store` (a fresh id unless given)."""
    now = datetime.now(UTC)
    space = lifecycle.new_space(
        space_id=space_id or uuid.uuid4().hex,
        title="storm",
        host=host,
        video=VideoPolicy.SPEAKERS,
        now=now,
        scheduled_start=None,
    )
    store.create(space)
    store.update(space.id, lambda s: lifecycle.start(s, actor=host, now=now))
    return space.id


def seed(store: SpaceStore) -> str:
    now = datetime.now(UTC)
    space = lifecycle.new_space(
        space_id="b" * 32, title="bench", host=HOST, video=VideoPolicy.SPEAKERS, now=now, scheduled_start=None
    )
    if store.get(space.id) is None:
        store.create(space)
        store.update(space.id, lambda s: lifecycle.start(s, actor=HOST, now=now))
    return space.id


def env(sqlite_path: Path | None = None, **extra: str) -> dict[str, str]:
    base = {
        names.ENV_MODE: "local",
        names.ENV_LIVEKIT_URL: "ws://127.0.0.1:7880",
        names.ENV_LIVEKIT_API_KEY: "bench-key",
        names.ENV_LIVEKIT_API_SECRET: "bench-secret-long-enough-for-hs256-signing",
        names.ENV_STORE: "sqlite",
    }
    if sqlite_path is not None:
        base[names.ENV_SQLITE_PATH] = str(sqlite_path)
    return {**base, **extra}


def token_event(space_id: str) -> dict[str, Any]:
    """API Gateway HTTP API (payload 2.0) event behind a JWT authorizer: POST /spaces/{id}/token."""
    path = f"/spaces/{space_id}/token"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "api.example"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "api.example",
            "domainPrefix": "api",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.1",
                "userAgent": "bench",
            },
            "requestId": "bench",
            "routeKey": "$default",
            "stage": "$default",
            "time": "20/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795176000000,
            "authorizer": {"jwt": {"claims": {"sub": LISTENER}, "scopes": None}},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


class Context:
    """The Lambda context Mangum reads."""

    function_name = "bench"
    aws_request_id = "bench"
    memory_limit_in_mb = 512

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def serve_first_request(
    handler: Any,
    space_id: str,
    *,
    started: tuple[float, float],
    imported: tuple[float, float],
    heavy: tuple[str, ...] = (),
) -> None:
    """Serve the first token request and print the cold start as one JSON line.

    `started` and `imported` are (perf_counter, process_time) taken before and after the import
    being measured; `heavy` lists modules whose presence in sys.modules the report names."""
    import sys
    import time

    t1, c1 = time.perf_counter(), time.process_time()
    response = handler(token_event(space_id), Context())
    t2, c2 = time.perf_counter(), time.process_time()
    assert response["statusCode"] == 200, response
    (t0, c0), (t_import, c_import) = started, imported
    print(
        json.dumps(
            {
                "import_ms": (t_import - t0) * 1000,
                "first_request_ms": (t2 - t1) * 1000,
                "total_ms": (t_import - t0 + t2 - t1) * 1000,
                # CPU time: what the same work costs without the other tenants of a shared machine.
                "total_cpu_ms": (c_import - c0 + c2 - c1) * 1000,
                "loaded": [m for m in heavy if m in sys.modules],
            }
        )
    )
