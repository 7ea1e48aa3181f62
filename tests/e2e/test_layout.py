"""What stylesheet rules are for, as Chromium lays the page out and paints it: a lobby card's facts
that wrap start their second line with the fact, never a stray "·", a toast that is not shown
leaves no strip of itself at the bottom of the screen, a long one uses a phone's width, my
controls stay on screen above a full stage, and a portrait camera is not a thin column on a phone.

A rule rewritten in other words passes these tests; a rule that stops doing its job fails them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.support.eventually import eventually_async
from tests.support.synthetic_speakers import SyntheticSpeaker

from .conftest import LaunchBrowser
from .spaces_page import UI_TIMEOUT_MS, Person

HOST = ("hana", "Hana Host")
# One card per column at both widths (the grid's columns are at least 260 px). At 540 px the card has
# room for both facts on one line; at 320 px the host line and the start time take a line each.
WIDE = {"width": 540, "height": 800}
NARROW = {"width": 320, "height": 800}
PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1280, "height": 800}

# Each fact of a card: its box, where its text starts (the "·" it may carry is drawn in between),
# and the box its line is clipped to.
FACTS_JS = """(card) => {
  const clip = card.querySelector(".meta-items").getBoundingClientRect();
  return [...card.querySelector(".meta-list").children].map((fact) => {
    const box = fact.getBoundingClientRect();
    const text = document.createRange();
    text.selectNodeContents(fact);
    return {
      text: fact.textContent,
      top: box.top,
      bottom: box.bottom,
      left: box.left,
      textLeft: text.getBoundingClientRect().left,
      clipLeft: clip.left,
      clipRight: clip.right,
    };
  });
}"""

# Hides every card's separators without moving anything (visibility keeps the space they take), so
# a screenshot with and one without them differ exactly where a separator is painted. Through the
# CSSOM: the page's Content-Security-Policy refuses an injected <style>, not this.
HIDE_DOTS_JS = """(hide) => {
  const sheet = [...document.styleSheets].find((s) => s.href);
  if (hide) sheet.insertRule(".meta-list > *::before { visibility: hidden }", 0);
  else sheet.deleteRule(0);
}"""


@pytest.fixture(scope="module")
async def browser(launch_browser: LaunchBrowser) -> Browser:
    return await launch_browser([])


async def schedule_space(browser: Browser, api_url: str, title: str) -> tuple[Person, str]:
    """A Space Hana schedules (its card shows who hosts and when it starts), with Hana's page on it."""
    host = await Person.open(browser, api_url, HOST[0])
    await host.sign_in(name=HOST[1])
    await host.by("create-title").fill(title)
    await host.by("create-schedule").fill("2031-05-04T18:30")
    await host.by("create-submit").click()
    await expect(host.by("start-space")).to_be_visible(timeout=UI_TIMEOUT_MS)
    match = re.search(r"#/spaces/([^/?#]+)$", host.page.url)
    assert match, host.page.url
    return host, match.group(1)


async def facts(card: Locator) -> list[dict[str, Any]]:
    """Measured with the card in view: a screenshot shows only what is in the viewport."""
    await card.scroll_into_view_if_needed()
    return await card.evaluate(FACTS_JS)


async def dot_painted(page: Page, fact: dict[str, Any]) -> bool:
    """Whether anything of `fact`'s separator reaches the screen: the 1rem before its text looks
    different with the separator hidden."""
    area = {
        "x": fact["left"],
        "y": fact["top"],
        "width": fact["textLeft"] - fact["left"],
        "height": fact["bottom"] - fact["top"],
    }
    assert area["width"] > 0, f"nothing drawn before {fact['text']!r}: no room for a separator"
    viewport = page.viewport_size
    assert viewport is not None and fact["bottom"] <= viewport["height"], (fact, viewport)
    shown = await page.screenshot(clip=area)
    await page.evaluate(HIDE_DOTS_JS, True)
    try:
        hidden = await page.screenshot(clip=area)
    finally:
        await page.evaluate(HIDE_DOTS_JS, False)
    return shown != hidden


@pytest.fixture
async def visitor(browser: Browser, api_url: str) -> AsyncIterator[Person]:
    person = await Person.open(browser, api_url, "vic")
    yield person
    await person.page.context.close()


async def test_a_card_whose_facts_wrap_starts_the_second_line_with_the_fact(
    browser: Browser, api_url: str, visitor: Person
) -> None:
    host, space_id = await schedule_space(browser, api_url, "Facts on two lines")
    await host.page.context.close()
    await visitor.sign_in()  # after the Space exists: the lobby it opens lists it
    card = visitor.by("scheduled-spaces").locator(f'[data-space-id="{space_id}"]')
    await expect(card).to_contain_text(f"Hosted by {HOST[1]}", timeout=UI_TIMEOUT_MS)

    await visitor.page.set_viewport_size(WIDE)
    host_line, start = await facts(card)
    assert start["top"] == pytest.approx(host_line["top"], abs=0.5), ("not one line", host_line, start)
    # The first fact's text starts at the edge of the card's text column; its separator is not painted.
    assert host_line["textLeft"] == pytest.approx(host_line["clipLeft"], abs=0.5), host_line
    assert not await dot_painted(visitor.page, host_line), host_line
    # Between two facts on a line, the separator is painted, inside the column.
    assert start["left"] >= host_line["clipLeft"] and start["textLeft"] <= start["clipRight"], start
    assert await dot_painted(visitor.page, start), start

    await visitor.page.set_viewport_size(NARROW)
    host_line, start = await facts(card)
    assert start["top"] >= host_line["bottom"], ("the facts did not wrap", host_line, start)
    for fact in (host_line, start):
        # Each line starts with its fact's text, flush with the column, and no separator before it.
        assert fact["textLeft"] == pytest.approx(fact["clipLeft"], abs=0.5), fact
        assert not await dot_painted(visitor.page, fact), fact


async def toast_box(page: Page) -> dict[str, float]:
    return await page.evaluate(
        """() => {
          const box = document.querySelector('[data-testid="toast"]').getBoundingClientRect();
          return { top: box.top, bottom: box.bottom, left: box.left, right: box.right,
                   innerWidth: window.innerWidth, innerHeight: window.innerHeight };
        }"""
    )


async def test_a_toast_is_on_screen_while_shown_and_wholly_below_it_once_hidden(
    browser: Browser, api_url: str
) -> None:
    host, _ = await schedule_space(browser, api_url, "Called off")
    try:
        await host.by("cancel-space").click()  # the confirmation is accepted (Person.open)
        toast = host.by("toast")
        await expect(toast).to_have_text("Space cancelled", timeout=UI_TIMEOUT_MS)

        async def inside() -> bool:
            box = await toast_box(host.page)
            assert 0 <= box["top"] and box["bottom"] <= box["innerHeight"], box
            assert 0 <= box["left"] and box["right"] <= box["innerWidth"], box
            return True

        await eventually_async(inside, what="the shown toast inside the viewport")

        # Hidden as a person sees it hidden: by its own timer (dom.ts), on the page it was shown on.
        await expect(toast).not_to_have_class(re.compile(r"\bshow\b"), timeout=UI_TIMEOUT_MS)

        async def below() -> bool:
            box = await toast_box(host.page)
            assert box["top"] >= box["innerHeight"], box
            return True

        await eventually_async(below, what="the hidden toast wholly below the viewport")
    finally:
        await host.page.context.close()


async def test_a_long_notice_on_a_phone_takes_the_width_it_needs(browser: Browser, api_url: str) -> None:
    """Found by a QA review: from `left: 50%` a toast could take only half the screen, so on a phone
    the camera's error was a 180 px column seven lines tall over the controls."""
    host = await Person.open(browser, api_url, "dina")
    try:
        await host.page.set_viewport_size(PHONE)
        await host.sign_in()
        await host.create_space("No camera here", video="speakers")
        await host.start_space()
        # This Chromium has no fake camera and no fake permission prompt: the capture fails, and the
        # page says what to do about it (publishError) in a sentence of a few lines.
        await host.by("toggle-camera").click()
        toast = host.by("toast")
        await expect(toast).to_have_class(re.compile(r"\bshow\b"), timeout=UI_TIMEOUT_MS)
        await expect(toast).to_contain_text("camera", timeout=UI_TIMEOUT_MS)
        # Its width does not change while it slides up (only its height's translation does).
        box = await toast_box(host.page)
        assert box["right"] - box["left"] >= 0.8 * box["innerWidth"], box
        assert 0 <= box["left"] and box["right"] <= box["innerWidth"], box
    finally:
        await host.page.context.close()


async def control_in_view(page: Page, testid: str) -> dict[str, Any]:
    """Where `testid` is, and whether a tap at its centre lands on it (a toast or the reactions'
    overlay let taps through; anything else there would take it)."""
    return await page.evaluate(
        """(testid) => {
          const el = document.querySelector(`[data-testid="${testid}"]`);
          const box = el.getBoundingClientRect();
          const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
          return { top: box.top, bottom: box.bottom, innerHeight: window.innerHeight,
                   scrollY: window.scrollY, hits: !!hit && el.contains(hit) };
        }""",
        testid,
    )


async def test_my_controls_stay_on_screen_above_a_full_stage(browser: Browser, api_url: str) -> None:
    """A host, 2 co-hosts and 10 speakers: the strip is two rows on a laptop and six on a phone,
    and the controls came after it, below the screen, so a speaker had to scroll to mute."""
    host_id, others = "hana", ["cora", "cole", *(f"spk{i:02d}" for i in range(10))]
    speakers: list[SyntheticSpeaker] = []
    host = await Person.open(browser, api_url, host_id)
    try:
        await host.sign_in()
        space_id = await host.create_space("A full stage", video="speakers")
        await host.start_space()
        async with httpx.AsyncClient(base_url=api_url, timeout=30) as api:

            async def auth(user: str) -> dict[str, str]:
                token = (await api.post("/dev/token", json={"user_id": user})).json()["token"]
                return {"Authorization": f"Bearer {token}"}

            as_host = await auth(host_id)
            for index, user in enumerate(others):
                role = "cohost" if index < 2 else "speaker"
                resp = await api.put(f"/spaces/{space_id}/roles/{user}", json={"role": role}, headers=as_host)
                assert resp.status_code == 200, resp.text
                grant = (await api.post(f"/spaces/{space_id}/token", headers=await auth(user))).json()
                assert grant["mode"] == "webrtc", grant
                speakers.append(await SyntheticSpeaker.join(grant["url"], grant["token"], user))
        await expect(host.by("tile")).to_have_count(len(others) + 1, timeout=UI_TIMEOUT_MS)

        for viewport in (LAPTOP, PHONE):
            await host.page.set_viewport_size(viewport)
            for scroll in ("top", "middle"):
                await host.page.evaluate(
                    "(to) => scrollTo(0, to === 'top' ? 0 : document.documentElement.scrollHeight / 3)",
                    scroll,
                )
                for testid in ("toggle-mic", "toggle-camera"):
                    where = await control_in_view(host.page, testid)
                    assert where["top"] >= 0 and where["bottom"] <= where["innerHeight"], (
                        viewport,
                        scroll,
                        testid,
                        where,
                    )
                    assert where["hits"], (viewport, scroll, testid, where)
        # The device picker opens right under them, in view, without scrolling the page away.
        scrolled = await host.page.evaluate("() => scrollY")
        await host.by("toggle-devices").click()
        picker = host.by("devices")
        await expect(picker).to_be_visible(timeout=UI_TIMEOUT_MS)
        shown = await picker.evaluate(
            "(el) => { const box = el.getBoundingClientRect();"
            " return { top: box.top, bottom: box.bottom, innerHeight, scrollY }; }"
        )
        assert shown["top"] >= 0 and shown["bottom"] <= shown["innerHeight"], shown
        assert abs(shown["scrollY"] - scrolled) < 200, (scrolled, shown)
    finally:
        for speaker in speakers:
            with contextlib.suppress(Exception):
                await speaker.aclose()
        await host.page.context.close()


async def test_a_portrait_camera_fills_more_than_a_column_of_a_phones_big_tile(
    browser: Browser, api_url: str, stage_agent: object
) -> None:
    """A phone's camera held upright (9:16) played in the 240 px landscape big tile of a phone at
    135 px wide, a third of the tile; the tile now grows taller for a portrait video."""
    speaker_id, size = "pia", (360, 640)
    host = await Person.open(browser, api_url, "hana")
    speaker: SyntheticSpeaker | None = None
    try:
        await host.page.set_viewport_size(PHONE)
        await host.sign_in()
        space_id = await host.create_space("Upright", video="speakers")
        await host.start_space()
        async with httpx.AsyncClient(base_url=api_url, timeout=30) as api:
            as_host = {"Authorization": f"Bearer {await dev_token(api, 'hana')}"}
            resp = await api.put(
                f"/spaces/{space_id}/roles/{speaker_id}", json={"role": "speaker"}, headers=as_host
            )
            assert resp.status_code == 200, resp.text
            long_name = "Pia Maria Featherstonehaugh-Montgomery"
            as_speaker = {"Authorization": f"Bearer {await dev_token(api, speaker_id, name=long_name)}"}
            grant = (await api.post(f"/spaces/{space_id}/token", headers=as_speaker)).json()
        speaker = await SyntheticSpeaker.join(grant["url"], grant["token"], speaker_id)
        await speaker.publish_camera((40, 200, 90), size=size)
        # The only camera on: the agent puts it in the big tile (its video spotlight).
        big = host.by("spotlight")
        await expect(big).to_have_attribute("data-identity", speaker_id, timeout=UI_TIMEOUT_MS)
        await expect(big).to_have_attribute("data-video", "on", timeout=UI_TIMEOUT_MS)

        async def drawn() -> dict[str, float]:
            shown = await big.evaluate(
                """(tile) => {
                  const video = tile.querySelector("video");
                  const box = video.getBoundingClientRect();
                  const scale = Math.min(box.width / video.videoWidth, box.height / video.videoHeight);
                  return { width: video.videoWidth * scale, height: video.videoHeight * scale,
                           videoWidth: video.videoWidth, videoHeight: video.videoHeight,
                           tile: box.height, innerWidth: window.innerWidth };
                }"""
            )
            assert shown["videoHeight"] > shown["videoWidth"], shown  # frames of the portrait camera
            assert shown["width"] >= 0.6 * shown["innerWidth"], shown
            return shown

        await eventually_async(drawn, what="the portrait camera drawn wider than a column")
        # Her long name is one line inside the tile, cut with "…", not two lines over the video.
        caption = host.by("spotlight-name")
        await expect(caption).to_contain_text("Pia Maria", timeout=UI_TIMEOUT_MS)
        box = await caption.evaluate(
            """(caption) => {
              const text = caption.querySelector(".big-name-text");
              const line = parseFloat(getComputedStyle(text).lineHeight) || 20;
              const own = caption.getBoundingClientRect();
              const tile = caption.parentElement.getBoundingClientRect();
              return { lines: text.getBoundingClientRect().height / line, right: own.right,
                       tileRight: tile.right, cut: text.scrollWidth > text.clientWidth };
            }"""
        )
        assert box["lines"] < 1.5 and box["right"] <= box["tileRight"] and box["cut"], box
    finally:
        if speaker is not None:
            with contextlib.suppress(Exception):
                await speaker.aclose()
        await host.page.context.close()


async def dev_token(api: httpx.AsyncClient, user: str, *, name: str | None = None) -> str:
    body = {"user_id": user} if name is None else {"user_id": user, "name": name}
    return (await api.post("/dev/token", json=body)).json()["token"]
