"""The web client as a person uses it, one Playwright page per person. Selectors are data-testids only."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.async_api import Browser, Page, expect

from contract import names

# The page has to show a state the agent decided within this long; generous because the machine
# runs three Chromium processes, the SFU and the agent on two shared cores.
UI_TIMEOUT_MS = 20_000

VIEWPORT = {"width": 1280, "height": 800}


def proxied(picture: str, api_url: str) -> str:
    """The <img src> the page gives a picture: the avatar proxy of the API that serves the page
    (people.ts avatarSource; no config.json, so the API's own)."""
    return f"{api_url}{names.AVATAR_PATH}?{names.AVATAR_URL_PARAM}={quote(picture, safe='')}"


# What the page's Content-Security-Policy refused in this test, as Chromium logs it (every test
# asserts none: tests/e2e/conftest.py); the policy is contract/web_security.py's.
CSP_VIOLATIONS: list[str] = []


def note_csp_violation(identity: str, text: str) -> None:
    if "Content Security Policy" in text:
        CSP_VIOLATIONS.append(f"{identity}: {text}")


@dataclass
class Person:
    identity: str
    page: Page
    # Every URL this person's browser requested, in order (a test can show where pictures came from).
    requests: list[str] = field(default_factory=list)

    @classmethod
    async def open(cls, browser: Browser, base_url: str, identity: str, **device: Any) -> Person:
        """`device`: Playwright's context options for another screen (a phone's viewport, touch)."""
        context = await browser.new_context(**{"viewport": VIEWPORT, **device}, base_url=base_url)
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        page = await context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # "End this Space for everyone?"
        page.on("console", lambda message: note_csp_violation(identity, message.text))
        return cls(identity=identity, page=page, requests=requests)

    def by(self, testid: str, identity: str | None = None):  # noqa: ANN201 - a Locator
        selector = f'[data-testid="{testid}"]'
        if identity is not None:
            selector += f'[data-identity="{identity}"]'
        return self.page.locator(selector)

    # ---- flows -----------------------------------------------------------------------------

    async def sign_in(self, path: str = "/", *, name: str | None = None, picture: str | None = None) -> None:
        """As a dev user; with `name` and `picture`, the display name and avatar URL the dev sign-in
        form offers."""
        await self.page.goto(path)
        await self.by("signin-user").fill(self.identity)
        if name is not None:
            await self.by("signin-name").fill(name)
        if picture is not None:
            await self.by("signin-picture").fill(picture)
        await self.by("signin-submit").click()
        await expect(self.by("whoami-user")).to_have_text(name or self.identity, timeout=UI_TIMEOUT_MS)

    async def create_space(self, title: str, video: str = "speakers") -> str:
        await self.by("create-title").fill(title)
        await self.by("create-video").select_option(video)
        await self.by("create-submit").click()
        await expect(self.by("space-page")).to_be_visible(timeout=UI_TIMEOUT_MS)
        match = re.search(r"#/spaces/([^/?#]+)$", self.page.url)
        assert match, f"not on a Space page: {self.page.url}"
        return match.group(1)

    async def start_space(self) -> None:
        await self.by("start-space").click()
        await self.wait_joined()

    async def join(self, space_id: str) -> None:
        await self.page.goto(f"/#/spaces/{space_id}")
        await self.by("join-space").click()
        await self.wait_joined()

    async def wait_joined(self) -> None:
        await expect(self.by("spotlight")).to_be_visible(timeout=UI_TIMEOUT_MS)
        await expect(self.by("connecting")).to_have_count(0, timeout=UI_TIMEOUT_MS)

    async def toggle(self, what: str, *, on: bool) -> None:
        button = self.by(f"toggle-{what}")
        await expect(button).to_be_visible(timeout=UI_TIMEOUT_MS)
        if (await button.get_attribute("data-on") == "true") != on:
            await button.click()
        pressed = "true" if on else "false"
        await expect(button).to_have_attribute("data-on", pressed, timeout=UI_TIMEOUT_MS)

    async def screenshot(self, folder: Path, name: str) -> None:
        await self.page.screenshot(path=str(folder / f"{name}.png"))

    # ---- what the page shows ------------------------------------------------------------------

    async def view(self) -> dict[str, Any]:
        """The big tile and, as an independent witness, who the SFU itself reports as speaking."""
        return json.loads(
            await self.page.evaluate(
                """() => {
              const big = document.querySelector('[data-testid="spotlight"]');
              const room = window.spaces && window.spaces.room;
              return JSON.stringify({
                big: big ? big.dataset.identity : null,
                video: big ? big.dataset.video : null,
                spotlight: big ? big.dataset.spotlight : null,
                pinned: big ? big.dataset.pinned : null,
                active: room ? room.activeSpeakers.map((p) => p.identity) : [],
              });
            }"""
            )
        )
