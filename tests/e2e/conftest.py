"""The whole stack for browser tests: livekit-server (tests/conftest.py), the API serving web/dist,
the media agent, and Debian's Chromium driven by Playwright.

Each speaker gets its own Chromium process, because the fake microphone file is a per-process flag.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Playwright, async_playwright

from tests.conftest import LiveKitEndpoint
from tests.e2e.spaces_page import CSP_VIOLATIONS
from tests.support.avatar_host import AvatarHost, avatar_host

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# Headless Chromium as this machine and CI run it (see the brief). Playwright gives every launched
# process a fresh temporary profile (--user-data-dir) and deletes it on close.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

LaunchBrowser = Callable[[list[str]], Awaitable[Browser]]


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """The built client. `make test` builds it first; a bare `pytest` builds it here."""
    dist = WEB / "dist"
    if not (dist / "index.html").is_file():
        if not (WEB / "node_modules").is_dir():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
        subprocess.run(["npm", "run", "build", "--silent"], cwd=WEB, check=True)
    return dist


@pytest.fixture(scope="session")
def avatars(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AvatarHost]:
    """Where test users' pictures live: a real HTTPS server the API's avatar proxy fetches from
    (pages never load from it: docs/identity.md)."""
    with avatar_host(tmp_path_factory.mktemp("avatar-host")) as host:
        yield host


@pytest.fixture(scope="module")
def api_extra_env() -> dict[str, str]:
    """Settings a test module adds to its API (test_broadcast.py: the broadcast tier)."""
    return {}


# Module scope: each module gets the API with its own settings, one at a time on the webhook port.
@pytest.fixture(scope="module")
def api_url(
    livekit_server: LiveKitEndpoint, web_dist: Path, api_extra_env: dict[str, str], avatars: AvatarHost
) -> Iterator[str]:
    """The Spaces API in local mode on the port the SFU's webhooks go to, serving web/dist at `/`.

    Its SQLite file lives in a temporary directory of its own (api_server's), not under pytest's
    temporary root, which a concurrent pytest session on the machine prunes when it starts."""
    from tests.support.api_server import api_server

    assert livekit_server.webhook_port is not None, "e2e needs the livekit-server the tests start"
    with api_server(
        port=livekit_server.webhook_port,
        livekit=livekit_server,
        env={"SPACES_WEB_DIST": str(web_dist), **avatars.env, **api_extra_env},
    ) as api:
        yield api.url


# Module scope: a worker left registered would take dispatches meant for other test modules' workers.
@pytest.fixture(scope="module")
def stage_agent(livekit_server: LiveKitEndpoint) -> Iterator[object]:
    from tests.support.agent_process import start_agent

    # `dev` mode: no CPU load threshold. In `start` mode the worker declares itself full when the
    # machine's CPU passes 70 %, which a test machine running three Chromium processes does.
    agent = start_agent(
        ws_url=livekit_server.ws_url,
        api_key=livekit_server.api_key,
        api_secret=livekit_server.api_secret,
        mode="dev",
        name="e2e-agent",
    )
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


@pytest.fixture(scope="module")
async def launch_browser(playwright: Playwright) -> AsyncIterator[LaunchBrowser]:
    """Start a Chromium process with extra flags; every one started is closed at the end."""
    browsers: list[Browser] = []

    async def launch(extra: list[str]) -> Browser:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_FLAGS, *extra]
        )
        browsers.append(browser)
        return browser

    yield launch
    for browser in browsers:
        await browser.close()


@pytest.fixture(autouse=True)
def no_csp_violation() -> Iterator[None]:
    """Every page runs under its security headers (the API serves them with it); nothing it does
    may be refused by them."""
    CSP_VIOLATIONS.clear()
    yield
    assert not CSP_VIOLATIONS, CSP_VIOLATIONS


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
