"""Fixtures for the control plane's integration tests: both stores against real servers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

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
