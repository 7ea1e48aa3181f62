"""Names and faces, not ids (issue 10), in real browsers: dev users sign in with the display names
and avatars they chose; the host's page shows those names and faces on the stage and in the raised
hands, a listener's page shows them on the stage, and a user who chose no name shows as their id
(with initials).

The user ids look like the identity provider's subjects (opaque, UUID-like), so a page that showed
ids instead of names would fail every assertion here. No stage agent runs: without a stage state
every stage member sits in the strip, which is where the names are asserted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.support.avatar_host import AvatarHost
from tests.support.eventually import eventually_async

from .conftest import LaunchBrowser
from .spaces_page import UI_TIMEOUT_MS, Person, proxied

HOST = ("9f1c2d7e-0001-4aaa-8bbb-000000000001", "Hana Host")
LEE = ("9f1c2d7e-0002-4aaa-8bbb-000000000002", "Lee Listener")
NAMELESS = "9f1c2d7e-0003-4aaa-8bbb-000000000003"


@dataclass
class Room:
    space_id: str
    host: Person
    lee: Person
    nameless: Person
    shots: Path
    avatars: AvatarHost
    api_url: str


def tile(person: Person, identity: str):  # noqa: ANN201 - a Locator
    return person.page.locator(f'[data-testid="tile"][data-identity="{identity}"] [data-testid="tile-name"]')


def who(person: Person, row: str, identity: str):  # noqa: ANN201 - a Locator
    return person.by(row, identity).locator('[data-testid="who"]')


@pytest.fixture(scope="module")
async def room(
    api_url: str, launch_browser: LaunchBrowser, screenshots: Path, avatars: AvatarHost
) -> AsyncIterator[Room]:
    browser = await launch_browser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    host = await Person.open(browser, api_url, HOST[0])
    lee = await Person.open(browser, api_url, LEE[0])
    nameless = await Person.open(browser, api_url, NAMELESS)
    await host.sign_in(name=HOST[1])
    space_id = await host.create_space("Names, not ids", video="off")
    await host.start_space()
    await lee.sign_in(f"/#/spaces/{space_id}", name=LEE[1], picture=avatars.picture("lee"))
    await lee.join(space_id)
    await nameless.sign_in(f"/#/spaces/{space_id}")
    await nameless.join(space_id)
    yield Room(space_id, host, lee, nameless, screenshots, avatars, api_url)
    for person in (host, lee, nameless):
        await person.page.context.close()


async def test_the_host_sees_its_own_name_on_the_stage(room: Room) -> None:
    await expect(tile(room.host, HOST[0])).to_have_text(f"{HOST[1]} (you) · Host", timeout=UI_TIMEOUT_MS)
    await expect(room.host.by("whoami-user")).to_have_attribute("data-user-id", HOST[0])


async def test_a_listener_sees_the_host_by_name_on_the_card_and_the_stage(room: Room) -> None:
    await expect(tile(room.lee, HOST[0])).to_have_text(f"{HOST[1]} · Host", timeout=UI_TIMEOUT_MS)


async def test_raised_hands_show_names_and_the_nameless_by_id(room: Room) -> None:
    """Listeners are hidden in the SFU: the host's page learns their names and faces from the hands
    message."""
    await room.lee.by("raise-hand").click()
    await room.nameless.by("raise-hand").click()
    await expect(who(room.host, "hand", LEE[0])).to_have_text(LEE[1], timeout=UI_TIMEOUT_MS)
    await expect(who(room.host, "hand", NAMELESS)).to_have_text(NAMELESS, timeout=UI_TIMEOUT_MS)
    # Lee's face is the picture she signed in with, loaded through our own avatar proxy: the
    # avatar host served it to the API, and no browser ever asked it for anything.
    lee_picture = room.avatars.picture("lee")
    face = room.host.by("hand", LEE[0]).locator('[data-testid="avatar"] img')
    await expect(face).to_have_attribute("src", proxied(lee_picture, room.api_url), timeout=UI_TIMEOUT_MS)
    await eventually_async(
        lambda: face.evaluate("(img) => img.complete && img.naturalWidth === 48 || null"),
        timeout=UI_TIMEOUT_MS / 1000,
        what="lee's picture loaded",
    )
    assert ("/lee.png", "spaces-api (avatar proxy)") in room.avatars.requests
    for person in (room.host, room.lee, room.nameless):
        assert not [url for url in person.requests if url.startswith(room.avatars.base_url)], person.identity
    await expect(room.host.by("hand", NAMELESS).locator('[data-testid="avatar"] img')).to_have_count(0)
    await room.host.screenshot(room.shots, "names-raised-hands")


async def test_an_invited_speaker_is_named_on_every_stage(room: Room) -> None:
    await room.host.by("hand", LEE[0]).locator('[data-testid="invite"]').click()
    await expect(room.lee.by("toggle-mic")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(tile(room.host, LEE[0])).to_have_text(LEE[1], timeout=UI_TIMEOUT_MS)
    await expect(who(room.host, "member", LEE[0])).to_have_text(f"{LEE[1]} Speaker", timeout=UI_TIMEOUT_MS)
    await expect(tile(room.nameless, LEE[0])).to_have_text(LEE[1], timeout=UI_TIMEOUT_MS)
    await expect(tile(room.lee, LEE[0])).to_have_text(f"{LEE[1]} (you)", timeout=UI_TIMEOUT_MS)
    # No id is shown as a name anywhere on the host's stage.
    names = await room.host.page.locator('[data-testid="tile-name"]').all_text_contents()
    assert all(HOST[0] not in n and LEE[0] not in n for n in names), names
    await room.host.screenshot(room.shots, "names-stage")


LONG = (
    "9f1c2d7e-0004-4aaa-8bbb-000000000004",
    "Bartholomew Maximilian Fitzgerald-Worthington of Greater Manchester"[:64],
)
PHONE = {"width": 390, "height": 844}


async def test_a_long_name_never_widens_a_phone_page(room: Room) -> None:
    """A 64-character name (the longest kept) on a phone: the top bar stays one line, and neither
    the Space card nor another user's lobby scrolls sideways."""
    browser = room.host.page.context.browser
    assert browser is not None
    long = await Person.open(browser, room.api_url, LONG[0])
    try:
        await long.page.set_viewport_size(PHONE)
        await long.sign_in(name=LONG[1])
        space_id = await long.create_space("Long names on small screens", video="off")
        await expect(long.by("host-name")).to_contain_text(LONG[1][:20], timeout=UI_TIMEOUT_MS)
        await room.lee.page.set_viewport_size(PHONE)
        await room.lee.page.goto("/#/")
        await expect(room.lee.page.locator(f'a[href="#/spaces/{space_id}"]').first).to_be_visible(
            timeout=UI_TIMEOUT_MS
        )
        for page in (long.page, room.lee.page):
            width = await page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (page.url, width)
        bar = await long.page.locator(".topbar").bounding_box()
        assert bar is not None and bar["height"] < 80, bar  # one line, not six
        await long.screenshot(room.shots, "long-name-phone")
    finally:
        await room.lee.page.set_viewport_size({"width": 1280, "height": 800})
        await long.page.context.close()
