"""A blank page on a broadcast's origin with hls.js loaded, for the e2e tests that play what the
composer's HLS layer wrote without a LiveKit room (test_hls_audio_only.py, test_hls_colours.py): the
files are written into a folder that the API's local /broadcast route serves."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from playwright.async_api import Page

from composer.hls import Broadcast
from contract import names
from devstack.ports import free_port
from tests.e2e.conftest import LaunchBrowser
from tests.support.api_server import api_server

WEB = Path(__file__).resolve().parents[2] / "web"
HLS_JS = WEB / "node_modules" / "hls.js" / "dist" / "hls.light.min.js"


@dataclass
class NoSfu:
    """The API needs LiveKit settings to start; nothing here connects to them."""

    ws_url: str = "ws://127.0.0.1:9"
    api_key: str = names.DEV_API_KEY
    api_secret: str = names.DEV_API_SECRET


def push_pictures(
    broadcast: Broadcast, frames: int, picture: Callable[[int], np.ndarray], chunk: np.ndarray
) -> None:
    """`frames` pictures at 30 fps (`picture(n)`), with `chunk` (20 ms of 48 kHz audio) five times
    every three frames, in media order as the composer feeds them."""
    for n in range(frames):
        broadcast.push_video(picture(n))
        if n % 3 == 0:
            for _ in range(5):
                broadcast.push_audio(chunk)


@contextmanager
def served_broadcast(prefix: str, write: Callable[[Path], None]) -> Iterator[str]:
    """The URL of an API serving, under /broadcast, what `write` puts into a fresh folder."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        root = Path(folder)
        write(root)
        with api_server(port=free_port(), livekit=NoSfu(), broadcast_dir=root) as api:
            yield api.url


async def probe_page(launch_browser: LaunchBrowser, broadcast_url: str) -> Page:
    """A page on the broadcast's own origin (as the web page is) with hls.js, autoplay allowed."""
    assert HLS_JS.is_file(), "web/node_modules is installed by `make test` (npm ci)"
    browser = await launch_browser(["--autoplay-policy=no-user-gesture-required"])
    page = await browser.new_page()
    probe = f"{broadcast_url}/probe.html"
    await page.route(
        probe, lambda route: route.fulfill(body="<html><body></body></html>", content_type="text/html")
    )
    await page.goto(probe)
    await page.add_script_tag(path=str(HLS_JS))
    return page
