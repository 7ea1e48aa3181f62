"""Choosing a microphone and a speaker in a real browser: Chromium's fake devices offer three
microphones and three speakers, the page's picker lists them by name, a choice moves the published
microphone to that device at once (the SDK's own track says which device captures), and after a
reload the page comes back on the same one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import expect

from tests.support.eventually import eventually_async

from .conftest import LaunchBrowser
from .spaces_page import UI_TIMEOUT_MS, Person

HOST = "devi"
SWITCH_TIMEOUT = 20.0

CAPTURE = """() => {
  const room = window.spaces && window.spaces.room;
  const pub = room && room.localParticipant.getTrackPublication('microphone');
  const track = pub && pub.track;
  return track ? track.mediaStreamTrack.getSettings().deviceId || null : null;
}"""
# The SDK's record of where remote audio plays (it sets every attached element's sinkId to it).
OUTPUT = """() => {
  const room = window.spaces && window.spaces.room;
  return room ? room.getActiveDevice('audiooutput') || null : null;
}"""


@dataclass
class Picking:
    space_id: str
    host: Person


@pytest.fixture(scope="module")
async def picking(api_url: str, launch_browser: LaunchBrowser) -> AsyncIterator[Picking]:
    browser = await launch_browser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    host = await Person.open(browser, api_url, HOST)
    await host.sign_in()
    space_id = await host.create_space("Which mic?", video="speakers")
    await host.start_space()
    await host.toggle("mic", on=True)
    yield Picking(space_id, host)


async def capturing(host: Person, device_id: str) -> None:
    seen: list[object] = []

    async def check() -> bool | None:
        seen[:] = [await host.page.evaluate(CAPTURE)]
        return seen[0] == device_id or None

    try:
        await eventually_async(check, timeout=SWITCH_TIMEOUT, interval=0.25, what="the chosen microphone")
    except AssertionError:
        raise AssertionError(f"the microphone captures from {seen}, not {device_id}") from None


async def test_a_chosen_microphone_captures_at_once_and_again_after_a_reload(picking: Picking) -> None:
    host = picking.host
    await expect(host.by("devices")).to_be_hidden()
    await host.toggle("devices", on=True)
    mics = host.by("device-audioinput")
    await expect(mics).to_be_visible(timeout=UI_TIMEOUT_MS)
    # Under the controls, which sit at the bottom of a 1280x800 window: the page shows it.
    await expect(mics).to_be_in_viewport(timeout=UI_TIMEOUT_MS)
    labels = await mics.locator("option").all_text_contents()
    assert len(labels) >= 3 and "Fake Audio Input 1" in labels, labels

    before = await host.page.evaluate(CAPTURE)
    chosen = await mics.locator("option", has_text="Fake Audio Input 1").get_attribute("value")
    assert chosen and chosen != before
    await mics.select_option(chosen)
    await capturing(host, chosen)
    await expect(mics).to_have_value(chosen)

    # The page comes back into the Space by itself after a reload, on the microphone chosen before.
    await host.page.reload()
    await host.wait_joined()
    await host.toggle("mic", on=True)
    await capturing(host, chosen)


async def test_a_chosen_speaker_plays_the_room(picking: Picking) -> None:
    host = picking.host
    await host.toggle("devices", on=True)
    speakers = host.by("device-audiooutput")
    await expect(speakers).to_be_visible(timeout=UI_TIMEOUT_MS)
    chosen = await speakers.locator("option", has_text="Fake Audio Output 2").get_attribute("value")
    assert chosen
    await speakers.select_option(chosen)

    async def check() -> bool | None:
        return (await host.page.evaluate(OUTPUT)) == chosen or None

    await eventually_async(
        check, timeout=SWITCH_TIMEOUT, interval=0.25, what="sound goes to the chosen speaker"
    )
    await host.toggle("devices", on=False)
    await expect(host.by("devices")).to_be_hidden()
