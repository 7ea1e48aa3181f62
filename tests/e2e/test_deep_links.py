"""Deep links as people paste them: a broken percent-escape leads to the lobby, not a blank page."""

from __future__ import annotations

from playwright.async_api import expect

from .conftest import LaunchBrowser
from .spaces_page import UI_TIMEOUT_MS, Person


async def test_malformed_percent_escape_shows_the_lobby_with_a_message(
    launch_browser: LaunchBrowser, api_url: str
) -> None:
    browser = await launch_browser([])
    person = await Person.open(browser, api_url, "dee")
    errors: list[str] = []
    person.page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        # A link cut off in the middle of an escape: decodeURIComponent throws URIError on it.
        await person.sign_in("/#/spaces/%E0%A4%A")
        await expect(person.by("route-problem")).to_contain_text(
            "does not name a Space", timeout=UI_TIMEOUT_MS
        )
        await expect(person.by("create-title")).to_be_visible()  # the lobby, usable
        assert errors == []
    finally:
        await person.page.context.close()
