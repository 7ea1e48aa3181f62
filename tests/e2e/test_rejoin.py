"""Coming back and handing over, in real browsers against the real SFU and API.

- A speaker who reloads the page is back on the stage as a speaker, without a click.
- A speaker whose connection the server drops comes back by itself (a new room connection with a
  fresh token), in the same role.
- A duplicated tab (a copy of its sessionStorage) shows the card; the original keeps its seat.
- A removal the page was away for (its reload's token request lands after it) is told to it.
- A listener's raised hand stays up through a reload of their page, and goes down when they close
  the tab (pagehide: a request that outlives the page), as the host's panel and the API show.
- The host hands the Space to a co-host: the co-host's page shows the host's controls and the old
  host's page those of a co-host.

The tests run in file order on one live Space.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from livekit import api as lkapi
from playwright.async_api import Route, expect

from contract import names
from functions.domain.model import room_name_for
from tests.conftest import LiveKitEndpoint
from tests.support.eventually import eventually_async

from .conftest import LaunchBrowser
from .spaces_page import UI_TIMEOUT_MS, Person

HOST, SPEAKER, COHOST, LISTENER = "rj-hana", "rj-sara", "rj-cora", "rj-lena"


@dataclass
class Space:
    space_id: str
    host: Person
    speaker: Person
    cohost: Person


async def invited(host: Person, person: Person, space_id: str) -> None:
    """`person` joins as a listener, raises a hand, and the host invites them to speak."""
    await person.sign_in(f"/#/spaces/{space_id}")
    await person.join(space_id)
    await person.by("raise-hand").click()
    await expect(host.by("hand", person.identity)).to_be_visible(timeout=UI_TIMEOUT_MS)
    await host.by("hand", person.identity).locator('[data-testid="invite"]').click()
    await expect(person.by("toggle-mic")).to_be_visible(timeout=UI_TIMEOUT_MS)


@pytest.fixture(scope="module")
async def space(api_url: str, stage_agent: object, launch_browser: LaunchBrowser) -> AsyncIterator[Space]:
    browser = await launch_browser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    host = await Person.open(browser, api_url, HOST)
    speaker = await Person.open(browser, api_url, SPEAKER)
    cohost = await Person.open(browser, api_url, COHOST)
    await host.sign_in()
    # Video policy "host": only the host has a camera button, so the controls show who is host.
    space_id = await host.create_space("Back in a moment", video="host")
    await host.start_space()
    await invited(host, speaker, space_id)
    yield Space(space_id, host, speaker, cohost)


async def sfu_role(livekit: LiveKitEndpoint, space_id: str, identity: str) -> tuple[str, bool] | None:
    async with lkapi.LiveKitAPI(livekit.http_url, livekit.api_key, livekit.api_secret) as client:
        try:
            info = await client.room.get_participant(
                lkapi.RoomParticipantIdentity(room=room_name_for(space_id), identity=identity)
            )
        except lkapi.TwirpError:
            return None
        return info.attributes.get(names.ROLE_ATTRIBUTE, ""), info.permission.can_publish


async def back_on_stage_as_speaker(space: Space, livekit: LiveKitEndpoint) -> None:
    page = space.speaker
    await page.wait_joined()
    await expect(page.by("my-role")).to_have_text("Speaker", timeout=UI_TIMEOUT_MS)
    await expect(page.by("toggle-mic")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.by("join-space")).to_have_count(0)
    await expect(space.host.by("member", SPEAKER)).to_have_attribute(
        "data-role", "speaker", timeout=UI_TIMEOUT_MS
    )

    async def speaker_at_the_sfu() -> bool:
        return await sfu_role(livekit, space.space_id, SPEAKER) == ("speaker", True)

    await eventually_async(
        speaker_at_the_sfu, timeout=UI_TIMEOUT_MS / 1000, what="the speaker's grants at the SFU"
    )


async def test_a_speaker_who_reloads_is_back_on_stage_without_a_click(
    space: Space, livekit_server: LiveKitEndpoint
) -> None:
    page = space.speaker.page
    sid_before = await page.evaluate("() => window.spaces.room.localParticipant.sid")
    await page.reload()
    # No click anywhere: the page joins by itself because this tab was in the Space.
    await back_on_stage_as_speaker(space, livekit_server)
    await eventually_async(
        lambda: page.evaluate("() => window.spaces?.room?.state === 'connected'"),
        timeout=UI_TIMEOUT_MS / 1000,
        what="the reloaded page connected",
    )
    assert await page.evaluate("() => window.spaces.room.localParticipant.sid") != sid_before


async def test_a_dropped_connection_comes_back_in_the_same_role(
    space: Space, livekit_server: LiveKitEndpoint
) -> None:
    page = space.speaker.page
    # Talking when the connection drops: the new room publishes the microphone again.
    await space.speaker.toggle("mic", on=True)
    # Whether the page ever says it is reconnecting (it may be brief: the first attempt is at once).
    await page.evaluate(
        """() => {
          window.droppedRoom = window.spaces.room;
          window.sawReconnecting = false;
          new MutationObserver(() => {
            const shown = document.querySelector('[data-testid="reconnecting"]');
            if (shown && shown.textContent === "Reconnecting…") window.sawReconnecting = true;
          }).observe(document.body, { childList: true, subtree: true });
        }"""
    )
    # The server closes this participant's session and tells the client to leave (not a removal,
    # not the end of the Space): livekit-client ends the Room; the page has to come back itself.
    await page.evaluate("() => window.spaces.room.simulateScenario('server-leave')")
    await eventually_async(
        lambda: page.evaluate(
            "() => window.droppedRoom.state === 'disconnected' && !!window.spaces?.room"
            " && window.spaces.room !== window.droppedRoom && window.spaces.room.state === 'connected'"
        ),
        timeout=UI_TIMEOUT_MS / 1000,
        what="a new room connection after the drop",
    )
    await back_on_stage_as_speaker(space, livekit_server)
    assert await page.evaluate("() => window.sawReconnecting") is True
    await expect(space.speaker.by("toggle-mic")).to_have_attribute("data-on", "true", timeout=UI_TIMEOUT_MS)

    async def mic_at_the_sfu() -> bool:
        async with lkapi.LiveKitAPI(
            livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
        ) as client:
            info = await client.room.get_participant(
                lkapi.RoomParticipantIdentity(room=room_name_for(space.space_id), identity=SPEAKER)
            )
        return any(t.source == lkapi.TrackSource.MICROPHONE and not t.muted for t in info.tracks)

    await eventually_async(
        mic_at_the_sfu, timeout=UI_TIMEOUT_MS / 1000, what="the microphone published again"
    )
    await space.speaker.toggle("mic", on=False)  # as the next tests expect


async def test_a_duplicated_tab_shows_the_card_and_the_original_keeps_its_seat(space: Space) -> None:
    """Duplicating a tab copies its sessionStorage (so the copy "was in" the Space too): the copy
    asks the other tabs, the original answers that it holds the seat, and the copy stays out."""
    page = space.speaker.page
    sid = await page.evaluate("() => window.spaces.room.localParticipant.sid")
    storage = await page.evaluate("() => JSON.stringify(Object.entries(sessionStorage))")
    copy = await page.context.new_page()
    await copy.add_init_script(
        f"for (const [k, v] of JSON.parse({json.dumps(storage)})) sessionStorage.setItem(k, v);"
    )
    await copy.goto(page.url)
    await expect(copy.locator('[data-testid="join-space"]')).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(copy.get_by_text("open in another tab")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(copy.locator('[data-testid="spotlight"]')).to_have_count(0)
    # The original is still in, in the same session.
    assert await page.evaluate("() => window.spaces.room.state") == "connected"
    assert await page.evaluate("() => window.spaces.room.localParticipant.sid") == sid
    await expect(space.speaker.by("my-role")).to_have_text("Speaker")
    await copy.close()


async def test_a_leave_on_purpose_is_not_undone_by_a_reload(space: Space) -> None:
    speaker = space.speaker
    await speaker.by("leave").click()
    await expect(speaker.by("space-message")).to_have_text("You left the Space.", timeout=UI_TIMEOUT_MS)
    await speaker.page.reload()
    await expect(speaker.by("join-space")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(speaker.by("spotlight")).to_have_count(0)


async def test_the_room_is_told_when_the_space_ends_while_its_host_is_away(space: Space) -> None:
    host, speaker = space.host, space.speaker
    await speaker.by("join-space").click()  # back after the previous test's leave
    await expect(speaker.by("my-role")).to_have_text("Speaker", timeout=UI_TIMEOUT_MS)
    await expect(speaker.by("host-away")).to_be_hidden()
    await host.by("leave").click()  # the grace-period warning: accepted
    # The card says it again (an outside test found it said only "You left the Space.").
    await expect(host.by("space-message")).to_have_text(
        re.compile(r"^You left the Space\. Unless you rejoin within the grace period .*ends for everyone\.$"),
        timeout=UI_TIMEOUT_MS,
    )
    await expect(speaker.by("host-away")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(speaker.by("host-away")).to_contain_text("The host has left the room")
    await host.by("rejoin").click()
    await expect(host.by("my-role")).to_have_text("Host", timeout=UI_TIMEOUT_MS)
    await expect(speaker.by("host-away")).to_be_hidden(timeout=UI_TIMEOUT_MS)


async def test_a_removal_the_page_was_away_for_is_told_when_it_comes_back(space: Space, api_url: str) -> None:
    """The host removes the speaker while the speaker's page reloads (its token request held back
    until the removal is done): the page's own comeback is refused and says so, and a Join from the
    card lets them in again as a listener (a removal is not a block)."""
    speaker = space.speaker
    page = speaker.page
    await expect(speaker.by("my-role")).to_have_text("Speaker", timeout=UI_TIMEOUT_MS)
    asked: list[str] = []
    removed = asyncio.Event()

    async def after_the_removal(route: Route) -> None:
        asked.append(route.request.url)
        await removed.wait()
        await route.continue_()

    await page.route("**/spaces/*/token*", after_the_removal)
    await page.reload()
    await eventually_async(
        lambda: bool(asked), timeout=UI_TIMEOUT_MS / 1000, what="the comeback's token request"
    )
    assert "rejoin_since=" in asked[0]
    # By the API: the host's panel may already have dropped the speaker, who left the room to reload.
    async with httpx.AsyncClient(base_url=api_url) as http:
        bearer = (await http.post("/dev/token", json={"user_id": HOST})).json()["token"]
        answer = await http.post(
            f"/spaces/{space.space_id}/participants/{SPEAKER}/remove",
            headers={"Authorization": f"Bearer {bearer}"},
        )
    assert answer.status_code in (200, 202), answer.text
    assert SPEAKER not in answer.json()["speakers"]
    removed.set()
    await expect(speaker.by("join-space")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.get_by_text("You were removed from this Space by a host.")).to_be_visible(
        timeout=UI_TIMEOUT_MS
    )
    await expect(speaker.by("spotlight")).to_have_count(0)
    await speaker.by("join-space").click()
    await speaker.wait_joined()
    await expect(speaker.by("my-role")).to_have_text("Listener", timeout=UI_TIMEOUT_MS)
    assert "rejoin_since=" not in asked[-1] and len(asked) == 2


async def raised_hands(api_url: str, space_id: str) -> list[str]:
    """The queue as the API holds it, read by the host (a moderator sees every hand)."""
    async with httpx.AsyncClient(base_url=api_url) as http:
        bearer = (await http.post("/dev/token", json={"user_id": HOST})).json()["token"]
        answer = await http.get(f"/spaces/{space_id}", headers={"Authorization": f"Bearer {bearer}"})
    answer.raise_for_status()
    return list(answer.json()["raised_hands"])


async def test_a_raised_hand_stays_up_through_a_reload_and_goes_down_with_a_closed_tab(
    space: Space, api_url: str
) -> None:
    browser = space.host.page.context.browser
    assert browser is not None
    listener = await Person.open(browser, api_url, LISTENER)
    await listener.sign_in(f"/#/spaces/{space.space_id}")
    await listener.join(space.space_id)
    await listener.by("raise-hand").click()
    await expect(space.host.by("hand", LISTENER)).to_be_visible(timeout=UI_TIMEOUT_MS)
    # The page knows its hand is up once the raise's answer is in, which on a loaded runner can come
    # after the host sees the hand: a reload before that has no raised hand to put back (CI saw it).
    await expect(listener.by("raise-hand")).to_contain_text("Lower hand", timeout=UI_TIMEOUT_MS)

    raised: list[str] = []
    listener.page.on(
        "request", lambda r: raised.append(r.url) if r.method == "POST" and r.url.endswith("/hand") else None
    )
    await listener.page.reload()
    await listener.wait_joined()
    # Lowered on the way out (a request the unloading page makes, which Playwright does not report),
    # raised again once back in: the reload cannot be told from a closed tab.
    await eventually_async(
        lambda: bool(raised), timeout=UI_TIMEOUT_MS / 1000, what="the raise after the reload"
    )
    await expect(listener.by("raise-hand")).to_contain_text("Lower hand", timeout=UI_TIMEOUT_MS)

    async def hand_up() -> bool:
        return LISTENER in await raised_hands(api_url, space.space_id)

    await eventually_async(hand_up, timeout=UI_TIMEOUT_MS / 1000, what="the hand up again after the reload")
    await expect(space.host.by("hand", LISTENER)).to_be_visible(timeout=UI_TIMEOUT_MS)

    await listener.page.close()

    async def hand_down() -> bool:
        return LISTENER not in await raised_hands(api_url, space.space_id)

    await eventually_async(hand_down, timeout=UI_TIMEOUT_MS / 1000, what="the hand down after the tab closed")
    await expect(space.host.by("hand", LISTENER)).to_have_count(0, timeout=UI_TIMEOUT_MS)


async def test_the_host_hands_over_and_the_cohost_gets_the_host_controls(space: Space) -> None:
    host, cohost = space.host, space.cohost
    await invited(host, cohost, space.space_id)
    await host.by("member", COHOST).locator('[data-testid="make-cohost"]').click()
    await expect(cohost.by("my-role")).to_have_text("Co-host", timeout=UI_TIMEOUT_MS)
    await expect(cohost.by("end-space")).to_have_count(0)

    await host.by("member", COHOST).locator('[data-testid="make-host"]').click()  # confirm: accepted

    await expect(cohost.by("my-role")).to_have_text("Host", timeout=UI_TIMEOUT_MS)
    await expect(cohost.by("end-space")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(cohost.by("toggle-camera")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(cohost.by("member", HOST).locator('[data-testid="make-host"]')).to_be_visible(
        timeout=UI_TIMEOUT_MS
    )
    await expect(host.by("my-role")).to_have_text("Co-host", timeout=UI_TIMEOUT_MS)
    await expect(host.by("end-space")).to_have_count(0)
    await expect(host.by("toggle-camera")).to_have_count(0)
    # The new host ends the Space for everyone.
    await cohost.by("end-space").click()
    await expect(host.by("space-message")).to_have_text("This Space has ended.", timeout=UI_TIMEOUT_MS)
