"""A Space in real browsers: a host, two speakers whose fake microphones take turns, one listener.

Everything the listener is asserted to see comes from the media agent's stage state through the SFU;
the witness for "who is talking" is the SFU's own active-speaker report in the listener's page, which
the page itself never uses for the layout. The tests run in file order on one live Space (setting it
up costs most of the time) and each one leaves the Space as it found it, except the last two.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from livekit import api as lkapi
from playwright.async_api import expect

from functions.domain.model import room_name_for
from tests.conftest import LiveKitEndpoint
from tests.support.eventually import eventually_async

from .conftest import LaunchBrowser
from .fake_devices import make_fake_devices
from .spaces_page import UI_TIMEOUT_MS, VIEWPORT, Person

HOST, ALICE, BOB, LISTENER = "hana", "alice", "bob", "lena"
# One period of the turn-taking loop is 2 slots (14 s); waiting two periods covers any phase.
TURN_TIMEOUT = 35.0


@dataclass
class Stage:
    space_id: str
    host: Person
    alice: Person
    bob: Person
    listener: Person
    shots: Path

    async def shot(self, name: str) -> None:
        await self.listener.screenshot(self.shots, name)

    async def sees_talking(self, speaker: str, *, big: str | None = None, **expected: str) -> dict:
        """Wait until `speaker` talks alone (per the SFU) while the listener's big tile shows `big`."""
        want = big or speaker
        seen: list[dict] = []

        async def check() -> dict | None:
            view = await self.listener.view()
            if not seen or {**seen[-1], "n": 0} != {**view, "n": 0}:
                seen.append({**view, "n": 1})
            else:
                seen[-1]["n"] += 1
            if (
                view["active"] == [speaker]
                and view["big"] == want
                and all(view.get(k) == v for k, v in expected.items())
            ):
                return view
            return None

        try:
            return await eventually_async(
                check,
                timeout=TURN_TIMEOUT,
                interval=0.2,
                what=f"{speaker} talking while the big tile shows {want} {expected}",
            )
        except AssertionError as exc:
            # What the listener saw, run-length encoded (n polls of 0.2 s each), to tell "the agent
            # never switched" from "nobody was talking".
            raise AssertionError(f"{exc}; listener saw: {seen[-30:]}") from None


@pytest.fixture(scope="module")
async def stage(
    api_url: str,
    stage_agent: object,
    launch_browser: LaunchBrowser,
    screenshots: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stage]:
    alice_dev, bob_dev = make_fake_devices([ALICE, BOB], tmp_path_factory.mktemp("fake-devices"))
    plain = await launch_browser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    host = await Person.open(plain, api_url, HOST)
    listener = await Person.open(plain, api_url, LISTENER)
    alice = await Person.open(await launch_browser(alice_dev.chromium_args()), api_url, ALICE)
    bob = await Person.open(await launch_browser(bob_dev.chromium_args()), api_url, BOB)

    await host.sign_in()
    space_id = await host.create_space("Who holds the stage?", video="speakers")
    await host.start_space()

    # The speakers come in as listeners, ask to speak, and the host invites them up: their pages
    # get publish controls from the live permission update, without reconnecting.
    for speaker in (alice, bob):
        await speaker.sign_in(f"/#/spaces/{space_id}")
        await speaker.join(space_id)
        await speaker.by("raise-hand").click()
        await expect(host.by("hand", speaker.identity)).to_be_visible(timeout=UI_TIMEOUT_MS)
        await host.by("hand", speaker.identity).locator('[data-testid="invite"]').click()
        await expect(speaker.by("toggle-mic")).to_be_visible(timeout=UI_TIMEOUT_MS)

    await listener.sign_in(f"/#/spaces/{space_id}")
    await listener.join(space_id)

    # Cameras first, then both microphones together, so the looping WAVs stay in their turns.
    await asyncio.gather(alice.toggle("camera", on=True), bob.toggle("camera", on=True))
    await asyncio.gather(alice.toggle("mic", on=True), bob.toggle("mic", on=True))
    yield Stage(space_id, host, alice, bob, listener, screenshots)


def on_stage(person: Person, identity: str):  # noqa: ANN201 - a Locator
    """`identity` on `person`'s stage: in the big tile or in the strip."""
    return person.page.locator(
        f'[data-testid="spotlight"][data-identity="{identity}"], '
        f'[data-testid="tile"][data-identity="{identity}"]'
    )


async def test_listener_sees_the_stage_and_the_audience_size(stage: Stage) -> None:
    page = stage.listener
    for speaker in (ALICE, BOB):
        await expect(on_stage(page, speaker)).to_have_count(1, timeout=UI_TIMEOUT_MS)
    await expect(page.by("listener-count")).to_have_text("1", timeout=UI_TIMEOUT_MS)
    await expect(page.by("my-role")).to_have_text("Listener")
    await expect(page.by("host-panel")).to_be_hidden()
    await stage.shot("01-listener-joined")
    # The same page on a phone: one column, the strip and the controls still in view.
    await page.page.set_viewport_size({"width": 390, "height": 844})
    try:
        await expect(page.by("raise-hand")).to_be_in_viewport()
        await stage.shot("01-listener-joined-phone")
    finally:
        await page.page.set_viewport_size(VIEWPORT)


async def test_lobby_lists_live_and_scheduled_spaces(stage: Stage, api_url: str) -> None:
    browser = stage.host.page.context.browser
    assert browser is not None
    visitor = await Person.open(browser, api_url, "vic")
    await visitor.sign_in()
    await visitor.by("create-title").fill("Tomorrow's roundtable")
    await visitor.by("create-schedule").fill("2031-05-04T18:30")
    await visitor.by("create-submit").click()
    await expect(visitor.by("start-space")).to_be_visible(timeout=UI_TIMEOUT_MS)  # the host may start it
    await visitor.page.goto("/#/")
    live = visitor.by("live-spaces").locator(f'[data-space-id="{stage.space_id}"]')
    await expect(live).to_contain_text("1 listening", timeout=UI_TIMEOUT_MS)
    scheduled = visitor.by("scheduled-spaces").locator('[data-testid="space-card"]')
    await expect(scheduled).to_contain_text("Tomorrow's roundtable", timeout=UI_TIMEOUT_MS)
    await visitor.screenshot(stage.shots, "lobby")
    # The live card links to the Space page, which offers to join.
    await live.click()
    await expect(visitor.by("join-space")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await visitor.page.context.close()


async def test_camera_only_where_the_video_policy_allows(stage: Stage, api_url: str) -> None:
    browser = stage.host.page.context.browser
    assert browser is not None
    olga, sam = await Person.open(browser, api_url, "olga"), await Person.open(browser, api_url, "sam")
    await olga.sign_in()
    space_id = await olga.create_space("Host on camera", video="host")
    await olga.start_space()
    await expect(olga.by("toggle-camera")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await sam.sign_in(f"/#/spaces/{space_id}")
    await sam.join(space_id)
    await sam.by("raise-hand").click()
    await olga.by("hand", "sam").locator('[data-testid="invite"]').click()
    await expect(sam.by("toggle-mic")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(sam.by("toggle-camera")).to_have_count(0)
    outcome = await sam.page.evaluate(
        """async () => {
          try { await window.spaces.room.localParticipant.setCameraEnabled(true); return "published"; }
          catch (e) { return "refused: " + e.message; }
        }"""
    )
    assert outcome.startswith("refused"), outcome
    await olga.by("end-space").click()
    await expect(sam.by("space-message")).to_have_text("This Space has ended.", timeout=UI_TIMEOUT_MS)
    for person in (olga, sam):
        await person.page.context.close()


async def test_listener_has_no_publish_controls_and_cannot_publish(
    stage: Stage, livekit_server: LiveKitEndpoint
) -> None:
    page = stage.listener
    await expect(page.by("raise-hand")).to_be_visible()
    await expect(page.by("toggle-mic")).to_have_count(0)
    await expect(page.by("toggle-camera")).to_have_count(0)

    # From the console, past the UI: the SDK refuses on the grants the SFU sent, and the SFU lists
    # no track for the listener.
    outcome = await page.page.evaluate(
        """async () => {
          try { await window.spaces.room.localParticipant.setMicrophoneEnabled(true); return "published"; }
          catch (e) { return "refused: " + e.message; }
        }"""
    )
    assert outcome.startswith("refused"), outcome
    server = livekit_server
    async with lkapi.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lk:
        info = await lk.room.get_participant(
            lkapi.RoomParticipantIdentity(room=room_name_for(stage.space_id), identity=LISTENER)
        )
    assert list(info.tracks) == []
    assert not info.permission.can_publish


async def test_big_tile_follows_the_talking_speaker(stage: Stage) -> None:
    first = await stage.sees_talking(ALICE, video="on")
    await stage.shot("02-alice-talks")
    await stage.sees_talking(BOB, video="on")
    await stage.shot("03-bob-talks")
    await stage.sees_talking(ALICE, video="on")
    assert first["pinned"] == ""
    # The one not in the big tile is in the strip, with their camera.
    await expect(stage.listener.by("tile", BOB)).to_have_attribute("data-video", "on")


async def test_camera_off_moves_the_big_tile_to_the_last_speaker_on_camera(stage: Stage) -> None:
    await stage.alice.toggle("camera", on=False)
    try:
        # Alice holds the spotlight while talking, but has no video: Bob's video fills the big tile
        # and Alice shows as an avatar in the strip.
        await stage.sees_talking(ALICE, big=BOB, spotlight=ALICE, video="on")
        await expect(stage.listener.by("tile", ALICE)).to_have_attribute("data-video", "off")
        await stage.shot("04-alice-camera-off")
    finally:
        await stage.alice.toggle("camera", on=True)
    await stage.sees_talking(ALICE, video="on")


async def test_host_pin_holds_the_big_tile(stage: Stage) -> None:
    host = stage.host
    await host.by("member", BOB).locator('[data-testid="pin"]').click()
    try:
        await stage.sees_talking(ALICE, big=BOB, pinned=BOB, video="on")
        await stage.shot("05-bob-pinned-while-alice-talks")
    finally:
        await host.by("member", BOB).locator('[data-testid="pin"]').click()
    await stage.sees_talking(ALICE, pinned="")


async def test_host_mute_reaches_the_speaker_who_can_unmute(stage: Stage) -> None:
    host, alice = stage.host, stage.alice
    await host.by("member", ALICE).locator('[data-testid="mute"]').click()
    await expect(alice.by("toggle-mic")).to_have_attribute("data-on", "false", timeout=UI_TIMEOUT_MS)
    mute_button = host.by("member", ALICE).locator('[data-testid="mute"]')
    await expect(mute_button).to_have_count(0, timeout=UI_TIMEOUT_MS)  # nothing left to mute
    await alice.toggle("mic", on=True)
    await stage.sees_talking(ALICE, video="on")


async def test_listener_rides_out_a_full_reconnect(stage: Stage) -> None:
    page = stage.listener.page
    # Remember every state the banner shows: a reconnect on loopback can take well under a poll.
    await page.evaluate(
        """() => {
          window.bannerSeen = [];
          const banner = document.querySelector('[data-testid="banner"], [data-testid="reconnecting"]');
          new MutationObserver(() => window.bannerSeen.push(banner.hidden ? "hidden" : banner.dataset.testid))
            .observe(banner, { attributes: true });
        }"""
    )
    # The SDK's own fault injection: drop the connection and rejoin the room from scratch.
    await page.evaluate("() => window.spaces.room.simulateScenario('full-reconnect')")
    await page.wait_for_function("() => window.bannerSeen.includes('reconnecting')", timeout=UI_TIMEOUT_MS)
    await page.wait_for_function("() => window.spaces.room.state === 'connected'", timeout=UI_TIMEOUT_MS)
    await expect(stage.listener.by("banner")).to_be_hidden(timeout=UI_TIMEOUT_MS)
    await expect(stage.listener.by("space-message")).to_have_count(0)
    await stage.sees_talking(BOB, video="on")
    await stage.sees_talking(ALICE, video="on")


async def test_raised_hand_and_invite_give_the_listener_controls_live(stage: Stage) -> None:
    listener, host = stage.listener, stage.host
    await listener.by("raise-hand").click()
    await expect(host.by("hand", LISTENER)).to_be_visible(timeout=UI_TIMEOUT_MS)
    await stage.shot("06-hand-raised")
    await host.screenshot(stage.shots, "host-sees-raised-hand")
    await host.by("hand", LISTENER).locator('[data-testid="invite"]').click()
    await expect(listener.by("toggle-mic")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(listener.by("my-role")).to_have_text("Speaker", timeout=UI_TIMEOUT_MS)
    await listener.toggle("mic", on=True)
    # The others' pages put the new speaker on stage (the strip or the big tile) ...
    for other in (host, stage.alice):
        await expect(on_stage(other, LISTENER)).to_have_count(1, timeout=UI_TIMEOUT_MS)
    await host.by("member", LISTENER).locator('[data-testid="demote"]').click()
    await expect(listener.by("toggle-mic")).to_have_count(0, timeout=UI_TIMEOUT_MS)
    await expect(listener.by("raise-hand")).to_be_visible()
    # ... and take them off it when they are demoted: the SFU told the room, not only the speaker.
    for other in (host, stage.alice):
        await expect(on_stage(other, LISTENER)).to_have_count(0, timeout=UI_TIMEOUT_MS)


async def test_a_speaker_leaves_the_stage_themselves(stage: Stage) -> None:
    """Found from outside: a speaker who walked away held their slot until a moderator noticed."""
    listener, host = stage.listener, stage.host
    await listener.by("raise-hand").click()
    await host.by("hand", LISTENER).locator('[data-testid="invite"]').click()
    await expect(listener.by("my-role")).to_have_text("Speaker", timeout=UI_TIMEOUT_MS)
    await expect(listener.by("step-down")).to_be_visible()
    await listener.by("step-down").click()  # the confirmation is accepted (Person.open)
    await expect(listener.by("my-role")).to_have_text("Listener", timeout=UI_TIMEOUT_MS)
    await expect(listener.by("toggle-mic")).to_have_count(0, timeout=UI_TIMEOUT_MS)
    await expect(listener.by("step-down")).to_have_count(0)
    await expect(listener.by("raise-hand")).to_be_visible()
    for other in (host, stage.alice):
        await expect(on_stage(other, LISTENER)).to_have_count(0, timeout=UI_TIMEOUT_MS)
    # The host has no such button: they hand over or end.
    await expect(host.by("step-down")).to_have_count(0)


async def test_a_listener_who_leaves_takes_their_raised_hand_along(stage: Stage) -> None:
    """Left up, the host would invite someone who is gone (and be told it worked)."""
    listener, host = stage.listener, stage.host
    await listener.by("raise-hand").click()
    await expect(host.by("hand", LISTENER)).to_be_visible(timeout=UI_TIMEOUT_MS)
    await listener.by("leave").click()
    await expect(listener.by("space-message")).to_have_text("You left the Space.", timeout=UI_TIMEOUT_MS)
    await expect(host.by("hand", LISTENER)).to_have_count(0, timeout=UI_TIMEOUT_MS)
    await listener.by("rejoin").click()  # back as the next tests expect
    await expect(listener.by("my-role")).to_have_text("Listener", timeout=UI_TIMEOUT_MS)
    await expect(listener.by("raise-hand")).to_have_attribute("data-on", "false")


async def test_removed_and_blocked_speaker_sees_why(stage: Stage) -> None:
    bob, host = stage.bob, stage.host
    await host.by("member", BOB).locator('[data-testid="block"]').click()
    # The disconnect says "removed"; the Space read after it says it was a block.
    await expect(bob.by("space-message")).to_contain_text("blocked", timeout=UI_TIMEOUT_MS)
    await expect(stage.listener.by("tile", BOB)).to_have_count(0, timeout=UI_TIMEOUT_MS)
    await bob.page.goto("/#/")  # leave the message, then follow the link again
    await bob.page.goto(f"/#/spaces/{stage.space_id}")
    # The card says so, and offers no Join the API would refuse.
    await expect(bob.by("space-message")).to_have_text(
        "A host blocked you from this Space: you cannot join it.", timeout=UI_TIMEOUT_MS
    )
    await expect(bob.by("join-space")).to_have_count(0)


async def test_ending_the_space_tells_everyone(stage: Stage) -> None:
    await stage.host.by("end-space").click()
    for person in (stage.listener, stage.alice):
        await expect(person.by("space-message")).to_have_text("This Space has ended.", timeout=UI_TIMEOUT_MS)
    await stage.shot("07-space-ended")
