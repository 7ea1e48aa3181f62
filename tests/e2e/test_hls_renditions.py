"""hls.js in the real Chromium plays a video broadcast's two renditions from its multivariant
playlist: it finds both with their sizes and codecs, shows each when asked, follows the 720p one on
a fast link, and stays on the 360p one on a link of 1.2 Mb/s (Chromium's own network throttling),
where the 720p stream alone stalled (docs/broadcast.md, "Renditions")."""

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

SPACE = "0123456789abcdef0123456789abcdef"
T0 = 1_764_619_200.0
SECONDS = 10
# Chromium's throttle, in bytes a second: 1.2 Mb/s, below the 720p rendition's ~2.7 Mb/s and above
# the 360p one's ~0.7 (the link of the review that counted 12 stalls in 33 s on one rendition).
SLOW_LINK = 1_200_000 // 8


def _write_moving_bars(root: Path) -> None:
    """Ten seconds of bars that move every frame (so each second costs the encoders real bits),
    and a tone; the playlists stay open, as a live Space's are."""
    config = BroadcastConfig()
    broadcast = Broadcast(config, DiskSink(root), space_id=SPACE, epoch_ms=int(T0 * 1000), clock=lambda: T0)
    rng = np.random.default_rng(7)
    texture = rng.integers(0, 255, (config.height, config.width * 2, 3), dtype=np.uint8)
    tone = (3000 * np.sin(2 * np.pi * 440 * np.arange(960) / 48000)).astype(np.int16)

    def moved(n: int) -> np.ndarray:
        shift = (n * 16) % config.width
        return np.ascontiguousarray(texture[:, shift : shift + config.width])

    push_pictures(broadcast, SECONDS * config.fps, moved, tone)
    assert broadcast.close(ended=False)


@pytest.fixture(scope="module")
def broadcast_url(web_dist: Path) -> Iterator[str]:
    with served_broadcast("spaces-e2e-hls-renditions-", _write_moving_bars) as url:
        yield url


# Plays the variants with hls.js from the first segment, recording every fragment loaded by level.
PLAY = """async (url) => {
  const el = document.createElement('video'); el.muted = true; document.body.append(el);
  const hls = new Hls({ startPosition: 0, liveSyncDuration: 1.5 });
  window.__loaded = [];
  hls.on(Hls.Events.FRAG_LOADED, (_e, d) => window.__loaded.push(hls.levels[d.frag.level].height));
  const parsed = new Promise(r => hls.on(Hls.Events.MANIFEST_PARSED, r));
  hls.loadSource(url); hls.attachMedia(el); await parsed;
  window.__hls = hls; window.__video = el;
  await el.play();
  return hls.levels.map(l => ({height: l.height, width: l.width, bitrate: l.bitrate,
                               video: l.videoCodec, audio: l.audioCodec}));
}"""

SHOWN = """() => ({height: window.__video.videoHeight, time: window.__video.currentTime,
                 loaded: window.__loaded, level: window.__hls.currentLevel})"""


def _variants_url(base: str) -> str:
    return f"{base}/broadcast/{SPACE}/{names.BROADCAST_LIVE_VARIANTS}"


async def test_hls_js_finds_both_renditions_and_shows_each_when_asked(
    broadcast_url: str, launch_browser: LaunchBrowser
) -> None:
    page = await probe_page(launch_browser, broadcast_url)
    levels: Any = await page.evaluate(PLAY, _variants_url(broadcast_url))
    assert sorted((lv["width"], lv["height"]) for lv in levels) == [(640, 360), (1280, 720)]
    assert all(lv["video"].startswith("avc1.") and lv["audio"] == "mp4a.40.2" for lv in levels)
    low = min(range(len(levels)), key=lambda i: levels[i]["height"])
    for level, height in ((low, 360), (1 - low, 720)):
        await page.evaluate("(level) => { window.__hls.currentLevel = level; }", level)

        async def showing(want: int = height) -> dict[str, Any] | None:
            seen: dict[str, Any] = await page.evaluate(SHOWN)
            return seen if seen["height"] == want else None

        await eventually_async(showing, timeout=60, what=f"the {height}p rendition on the page")


async def test_a_fast_link_climbs_to_720p_and_a_slow_one_stays_on_360p(
    broadcast_url: str, launch_browser: LaunchBrowser
) -> None:
    fast = await probe_page(launch_browser, broadcast_url)
    await fast.evaluate(PLAY, _variants_url(broadcast_url))

    async def climbed() -> list[int] | None:
        loaded: list[int] = (await fast.evaluate(SHOWN))["loaded"]
        return loaded if 720 in loaded else None

    await eventually_async(climbed, timeout=60, what="a 720p fragment on an unthrottled link")

    slow = await probe_page(launch_browser, broadcast_url)
    cdp = await slow.context.new_cdp_session(slow)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 40, "downloadThroughput": SLOW_LINK, "uploadThroughput": SLOW_LINK},
    )
    await slow.evaluate(PLAY, _variants_url(broadcast_url))

    async def played_on() -> dict[str, Any] | None:
        seen: dict[str, Any] = await slow.evaluate(SHOWN)
        return seen if len(seen["loaded"]) >= 6 and seen["time"] > 3 else None

    seen = await eventually_async(played_on, timeout=120, what="six fragments played on a 1.2 Mb/s link")
    assert seen is not None
    assert set(seen["loaded"]) == {360}, f"fragments by height on a 1.2 Mb/s link: {seen['loaded']}"
    assert seen["height"] == 360
