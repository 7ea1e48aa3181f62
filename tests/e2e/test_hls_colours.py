"""hls.js in the real Chromium shows the broadcast's colours as the composer drew them: saturated bars
of 720p video, written by the composer's HLS layer and served by the API's local /broadcast route,
drawn from the page's <video> onto a canvas and read back. A stream that does not say which YUV
matrix it was converted with leaves the choice to each decoder (FFmpeg guesses BT.601, Chromium
BT.709 for HD), so a stage member's colour on the page and in the broadcast would differ."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from composer.hls import Broadcast, BroadcastConfig, DiskSink
from contract import names
from tests.e2e.conftest import LaunchBrowser
from tests.e2e.hls_probe import probe_page, push_pictures, served_broadcast
from tests.support.eventually import eventually_async

SPACE = "fedcba9876543210fedcba9876543210"
T0 = 1_764_619_200.0
# The test speakers' camera colours (tests/integration/composer) and a grey.
BARS = [(220, 40, 40), (40, 70, 220), (40, 200, 60), (230, 200, 20), (128, 128, 128)]
BAR_WIDTH = 1280 // len(BARS)
# A flat colour through 4:2:0 H.264 and Chromium's own (software) conversion back to RGB moves by up
# to 9 levels here; the wrong matrix moved these by up to 24 (red 220,40,40 was shown as 236,58,40,
# green 40,200,60 as 28,176,60).
TOLERANCE = 12


def _write_colour_bars(root: Path) -> None:
    config = BroadcastConfig()  # 1280x720 at 30 fps: the product's size, where decoders guess BT.709
    broadcast = Broadcast(config, DiskSink(root), space_id=SPACE, epoch_ms=int(T0 * 1000), clock=lambda: T0)
    picture = np.zeros((config.height, config.width, 3), dtype=np.uint8)
    for n, colour in enumerate(BARS):
        picture[:, n * BAR_WIDTH : (n + 1) * BAR_WIDTH] = colour
    push_pictures(broadcast, 2 * config.fps, lambda n: picture, np.zeros(960, dtype=np.int16))
    assert broadcast.close(ended=True)


@pytest.fixture(scope="module")
def broadcast_url(web_dist: Path) -> Iterator[str]:
    with served_broadcast("spaces-e2e-hls-colours-", _write_colour_bars) as url:
        yield url


PLAY = """async (url) => {
  const el = document.createElement('video'); el.muted = true; document.body.append(el);
  const hls = new Hls({ startPosition: 0 });
  const parsed = new Promise(r => hls.on(Hls.Events.MANIFEST_PARSED, r));
  hls.loadSource(url); hls.attachMedia(el); await parsed;
  await el.play();
  window.__video = el;
}"""

# The centre of each bar as the page shows it, once a picture has been presented.
READ = """(bars) => {
  const el = window.__video;
  if (el.currentTime < 0.5) return null;
  el.pause();
  const canvas = document.createElement('canvas');
  canvas.width = el.videoWidth; canvas.height = el.videoHeight;
  const ctx = canvas.getContext('2d'); ctx.drawImage(el, 0, 0);
  const width = el.videoWidth / bars;
  return [...Array(bars).keys()].map(i =>
    Array.from(ctx.getImageData(Math.floor((i + 0.5) * width), el.videoHeight / 2, 1, 1).data.slice(0, 3)));
}"""


# The recording (720p), and the low rendition's window (360p, where a decoder told nothing guesses BT.601).
@pytest.mark.parametrize("playlist", [names.BROADCAST_PLAYLIST, names.BROADCAST_LOW_LIVE_PLAYLIST])
async def test_the_page_shows_the_colours_the_composer_drew(
    broadcast_url: str, launch_browser: LaunchBrowser, playlist: str
) -> None:
    page = await probe_page(launch_browser, broadcast_url)
    await page.evaluate(PLAY, f"{broadcast_url}/broadcast/{SPACE}/{playlist}")

    async def shown() -> list[list[int]] | None:
        result: Any = await page.evaluate(READ, len(BARS))
        return result

    seen = await eventually_async(shown, timeout=60, what="a picture of the broadcast on the page")
    assert seen is not None
    off = {
        drawn: tuple(got)
        for drawn, got in zip(BARS, seen, strict=True)
        if max(abs(a - b) for a, b in zip(got, drawn, strict=True)) > TOLERANCE
    }
    assert off == {}, f"drawn -> shown: {off}"
