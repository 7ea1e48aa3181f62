"""Session-wide fixtures: a real livekit-server on free loopback ports.

Markers follow the folders: tests/unit -> unit, tests/integration -> integration, and so on, so a
test cannot end up unmarked. The run's header names the DynamoDB server the store tests use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from contract import names
from devstack import livekit
from devstack.ports import free_port
from tests.support import dynamodb_local
from tests.support.ci import in_ci

KINDS = ("unit", "integration", "infra", "e2e")
# The folder this file is in: a test's kind is its first folder below it.
TESTS = Path(__file__).resolve().parent


def pytest_report_header(config: pytest.Config) -> str:
    try:
        kind = dynamodb_local.backend()
    except RuntimeError as exc:
        return f"dynamodb: none ({exc})"
    if kind == "dynamodb-local":
        return f"dynamodb: DynamoDB Local {dynamodb_local.DYNAMODB_LOCAL_VERSION} (java and mvn found)"
    return "dynamodb: moto's server (java or mvn missing), not DynamoDB Local"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test is marked by its folder under tests/ (unit, integration, infra, e2e); only that
    folder counts: a checkout in a directory named `infra` once marked every test infra."""
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if not path.is_relative_to(TESTS):
            continue
        kind = path.relative_to(TESTS).parts[0]
        if kind in KINDS:
            item.add_marker(getattr(pytest.mark, kind))


@dataclass(frozen=True)
class LiveKitEndpoint:
    """Where the tests find the SFU: one they started, or one named by LIVEKIT_URL."""

    ws_url: str
    http_url: str
    api_key: str
    api_secret: str
    # The port the server's webhooks go to (None for an external server we did not configure).
    webhook_port: int | None

    @classmethod
    def of(cls, server: livekit.LiveKitServer, webhook_port: int | None) -> LiveKitEndpoint:
        """A server the tests started."""
        return cls(
            ws_url=server.ws_url,
            http_url=server.http_url,
            api_key=server.api_key,
            api_secret=server.api_secret,
            webhook_port=webhook_port,
        )


@pytest.fixture(scope="session")
def webhook_port() -> int:
    """The port the API under test listens on; the server's webhooks point at it."""
    return free_port()


@pytest.fixture(scope="session")
def livekit_server(webhook_port: int) -> Iterator[LiveKitEndpoint]:
    external = os.environ.get(names.ENV_LIVEKIT_URL)
    if external and in_ci():
        pytest.fail(
            f"CI=true with {names.ENV_LIVEKIT_URL}={external}: CI tests the livekit-server the tests "
            f"start themselves; unset {names.ENV_LIVEKIT_URL}",
            pytrace=False,
        )
    if external:
        yield LiveKitEndpoint(
            ws_url=external,
            http_url=external.replace("ws://", "http://").replace("wss://", "https://"),
            api_key=os.environ[names.ENV_LIVEKIT_API_KEY],
            api_secret=os.environ[names.ENV_LIVEKIT_API_SECRET],
            webhook_port=None,
        )
        return
    server = livekit.start_local(
        api_key=names.DEV_API_KEY,
        api_secret=names.DEV_API_SECRET,
        webhook_url=f"http://127.0.0.1:{webhook_port}/livekit/webhook",
    )
    try:
        yield LiveKitEndpoint.of(server, webhook_port)
    finally:
        server.stop()
