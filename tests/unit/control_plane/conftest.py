"""The app wired to a SQLite file and a fake SFU, driven through HTTP (ASGI, no network)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from contract import names
from functions.api import deps
from functions.api.main import create_app
from functions.core.config import Settings
from functions.dev_token import dev_token
from functions.domain import presence
from functions.livekit_edge.gateway import RoomGateway
from functions.store.base import SpaceStore
from functions.usecases.context import Context

from .fakes import FakeGateway

LK_KEY, LK_SECRET = "unit-key", "unit-secret-long-enough-for-hs256-signing"
# What join answers hand clients (the URL the server API is reached at differs, as in a deployment).
PUBLIC_LIVEKIT_URL = "ws://127.0.0.1:7999"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        SPACES_MODE="local",
        # Never reached (the gateway is a fake); on loopback, as local mode requires of both.
        LIVEKIT_URL="ws://127.0.0.1:1",
        SPACES_PUBLIC_LIVEKIT_URL=PUBLIC_LIVEKIT_URL,
        LIVEKIT_API_KEY=LK_KEY,
        LIVEKIT_API_SECRET=LK_SECRET,
        SPACES_STORE="sqlite",
        SPACES_SQLITE_PATH=str(tmp_path / "spaces.sqlite3"),
        SPACES_MAX_SPEAKERS=3,
        SPACES_CORS_ORIGINS="https://web.example",
        SPACES_WEB_DIST=str(tmp_path / "no-web"),
        # The unit tests drive every pass themselves (after writes, webhooks); no background loop.
        SPACES_RECONCILE_INTERVAL_SECONDS=0,
        # A write right after another waits out the metadata interval in its pass (2 s in
        # production): a short one keeps the suite fast; the tests that need a change held back set
        # a long one.
        SPACES_METADATA_INTERVAL_SECONDS=0.05,
    )


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def app(settings: Settings, gateway: FakeGateway) -> FastAPI:
    app = create_app(settings)
    app.dependency_overrides[deps.get_gateway] = lambda: gateway
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        yield c


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(user, secret=names.DEV_JWT_SECRET)}"}


# The middle of a presence window (and the start of a 10-s limit window): what the HLS app's clock
# says, so a test's requests never straddle two windows.
HLS_NOW = datetime.fromtimestamp(
    1_800_000_000 // presence.WINDOW_SECONDS * presence.WINDOW_SECONDS + presence.WINDOW_SECONDS / 2, UTC
)


@pytest.fixture
def papp(settings: Settings, gateway: FakeGateway) -> FastAPI:
    """The app with every listener sent to the broadcast, its use cases' clock at HLS_NOW."""
    app = create_app(
        settings.model_copy(
            update={"broadcast_base_url": "https://cdn.example/b", "webrtc_listener_limit": 0}
        )
    )
    app.dependency_overrides[deps.get_gateway] = lambda: gateway

    async def at_now(
        request: Request,
        settings: deps.SettingsDep,
        store: Annotated[SpaceStore, Depends(deps.get_store)],
        gateway: Annotated[RoomGateway, Depends(deps.get_gateway)],
    ) -> Context:
        ctx = await deps.get_context(request, settings, store, gateway)
        ctx.clock = lambda: HLS_NOW
        return ctx

    app.dependency_overrides[deps.get_context] = at_now
    return app


@pytest.fixture
def pclient(papp: FastAPI) -> Iterator[TestClient]:
    with TestClient(papp, base_url="http://127.0.0.1") as c:
        yield c
