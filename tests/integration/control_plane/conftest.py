"""Fixtures for the control plane's integration tests: both stores against real servers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from functions.store.base import SpaceStore
from functions.store.sqlite import SqliteStore
from tests.conftest import LiveKitEndpoint
from tests.support.api_server import ApiServer, api_server
from tests.support.dynamodb_local import DynamoEndpoint, dynamodb_server

STORES = ("sqlite", "dynamodb")


@pytest.fixture(scope="session")
def dynamodb() -> Iterator[DynamoEndpoint]:
    with dynamodb_server() as endpoint:
        yield endpoint


def fresh_dynamo_table(endpoint: DynamoEndpoint) -> str:
    import boto3

    from functions.store.dynamodb import ensure_table

    name = f"spaces-{uuid.uuid4().hex[:12]}"
    ensure_table(boto3.client("dynamodb", endpoint_url=endpoint.url), name)
    return name


@contextmanager
def app_on_dynamodb(
    dynamodb: DynamoEndpoint, *, name: str, env: dict[str, str] | None = None, **api: Any
) -> Iterator[tuple[LiveKitEndpoint, ApiServer]]:
    """The API on a fresh DynamoDB Local table, and a livekit-server of its own (`name` in the logs)
    whose signed webhooks reach it. `api` goes to api_server (broadcast_dir, webrtc_listener_limit)."""
    from contract import names
    from devstack import livekit
    from devstack.ports import free_port

    api_port = free_port()
    server = livekit.start_local(
        api_key=names.DEV_API_KEY,
        api_secret=names.DEV_API_SECRET,
        webhook_url=f"http://127.0.0.1:{api_port}/livekit/webhook",
        name=name,
    )
    endpoint = LiveKitEndpoint.of(server, api_port)
    store_env = {
        names.ENV_STORE: "dynamodb",
        names.ENV_TABLE_NAME: fresh_dynamo_table(dynamodb),
        names.ENV_DYNAMODB_ENDPOINT: dynamodb.url,
    }
    try:
        with api_server(port=api_port, livekit=endpoint, env={**store_env, **(env or {})}, **api) as app:
            yield endpoint, app
    finally:
        server.stop()


def open_test_store(kind: str, *, tmp_path: Path, request: pytest.FixtureRequest) -> SpaceStore:
    if kind == "sqlite":
        return SqliteStore(tmp_path / "spaces.sqlite3")
    from functions.store.dynamodb import DynamoStore

    endpoint: DynamoEndpoint = request.getfixturevalue("dynamodb")
    return DynamoStore(fresh_dynamo_table(endpoint), endpoint_url=endpoint.url)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SpaceStore:
    return open_test_store(request.param, tmp_path=tmp_path, request=request)


@pytest.fixture(scope="package")
def api(
    livekit_server: LiveKitEndpoint, webhook_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """The API as a uvicorn process on the webhook port, so the server's real webhooks reach it.

    The port is the session's one webhook target: if another package (e2e) already serves the API
    there, share it; otherwise start it for this package only, so the port is free again after."""
    with api_server(
        port=webhook_port, livekit=livekit_server, workdir=tmp_path_factory.mktemp("api"), reuse_running=True
    ) as server:
        yield server
