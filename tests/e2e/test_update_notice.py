"""A page older than the API's last breaking change offers a reload (web/src/update_notice.ts).

The API is the real one; what it answers is made to name a page generation one above the page's
own, as an API deployed after such a change would (functions/api/page_generation.py). The page
keeps working meanwhile and says so once, under the top bar; Reload loads the page again.
"""

from __future__ import annotations

from playwright.async_api import Route, expect

from contract import names

from .conftest import LaunchBrowser
from .spaces_page import UI_TIMEOUT_MS, Person


async def test_a_page_told_of_a_newer_generation_offers_a_reload(
    api_url: str, launch_browser: LaunchBrowser
) -> None:
    browser = await launch_browser([])
    person = await Person.open(browser, api_url, "gen")
    newer = False

    async def answer(route: Route) -> None:
        response = await route.fetch()
        headers = dict(response.headers)
        assert headers[names.PAGE_GENERATION_HEADER.lower()] == str(names.PAGE_GENERATION)
        if newer:
            headers[names.PAGE_GENERATION_HEADER.lower()] = str(names.PAGE_GENERATION + 1)
        await route.fulfill(response=response, headers=headers)

    try:
        await person.page.route(f"{api_url}/spaces**", answer)
        await person.sign_in()
        await expect(person.by("live-spaces")).not_to_be_empty(timeout=UI_TIMEOUT_MS)
        await expect(person.by("update-notice")).to_have_count(0)
        newer = True  # the API is deployed with a change this page cannot follow
        await person.by("create-title").fill("After the deploy")
        await person.by("create-submit").click()
        await expect(person.by("update-notice")).to_be_visible(timeout=UI_TIMEOUT_MS)
        await expect(person.by("update-notice")).to_have_count(1)
        # The page goes on meanwhile (the create went through), and the button reloads it.
        await expect(person.by("start-space")).to_be_visible(timeout=UI_TIMEOUT_MS)
        newer = False
        async with person.page.expect_event("load"):
            await person.by("update-reload").click()
        await expect(person.by("update-notice")).to_have_count(0, timeout=UI_TIMEOUT_MS)
        await expect(person.by("start-space")).to_be_visible(timeout=UI_TIMEOUT_MS)
    finally:
        await person.page.context.close()
