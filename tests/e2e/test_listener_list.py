"""The host's listener list in the real browser, against the real SFU and API.

A host starts a Space; one listener joins from a browser page and sixty more take join tokens
through the API with display names (a listener is hidden in the room, so the list comes from the
API's store, not from the SFU). The host pages through the list, searches it by a name prefix
ignoring case and accents and by a last name, blocks one listener and invites the browser listener
to speak from it: that listener's page asks her first, and once she accepts it gets a microphone
from the live permission update.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import expect

from contract import names
from functions.dev_token import dev_token
from tests.e2e.conftest import LaunchBrowser
from tests.e2e.spaces_page import UI_TIMEOUT_MS, Person
from tests.support.eventually import eventually_async

HOST, LISTENER = "hiro-host", "lena"
LISTENER_NAME = "Léna Martin"
CROWD = {f"crowd-{n:02}": f"Listener {n:02}" for n in range(58)} | {
    "zoe-a": "Zoë Ångström",
    "zoe-b": "zoe baker",
}


def take_token(api_url: str, space_id: str, user: str, name: str) -> httpx.Response:
    token = dev_token(user, secret=names.DEV_JWT_SECRET, name=name)
    return httpx.post(
        f"{api_url}/spaces/{space_id}/token", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


async def host_and_listener(
    launch_browser: LaunchBrowser, api_url: str, title: str
) -> tuple[Person, Person, str]:
    """The host's page on a live Space of `title` and the listener's page in its room."""
    browser = await launch_browser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    host = await Person.open(browser, api_url, HOST)
    lena = await Person.open(browser, api_url, LISTENER)
    await host.sign_in(name="Hiro")
    space_id = await host.create_space(title)
    await host.start_space()
    await lena.sign_in(f"/#/spaces/{space_id}", name=LISTENER_NAME)
    await lena.join(space_id)
    return host, lena, space_id


async def test_a_host_finds_listeners_by_name_and_invites_one_to_speak(
    api_url: str, stage_agent: object, launch_browser: LaunchBrowser, screenshots: Path
) -> None:
    host, lena, space_id = await host_and_listener(launch_browser, api_url, "Ask me anything")
    for user, name in CROWD.items():
        assert take_token(api_url, space_id, user, name).status_code == 200

    # The panel read the list when it opened (before the crowd came): Refresh is the host's call.
    rows = host.by("listener-row")
    await host.by("listener-refresh").click()
    await expect(rows).to_have_count(50, timeout=UI_TIMEOUT_MS)  # one page
    await expect(rows.nth(0)).to_contain_text(LISTENER_NAME)  # name order: "lena martin" < "listener 00"
    await expect(rows.nth(1)).to_contain_text("Listener 00")
    await host.by("listener-more").click()
    await expect(rows).to_have_count(61, timeout=UI_TIMEOUT_MS)
    await expect(host.by("listener-more")).to_be_hidden()

    # A prefix, any case, accents ignored.
    await host.by("listener-search").fill("ZOE")
    await expect(rows).to_have_count(2, timeout=UI_TIMEOUT_MS)
    await expect(rows.nth(0)).to_contain_text("Zoë Ångström")  # "zoe angstrom" < "zoe baker"
    await expect(rows.nth(1)).to_contain_text("zoe baker")
    await host.screenshot(screenshots, "listener-list-search")
    # The start of a later word finds them too: a last name.
    await host.by("listener-search").fill("angst")
    await expect(rows).to_have_count(1, timeout=UI_TIMEOUT_MS)
    await expect(rows.first).to_contain_text("Zoë Ångström")
    await host.by("listener-search").fill("ZOE")
    await expect(rows).to_have_count(2, timeout=UI_TIMEOUT_MS)

    # Blocked from the list: gone from it, and refused a token.
    await host.by("listener-row", "zoe-b").locator('[data-testid="listener-block"]').click()
    await expect(rows).to_have_count(1, timeout=UI_TIMEOUT_MS)
    assert take_token(api_url, space_id, "zoe-b", "zoe baker").status_code == 403

    # Invited to speak from the list: the browser listener's page can publish, live.
    await host.by("listener-search").fill("LENA M")
    await expect(rows).to_have_count(1, timeout=UI_TIMEOUT_MS)
    await expect(rows.first).to_contain_text(LISTENER_NAME)
    row = host.by("listener-row", LISTENER)
    await row.locator('[data-testid="listener-invite"]').click()
    # Asked first: nothing changes for her until she agrees, and nobody else's page names her.
    await expect(lena.by("invitation")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(lena.by("invitation-accept")).to_be_focused()
    await expect(row.locator('[data-testid="listener-invited"]')).to_be_visible()
    await expect(lena.by("toggle-mic")).to_have_count(0)
    assert LISTENER not in await lena.page.evaluate("window.spaces.room.metadata")
    await lena.screenshot(screenshots, "listener-list-invitation")
    # "Not now": the host's row offers the invitation again (the room's document says none waits).
    await lena.by("invitation-decline").click()
    await expect(lena.by("invitation")).to_be_hidden()
    await expect(row.locator('[data-testid="listener-invite"]')).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(row.locator('[data-testid="listener-invited"]')).to_have_count(0)
    # Asked again, she agrees: a speaker, with a microphone from the live permission update.
    await row.locator('[data-testid="listener-invite"]').click()
    await expect(lena.by("invitation")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await lena.by("invitation-accept").click()
    await expect(lena.by("toggle-mic")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(lena.by("invitation")).to_be_hidden()
    await expect(rows).to_have_count(0, timeout=UI_TIMEOUT_MS)
    await expect(host.by("member", LISTENER)).to_be_visible(timeout=UI_TIMEOUT_MS)
    # Not listed while on stage, even when the host asks again.
    await host.by("listener-refresh").click()
    await expect(host.by("listener-status")).to_contain_text("LENA M", timeout=UI_TIMEOUT_MS)
    await expect(rows).to_have_count(0)
    for person in (host, lena):
        await person.page.context.close()


async def test_an_invited_listener_who_leaves_declines_and_frees_the_seat(
    api_url: str, stage_agent: object, launch_browser: LaunchBrowser
) -> None:
    """Leave with an invitation waiting: the page declines it on the way out, so the seat it held is
    free at once instead of when it lapses (the API shows no invitation waiting)."""
    host, lena, space_id = await host_and_listener(launch_browser, api_url, "Leaving while asked")
    headers = {"Authorization": f"Bearer {dev_token(HOST, secret=names.DEV_JWT_SECRET)}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=10) as api:
        invited = await api.post(f"/spaces/{space_id}/invitations/{LISTENER}")
        assert invited.status_code < 300, invited.text
        assert LISTENER in invited.json()["invitations"]
        await expect(lena.by("invitation")).to_be_visible(timeout=UI_TIMEOUT_MS)

        await lena.by("leave").click()
        await expect(lena.by("invitation")).to_be_hidden()

        async def declined() -> bool:
            answer = await api.get(f"/spaces/{space_id}")
            assert answer.status_code == 200, answer.text
            return answer.json()["invitations"] == {}

        await eventually_async(declined, timeout=UI_TIMEOUT_MS / 1000, what="declined by her leave")
    for person in (host, lena):
        await person.page.context.close()


async def test_a_listener_another_moderator_removes_leaves_the_hosts_open_list(
    api_url: str, stage_agent: object, launch_browser: LaunchBrowser
) -> None:
    """The host's list was read before the removal, which the host's page did not make (another
    moderator's, through the API here): the room's document names the removed by viewer tag, and
    the row goes without a Refresh."""
    host, lena, space_id = await host_and_listener(launch_browser, api_url, "Removed elsewhere")
    row = host.by("listener-row", LISTENER)
    await host.by("listener-refresh").click()
    await expect(row).to_be_visible(timeout=UI_TIMEOUT_MS)
    headers = {"Authorization": f"Bearer {dev_token(HOST, secret=names.DEV_JWT_SECRET)}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=10) as api:
        removed = await api.post(f"/spaces/{space_id}/participants/{LISTENER}/remove", json={"block": False})
        assert removed.status_code < 300, removed.text
    await expect(row).to_have_count(0, timeout=UI_TIMEOUT_MS)
    for person in (host, lena):
        await person.page.context.close()
