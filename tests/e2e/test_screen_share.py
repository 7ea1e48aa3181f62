"""Screen sharing in real browsers: the host shares a screen, pins it, and a listener's big tile shows it.

Headless Chromium here gives `getDisplayMedia` a fake screen (1280x720) when launched with
`--use-fake-ui-for-media-stream --use-fake-device-for-media-stream`, so the page's own "Share
screen" button runs the real capture path (no canvas stand-in). The witness for "the big tile shows
the share" is the listener's <video> element: the MediaStreamTrack attached to it must be the one
the SDK received for the host's screen-share publication (not her camera's), and frames must arrive.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.support.eventually import eventually_async

from .conftest import LaunchBrowser
from .spaces_page import UI_TIMEOUT_MS, Person

HOST, LISTENER = "sasha", "lee"
# Polling budget for what the listener sees after a change (stage agent, SFU and two pages on two
# shared cores).
SEE_TIMEOUT = 30.0


@dataclass
class Share:
    space_id: str
    host: Person
    listener: Person
    shots: Path


@pytest.fixture(scope="module")
async def share(
    api_url: str, stage_agent: object, launch_browser: LaunchBrowser, screenshots: Path
) -> AsyncIterator[Share]:
    browser = await launch_browser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    host = await Person.open(browser, api_url, HOST)
    listener = await Person.open(browser, api_url, LISTENER)
    await host.sign_in()
    space_id = await host.create_space("Slides tonight", video="speakers")
    await host.start_space()
    await listener.sign_in(f"/#/spaces/{space_id}")
    await listener.join(space_id)
    await host.toggle("camera", on=True)
    yield Share(space_id, host, listener, screenshots)


async def big_tile(person: Person) -> dict[str, Any]:
    """What the big tile shows: its data attributes, and which of the holder's tracks plays in it."""
    return json.loads(
        await person.page.evaluate(
            """() => {
          const big = document.querySelector('[data-testid="spotlight"]');
          const video = big && big.querySelector('video');
          const room = window.spaces && window.spaces.room;
          const holder = room && big ? room.remoteParticipants.get(big.dataset.identity) : null;
          const trackId = (source) => {
            const pub = holder ? holder.getTrackPublication(source) : null;
            return pub && pub.track ? pub.track.mediaStreamTrack.id : null;
          };
          const quality = video && video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
          const stream = video && video.srcObject;
          const playing = stream ? stream.getVideoTracks().map((t) => t.id) : [];
          return JSON.stringify({
            identity: big ? big.dataset.identity : null,
            source: big ? big.dataset.source : null,
            video: big ? big.dataset.video : null,
            pinned: big ? big.dataset.pinned : null,
            playing,
            screen: trackId('screen_share'),
            camera: trackId('camera'),
            width: video ? video.videoWidth : 0,
            frames: quality ? quality.totalVideoFrames : 0,
          });
        }"""
        )
    )


async def listener_sees(share: Share, what: str, check: Any) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    async def probe() -> dict[str, Any] | None:
        tile = await big_tile(share.listener)
        seen[-1:] = [tile]
        return tile if check(tile) else None

    try:
        return await eventually_async(probe, timeout=SEE_TIMEOUT, interval=0.25, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the listener's big tile last showed {seen}") from None


async def test_only_the_host_and_cohosts_get_a_share_control(share: Share) -> None:
    await expect(share.host.by("toggle-screen")).to_have_text("Share screen", timeout=UI_TIMEOUT_MS)
    await expect(share.listener.by("toggle-screen")).to_have_count(0)


async def test_a_pinned_screen_share_fills_the_listeners_big_tile(share: Share) -> None:
    host = share.host
    # Before any share: the big tile shows the host's camera.
    await listener_sees(
        share,
        "the host's camera in the big tile",
        lambda t: t["identity"] == HOST and t["camera"] is not None and t["playing"] == [t["camera"]],
    )

    await host.toggle("screen", on=True)
    await expect(host.by("toggle-screen")).to_have_text("Stop sharing")
    pin = host.by("member", HOST).locator('[data-testid="pin-screen"]')
    await expect(pin).to_have_text("Pin screen", timeout=UI_TIMEOUT_MS)
    await pin.click()
    await expect(pin).to_have_text("Unpin screen", timeout=UI_TIMEOUT_MS)

    tile = await listener_sees(
        share,
        "the host's screen share playing in the big tile",
        lambda t: (
            t["source"] == "screen_share"
            and t["video"] == "on"
            and t["screen"] is not None
            and t["playing"] == [t["screen"]]
            and t["frames"] > 0
        ),
    )
    assert tile["identity"] == HOST and tile["pinned"] == HOST and tile["screen"] != tile["camera"]
    # The presenter's camera stays in the strip beside her screen.
    await expect(share.listener.by("tile", HOST)).to_have_count(1, timeout=UI_TIMEOUT_MS)
    await expect(share.listener.by("spotlight-name")).to_contain_text("screen pinned")
    await share.listener.screenshot(share.shots, "screen-share-pinned")
    # The presenter is told instead of shown her own screen (a picture of the picture, to infinity
    # with a whole screen shared): no video plays in her big tile.
    await expect(host.by("presenting")).to_be_visible(timeout=UI_TIMEOUT_MS)
    mine = await big_tile(host)
    assert mine["source"] == "screen_share" and mine["video"] == "off" and mine["playing"] == [], mine


async def test_when_the_share_stops_the_camera_returns(share: Share) -> None:
    await share.host.toggle("screen", on=False)
    await listener_sees(
        share,
        "the host's camera back in the big tile",
        lambda t: t["source"] == "camera" and t["camera"] is not None and t["playing"] == [t["camera"]],
    )
    # The pin stays (the host may share again), but without its share it holds nothing: her camera
    # is large because she spoke last, and the listener's big tile does not call it pinned.
    await expect(share.listener.by("spotlight-name")).not_to_contain_text("pinned", timeout=UI_TIMEOUT_MS)
    # The host can still take it off.
    unpin = share.host.by("member", HOST).locator('[data-testid="pin-screen"]')
    await expect(unpin).to_have_text("Unpin screen", timeout=UI_TIMEOUT_MS)
    await unpin.click()
    await expect(unpin).to_have_count(0, timeout=UI_TIMEOUT_MS)
