"""hls.js in the real Chromium plays what the composer's HLS layer writes for a Space whose video is
off: AAC-only MPEG-TS segments in an EVENT playlist with no master playlist and no CODECS attribute,
continued by a replacement composer (#EXT-X-DISCONTINUITY), served by the API's local /broadcast
route. The video broadcast is played by tests/e2e/test_broadcast.py; this is the audio-only shape
and the discontinuity, without a LiveKit room."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from composer.hls import Broadcast, BroadcastConfig, DiskSink
from contract import names
from tests.e2e.conftest import LaunchBrowser
from tests.e2e.hls_probe import probe_page, served_broadcast
from tests.support.eventually import eventually_async

SPACE = "0123456789abcdef0123456789abcdef"
T0 = 1_764_619_200.0
SECONDS_PER_COMPOSER = 3
TONE_HZ = 440.0


def _write_audio_only_recording(root: Path) -> None:
    config = BroadcastConfig(video=False)
    for n, epoch_ms in enumerate((int(T0 * 1000), int(T0 * 1000) + 60_000)):
        start = T0 + n * 60

        def clock(start: float = start) -> float:
            return start

        broadcast = Broadcast.resume(config, DiskSink(root), space_id=SPACE, epoch_ms=epoch_ms, clock=clock)
        samples = np.arange(SECONDS_PER_COMPOSER * config.sample_rate)
        pcm = (8000 * np.sin(2 * np.pi * TONE_HZ * samples / config.sample_rate)).astype(np.int16)
        for chunk in np.array_split(pcm, 150):
            broadcast.push_audio(chunk)
        assert broadcast.close(ended=n == 1)


@pytest.fixture(scope="module")
def broadcast_url(web_dist: Path) -> Iterator[str]:
    with served_broadcast("spaces-e2e-hls-audio-", _write_audio_only_recording) as url:
        yield url


PLAY = """async (url) => {
  const el = document.createElement('audio'); el.muted = true; document.body.append(el);
  const errors = []; let codecs = null;
  const hls = new Hls();
  hls.on(Hls.Events.ERROR, (_, d) => errors.push(`${d.details}${d.fatal ? ' (fatal)' : ''}`));
  hls.on(Hls.Events.BUFFER_CODECS, (_, d) => {
    codecs = Object.keys(d).filter(k => d[k] && d[k].codec).map(k => `${k}:${d[k].codec}`);
  });
  const parsed = new Promise(r => hls.on(Hls.Events.MANIFEST_PARSED, r));
  hls.loadSource(url); hls.attachMedia(el); await parsed;
  await el.play();
  window.__probe = { el, hls, errors, codecs: () => codecs };
}"""

STATE = """() => { const p = window.__probe; const d = p.hls.levels[0].details;
  return { t: p.el.currentTime, ended: p.el.ended, errors: p.errors, codecs: p.codecs(), live: d.live,
           fragments: d.fragments.length, continuities: [...new Set(d.fragments.map(f => f.cc))],
           duration: p.el.duration }; }"""


async def test_hls_js_plays_an_audio_only_recording_across_a_replacement_composer(
    broadcast_url: str, launch_browser: LaunchBrowser
) -> None:
    page = await probe_page(launch_browser, broadcast_url)
    await page.evaluate(PLAY, f"{broadcast_url}/broadcast/{SPACE}/{names.BROADCAST_PLAYLIST}")

    async def state() -> dict[str, Any]:
        result: dict[str, Any] = await page.evaluate(STATE)
        return result

    first = await state()
    assert first["codecs"] == ["audio:mp4a.40.2"], first  # AAC-LC found in the TS, no CODECS needed
    assert first["live"] is False and first["continuities"] == [0, 1], first
    assert first["duration"] == pytest.approx(2 * SECONDS_PER_COMPOSER, abs=0.2), first
    # Playback runs through the discontinuity to the end of the recording.
    await eventually_async(lambda: _ended(page), timeout=60, what="the recording played to its end")
    last = await state()
    assert last["t"] >= 2 * SECONDS_PER_COMPOSER - 0.3, last
    assert not [e for e in last["errors"] if "fatal" in e], last["errors"]


async def _ended(page: Any) -> bool | None:
    return True if await page.evaluate("() => window.__probe.el.ended") else None
