"""Push, not poll (issue 9 items 1 and 5), in the real browser against the real SFU and API.

- An idle listener page makes at most one API call in 60 s: everything it shows after the join
  comes from the room (metadata, the hands topic), not from the API.
- A listener whose API token expired keeps its room: the next API call refreshes the token (dev
  re-issue) and goes through, the LiveKit connection never drops, and the host sees the hand.
- A role change reaches the promoted person's page through the room, with no API call of theirs.

API calls are counted with Playwright's request events: requests to the API's origin under
`/spaces` and `/dev` (the page's own files and `/broadcast/`, the CDN's job in the cloud, are not
API calls).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Request, expect

from tests.e2e.conftest import LaunchBrowser
from tests.e2e.spaces_page import UI_TIMEOUT_MS, Person
from tests.support.eventually import eventually_async

HOST, LISTENER = "host-hana", "listener-leo"
# Short enough that the listener's token expires during the idle minute; long enough to sign in,
# create, start and join with it first.
TOKEN_TTL_S = 30
IDLE_WINDOW_S = 60
API_PATHS = ("/spaces", "/dev")


@pytest.fixture(scope="module")
def api_extra_env() -> dict[str, str]:
    return {"SPACES_DEV_TOKEN_TTL_SECONDS": str(TOKEN_TTL_S)}


@dataclass
class ApiCalls:
    """Every API request a page makes, with when."""

    origin: str
    seen: list[tuple[float, str, str]] = field(default_factory=list)

    def __call__(self, request: Request) -> None:
        url = urlsplit(request.url)
        if f"{url.scheme}://{url.netloc}" == self.origin and url.path.startswith(API_PATHS):
            self.seen.append((time.monotonic(), request.method, url.path))

    def since(self, t: float) -> list[tuple[str, str]]:
        return [(m, p) for at, m, p in self.seen if at >= t]


@dataclass
class Room:
    space_id: str
    host: Person
    listener: Person
    calls: ApiCalls


async def room_state(person: Person) -> str:
    return str(await person.page.evaluate("() => window.spaces?.room?.state ?? 'none'"))


@pytest.fixture(scope="module")
async def room(api_url: str, stage_agent: object, launch_browser: LaunchBrowser) -> AsyncIterator[Room]:
    browser = await launch_browser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    host = await Person.open(browser, api_url, HOST)
    listener = await Person.open(browser, api_url, LISTENER)
    calls = ApiCalls(api_url.rstrip("/"))
    listener.page.on("request", calls)
    await host.sign_in()
    space_id = await host.create_space("Pushed, not polled", video="off")
    await host.start_space()
    await listener.sign_in(f"/#/spaces/{space_id}")
    await listener.join(space_id)
    await expect(listener.by("raise-hand")).to_be_visible(timeout=UI_TIMEOUT_MS)
    yield Room(space_id, host, listener, calls)


async def test_an_idle_listener_makes_at_most_one_api_call_a_minute(room: Room) -> None:
    start = time.monotonic()
    await asyncio.sleep(IDLE_WINDOW_S)  # the measurement window, not a wait for something
    made = room.calls.since(start)
    assert len(made) <= 1, f"an idle listener called the API {len(made)} times in {IDLE_WINDOW_S} s: {made}"
    assert await room_state(room.listener) == "connected"
    # The whole visit so far: the one read of the Space, the join token, and nothing on a timer.
    assert [p for _, p in room.calls.since(0) if p.startswith("/spaces")].count(
        f"/spaces/{room.space_id}"
    ) == 1


async def test_an_expired_token_is_refreshed_and_the_room_stays(room: Room) -> None:
    page = room.listener.page
    # Wait (no deadline of ours) until the token the page holds has expired.
    expires_at = await page.evaluate(
        "() => JSON.parse(atob(localStorage.getItem('spaces.session').split('.')[1]"
        ".replace(/-/g, '+').replace(/_/g, '/'))).exp"
    )
    await eventually_async(lambda: time.time() > expires_at + 1, timeout=TOKEN_TTL_S + 30)
    sid_before = await page.evaluate("() => window.spaces.room.localParticipant.sid")
    start = time.monotonic()

    await room.listener.by("raise-hand").click()

    await expect(room.host.by("hand", LISTENER)).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(room.listener.by("raise-hand")).to_have_attribute("data-on", "true", timeout=UI_TIMEOUT_MS)
    made = room.calls.since(start)
    hand = f"/spaces/{room.space_id}/hand"
    assert made == [("POST", hand), ("POST", "/dev/token"), ("POST", hand)], made
    assert await room_state(room.listener) == "connected"
    assert await page.evaluate("() => window.spaces.room.localParticipant.sid") == sid_before
    await expect(room.listener.by("signin")).to_have_count(0)
    await expect(room.listener.by("sign-in-again")).to_have_count(0)
    await expect(room.listener.by("space-page")).to_be_visible()


async def test_a_role_change_reaches_the_other_page_without_polling(room: Room) -> None:
    start = time.monotonic()
    await room.host.by("hand", LISTENER).locator('[data-testid="invite"]').click()
    await expect(room.listener.by("my-role")).to_have_text("Speaker", timeout=UI_TIMEOUT_MS)
    await expect(room.listener.by("toggle-mic")).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert room.calls.since(start) == [], (
        "the promoted page asked the API instead of hearing it from the room"
    )
    await expect(room.host.by("hand", LISTENER)).to_have_count(0, timeout=UI_TIMEOUT_MS)
    await expect(room.host.by("member", LISTENER)).to_have_attribute(
        "data-role", "speaker", timeout=UI_TIMEOUT_MS
    )
