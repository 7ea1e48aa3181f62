"""The room on phones, in the real browser with a phone's screen and touch (Chromium's device
emulation: the layout and the controls are what is tested; Safari itself is not available here).

A host on a 390x844 phone whose browser has no screen capture (as Chrome on Android and Safari on
iOS have none) starts a Space with the camera on; a listener on a 360x740 phone joins. Neither page
is wider than its screen, every control is big enough for a finger, a notice does not cover the
controls, the host's controls lead to the raised hands far below the stage, the host is offered no
Share button, a speaker's tile shows her name in full, and held sideways the big tile and the
controls are in view together."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import expect

from contract import names
from functions.dev_token import dev_token
from tests.e2e.conftest import LaunchBrowser
from tests.e2e.spaces_page import UI_TIMEOUT_MS, Person

HOST, LISTENER = ("phone-host", "Hana Host"), ("phone-listener", "Leonora Lindqvist")
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
# No screen capture, as on a phone (the desktop Chromium here has it).
NO_SCREEN_CAPTURE = "delete MediaDevices.prototype.getDisplayMedia;"
# Finger-sized: Apple asks for 44 pt, Material for 48 dp; 40 CSS px is the least allowed here.
MIN_TARGET_PX = 40


def phone(width: int, height: int) -> dict[str, object]:
    return {
        "viewport": {"width": width, "height": height},
        "device_scale_factor": 3,
        "is_mobile": True,
        "has_touch": True,
        "user_agent": PHONE_UA,
    }


FITS = """(min) => {
  const small = [...document.querySelectorAll('button, select, input')]
    .filter((el) => el.offsetParent !== null && !el.closest('[hidden]'))
    .map((el) => [el.dataset.testid || el.textContent.trim().slice(0, 20), el.getBoundingClientRect().height])
    .filter(([, h]) => h < min);
  return { overflow: document.scrollingElement.scrollWidth - innerWidth, small };
}"""

RECT = """(testid) => {
  const r = document.querySelector(`[data-testid="${testid}"]`).getBoundingClientRect();
  return { top: r.top, bottom: r.bottom, height: r.height };
}"""


async def fits_its_screen(person: Person) -> None:
    fit = await person.page.evaluate(FITS, MIN_TARGET_PX)
    assert fit["overflow"] <= 0, f"{person.identity}: the page is {fit['overflow']} px wider than the screen"
    assert not fit["small"], f"{person.identity}: controls under {MIN_TARGET_PX} px: {fit['small']}"


async def test_a_space_on_phones_fits_and_keeps_its_controls_in_reach(
    api_url: str, stage_agent: object, launch_browser: LaunchBrowser, screenshots: Path
) -> None:
    browser = await launch_browser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    host = await Person.open(browser, api_url, HOST[0], **phone(390, 844))
    listener = await Person.open(browser, api_url, LISTENER[0], **phone(360, 740))
    await host.page.context.add_init_script(NO_SCREEN_CAPTURE)
    try:
        await host.sign_in(name=HOST[1])
        space_id = await host.create_space("Phones")
        await host.start_space()
        await host.toggle("camera", on=True)
        await listener.sign_in(f"/#/spaces/{space_id}", name=LISTENER[1])
        await listener.join(space_id)
        await expect(listener.by("raise-hand")).to_be_visible(timeout=UI_TIMEOUT_MS)

        # The host may share a screen (a host's grant), but this browser cannot: no button for it.
        await expect(host.by("toggle-mic")).to_be_visible(timeout=UI_TIMEOUT_MS)
        await expect(host.by("toggle-screen")).to_have_count(0)
        for person in (host, listener):
            await fits_its_screen(person)
        # The device picker opens under the controls without taking over the screen (its titles
        # beside the lists: above them, with the controls, the dock was half the screen).
        await host.by("toggle-devices").tap()
        await expect(host.by("device-audioinput")).to_be_visible(timeout=UI_TIMEOUT_MS)
        await fits_its_screen(host)
        dock = await host.page.evaluate(RECT, "dock")
        assert dock["height"] <= 0.4 * 844, dock  # the controls, the way to the panel, three lists
        await host.by("toggle-devices").tap()
        await expect(host.by("device-audioinput")).to_be_hidden()
        # A notice stands above the controls, not on them.
        await listener.by("raise-hand").tap()
        await expect(listener.by("toast")).to_contain_text("Hand raised", timeout=UI_TIMEOUT_MS)
        await expect(listener.by("toast")).to_have_class("toast toast-info show")
        toast, dock = await listener.page.evaluate(RECT, "toast"), await listener.page.evaluate(RECT, "dock")
        assert toast["bottom"] <= dock["top"] or toast["top"] >= dock["bottom"], (toast, dock)
        await listener.screenshot(screenshots, "phone-01-listener-hand-raised")

        # The host's panel is below the whole stage here: the controls lead to it, counting hands.
        jump = host.by("panel-jump")
        await expect(jump).to_have_text("Requests to speak (1)", timeout=UI_TIMEOUT_MS)
        await jump.tap()
        await expect(host.by("hand", LISTENER[0])).to_be_in_viewport()
        await expect(listener.by("panel-jump")).to_be_hidden()

        # Her raised hand answered: on stage, her tile in the host's strip shows her name in full,
        # on two lines of a narrow tile (one line showed "Leonora L…"; a name longer than two lines
        # is still cut).
        token = dev_token(HOST[0], secret=names.DEV_JWT_SECRET)
        invited = httpx.post(
            f"{api_url}/spaces/{space_id}/invitations/{LISTENER[0]}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert invited.status_code < 300, invited.text
        her_tile = f'[data-testid="tile"][data-identity="{LISTENER[0]}"]'
        name = host.page.locator(f'{her_tile} [data-testid="tile-name"]')
        await expect(name).to_have_text(LISTENER[1], timeout=UI_TIMEOUT_MS)
        assert await name.evaluate(
            "(el) => el.scrollHeight <= el.clientHeight + 1 && el.scrollWidth <= el.clientWidth + 1"
        )
        await fits_its_screen(listener)

        # Sideways: the big tile and the controls in view together once the tile is at the top.
        await host.page.set_viewport_size({"width": 844, "height": 390})
        await host.by("spotlight").evaluate("(el) => el.scrollIntoView({ block: 'start' })")
        await fits_its_screen(host)
        tile, dock = await host.page.evaluate(RECT, "spotlight"), await host.page.evaluate(RECT, "dock")
        assert tile["height"] >= 240 and tile["bottom"] <= dock["top"] and dock["bottom"] <= 390, (tile, dock)
        await host.screenshot(screenshots, "phone-02-host-sideways")
    finally:
        for person in (host, listener):
            await person.page.context.close()
